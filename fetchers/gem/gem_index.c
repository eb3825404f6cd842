/* SPDX-License-Identifier: MIT */
/* The compact index: /versions, /info/NAME and /names, cached in the store with their
 * ETags (one upstream question per document per freshness window, then only "has it
 * changed?"), each info file checked against the MD5 /versions lists for it before it is
 * used or kept; and the parser of info files. */
#include "fetchers/gem/gem_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

char *gem_file_key(const char *path)
{
    return ec_xasprintf("gem/%s", path);
}

static void md5_hex(char out[33], const void *p, size_t n)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
    for (unsigned i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int read_blob(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = ec_blob_open(&fd, st, d, err);
    char chunk[65536];
    for (ssize_t k; r == EC_OK && (k = read(fd, chunk, sizeof chunk)) != 0;)
        r = k < 0 ? ec_fail_sys(err, errno, "gem: cannot read a cached index document")
                  : ec_buf_add(out, chunk, (size_t)k, err);
    return r;
}

/* The document from upstream, revalidated with @rec's ETag when @have; stored only when
 * it matches @want_md5 (when given). */
static int doc_fetch(ec_fetch_ctx *ctx, const char *path, const char *key, ec_mirror_doc *rec,
                     bool have, const char *want_md5, ec_buf *body, ec_err *err)
{
    size_t ul = strlen(ctx->upstream);
    while (ul && ctx->upstream[ul - 1] == '/')
        ul--;
    EC_AUTOFREE char *url = ec_xasprintf("%.*s/%s", (int)ul, ctx->upstream, path);
    ec_http_req q = {.url = url, .sink = EC_HTTP_SINK_MEM, .what = path,
                     .if_none_match = have && rec->etag[0] ? rec->etag : NULL};
    q.body.max = (size_t)1 << 30;
    int r = ec_http_get(ctx->http, &q);
    if (r == EC_ENOTFOUND)
        ec_fail(err, r, "gem: %s has no %s", ctx->upstream, path);
    else if (r < 0)
        ec_fail(err, r, "gem: %s: %s", url, q.err.msg);
    else if (q.status == 304 && have) {
        rec->fetched = ec_now();
        r = ec_mirror_doc_put(ctx->store, key, rec, err);
        if (r == EC_OK)
            r = read_blob(ctx->store, &rec->blob, body, err);
    } else if (q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "gem: %s answered HTTP %ld", url, q.status);
    else {
        char md5[33];
        md5_hex(md5, q.body.p ? q.body.p : "", q.body.n);
        if (want_md5 && strcmp(md5, want_md5) != 0)
            r = ec_fail(err, EC_EINTEGRITY, "gem: %s from %s does not match the MD5 its "
                        "/versions lists (%s, got %s): refused, nothing stored", path,
                        ctx->upstream, want_md5, md5);
        ec_mirror_doc d = {.fetched = ec_now()};
        snprintf(d.etag, sizeof d.etag, "%s", q.etag);
        if (r == EC_OK)
            r = ec_blob_put_buf(&d.blob, ctx->store, q.body.p ? q.body.p : "", q.body.n, err);
        if (r == EC_OK)
            r = ec_mirror_doc_put(ctx->store, key, &d, err);
        if (r == EC_OK)
            r = ec_buf_add(body, q.body.p ? q.body.p : "", q.body.n, err);
    }
    ec_http_req_reset(&q);
    return r;
}

static int doc_get(ec_fetch_ctx *ctx, const char *path, int64_t ttl, const char *want_md5,
                   ec_buf *body, bool *upstream_out, ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf("gem/doc/%s", path);
    ec_mirror_doc rec;
    bool have = ec_mirror_doc_get(ctx->store, key, &rec);
    if (have && (ctx->offline || ec_now() - rec.fetched <= ttl)) {
        int r = read_blob(ctx->store, &rec.blob, body, err);
        char md5[33];
        md5_hex(md5, body->p ? body->p : "", body->n);
        if (r < 0 || !want_md5 || strcmp(md5, want_md5) == 0 || ctx->offline)
            return r;
        ec_buf_reset(body); /* /versions moved on since: fetch it again */
    }
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "gem: %s is not cached and the warm-up is offline",
                       path);
    if (upstream_out)
        *upstream_out = true;
    return doc_fetch(ctx, path, key, &rec, have, want_md5, body, err);
}

int gem_index_doc(ec_fetch_ctx *ctx, const char *path, int64_t ttl, ec_buf *body,
                  bool *upstream_out, ec_err *err)
{
    return doc_get(ctx, path, ttl, NULL, body, upstream_out, err);
}

bool gem_versions_md5(const char *versions, const char *name, char out[33])
{
    size_t nl = strlen(name);
    bool found = false;
    const char *p = strstr(versions, "\n---\n");
    p = p ? p + 5 : strncmp(versions, "---\n", 4) == 0 ? versions + 4 : versions;
    for (; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t len = strcspn(p, "\n");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            const char *sp = p + len;
            while (sp > p && sp[-1] != ' ')
                sp--;
            if (p + len - sp == 32) {
                memcpy(out, sp, 32);
                out[32] = '\0';
                found = true;
            }
        }
    }
    return found;
}

int gem_index_info(ec_fetch_ctx *ctx, const char *versions, const char *name, gem_info *out,
                   ec_err *err)
{
    char md5[33];
    if (!gem_versions_md5(versions, name, md5))
        return ec_fail(err, EC_ENOTFOUND, "gem %s is not in the registry %s", name,
                       ctx->upstream);
    EC_AUTOFREE char *path = ec_xasprintf("info/%s", name);
    ec_buf body = EC_BUF_INIT;
    body.max = (size_t)256 << 20;
    int r = doc_get(ctx, path, GEM_INDEX_TTL, md5, &body, NULL, err);
    if (r == EC_OK)
        r = gem_info_parse(out, name, body.p ? body.p : "", body.n, err);
    ec_buf_fini(&body);
    return r;
}

/* --- /info lines: VER[-PLAT] DEP:REQ&REQ,DEP:REQ|checksum:HEX,ruby:REQ,rubygems:REQ --- */

void gem_info_free(gem_info *gi)
{
    if (!gi)
        return;
    for (size_t i = 0; i < gi->n; i++) {
        for (size_t k = 0; k < gi->e[i].ndeps; k++)
            free(gi->e[i].deps[k].name);
        free(gi->e[i].deps);
    }
    free(gi->e);
    free(gi->name);
    memset(gi, 0, sizeof *gi);
}

/* "1.0.0-x86_64-linux": everything after the first '-' is the platform, as Bundler's
 * compact index client splits it (a version written with '-' is written ".pre." there). */
static bool split_version(gem_entry *e, const char *s, size_t n)
{
    const char *d = memchr(s, '-', n);
    snprintf(e->platform, sizeof e->platform, "%.*s", d ? (int)(n - (size_t)(d - s) - 1) : 4,
             d ? d + 1 : "ruby");
    return gem_ver_parse(&e->ver, s, d ? (size_t)(d - s) : n);
}

/* Room for element @n of an array of @n (entries are 12 KiB and requirements 6 KiB: one
 * more at a time made parsing an info file of many versions quadratic in copies). The
 * capacity doubles at each power of two, so no count of it is kept. */
static void *grow(void *a, size_t n, size_t size)
{
    return n & (n - 1) ? a : ec_xrealloc(a, (n ? 2 * n : 1) * size);
}

static bool parse_deps(gem_entry *e, const char *s, size_t n)
{
    for (const char *p = s, *end = s + n; p < end;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t len = c ? (size_t)(c - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', len);
        if (!colon)
            return false;
        e->deps = grow(e->deps, e->ndeps, sizeof *e->deps);
        e->deps[e->ndeps].name = ec_xstrndup(p, (size_t)(colon - p));
        EC_AUTOFREE char *req = ec_xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
        if (!gem_req_parse(&e->deps[e->ndeps++].req, req, '&'))
            return false;
        p += len + 1;
    }
    return true;
}

static bool parse_extra(gem_entry *e, const char *s, size_t n)
{
    for (const char *p = s, *end = s + n; p < end;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t len = c ? (size_t)(c - p) : (size_t)(end - p);
        EC_AUTOFREE char *kv = ec_xstrndup(p, len);
        char *v = strchr(kv, ':');
        if (v) {
            *v++ = '\0';
            if (strcmp(kv, "checksum") == 0 && strlen(v) == 64)
                memcpy(e->checksum, v, 65);
            else if (strcmp(kv, "ruby") == 0 && !gem_req_parse(&e->ruby, v, '&'))
                return false;
            else if (strcmp(kv, "rubygems") == 0 && !gem_req_parse(&e->rubygems, v, '&'))
                return false;
        }
        p += len + 1;
    }
    return true;
}

int gem_info_parse(gem_info *out, const char *name, const char *body, size_t n, ec_err *err)
{
    memset(out, 0, sizeof *out);
    out->name = ec_xstrdup(name);
    size_t lineno = 0;
    bool started = false;
    for (const char *p = body, *end = body + n; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p += len + 1;
        if (!started) {
            started = len == 3 && memcmp(line, "---", 3) == 0;
            continue;
        }
        if (len == 0)
            continue;
        const char *sp = memchr(line, ' ', len), *bar = memchr(line, '|', len);
        out->e = grow(out->e, out->n, sizeof *out->e);
        gem_entry *e = &out->e[out->n++];
        memset(e, 0, sizeof *e);
        gem_req_parse(&e->ruby, "", ',');
        gem_req_parse(&e->rubygems, "", ',');
        if (!sp || !bar || bar < sp || !split_version(e, line, (size_t)(sp - line)) ||
            !parse_deps(e, sp + 1, (size_t)(bar - sp - 1)) ||
            !parse_extra(e, bar + 1, len - (size_t)(bar - line) - 1) || !e->checksum[0]) {
            int r = ec_fail(err, EC_EFORMAT, "gem: info/%s line %zu is not a compact index "
                            "line (VERSION[-PLATFORM] DEPS|checksum:SHA256…): \"%.*s\"", name,
                            lineno + 1, (int)(len > 120 ? 120 : len), line);
            gem_info_free(out);
            return r;
        }
    }
    if (!started) {
        gem_info_free(out);
        return ec_fail(err, EC_EFORMAT, "gem: info/%s has no \"---\" line", name);
    }
    return EC_OK;
}
