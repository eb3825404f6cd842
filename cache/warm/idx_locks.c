/* SPDX-License-Identifier: MIT */
/* The locks table: "specs/<hex>" (the digest of what a lock was resolved from) -> the lock's
 * digest ("sha256:…"), and "lock/<digest>" -> the canonical lock JSON. */
#include "cache/warm/warm_int.h"

#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

static const ec_table locks_tbl = {"locks", 0};

static char *specs_key(const ec_digest *specs)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("specs/%s", ec_digest_hex(hex, specs));
}

int ec_cache__lock_get(json_t **out, ec_txn *txn, const char *digest, ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf("lock/%s", digest);
    return ec_cache__json_get(out, txn, &locks_tbl, key, err);
}

int ec_warm__lock_find(json_t **out, ec_store *st, const ec_digest *specs)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTOFREE char *skey = specs_key(specs);
    const void *v;
    size_t n;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, &locks_tbl, skey, strlen(skey), &v, &n, NULL) < 0)
        return EC_ENOTFOUND;
    EC_AUTOFREE char *digest = ec_xstrndup(v, n);
    return ec_cache__lock_get(out, txn, digest, NULL) == EC_OK ? EC_OK : EC_ENOTFOUND;
}

int ec_warm__lock_save(ec_digest *out, ec_store *st, const ec_digest *specs,
                       const json_t *lock, ec_err *err)
{
    EC_AUTOFREE char *text = ec_lock_dump(lock);
    ec_sha256_buf(out, text, strlen(text));
    char ds[EC_DIGEST_STR_LEN];
    ec_digest_format(ds, out);
    EC_AUTOFREE char *lkey = ec_xasprintf("lock/%s", ds);
    EC_AUTOFREE char *skey = specs_key(specs);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, &locks_tbl, lkey, strlen(lkey), text, strlen(text), 0, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, &locks_tbl, skey, strlen(skey), ds, strlen(ds), 0, err);
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

int ec_cache__lock_put(ec_digest *out, ec_txn *txn, const json_t *lock, ec_err *err)
{
    EC_AUTOFREE char *text = ec_lock_dump(lock);
    char ds[EC_DIGEST_STR_LEN];
    ec_sha256_buf(out, text, strlen(text));
    EC_AUTOFREE char *lkey = ec_xasprintf("lock/%s", ec_digest_format(ds, out));
    return ec_kv_put(txn, &locks_tbl, lkey, strlen(lkey), text, strlen(text), 0, err);
}
