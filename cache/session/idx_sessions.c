/* SPDX-License-Identifier: MIT */
/* The sessions table: session id -> the session record (JSON: id, workspace, environment_id,
 * target, mode, layers, …). */
#include "cache/session/session_int.h"

#include <string.h>

#include "store/util/auto.h"

static const ec_table sessions_tbl = {"sessions", 0};

int ec_session__put(ec_txn *txn, const char *id, const json_t *s, unsigned flags, ec_err *err)
{
    return ec_cache__json_put(txn, &sessions_tbl, id, s, flags, err);
}

int ec_session__del(ec_txn *txn, const char *id, ec_err *err)
{
    return ec_kv_del(txn, &sessions_tbl, id, strlen(id), err);
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

int ec_cache__session_each(ec_txn *txn, ec_session_rec_fn fn, void *payload, ec_err *err)
{
    struct session_each e = {fn, payload};
    return ec_kv_each(txn, &sessions_tbl, NULL, 0, false, NULL, 0, session_one, &e, err);
}

int ec_session__get_raw(ec_txn *txn, const char *id, const void **val, ec_err *err)
{
    return ec_kv_get(txn, &sessions_tbl, id, strlen(id), val, NULL, err);
}
