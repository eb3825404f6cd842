/* SPDX-License-Identifier: MIT */
/* The layer_keys table: a layer key (32 raw bytes: warm-ups' ec_layer_key, bootstraps' base
 * key) -> the digest of the layer built for it (32 raw bytes). */
#include "cache/cache_int.h"

#include <string.h>

#include "store/util/auto.h"

static const ec_table layer_keys_tbl = {"layer_keys", 0};

bool ec_cache__layer_for_key(ec_layer_info *out, ec_store *st, const ec_digest *key)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    ec_digest d;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, &layer_keys_tbl, key->b, sizeof key->b, &v, &n, NULL) < 0 ||
        n != sizeof d.b)
        return false;
    memcpy(d.b, v, sizeof d.b);
    if (ec_layer_lookup(out, txn, &d, NULL) < 0)
        return false;
    ec_txn_abort(ec_steal(&txn));
    return ec_store_has_blob(st, &d);
}

int ec_cache__layer_key_put(ec_txn *txn, const ec_digest *key, const ec_digest *layer,
                            ec_err *err)
{
    return ec_kv_put(txn, &layer_keys_tbl, key->b, sizeof key->b, layer->b, sizeof layer->b, 0,
                     err);
}
