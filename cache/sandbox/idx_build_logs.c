/* SPDX-License-Identifier: MIT */
/* The build_logs table: a layer's digest (32 raw bytes) -> the digest of the blob holding
 * the log of the build steps that made it (32 raw bytes). The store's gc keeps the log while
 * the layer stays and deletes the record with the layer: the flags say so. */
#include "cache/cache_int.h"
#include "cache/sandbox/sandbox.h"
#include "cache/sandbox/sandbox_int.h"

#include <string.h>

#include "store/util/auto.h"

static const ec_table build_logs_tbl = {"build_logs",
                                        EC_TABLE_REFS_BLOBS | EC_TABLE_LAYER_KEYED};

int ec_sandbox__log_put(ec_store *st, const ec_digest *layer, const ec_digest *log, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, &build_logs_tbl, layer->b, sizeof layer->b, log->b, sizeof log->b,
                      0, err);
    if (r < 0)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}

int ec_sandbox_record_log(ec_cache *c, const ec_digest *layer, const ec_digest *log,
                          ec_err *err)
{
    return ec_sandbox__log_put(c->st, layer, log, err);
}

int ec_sandbox_log_lookup(ec_digest *out, ec_cache *c, const ec_digest *layer, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t vl;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_kv_get(txn, &build_logs_tbl, layer->b, sizeof layer->b, &v, &vl, err);
    if (r < 0)
        return r;
    if (vl != sizeof out->b)
        return ec_fail(err, EC_EFORMAT, "build_logs: a record of %zu bytes", vl);
    memcpy(out->b, v, sizeof out->b);
    return EC_OK;
}
