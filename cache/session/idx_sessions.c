/* SPDX-License-Identifier: MIT */
/* The sessions table: session id -> the session record (JSON: id, workspace, environment_id,
 * target, mode, layers, …); and session_targets: a session's target path -> its id, so that
 * finding a session by id or target (every mount checks both are free) reads one record
 * rather than parsing them all.
 *
 * Stores written before session_targets existed have sessions without entries there: until
 * the first write through this file indexes them all (and records EC_TARGETS_COMPLETE),
 * a lookup by target falls back to the scan. */
#include "cache/session/session_int.h"

#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

static const ec_table sessions_tbl = {"sessions", 0};
static const ec_table targets_tbl = {"session_targets", 0};

/* Targets are absolute paths: this key never is one. */
#define EC_TARGETS_COMPLETE "complete"

static const char *target_of(const json_t *s)
{
    return json_string_value(json_object_get(s, "target"));
}

static int target_put(ec_txn *txn, const char *target, const char *id, ec_err *err)
{
    return ec_kv_put(txn, &targets_tbl, target, strlen(target), id, strlen(id), 0, err);
}

struct index_walk {
    ec_txn *txn;
    ec_err *err;
};

static int index_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct index_walk *w = payload;
    EC_AUTO(json_t) s = json_loadb(v, vl, 0, NULL);
    const char *target = target_of(s);
    if (!target || target[0] != '/')
        return 0;
    EC_AUTOFREE char *id = ec_xstrndup(k, kl);
    return target_put(w->txn, target, id, w->err); /* a failure ends the walk with its code */
}

static int complete_get(ec_txn *txn)
{
    const void *v;
    return ec_kv_get(txn, &targets_tbl, EC_TARGETS_COMPLETE, strlen(EC_TARGETS_COMPLETE), &v,
                     NULL, NULL);
}

/* The first write of a store made before the index: every session gets its entry. */
static int targets_complete(ec_txn *txn, ec_err *err)
{
    int r = complete_get(txn);
    if (r != EC_ENOTFOUND)
        return r < 0 ? ec_fail(err, r, "cannot read the sessions' target index") : EC_OK;
    struct index_walk w = {txn, err};
    r = ec_kv_each(txn, &sessions_tbl, NULL, 0, false, NULL, 0, index_one, &w, err);
    if (r < 0)
        return r;
    return ec_kv_put(txn, &targets_tbl, EC_TARGETS_COMPLETE, strlen(EC_TARGETS_COMPLETE), "1",
                     1, 0, err);
}

int ec_session__put(ec_txn *txn, const char *id, const json_t *s, unsigned flags, ec_err *err)
{
    int r = targets_complete(txn, err);
    if (r == EC_OK)
        r = ec_cache__json_put(txn, &sessions_tbl, id, s, flags, err);
    const char *target = target_of(s);
    if (r == EC_OK && target && target[0] == '/')
        r = target_put(txn, target, id, err);
    return r;
}

int ec_session__del(ec_txn *txn, const char *id, ec_err *err)
{
    EC_AUTO(json_t) s = NULL;
    int r = targets_complete(txn, err);
    if (r == EC_OK)
        r = ec_cache__json_get(&s, txn, &sessions_tbl, id, err);
    if (r == EC_EFORMAT) /* a damaged record still goes; a target entry left names no one */
        ec_err_clear(err), r = EC_OK;
    if (r < 0)
        return r;
    const char *target = target_of(s);
    const void *holder;
    size_t n;
    /* only this session's entry: a newer session may hold the target already */
    if (target && ec_kv_get(txn, &targets_tbl, target, strlen(target), &holder, &n, NULL) ==
                      EC_OK && n == strlen(id) && memcmp(holder, id, n) == 0 &&
        (r = ec_kv_del(txn, &targets_tbl, target, strlen(target), err)) < 0)
        return r;
    return ec_kv_del(txn, &sessions_tbl, id, strlen(id), err);
}

int ec_session__by_target(char **id_out, bool *indexed, ec_txn *txn, const char *target,
                          ec_err *err)
{
    *id_out = NULL;
    *indexed = true;
    const void *v;
    size_t n;
    int r = ec_kv_get(txn, &targets_tbl, target, strlen(target), &v, &n, err);
    if (r == EC_OK) {
        *id_out = ec_xstrndup(v, n);
        return EC_OK;
    }
    if (r != EC_ENOTFOUND)
        return r;
    r = complete_get(txn);
    if (r == EC_ENOTFOUND)
        *indexed = false; /* a store from before the index: the caller scans */
    return r < 0 ? r : EC_ENOTFOUND;
}

struct session_each {
    ec_session_rec_fn fn;
    void *payload;
};

static int session_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct session_each *e = payload;
    (void)k;
    (void)kl;
    EC_AUTO(json_t) s = json_loadb(v, vl, 0, NULL);
    return e->fn(s, e->payload);
}

int ec_cache__session_each(ec_cache *c, ec_txn *txn, ec_session_rec_fn fn, void *payload,
                           ec_err *err)
{
    struct session_each e = {fn, payload};
    int r = ec_kv_each(txn, &sessions_tbl, NULL, 0, false, NULL, 0, session_one, &e, err);
    if (r == 0)
        r = ec_session__deferred_each(c, txn, fn, payload);
    return r;
}

int ec_session__get_raw(ec_txn *txn, const char *id, const void **val, ec_err *err)
{
    return ec_kv_get(txn, &sessions_tbl, id, strlen(id), val, NULL, err);
}

int ec_session__get(json_t **out, ec_txn *txn, const char *id, ec_err *err)
{
    return ec_cache__json_get(out, txn, &sessions_tbl, id, err);
}
