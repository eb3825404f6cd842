/* SPDX-License-Identifier: MIT */
/* Private to the warm-up: one manager's work in progress. */
#pragma once

#include "cache/cache_int.h"
#include "cache/warm/warm.h"

typedef struct ec_warm_mgr {
    ec_cache *c;
    const ec_fetcher *f;
    ec_fetch_ctx ctx;
    json_t *specs;       /* borrowed: the environment's list for this manager */
    /* results */
    json_t *lock;        /* owned */
    ec_digest lock_digest;
    ec_layer_info layer;
    bool resolved;       /* the lock was resolved now, not reused */
    bool reused;         /* the layer existed */
    int64_t build_us;
    json_t *notes;       /* owned: warnings from install */
    const json_t *lowers; /* borrowed: digests of the layers beneath, the base first */
    bool ran_code;       /* build steps ran in the sandbox */
    ec_digest log;       /* their log, when they ran */
} ec_warm_mgr;

/** The layer key of @m's lock (see DESIGN.md): @lowers (digest strings of the layers
 *  beneath) count only for fetchers that run code. */
int ec_warm__layer_key(ec_digest *out, const ec_warm_mgr *m, const json_t *lowers,
                       ec_err *err);

/** Lock (reused unless @refresh), then the layer (reused or built once). */
int ec_warm__manager(ec_warm_mgr *m, const json_t *lowers, bool refresh, ec_err *err);
