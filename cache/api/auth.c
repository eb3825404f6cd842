/* SPDX-License-Identifier: MIT */
/* API keys: random keys handed out once; only their sha256 is stored (idx_keys.c). */
#include "cache/api/auth.h"
#include "cache/cache_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/random.h>

#define KEY_RANDOM 40
#define WS_MAX EC_WORKSPACE_MAX

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
    ec_key_rec rec;
    char now[32];
    snprintf(rec.workspace, sizeof rec.workspace, "%s", ws);
    key_hash(rec.sha256, key);
    ec_cache__rfc3339(now, ec_now());
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0 || (r = ec_auth__key_put(txn, &rec, now, err)) < 0 ||
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
    ec_key_rec rec;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    r = ec_auth__key_get(&rec, txn, hex, err);
    if (r == EC_ENOTFOUND)
        return ec_fail(err, EC_ENOTFOUND, "invalid x-api-key");
    if (r < 0)
        return r;
    /* The table is indexed by the hash, so the look-up itself compares hashes, never keys;
     * the stored hash is still compared in constant time so a corrupt record cannot match. */
    if (!*rec.workspace || strlen(rec.sha256) != strlen(hex) ||
        CRYPTO_memcmp(rec.sha256, hex, strlen(hex)) != 0)
        return ec_fail(err, EC_ENOTFOUND, "invalid x-api-key");
    *ws_out = ec_xstrdup(rec.workspace);
    return EC_OK;
}

/* --- list and revoke --- */

#define KEY_ID_LEN 12
#define KEY_ID_MIN 8

struct key_list {
    const char *ws;
    json_t *arr;
};

static int list_one(const ec_key_rec *rec, const char *created_at, void *payload)
{
    struct key_list *l = payload;
    if (l->ws && strcmp(rec->workspace, l->ws) != 0)
        return 0;
    char id[KEY_ID_LEN + 1];
    memcpy(id, rec->sha256, KEY_ID_LEN);
    id[KEY_ID_LEN] = '\0';
    json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s}", "id", id, "workspace",
                                            rec->workspace, "created_at", created_at));
    return 0;
}

int ec_key_list(json_t **out, ec_cache *c, const char *ws, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    struct key_list l = {ws, json_array()};
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_auth__key_each(txn, list_one, &l, err);
    if (r < 0) {
        json_decref(l.arr);
        return r;
    }
    *out = l.arr;
    return EC_OK;
}

struct key_find {
    const char *prefix;
    size_t n;
    int matches;
    ec_key_rec rec;
};

static int find_one(const ec_key_rec *rec, const char *created_at, void *payload)
{
    struct key_find *f = payload;
    (void)created_at;
    if (strncmp(rec->sha256, f->prefix, f->n) == 0 && f->matches++ == 0)
        f->rec = *rec;
    return 0;
}

/* The sha256 hex of the one key @which names, into @hex. */
static int key_resolve(char hex[EC_DIGEST_HEX_LEN], ec_txn *txn, const char *which, ec_err *err)
{
    if (strncmp(which, "eck_", 4) == 0) {
        key_hash(hex, which);
        return EC_OK;
    }
    size_t n = strlen(which);
    if (n < KEY_ID_MIN || n > EC_DIGEST_HEX_LEN - 1 ||
        strspn(which, "0123456789abcdef") != n)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a key id: give the id `keys list` "
                       "shows (hex, at least %d digits) or the key itself", which, KEY_ID_MIN);
    struct key_find f = {which, n, 0, {{0}, {0}}};
    int r = ec_auth__key_each(txn, find_one, &f, err);
    if (r < 0)
        return r;
    if (f.matches == 0)
        return ec_fail(err, EC_ENOTFOUND, "no key has the id %s", which);
    if (f.matches > 1)
        return ec_fail(err, EC_EINVAL, "%d keys have ids starting %s: give more digits",
                       f.matches, which);
    memcpy(hex, f.rec.sha256, EC_DIGEST_HEX_LEN);
    return EC_OK;
}

int ec_key_revoke(ec_key_rec *out, ec_cache *c, const char *which, ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    ec_key_rec rec;
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r == EC_OK)
        r = key_resolve(hex, txn, which, err);
    if (r == EC_OK && (r = ec_auth__key_get(&rec, txn, hex, err)) == EC_ENOTFOUND)
        return ec_fail(err, EC_ENOTFOUND, "no such key (already revoked?)");
    if (r == EC_OK)
        r = ec_auth__key_del(txn, hex, err);
    if (r == EC_OK)
        r = ec_txn_commit(ec_steal(&txn), err);
    if (r == EC_OK && out)
        *out = rec;
    return r;
}
