/* SPDX-License-Identifier: MIT */
/* The warm table: "<env id>" -> the environment's warm-up job record (JSON), and
 * "<env id>/<manager>" -> that manager's state record (JSON). Ids hold no '/', so a key
 * with one is a manager's. */
#include "cache/cache_int.h"
#include "cache/warm/idx_warm.h"

#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

static const ec_table warm_tbl = {"warm", 0};

int ec_warm_job_get(json_t **out, ec_txn *txn, const char *env_id, ec_err *err)
{
    return ec_cache__json_get(out, txn, &warm_tbl, env_id, err);
}

int ec_warm_job_put(ec_txn *txn, const char *env_id, const json_t *rec, ec_err *err)
{
    return ec_cache__json_put(txn, &warm_tbl, env_id, rec, 0, err);
}

int ec_warm_job_del(ec_txn *txn, const char *env_id, ec_err *err)
{
    return ec_kv_del(txn, &warm_tbl, env_id, strlen(env_id), err);
}

struct job_each {
    ec_warm_job_fn fn;
    void *payload;
};

static int job_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct job_each *e = payload;
    if (memchr(k, '/', kl))
        return 0;
    EC_AUTO(json_t) rec = json_loadb(v, vl, 0, NULL);
    return e->fn(rec, e->payload);
}

int ec_warm_job_each(ec_txn *txn, ec_warm_job_fn fn, void *payload, ec_err *err)
{
    struct job_each e = {fn, payload};
    return ec_kv_each(txn, &warm_tbl, NULL, 0, false, NULL, 0, job_one, &e, err);
}

int ec_warm_state_get(json_t **out, ec_txn *txn, const char *env_id, const char *mgr,
                      ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf("%s/%s", env_id, mgr);
    return ec_cache__json_get(out, txn, &warm_tbl, key, err);
}

int ec_warm_state_put(ec_txn *txn, const char *env_id, const char *mgr, const json_t *rec,
                      ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf("%s/%s", env_id, mgr);
    return ec_cache__json_put(txn, &warm_tbl, key, rec, 0, err);
}

int ec_cache__warm_state_get(json_t **out, ec_txn *txn, const char *env_id, const char *mgr,
                             ec_err *err)
{
    return ec_warm_state_get(out, txn, env_id, mgr, err);
}

int ec_cache__warm_state_put(ec_txn *txn, const char *env_id, const char *mgr,
                             const json_t *rec, ec_err *err)
{
    return ec_warm_state_put(txn, env_id, mgr, rec, err);
}
