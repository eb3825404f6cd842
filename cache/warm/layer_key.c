/* SPDX-License-Identifier: MIT */
/* The layer key: one hash over everything a layer's bytes depend on. */
#include "cache/warm/layer_key.h"

#include <stdint.h>
#include <string.h>

/* Bump when the encoding changes, so old keys can never match new ones. */
static const char key_tag[] = "envcache-layer-key-v1";

/* Each field is its length (8 bytes, little-endian) then its bytes: no separator can be
 * forged by a field's content. */
static void put_u64(ec_sha256 *h, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    ec_sha256_update(h, le, sizeof le);
}

static void put_field(ec_sha256 *h, const void *p, size_t n)
{
    put_u64(h, n);
    ec_sha256_update(h, p, n);
}

static void put_str(ec_sha256 *h, const char *s)
{
    put_field(h, s, strlen(s));
}

int ec_layer_key(ec_digest *out, const ec_layer_key_in *in, ec_err *err)
{
    if (!out || !in || !in->manager || !*in->manager || !in->lock || !in->platform ||
        !*in->platform || !in->builder || (in->runs_code && in->nlowers && !in->lowers))
        return ec_fail(err, EC_EINVAL, "layer key: manager, lock, platform and builder are "
                       "required");
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    put_str(h, key_tag);
    put_str(h, in->manager);
    put_field(h, in->lock->b, sizeof in->lock->b);
    put_str(h, in->platform);
    put_str(h, in->builder);
    put_str(h, in->runs_code ? "runs-code" : "no-code");
    size_t n = in->runs_code ? in->nlowers : 0;
    put_u64(h, n); /* the count closes the variable part */
    for (size_t i = 0; i < n; i++)
        put_field(h, in->lowers[i].b, sizeof in->lowers[i].b);
    ec_sha256_final(ec_steal(&h), out);
    return EC_OK;
}
