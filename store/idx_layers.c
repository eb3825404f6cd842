/* SPDX-License-Identifier: MIT */
/* The layers table: layer digest -> fixed-layout record (diff_id, sizes, times, flags). */
#include "store/record.h"
#include "store/store_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <string.h>

#define LAYER_REC_V1 1
#define LAYER_REC_LEN (1 + 32 + 8 * 5 + 4)

static void encode(unsigned char rec[LAYER_REC_LEN], const ec_layer_info *l)
{
    rec[0] = LAYER_REC_V1;
    memcpy(rec + 1, l->diff_id.b, 32);
    ec_le64_put(rec + 33, l->size);
    ec_le64_put(rec + 41, l->tar_size);
    ec_le64_put(rec + 49, l->files);
    ec_le64_put(rec + 57, (uint64_t)l->created);
    ec_le64_put(rec + 65, (uint64_t)l->last_used);
    ec_le32_put(rec + 73, l->flags);
}

static int decode(ec_layer_info *out, const ec_digest *digest, const void *v, size_t n,
                  ec_err *err)
{
    const unsigned char *p = v;
    if (n != LAYER_REC_LEN || p[0] != LAYER_REC_V1)
        return ec_fail(err, EC_EFORMAT, "layer record has an unknown layout (%zu bytes)", n);
    out->digest = *digest;
    memcpy(out->diff_id.b, p + 1, 32);
    out->size = ec_le64_get(p + 33);
    out->tar_size = ec_le64_get(p + 41);
    out->files = ec_le64_get(p + 49);
    out->created = (int64_t)ec_le64_get(p + 57);
    out->last_used = (int64_t)ec_le64_get(p + 65);
    out->flags = ec_le32_get(p + 73);
    return EC_OK;
}

int ec_layer_lookup(ec_layer_info *out, ec_txn *txn, const ec_digest *digest, ec_err *err)
{
    const void *v;
    size_t n;
    int r = ec_kv_get(txn, &ec_tbl_layers, digest->b, 32, &v, &n, err);
    if (r == EC_ENOTFOUND) {
        char s[EC_DIGEST_STR_LEN];
        return ec_fail(err, EC_ENOTFOUND, "layer %s is not in the store",
                       ec_digest_format(s, digest));
    }
    if (r < 0)
        return r;
    return decode(out, digest, v, n, err);
}

int ec_layer_put(ec_txn *txn, const ec_layer_info *info, ec_err *err)
{
    unsigned char rec[LAYER_REC_LEN];
    encode(rec, info);
    return ec_kv_put(txn, &ec_tbl_layers, info->digest.b, 32, rec, sizeof rec, 0, err);
}

int ec_layer_del(ec_txn *txn, const ec_digest *digest, ec_err *err)
{
    return ec_kv_del(txn, &ec_tbl_layers, digest->b, 32, err);
}

/* last_used is GC's LRU hint and grace clock: a minute's precision is plenty, and a use
 * within it costs a read, not a write and its sync (a sandbox run on a warm base was
 * spending one fdatasync on it every time). */
#define TOUCH_GRAIN_S 60

int ec_layer_touch(ec_store *st, const ec_digest *digest, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_layer_info info;
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (r == EC_OK && (r = ec_layer_lookup(&info, txn, digest, err)) == EC_OK &&
        info.last_used > ec_now() - TOUCH_GRAIN_S && info.last_used <= ec_now())
        return EC_OK;
    ec_txn_abort(ec_steal(&txn));
    if (r < 0)
        return r;
    r = ec_txn_begin(&txn, st, EC_TXN_LAZY, err);
    if (r < 0)
        return r;
    r = ec_layer_lookup(&info, txn, digest, err);
    if (r < 0)
        return r;
    info.last_used = ec_now();
    r = ec_layer_put(txn, &info, err);
    if (r < 0)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}

struct resolve_ctx {
    const char *hex;
    size_t hexlen;
    int matches;
    ec_layer_info found;
    int r;
    ec_err *err;
};

static int resolve_one(const void *key, size_t klen, const void *val, size_t vlen, void *payload)
{
    struct resolve_ctx *c = payload;
    char hex[EC_DIGEST_HEX_LEN];
    ec_digest d;
    if (klen != 32)
        return 0;
    memcpy(d.b, key, 32);
    if (strncmp(ec_digest_hex(hex, &d), c->hex, c->hexlen) != 0)
        return 0;
    if (++c->matches == 1)
        c->r = decode(&c->found, &d, val, vlen, c->err);
    return c->matches > 1;
}

int ec_layer_resolve(ec_layer_info *out, ec_store *st, const char *prefix, ec_err *err)
{
    const char *hex = strncmp(prefix, "sha256:", 7) == 0 ? prefix + 7 : prefix;
    size_t n = strlen(hex);
    if (n < 12 || n > 64 || strspn(hex, "0123456789abcdef") != n)
        return ec_fail(err, EC_EINVAL,
                       "\"%s\" is not a layer digest: expected sha256:<hex>, at least 12 digits",
                       prefix);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    /* Keys are raw digests, so a prefix of whole bytes narrows the walk. */
    unsigned char raw[32];
    size_t rawlen = n / 2;
    for (size_t i = 0; i < rawlen; i++)
        raw[i] = (unsigned char)((strchr("0123456789abcdef", hex[2 * i]) - "0123456789abcdef") << 4 |
                                 (strchr("0123456789abcdef", hex[2 * i + 1]) - "0123456789abcdef"));
    struct resolve_ctx c = {.hex = hex, .hexlen = n, .err = err};
    r = ec_kv_each(txn, &ec_tbl_layers, raw, rawlen, false, NULL, 0, resolve_one, &c, err);
    if (r < 0)
        return r;
    if (c.matches == 0)
        return ec_fail(err, EC_ENOTFOUND, "layer %s is not in the store (see `envcache layer ls`)",
                       prefix);
    if (c.matches > 1)
        return ec_fail(err, EC_EINVAL, "layer prefix %s is ambiguous: give more digits", prefix);
    if (c.r < 0)
        return c.r;
    *out = c.found;
    return EC_OK;
}
