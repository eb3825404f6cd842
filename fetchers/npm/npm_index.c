/* SPDX-License-Identifier: MIT */
/* The npm part of the mirror index and SRI parsing: what fetch records, serve finds. */
#include "fetchers/npm/npm_int.h"

#include <openssl/evp.h>
#include <string.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

char *ec_npm_tgz_key(const char *name, const char *file)
{
    return ec_xasprintf("npm/tgz/%s/%s", name, file);
}

const char *ec_npm_url_file(const char *url)
{
    const char *q = strrchr(url, '/');
    return q ? q + 1 : url;
}

int ec_npm_tgz_lookup(ec_store *st, const char *name, const char *file, ec_digest *out,
                      ec_err *err)
{
    EC_AUTOFREE char *key = ec_npm_tgz_key(name, file);
    return ec_mirror_digest_get(st, key, out, err);
}

int ec_npm_tgz_record(ec_store *st, const char *name, const char *file, const ec_digest *d,
                      ec_err *err)
{
    EC_AUTOFREE char *key = ec_npm_tgz_key(name, file);
    return ec_mirror_digest_put(st, key, d, err);
}

static int b64_decode(const char *s, size_t n, unsigned char *out, size_t want)
{
    unsigned char tmp[96];
    if (n == 0 || n > 4 * (sizeof tmp / 3) || n % 4)
        return -1;
    int k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    if (k < 0)
        return -1;
    size_t pad = (s[n - 1] == '=') + (s[n - 2] == '=');
    if ((size_t)k - pad != want)
        return -1;
    memcpy(out, tmp, want);
    return 0;
}

static int hex_decode(const char *s, unsigned char *out, size_t want)
{
    if (strlen(s) != 2 * want)
        return -1;
    for (size_t i = 0; i < want; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16u;
            if (d > 15)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* An SRI string may list several hashes (and options after '?'); the strongest wins. */
int ec_npm_integrity_parse(const char *sri, const char *shasum, ec_http_hash *algo,
                           unsigned char want[64], ec_err *err)
{
    static const struct { const char *prefix; ec_http_hash algo; size_t len; } known[] = {
        {"sha512-", EC_HTTP_HASH_SHA512, 64},
        {"sha256-", EC_HTTP_HASH_SHA256, 32},
        {"sha1-", EC_HTTP_HASH_SHA1, 20},
    };
    for (size_t k = 0; sri && k < sizeof known / sizeof known[0]; k++) {
        for (const char *p = sri; (p = strstr(p, known[k].prefix)) != NULL; p++) {
            if (p != sri && p[-1] != ' ')
                continue;
            const char *b = p + strlen(known[k].prefix);
            size_t n = strcspn(b, " ?");
            if (b64_decode(b, n, want, known[k].len) == 0) {
                *algo = known[k].algo;
                return EC_OK;
            }
        }
    }
    if (shasum && hex_decode(shasum, want, 20) == 0) {
        *algo = EC_HTTP_HASH_SHA1;
        return EC_OK;
    }
    return ec_fail(err, EC_EINVAL, "no usable integrity (\"%s\", shasum \"%s\")",
                   sri ? sri : "", shasum ? shasum : "");
}
