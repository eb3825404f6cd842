/* SPDX-License-Identifier: MIT */
/* The default base that environments without a base of their own build on (meta table).
 * Apart from base.c so that reading it never links the bootstrap's machinery (curl,
 * mmdebstrap, the importer). */
#include "cache/env/base.h"
#include "cache/cache_int.h"

#include <string.h>

#include "store/util/auto.h"
#include "store/util/log.h"

/* In the store's meta table: a store-wide setting; this file alone knows its key. */
static const char default_key[] = "default_base";

int ec_base_default_get(ec_digest *out, ec_cache *c, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t vl;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_kv_get(txn, &ec_tbl_meta, default_key, strlen(default_key), &v, &vl, err);
    if (r < 0)
        return r;
    if (vl != sizeof out->b)
        return ec_fail(err, EC_EFORMAT, "meta.default_base: a record of %zu bytes", vl);
    memcpy(out->b, v, sizeof out->b);
    return EC_OK;
}

int ec_base_default_set(ec_cache *c, const ec_digest *d, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_layer_info l;
    char s[EC_DIGEST_STR_LEN];
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0)
        return r;
    if (!d) {
        r = ec_kv_del(txn, &ec_tbl_meta, default_key, strlen(default_key), err);
        if (r == EC_ENOTFOUND)
            return EC_OK;
    } else if ((r = ec_layer_lookup(&l, txn, d, err)) == EC_OK) {
        if (!(l.flags & EC_LAYER_BASE))
            ec_warn("layer %s is not marked as a base; using it as one anyway",
                    ec_digest_format(s, d));
        r = ec_kv_put(txn, &ec_tbl_meta, default_key, strlen(default_key), d->b, sizeof d->b, 0,
                      err);
    }
    if (r < 0)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}
