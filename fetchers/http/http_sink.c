/* SPDX-License-Identifier: MIT */
/* Where bodies go: response headers, the memory or blob sink, and the digests checked. */
#include "fetchers/http/http_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* --- headers --- */

/* Copies a header's value (trimmed) into @dst when it is @name; true if it was. */
static bool header_value(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    size_t len = (size_t)(end - v);
    if (len >= cap)
        len = 0; /* a cut-off ETag would revalidate the wrong thing: keep none */
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

size_t ec_http__on_header(char *p, size_t size, size_t n, void *ud)
{
    ec_http_req *req = ud;
    struct ec_http_rp *rp = req->priv_;
    size_t len = size * n;
    char ra[64];

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response begins (after a redirect or a 100 Continue): forget the last. */
        req->etag[0] = '\0';
        req->content_type[0] = '\0';
        rp->retry_after_ms = -1;
        const char *sp = memchr(p, ' ', len);
        rp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if (header_value(p, len, "ETag", req->etag, sizeof req->etag))
        return len;
    if (header_value(p, len, "Content-Type", req->content_type, sizeof req->content_type))
        return len;
    if (header_value(p, len, "Retry-After", ra, sizeof ra)) {
        long ms;
        if (ec_http__retry_after_parse(ra, time(NULL), rp->h->o.retry_after_max_secs, &ms))
            rp->retry_after_ms = ms;
    }
    return len;
}

/* --- body --- */

size_t ec_http__on_body(char *p, size_t size, size_t n, void *ud)
{
    ec_http_req *req = ud;
    struct ec_http_rp *rp = req->priv_;
    ec_http *h = rp->h;
    size_t len = size * n;
    long status = 0;

    atomic_fetch_add(&h->n_bytes, (uint64_t)len);
    curl_easy_getinfo(rp->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return len; /* an error page: read and dropped, the status says it all */

    if (req->sink == EC_HTTP_SINK_MEM) {
        ec_err e = {0};
        if (ec_buf_add(&req->body, p, len, &e) < 0) {
            ec_fail(&rp->sink_err, EC_ELIMIT,
                    "fetching %s from %s: the body is larger than the limit of %llu bytes",
                    ec_http__what(req), req->url, (unsigned long long)h->o.max_mem_body);
            return 0; /* libcurl aborts the transfer */
        }
    } else {
        if (!rp->w && ec_blob_writer_new(&rp->w, req->store, &rp->sink_err) < 0)
            return 0;
        if (ec_blob_writer_write(rp->w, p, len, &rp->sink_err) < 0)
            return 0;
        if (req->tee)
            req->tee(p, len, req->tee_ud);
    }
    if (rp->integ)
        EVP_DigestUpdate(rp->integ, p, len);
    req->size += len;
    return len;
}

/* --- per-attempt reset and the final checks --- */

static const EVP_MD *integ_md(ec_http_hash a)
{
    switch (a) {
    case EC_HTTP_HASH_SHA1: return EVP_sha1();
    case EC_HTTP_HASH_SHA256: return EVP_sha256();
    case EC_HTTP_HASH_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

void ec_http__sink_reset(ec_http_req *req)
{
    struct ec_http_rp *rp = req->priv_;
    ec_http *h = rp->h;
    ec_blob_writer_cancel(rp->w);
    rp->w = NULL;
    if (req->tee_reset)
        req->tee_reset(req->tee_ud);
    ec_buf_fini(&req->body);
    req->body.max = h->o.max_mem_body > (uint64_t)SIZE_MAX - 1 ? SIZE_MAX - 1
                                                                : (size_t)h->o.max_mem_body;
    req->size = 0;
    req->status = 0;
    req->etag[0] = '\0';
    req->content_type[0] = '\0';
    rp->status = 0;
    rp->retry_after_ms = -1;
    rp->errbuf[0] = '\0';
    const EVP_MD *md = integ_md(req->integrity_algo);
    if (md) {
        if (!rp->integ)
            rp->integ = EVP_MD_CTX_new();
        if (rp->integ && EVP_DigestInit_ex(rp->integ, md, NULL) != 1) {
            EVP_MD_CTX_free(rp->integ);
            rp->integ = NULL;
        }
    }
}

/* How people and registries write a digest: npm's "sha512-<base64>" form, hex for sha1. */
static void digest_text(char *out, size_t cap, ec_http_hash a, const unsigned char *d,
                        size_t n)
{
    if (a == EC_HTTP_HASH_SHA1) {
        size_t o = 0;
        for (size_t i = 0; i < n && o + 3 <= cap; i++)
            o += (size_t)snprintf(out + o, cap - o, "%02x", d[i]);
        return;
    }
    unsigned char b64[100];
    EVP_EncodeBlock(b64, d, (int)n);
    snprintf(out, cap, "%s-%s", a == EC_HTTP_HASH_SHA512 ? "sha512" : "sha256", b64);
}

int ec_http__sink_finish(ec_http_req *req)
{
    struct ec_http_rp *rp = req->priv_;
    ec_err *err = &req->err;

    if (req->integrity_algo != EC_HTTP_HASH_NONE) {
        unsigned char got[EVP_MAX_MD_SIZE];
        unsigned glen = 0;
        if (!rp->integ || EVP_DigestFinal_ex(rp->integ, got, &glen) != 1) {
            ec_blob_writer_cancel(ec_steal(&rp->w));
            return req->rc = ec_fail(err, EC_ENOMEM, "fetching %s from %s: cannot compute its digest",
                                     ec_http__what(req), req->url);
        }
        if (glen > sizeof req->integrity_want || memcmp(got, req->integrity_want, glen) != 0) {
            char want_s[128], got_s[128];
            digest_text(want_s, sizeof want_s, req->integrity_algo, req->integrity_want, glen);
            digest_text(got_s, sizeof got_s, req->integrity_algo, got, glen);
            ec_blob_writer_cancel(ec_steal(&rp->w));
            ec_buf_fini(&req->body);
            return req->rc = ec_fail(err, EC_EINTEGRITY,
                                     "fetching %s from %s: integrity check failed: expected %s, "
                                     "got %s; nothing was stored",
                                     ec_http__what(req), req->url, want_s, got_s);
        }
    }

    if (req->sink == EC_HTTP_SINK_MEM) {
        if (req->want_sha256) {
            ec_digest got;
            char ws[EC_DIGEST_STR_LEN], gs[EC_DIGEST_STR_LEN];
            ec_sha256_buf(&got, req->body.p ? req->body.p : "", req->body.n);
            if (!ec_digest_eq(&got, req->want_sha256)) {
                ec_buf_fini(&req->body);
                return req->rc = ec_fail(err, EC_EINTEGRITY,
                                         "fetching %s from %s: content is %s but %s was expected",
                                         ec_http__what(req), req->url, ec_digest_format(gs, &got),
                                         ec_digest_format(ws, req->want_sha256));
            }
        }
        return req->rc = EC_OK;
    }

    if (!rp->w && ec_blob_writer_new(&rp->w, req->store, err) < 0) { /* an empty body */
        ec_err_prefix(err, "fetching %s from %s", ec_http__what(req), req->url);
        return req->rc = err->code;
    }
    int r = ec_blob_writer_commit(ec_steal(&rp->w), req->want_sha256, &req->blob, err);
    if (r < 0) {
        ec_err_prefix(err, "fetching %s from %s", ec_http__what(req), req->url);
        memset(&req->blob, 0, sizeof req->blob);
    }
    return req->rc = r;
}
