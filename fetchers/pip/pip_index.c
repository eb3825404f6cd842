/* SPDX-License-Identifier: MIT */
/* The upstream index as pip sees it: project pages (PEP 691 JSON) kept in the store with
 * their ETags, and files and PEP 658 metadata files kept as blobs, each verified against
 * the sha256 its page gives before anything is stored. The resolver, fetch and the mirror
 * all go through here, so a file is downloaded once whoever asks first. */
#include "fetchers/pip/pip_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* Pages can be large (every release of numpy): a generous cap, still a cap. */
#define PIP_PAGE_MAX ((size_t)256 << 20)

char *pip_name_normalize(const char *name)
{
    char *out = ec_xmalloc(strlen(name) + 1), *o = out;
    for (const char *p = name; *p; p++) {
        if (*p == '-' || *p == '_' || *p == '.') {
            if (o == out || o[-1] != '-')
                *o++ = '-';
        } else
            *o++ = (char)tolower((unsigned char)*p);
    }
    *o = '\0';
    return out;
}

bool pip_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '-' || name[n - 1] == '-')
        return false;
    for (const char *p = name; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return false;
    return true;
}

/* --- project pages --- */

static char *page_key(const char *name)
{
    return ec_xasprintf("pip/page/%s", name);
}

static char *page_url(const char *upstream, const char *name)
{
    size_t ul = strlen(upstream);
    while (ul && upstream[ul - 1] == '/')
        ul--;
    return ec_xasprintf("%.*s/%s/", (int)ul, upstream, name);
}

/* A stored page, its bytes checked against its name. */
static int page_read(json_t **out, ec_store *st, const ec_digest *d, const char *name,
                     ec_err *err)
{
    EC_AUTOFREE char *path = ec_blob_path(st, d);
    EC_AUTOFREE char *text = NULL;
    size_t n = 0;
    int r = ec_read_file(&text, &n, path, PIP_PAGE_MAX, err);
    if (r < 0)
        return r;
    ec_digest got;
    ec_sha256_buf(&got, text, n);
    if (!ec_digest_eq(&got, d))
        return ec_fail(err, EC_EINTEGRITY, "the stored page of %s does not match its digest",
                       name);
    json_error_t je;
    *out = json_loadb(text, n, 0, &je);
    return *out ? EC_OK : ec_fail(err, EC_EFORMAT, "the page of %s is not JSON: %s", name,
                                  je.text);
}

/* A 200 from upstream: it must be PEP 691 JSON; kept with its ETag, then parsed. */
static int page_take(json_t **out, ec_fetch_ctx *ctx, const char *name, const char *url,
                     const ec_http_req *q, ec_err *err)
{
    if (!strstr(q->content_type, "json"))
        return ec_fail(err, EC_EFORMAT, "%s answered %s, not the JSON simple API (PEP 691) "
                       "this envcache reads", url, q->content_type[0] ? q->content_type
                                                                      : "no content type");
    json_error_t je;
    json_t *page = json_loadb(q->body.p ? q->body.p : "", q->body.n, 0, &je);
    if (!json_is_array(json_object_get(page, "files"))) {
        json_decref(page);
        return ec_fail(err, EC_EFORMAT, "%s: not a PEP 691 project page (%s)", url,
                       je.text[0] ? je.text : "no \"files\" list");
    }
    ec_mirror_doc doc = {.fetched = ec_now()};
    snprintf(doc.etag, sizeof doc.etag, "%s", q->etag);
    EC_AUTOFREE char *key = page_key(name);
    int r = ec_blob_put_buf(&doc.blob, ctx->store, q->body.p, q->body.n, err);
    if (r == EC_OK)
        r = ec_mirror_doc_put(ctx->store, key, &doc, err);
    if (r == EC_OK)
        *out = page;
    else
        json_decref(page);
    return r;
}

static int page_ask(json_t **out, ec_fetch_ctx *ctx, const char *name, ec_mirror_doc *have,
                    ec_err *err)
{
    EC_AUTOFREE char *url = page_url(ctx->upstream, name);
    EC_AUTOFREE char *what = ec_xasprintf("the index page of %s", name);
    ec_http_req q = {.url = url, .accept = PIP_CTYPE_JSON, .sink = EC_HTTP_SINK_MEM,
                     .if_none_match = have && have->etag[0] ? have->etag : NULL,
                     .what = what};
    int r = ec_http_get(ctx->http, &q);
    if (r == EC_ENOTFOUND)
        r = ec_fail(err, EC_ENOTFOUND, "pip package %s does not exist in the index %s", name,
                    ctx->upstream);
    else if (r < 0 && err)
        *err = q.err;
    else if (q.status == 304 && have) {
        have->fetched = ec_now();
        EC_AUTOFREE char *key = page_key(name);
        r = ec_mirror_doc_put(ctx->store, key, have, err);
        if (r == EC_OK)
            r = page_read(out, ctx->store, &have->blob, name, err);
    } else if (q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "%s answered HTTP %ld", url, q.status);
    else
        r = page_take(out, ctx, name, url, &q, err);
    ec_http_req_reset(&q);
    return r;
}

static int page_get_ttl(json_t **out, ec_fetch_ctx *ctx, const char *name, int64_t ttl,
                        bool *asked, ec_err *err)
{
    ec_mirror_doc doc;
    EC_AUTOFREE char *key = page_key(name);
    bool have = ec_mirror_doc_get(ctx->store, key, &doc);
    bool fresh = have && (ctx->offline || ec_now() - doc.fetched <= ttl);
    if (fresh && page_read(out, ctx->store, &doc.blob, name, NULL) == EC_OK)
        return EC_OK;
    if (ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "the page of %s is not fresh in the store", name);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "the page of %s is not in the store and the "
                       "warm-up is offline", name);
    /* one request upstream however many ask (pip, and the mirror fetching ahead of it) */
    EC_AUTOFREE char *fkey = ec_xasprintf("%s/flight", key);
    while (!ec_flight_enter(fkey)) {
        have = ec_mirror_doc_get(ctx->store, key, &doc);
        if (have && ec_now() - doc.fetched <= ttl &&
            page_read(out, ctx->store, &doc.blob, name, NULL) == EC_OK)
            return EC_OK;
    }
    have = ec_mirror_doc_get(ctx->store, key, &doc);
    int r;
    if (have && ec_now() - doc.fetched <= ttl &&
        page_read(out, ctx->store, &doc.blob, name, NULL) == EC_OK)
        r = EC_OK;
    else {
        if (asked)
            *asked = true;
        r = page_ask(out, ctx, name, have ? &doc : NULL, err);
    }
    ec_flight_leave(fkey);
    return r;
}

bool pip_page_fresh(ec_store *st, const char *name)
{
    ec_mirror_doc doc;
    EC_AUTOFREE char *key = page_key(name);
    return ec_mirror_doc_get(st, key, &doc) && ec_now() - doc.fetched <= PIP_PAGE_TTL;
}

int pip_page_get(json_t **out, ec_fetch_ctx *ctx, const char *name, bool *asked, ec_err *err)
{
    return page_get_ttl(out, ctx, name, PIP_PAGE_TTL, asked, err);
}

json_t *pip_page_file(const json_t *page, const char *filename)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        if (fn && strcmp(fn, filename) == 0)
            return f;
    }
    return NULL;
}

int pip_page_sha256(ec_digest *out, const json_t *page, const char *name,
                    const char *filename, bool metadata, ec_err *err)
{
    json_t *f = pip_page_file(page, filename);
    if (!f)
        return ec_fail(err, EC_ENOTFOUND, "pip package %s has no file %s in the index", name,
                       filename);
    json_t *h = json_object_get(f, "hashes");
    if (metadata) {
        h = json_object_get(f, "core-metadata");
        if (!json_is_object(h)) /* the name before PEP 714 */
            h = json_object_get(f, "dist-info-metadata");
    }
    const char *hex = json_string_value(json_object_get(h, "sha256"));
    if (!hex || ec_digest_parse(out, hex, NULL) < 0)
        return ec_fail(err, EC_EINTEGRITY, "%s%s of %s: the index gives no sha256 to check it "
                       "against", filename, metadata ? ".metadata" : "", name);
    return EC_OK;
}

/* "scheme://host" of @url: the prefix a "/path" URL is relative to. */
static size_t url_origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/");
}

char *pip_file_url(const char *upstream, const char *name, const json_t *file)
{
    const char *u = json_string_value(json_object_get(file, "url"));
    if (!u)
        return NULL;
    if (strstr(u, "://"))
        return ec_xstrdup(u);
    EC_AUTOFREE char *page = page_url(upstream, name);
    if (u[0] == '/')
        return ec_xasprintf("%.*s%s", (int)url_origin_len(page), page, u);
    /* relative to the page: each "../" climbs one directory of its path */
    size_t keep = strlen(page), origin = url_origin_len(page);
    while (strncmp(u, "../", 3) == 0 || strncmp(u, "./", 2) == 0) {
        if (u[1] == '/') {
            u += 2;
            continue;
        }
        u += 3;
        if (keep > origin + 1)
            keep--;
        while (keep > origin + 1 && page[keep - 1] != '/')
            keep--;
    }
    return ec_xasprintf("%.*s%s", (int)keep, page, u);
}

/* --- files --- */

static char *file_key(const char *name, const char *filename)
{
    return ec_xasprintf("pip/file/%s/%s", name, filename);
}

int pip_file_lookup(ec_digest *out, ec_store *st, const char *name, const char *filename)
{
    EC_AUTOFREE char *key = file_key(name, filename);
    return ec_mirror_digest_get(st, key, out, NULL);
}

int pip_file_record(ec_store *st, const char *name, const char *filename, const ec_digest *d,
                    ec_err *err)
{
    EC_AUTOFREE char *key = file_key(name, filename);
    return ec_mirror_digest_put(st, key, d, err);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What the page says of @filename: its URL and sha256; a page older than the file is
 * asked again once. */
static int file_source(char **url_out, ec_digest *want, ec_fetch_ctx *ctx, const char *name,
                       const char *filename, ec_err *err)
{
    bool meta = ends_with(filename, ".metadata");
    EC_AUTOFREE char *base = ec_xstrndup(filename, strlen(filename) - (meta ? 9 : 0));
    EC_AUTO(json_t) page = NULL;
    bool asked = false;
    int r = pip_page_get(&page, ctx, name, &asked, err);
    if (r == EC_OK && !pip_page_file(page, base) && !asked) {
        json_decref(ec_steal(&page));
        r = page_get_ttl(&page, ctx, name, 0, NULL, err);
    }
    if (r == EC_OK)
        r = pip_page_sha256(want, page, name, base, meta, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *url = pip_file_url(ctx->upstream, name, pip_page_file(page, base));
    if (!url)
        return ec_fail(err, EC_EFORMAT, "the page of %s gives %s no URL", name, base);
    *url_out = ec_xasprintf("%.*s%s", (int)strcspn(url, "#"), url, meta ? ".metadata" : "");
    return EC_OK;
}

static int file_pull(ec_digest *out, ec_fetch_ctx *ctx, const char *name,
                     const char *filename, ec_err *err)
{
    EC_AUTOFREE char *url = NULL;
    ec_digest want;
    int r = file_source(&url, &want, ctx, name, filename, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *what = ec_xasprintf("%s (pip package %s)", filename, name);
    ec_http_req q = {.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                     .want_sha256 = &want, .what = what};
    r = ec_http_get(ctx->http, &q);
    if (r < 0 && err)
        *err = q.err;
    if (r == EC_OK && q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "fetching %s from %s: HTTP %ld", filename, url,
                    q.status);
    if (r == EC_OK)
        r = pip_file_record(ctx->store, name, filename, &q.blob, err);
    if (r == EC_OK)
        *out = q.blob;
    ec_http_req_reset(&q);
    return r;
}

int pip_file_get(ec_digest *out, ec_fetch_ctx *ctx, const char *name, const char *filename,
                 bool *asked, ec_err *err)
{
    if (pip_file_lookup(out, ctx->store, name, filename) == EC_OK)
        return EC_OK;
    if (ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "%s is not in the store", filename);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not in the store and the warm-up is offline",
                       filename);
    EC_AUTOFREE char *key = file_key(name, filename);
    while (!ec_flight_enter(key))
        if (pip_file_lookup(out, ctx->store, name, filename) == EC_OK)
            return EC_OK;
    int r = pip_file_lookup(out, ctx->store, name, filename);
    if (r < 0) {
        if (asked)
            *asked = true;
        r = file_pull(out, ctx, name, filename, err);
    }
    ec_flight_leave(key);
    return r;
}
