/* SPDX-License-Identifier: MIT */
/* The api_keys table: the sha256 of a key (64 hex) -> {"workspace", "sha256" (the same hex),
 * "created_at"} as JSON. The key itself is never stored. */
#include "cache/api/auth.h"
#include "cache/cache_int.h"

#include <stdio.h>
#include <string.h>

#include "store/util/auto.h"

static const ec_table keys_tbl = {"api_keys", 0};

int ec_auth__key_put(ec_txn *txn, const ec_key_rec *rec, const char *created_at, ec_err *err)
{
    EC_AUTO(json_t) j = json_pack("{s:s, s:s, s:s}", "workspace", rec->workspace, "sha256",
                                  rec->sha256, "created_at", created_at);
    return ec_cache__json_put(txn, &keys_tbl, rec->sha256, j, EC_KV_NOOVERWRITE, err);
}

int ec_auth__key_get(ec_key_rec *out, ec_txn *txn, const char *sha256, ec_err *err)
{
    EC_AUTO(json_t) j = NULL;
    int r = ec_cache__json_get(&j, txn, &keys_tbl, sha256, err);
    if (r < 0)
        return r;
    const char *ws = json_string_value(json_object_get(j, "workspace"));
    const char *hex = json_string_value(json_object_get(j, "sha256"));
    /* A field missing or too long stays empty, and matches nothing. */
    snprintf(out->workspace, sizeof out->workspace, "%s", ws ? ws : "");
    snprintf(out->sha256, sizeof out->sha256, "%s", hex ? hex : "");
    return EC_OK;
}

int ec_auth__key_del(ec_txn *txn, const char *sha256, ec_err *err)
{
    return ec_kv_del(txn, &keys_tbl, sha256, strlen(sha256), err);
}

struct key_walk {
    ec_auth_key_fn fn;
    void *payload;
};

static int key_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct key_walk *w = payload;
    (void)k;
    (void)kl;
    EC_AUTO(json_t) j = json_loadb(v, vl, 0, NULL);
    const char *ws = json_string_value(json_object_get(j, "workspace"));
    const char *hex = json_string_value(json_object_get(j, "sha256"));
    const char *at = json_string_value(json_object_get(j, "created_at"));
    ec_key_rec rec;
    snprintf(rec.workspace, sizeof rec.workspace, "%s", ws ? ws : "");
    snprintf(rec.sha256, sizeof rec.sha256, "%s", hex ? hex : "");
    return w->fn(&rec, at ? at : "", w->payload);
}

int ec_auth__key_each(ec_txn *txn, ec_auth_key_fn fn, void *payload, ec_err *err)
{
    struct key_walk w = {fn, payload};
    return ec_kv_each(txn, &keys_tbl, NULL, 0, false, NULL, 0, key_one, &w, err);
}
