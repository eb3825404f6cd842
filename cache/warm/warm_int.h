/* SPDX-License-Identifier: MIT */
/* Private to the warm-up: one manager's work in progress. */
#pragma once

#include "cache/cache_int.h"
#include "cache/warm/warm.h"

/** The layers beneath a manager's layer (warm_lowers.c). */
typedef struct ec_warm_lowers {
    ec_digest *digests; /* the base first */
    size_t n;
    char *root;         /* their tree (merged when asked), or NULL when there are none */
    char *mount_dir;    /* the overlay's directory when @root is a mount, else NULL */
} ec_warm_lowers;

/** Opens the layers of @stack (digest strings): @merged mounts a stack of more than one
 *  layer as one tree; without it, @root is the bottom layer's directory. */
int ec_warm__lowers_open(ec_warm_lowers *lw, ec_store *st, const json_t *stack, bool merged,
                         ec_err *err);
void ec_warm__lowers_close(ec_warm_lowers *lw);

typedef struct ec_warm_mgr {
    ec_cache *c;
    const ec_manager *mgr;
    ec_fetch_ctx ctx;
    json_t *specs;       /* borrowed: the environment's list for this manager */
    ec_spec *parsed;     /* owned: @specs parsed by the manager, once */
    const char **texts;  /* owned array of borrowed strings: @specs as written */
    size_t nspecs;
    ec_warm_lowers lowers;
    const json_t *lower_stack; /* borrowed: digest strings of the layers beneath */
    char *probe;         /* owned: what the entry's probe printed over them, or NULL */
    /* results */
    json_t *lock;        /* owned */
    ec_digest lock_digest;
    ec_layer_info layer;
    bool resolved;       /* the lock was resolved now, not reused */
    bool reused;         /* the layer existed */
    int64_t build_us;
    json_t *notes;       /* owned: install's notes as records */
    bool ran_code;       /* build steps ran in the sandbox */
    bool lock_only;      /* stop after the lock (ec_warm_opts.lock_only) */
    ec_digest log;       /* their log, when they ran */
} ec_warm_mgr;

/** The layer key of @m's lock (see DESIGN.md): the layers beneath count only for builds
 *  that run code. */
int ec_warm__layer_key(ec_digest *out, const ec_warm_mgr *m, ec_err *err);

/* --- the locks table (idx_locks.c) --- */

/** The lock resolved from the specs whose digest is @specs; EC_ENOTFOUND (no message). */
int ec_warm__lock_find(json_t **out, ec_store *st, const ec_digest *specs);
/** Stores @lock under its digest (*@out) and points @specs at it, in one txn. */
int ec_warm__lock_save(ec_digest *out, ec_store *st, const ec_digest *specs,
                       const json_t *lock, ec_err *err);

/** Lock (reused unless @refresh), then the layer (reused or built once). */
int ec_warm__manager(ec_warm_mgr *m, bool refresh, ec_err *err);
