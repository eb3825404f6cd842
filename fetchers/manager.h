/* SPDX-License-Identifier: MIT */
/* The manager table: one entry per package manager, and everything cache/ and tools/ may
 * know of a manager without naming it.
 *
 * A manager is one folder, fetchers/<mgr>/, which defines one entry (ec_<mgr>_manager),
 * and one line in fetchers/managers.c. The entry says, as data, what cache/ would
 * otherwise have to branch on: whether the manager needs a base, whether its resolution
 * reads the layers beneath it, whether its builds run code or fetch through the mirror,
 * where its upstream is found, which facts of the host its fetcher needs, and how its
 * notes read. cache/ and tools/ iterate the table; they never compare manager names.
 *
 * Threads: the table is constant; every function here is reentrant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "fetchers/fetcher.h"
#include "fetchers/spec.h"
#include "store/util/buf.h"
#include "store/util/err.h"

enum {
    /* Installs onto a root file system of the base (dpkg's database, a Python, a Ruby):
     * a warm-up without a base fails at once and says what the base must hold. */
    EC_MANAGER_NEEDS_BASE = 1u << 0,
    /* Resolution reads the layers beneath (apt: the base's dpkg status; pip: its Python):
     * they are part of what a lock was resolved from, and resolve gets their merged root. */
    EC_MANAGER_RESOLVES_ON_LOWERS = 1u << 1,
    /* Every build runs code (maintainer scripts, compilers): the layer key includes the
     * layers beneath. A lock may say so for one build ("runs_code": true). */
    EC_MANAGER_RUNS_CODE = 1u << 2,
    /* Build steps fetch through the mirror on loopback inside the sandbox. */
    EC_MANAGER_BUILD_NEEDS_MIRROR = 1u << 3,
};

/**
 * Where a manager's upstream comes from, in this order: the first variable of @env that
 * is set and not empty (envcache's own first, then the native client's); else
 * @from_client_config (the client's own configuration files, in the client's order);
 * else what the client itself reports as its default (@client_query, a shell command
 * whose first line is the URL, run once per client binary and remembered). No upstream
 * is ever written into envcache.
 *
 * A manager that reads its upstreams from its own configuration and the base (apt's
 * sources) sets @self_configured instead: the words that name them in messages and keys.
 */
typedef struct ec_upstream_rule {
    const char *env[4];                   /* NULL-terminated */
    char *(*from_client_config)(void);    /* owned URL, or NULL */
    const char *client;                   /* program on PATH whose default is asked */
    const char *client_query;             /* e.g. "<client> config get registry" */
    const char *self_configured;
} ec_upstream_rule;

/** A fact of the host that a fetcher needs (the node version npm's engines checks use):
 *  @env when set, else the first line of @query run once per @program binary. It reaches
 *  the fetcher as ctx->config[@key]. */
typedef struct ec_host_fact {
    const char *key;
    const char *env;
    const char *program;
    const char *query;
} ec_host_fact;

/**
 * The hooks of a manager that provides bases: a root file system bootstrapped from its
 * archive (cache/env/base.c runs the bootstrap and keys the result; these say where the
 * archive is and whether it changed). At most one manager's entry has them.
 * Threads: reentrant.
 */
typedef struct ec_base_provider {
    /** The archive URL (no trailing slash) that serves @suite, from the package sources
     *  under @sources_dir (NULL: the host's own). Caller frees *@url_out. EC_ENOTFOUND
     *  when no source serves @suite. */
    int (*archive_find)(char **url_out, const char *sources_dir, const char *suite,
                        ec_err *err);
    /** The state of @suite in the archive at @url, in one small request: the sha256 of
     *  its release file and the file's Date ("" when absent). A base is keyed by it, so an
     *  unchanged archive reuses its base without a build. EC_ENOTFOUND when the archive
     *  has no such suite. */
    int (*release_probe)(ec_digest *digest_out, char date[64], const char *url,
                         const char *suite, ec_err *err);
    /** The packages (comma-separated) that give a base the common runtimes a session finds
     *  out of the box: one list for an archive with the suite's security archive beside
     *  it (where newer toolchains are updated), one without. */
    const char *runtimes_with_security, *runtimes;
    /** A shell command run on the new root before it is packed (mmdebstrap's
     *  --customize-hook: the root is "$1"), or NULL. Part of the base's key. */
    const char *customize;
} ec_base_provider;

/** A file a session's root gets so that the manager's own client installs through the
 *  mirror at run time (cache/net/ writes them): @path relative to the root, @text with
 *  "@MIRROR@" standing for the mirror's base URL inside the session
 *  ("http://GATE:PORT/mirror") and "@MIRROR_HOST@" for its address. */
typedef struct ec_session_file {
    const char *path;
    const char *text;
} ec_session_file;

/** Takes one file of a session's root (@path relative to the root) for cache/net/ to
 *  write and bind into the session. */
typedef int (*ec_session_put_fn)(void *ud, const char *path, const char *text, ec_err *err);

typedef struct ec_manager {
    const char *name;        /* config key, package list name, mirror route, log prefix */
    const char *spec_what;   /* "npm package spec": what a spec is, for messages */
    unsigned flags;          /* EC_MANAGER_* */
    const char *base_needs;  /* with NEEDS_BASE: what the base must be, for the error */
    /** Spec text → parsed spec; EC_EINVAL with a message naming the rule broken. The
     *  only parser of a manager's specs: checks at create time and the warm-up use it. */
    int (*parse)(ec_spec *out, const char *text, ec_err *err);
    const ec_fetcher *ops;   /* NULL: the manager checks specs but cannot install yet */
    ec_upstream_rule upstream;
    const ec_host_fact *facts; /* terminated by an entry with key NULL; may be NULL */
    /* A command run once in the sandbox over the layers beneath before resolving (an
     * interpreter's version, platform and wheel tags; a toolchain's target): its output
     * reaches resolve as req->probe and is part of what the lock was resolved from. NULL
     * for none. A failure (nothing to run it with beneath) fails the warm-up, saying
     * what the base must hold (@base_needs). */
    const char *const *probe;
    /** One line for people about @n (may be NULL: ec_note_render's generic words). */
    void (*render_note)(ec_buf *out, const ec_note *n);
    /** What the manager's builds leave in a root that never belongs in a layer (its
     *  caches, downloaded indexes, backups it regenerates): paths relative to the root,
     *  whose last component may be a glob. NULL-terminated; may be NULL. The sandbox
     *  prunes every manager's noise from every build (a build may run several managers'
     *  tools: a maintainer script that compiles Python). */
    const char *const *noise;
    /** Names that are noise wherever they appear ("__pycache__"); as @noise. */
    const char *const *noise_names;
    const ec_base_provider *bases; /* NULL: the manager provides no bases */
    /** Session files (see ec_session_file), ended by an entry with path NULL; may be NULL. */
    const ec_session_file *session_files;
    /** Session variables, "NAME=VALUE" with the same placeholders; NULL-terminated; may be
     *  NULL. */
    const char *const *session_env;
    /** Session files computed from the session's own root (@root, as mounted) rather than
     *  fixed: apt's sources, rewritten to the mirror (@mirror: the mirror's base URL
     *  inside the session, what "@MIRROR@" stands for). Calls @put for each file; a root
     *  with nothing to rewrite puts nothing. May be NULL. */
    int (*session_render)(const char *root, const char *mirror, ec_session_put_fn put,
                          void *ud, ec_err *err);
} ec_manager;

/** The managers, in stack order (apt, cargo, gem, go, npm, pip, then any only the tests
 *  build). Borrowed, constant. */
const ec_manager *const *ec_managers(size_t *n_out);
/** The entry named @name, or NULL. */
const ec_manager *ec_manager_find(const char *name);
/** True when @m has fetcher ops (it can warm, install and mirror). */
bool ec_manager_installs(const ec_manager *m);
/** Checks @text as one of @m's specs (ec_spec_check for one manager). */
int ec_manager_spec_check(const ec_manager *m, const char *text, ec_err *err);
/** The managers' names joined with ", " (for usage texts); static storage. */
const char *ec_manager_names(void);

/** Appends the line for people about @n: @m's own words, else generic ones. */
void ec_note_render(ec_buf *out, const ec_manager *m, const ec_note *n);
