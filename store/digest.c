/* SPDX-License-Identifier: MIT */
/* SHA-256 digests: parsing, formatting, streaming hashing through OpenSSL EVP. */
#include "store/store.h"
#include "store/util/mem.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ec_sha256 {
    EVP_MD_CTX *ctx;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is refused: a digest has one spelling */
}

int ec_digest_parse(ec_digest *out, const char *text, ec_err *err)
{
    const char *hex = text;
    if (strncmp(hex, "sha256:", 7) == 0)
        hex += 7;
    if (strlen(hex) != 64)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a digest: expected sha256:<64 hex digits>",
                       text);
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ec_fail(err, EC_EINVAL,
                           "\"%s\" is not a digest: expected lowercase hex digits", text);
        out->b[i] = (unsigned char)(hi << 4 | lo);
    }
    return EC_OK;
}

char *ec_digest_hex(char out[EC_DIGEST_HEX_LEN], const ec_digest *d)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d->b[i] >> 4];
        out[2 * i + 1] = digits[d->b[i] & 15];
    }
    out[64] = '\0';
    return out;
}

char *ec_digest_format(char out[EC_DIGEST_STR_LEN], const ec_digest *d)
{
    memcpy(out, "sha256:", 7);
    ec_digest_hex(out + 7, d);
    return out;
}

bool ec_digest_eq(const ec_digest *a, const ec_digest *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

bool ec_digest_is_zero(const ec_digest *d)
{
    static const ec_digest zero;
    return ec_digest_eq(d, &zero);
}

ec_sha256 *ec_sha256_new(void)
{
    ec_sha256 *h = ec_xmalloc(sizeof *h);
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "envcache: OpenSSL cannot initialise SHA-256\n");
        abort();
    }
    return h;
}

void ec_sha256_update(ec_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void ec_sha256_final(ec_sha256 *h, ec_digest *out)
{
    unsigned len = 0;
    EVP_DigestFinal_ex(h->ctx, out->b, &len);
    ec_sha256_free(h);
}

void ec_sha256_free(ec_sha256 *h)
{
    if (h) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
    }
}

void ec_sha256_buf(ec_digest *out, const void *p, size_t n)
{
    ec_sha256 *h = ec_sha256_new();
    ec_sha256_update(h, p, n);
    ec_sha256_final(h, out);
}

int ec_sha256_fd(ec_digest *out, uint64_t *size_out, int fd, ec_err *err)
{
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    EC_AUTOFREE char *buf = ec_xmalloc(1 << 20);
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 20);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ec_fail_sys(err, errno, "cannot read while hashing");
        if (r == 0)
            break;
        ec_sha256_update(h, buf, (size_t)r);
        total += (uint64_t)r;
    }
    ec_sha256_final(ec_steal(&h), out);
    if (size_out)
        *size_out = total;
    return EC_OK;
}
