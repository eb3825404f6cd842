/* SPDX-License-Identifier: MIT */
/* API keys: random keys handed out once, stored as sha256 -> {"workspace", "sha256"}. */
#include "cache/api/auth.h"
#include "cache/cache_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/random.h>

#define KEY_RANDOM 40
#define WS_MAX 64

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool ec_workspace_valid(const char *ws)
{
    size_t n = strlen(ws);
    return n > 0 && n <= WS_MAX && ws[0] != '.' &&
           strspn(ws, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void key_hash(char out[EC_DIGEST_HEX_LEN], const char *key)
{
    ec_digest d;
    ec_sha256_buf(&d, key, strlen(key));
    ec_digest_hex(out, &d);
}

int ec_key_create(char **key_out, ec_cache *c, const char *ws, ec_err *err)
{
    if (!ec_workspace_valid(ws))
        return ec_fail(err, EC_EINVAL, "workspace \"%s\": use 1-%d letters, digits, '.', '_' "
                                       "or '-'", ws, WS_MAX);
    unsigned char rnd[KEY_RANDOM];
    while (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        ;
    char key[4 + KEY_RANDOM + 1] = "eck_";
    for (size_t i = 0; i < KEY_RANDOM; i++)
        key[4 + i] = base62[rnd[i] % 62]; /* 256 % 62 bias is irrelevant at 238 bits */
    key[4 + KEY_RANDOM] = '\0';
    char hex[EC_DIGEST_HEX_LEN], now[32];
    key_hash(hex, key);
    ec_cache__rfc3339(now, ec_now());
    EC_AUTO(json_t) rec = json_pack("{s:s, s:s, s:s}", "workspace", ws, "sha256", hex,
                                    "created_at", now);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0 || (r = ec_cache__json_put(txn, EC_TBL_KEYS, hex, rec, EC_KV_NOOVERWRITE, err)) < 0 ||
        (r = ec_txn_commit(ec_steal(&txn), err)) < 0)
        return r;
    *key_out = ec_xstrdup(key);
    return EC_OK;
}

int ec_key_lookup(char **ws_out, ec_cache *c, const char *key, ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    key_hash(hex, key);
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    r = ec_cache__json_get(&rec, txn, EC_TBL_KEYS, hex, err);
    if (r == EC_ENOTFOUND)
        return ec_fail(err, EC_ENOTFOUND, "invalid x-api-key");
    if (r < 0)
        return r;
    /* The table is indexed by the hash, so the look-up itself compares hashes, never keys;
     * the stored hash is still compared in constant time so a corrupt record cannot match. */
    const char *stored = json_string_value(json_object_get(rec, "sha256"));
    const char *ws = json_string_value(json_object_get(rec, "workspace"));
    if (!stored || !ws || strlen(stored) != strlen(hex) ||
        CRYPTO_memcmp(stored, hex, strlen(hex)) != 0)
        return ec_fail(err, EC_ENOTFOUND, "invalid x-api-key");
    *ws_out = ec_xstrdup(ws);
    return EC_OK;
}
