/* SPDX-License-Identifier: MIT */
/* Base images: the bottom layer of a stack, imported or bootstrapped from a Debian archive. */
#pragma once

#include <stdbool.h>

#include "cache/cache.h"

/** Imports a directory, tar or tar.zst (a container image's root file system) as a layer
 *  marked EC_LAYER_BASE. Device nodes are refused (EC_EUNSAFE): strip /dev first. */
int ec_base_import(ec_layer_info *out, ec_cache *c, const char *path, ec_err *err);

typedef struct ec_base_bootstrap_opts {
    const char *suite;   /* NULL = "bookworm" */
    const char *variant; /* NULL = "minbase" */
    const char *include; /* comma-separated packages, or NULL */
    const char *mirror;  /* archive URL; NULL = the host's package sources for @suite */
    const char *sources_dir; /* where the host's package sources live; NULL = their usual
                                place (the providing manager's default) */
    bool runtimes;       /* also include the common runtimes (the providing manager's
                            list, ec_base_provider.runtimes) */
    bool no_security;    /* leave out the suite's security archive even when the host's
                            sources have one */
    bool force;          /* build even when the key has a layer */
    bool quiet;          /* do not copy mmdebstrap's output to stderr */
} ec_base_bootstrap_opts;


/**
 * Builds a Debian root file system with mmdebstrap from the archive and imports it as a
 * base, with the suite's security archive in its sources when the host's sources have one
 * (as an installed Debian has it; not with --mirror). The result is keyed by suite,
 * variant, the sorted includes, the archive URLs and each archive's InRelease (digest
 * and Date), fetched first: while the archive is unchanged a
 * second call with the same arguments reuses the layer (*@reused_out = true) without
 * building. The archive and its state come from the manager that provides bases
 * (ec_manager.bases). EC_EBUILD when mmdebstrap fails (the message quotes its last lines),
 * EC_ENOTFOUND when no source serves @suite, EC_EUNSUPPORTED when no manager provides
 * bases.
 */
int ec_base_bootstrap(ec_layer_info *out, bool *reused_out, ec_cache *c,
                      const ec_base_bootstrap_opts *o, ec_err *err);

/** The store's default base; when none is set, makes one first (a bootstrap with the
 *  runtimes, saying so through ec_info unless @quiet: it takes minutes, once) and sets it.
 *  For the first need of a base: a manager that installs on one, a session's container. */
int ec_base_default_ensure(ec_digest *out, ec_cache *c, bool quiet, ec_err *err);
/** The store's default base, set by ec_base_default_set. EC_ENOTFOUND when none is. */
int ec_base_default_get(ec_digest *out, ec_cache *c, ec_err *err);
/** Sets (@d a recorded layer) or clears (@d NULL) the default base: what environments
 *  that follow it (EC_ENV_BASE_DEFAULT) build on at their next warm-up. */
int ec_base_default_set(ec_cache *c, const ec_digest *d, ec_err *err);
