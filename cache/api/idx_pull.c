/* SPDX-License-Identifier: MIT */
/* The pull_usage table: a workspace -> the bytes the mirror has pulled from upstream into
 * the store on its behalf (8 bytes, little-endian), which serve's pull-through budget
 * bounds. */
#include "cache/api/server_int.h"
#include "cache/cache_int.h"
#include "store/record.h"

#include <string.h>

static const ec_table pull_tbl = {"pull_usage", 0};

uint64_t ec_api__pull_used(ec_cache *c, const char *ws)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    if (ec_txn_begin(&txn, ec_cache_store(c), EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, &pull_tbl, ws, strlen(ws), &v, &n, NULL) < 0 || n != 8)
        return 0;
    return ec_le64_get(v);
}

int ec_api__pull_add(ec_cache *c, const char *ws, uint64_t add, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    uint64_t total = add;
    unsigned char le[8];
    int r = ec_txn_begin(&txn, ec_cache_store(c), 0, err);
    if (r < 0)
        return r;
    if (ec_kv_get(txn, &pull_tbl, ws, strlen(ws), &v, &n, NULL) == EC_OK && n == 8)
        total += ec_le64_get(v);
    ec_le64_put(le, total);
    r = ec_kv_put(txn, &pull_tbl, ws, strlen(ws), le, sizeof le, 0, err);
    return r < 0 ? r : ec_txn_commit(ec_steal(&txn), err);
}
