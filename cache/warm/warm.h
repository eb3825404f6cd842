/* SPDX-License-Identifier: MIT */
/* Warm-up: resolve, fetch and build an environment's layers, ahead of any session.
 *
 * ec_warm_env runs every manager of the environment with packages through its
 * fetcher (fetchers/fetcher.h), builds each manager's layer (or reuses it by
 * layer key), and records the environment's stack. It is single-flight per
 * layer key across threads and processes: two environments whose locks are
 * equal build the layer once. A second warm of an unchanged, pinned
 * environment does no network request.
 *
 * Threads: callable from several threads at once on one ec_cache.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cache/cache.h"
#include "fetchers/fetcher.h"

typedef struct ec_warm_opts {
    const char *ws;          /* workspace; NULL = "default" */
    const char *env;         /* environment id or name */
    bool refresh;            /* re-resolve even if a lock exists (unpinned specs move) */
    bool lock_only;          /* the top manager (the last with packages) is resolved and
                                fetched, not built: its lock without paying for its build
                                (a differential test's view); the managers beneath are
                                warmed as usual, the stack is not recorded */
    ec_progress_fn progress; /* may be NULL */
    void *progress_ud;
    volatile int *cancel;    /* non-NULL and set: stop at the next safe point (EC_EBUSY) */
} ec_warm_opts;

/** Warms one environment: every manager with packages, in stack order. A manager that
 *  fails does not stop the others (but one whose layer builds on the layers beneath is
 *  not built over a failed one). *@out (may be NULL) is set on success and on failure
 *  (not on cancel):
 *  {"env":id,"stack":[…digests…],"managers":{"<manager>":{"state":"ready","lock":…,
 *   "layer":…,"reused":bool,"resolved":bool,"packages":N,"size":N} or {"state":"failed",
 *   "error":{"type","message"}}},"failed":[names],"upstream_requests":N}.
 *  The error names the manager (and the package, as its fetcher words it); with several
 *  failures it counts them and gives the first. The stack is recorded only on success. */
int ec_warm_env(json_t **out, ec_cache *c, const ec_warm_opts *opts, ec_err *err);

/** The lock of @manager last built for environment @env (id or name), as stored:
 *  EC_ENOTFOUND when that manager has not been warmed. */
int ec_env_lock(json_t **out, ec_cache *c, const char *ws, const char *env,
                const char *manager, ec_err *err);
