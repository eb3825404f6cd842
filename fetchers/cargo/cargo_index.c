/* SPDX-License-Identifier: MIT */
/* The sparse index as a cache: index files and config.json kept in the store with their
 * ETags (MIRROR document records), revalidated with If-None-Match after a freshness
 * window; and .crate downloads checked against the index's cksum as they stream. The
 * resolver and the mirror share both, so a crate is asked upstream once. */
#include "fetchers/cargo/cargo_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

bool cargo_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !isalpha((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
            return false;
    return true;
}

char *cargo_index_path(const char *name)
{
    EC_AUTOFREE char *low = ec_xstrdup(name);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    size_t n = strlen(low);
    if (n <= 2)
        return ec_xasprintf("%zu/%s", n, low);
    if (n == 3)
        return ec_xasprintf("3/%c/%s", low[0], low);
    return ec_xasprintf("%.2s/%.2s/%s", low, low + 2, low);
}

/* Records are per registry: two registries may hold different crates of one name. */
static char *registry_key(const ec_fetch_ctx *ctx, const char *what)
{
    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN];
    const char *up = cargo_upstream(ctx);
    ec_sha256_buf(&d, up, strlen(up));
    return ec_xasprintf("cargo/%.16s/%s", ec_digest_hex(hex, &d), what);
}

char *cargo_crate_key(const ec_fetch_ctx *ctx, const char *name, const char *vers)
{
    EC_AUTOFREE char *what = ec_xasprintf("crate/%s/%s", name, vers);
    return registry_key(ctx, what);
}

int cargo_blob_read(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = ec_blob_open(&fd, st, d, err);
    if (r < 0)
        return r;
    ec_sha256 *h = ec_sha256_new();
    char chunk[65536];
    for (;;) {
        ssize_t k = read(fd, chunk, sizeof chunk);
        if (k < 0)
            r = ec_fail_sys(err, errno, "cargo: cannot read a cached index file");
        if (k <= 0 || r < 0)
            break;
        ec_sha256_update(h, chunk, (size_t)k);
        r = ec_buf_add(out, chunk, (size_t)k, err);
    }
    ec_digest got;
    ec_sha256_final(h, &got); /* consumes h */
    if (r == EC_OK && !ec_digest_eq(&got, d))
        r = ec_fail(err, EC_EINTEGRITY, "cargo: a cached index file does not match its digest");
    return r;
}

/* One document (an index file, config.json) through the cache: fresh → the store;
 * stale → If-None-Match upstream (304 renews it); absent → fetched. */
static int doc_get(ec_fetch_ctx *ctx, const char *key, const char *url, const char *what,
                   ec_digest *blob, bool *asked, ec_err *err)
{
    ec_mirror_doc doc;
    bool have = ec_mirror_doc_get(ctx->store, key, &doc);
    *asked = false;
    if (have && (ctx->offline || ec_now() - doc.fetched <= CARGO_INDEX_TTL)) {
        *blob = doc.blob;
        return EC_OK;
    }
    if (ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "%s is not fresh in the store", what);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not in the store (offline)", what);
    ec_http_req q = {.url = url, .accept = "text/plain", .sink = EC_HTTP_SINK_MEM,
                     .if_none_match = have && doc.etag[0] ? doc.etag : NULL, .what = what};
    *asked = true;
    int r = ec_http_get(ctx->http, &q);
    if (r == EC_ENOTFOUND)
        ec_fail(err, r, "%s: the registry has no such file (%s)", what, url);
    else if (r < 0)
        ec_fail(err, r, "%s: %s", what, q.err.msg);
    else if (q.status == 304 && have) {
        doc.fetched = ec_now();
        *blob = doc.blob;
        r = ec_mirror_doc_put(ctx->store, key, &doc, err);
    } else if (q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "%s: %s answered HTTP %ld", what, url, q.status);
    else {
        ec_mirror_doc nd = {.fetched = ec_now()};
        snprintf(nd.etag, sizeof nd.etag, "%s", q.etag);
        r = ec_blob_put_buf(&nd.blob, ctx->store, q.body.p, q.body.n, err);
        if (r == EC_OK)
            r = ec_mirror_doc_put(ctx->store, key, &nd, err);
        *blob = nd.blob;
    }
    ec_http_req_reset(&q);
    return r;
}

int cargo_index_get(ec_fetch_ctx *ctx, const char *name, ec_digest *blob, bool *asked_upstream,
                    ec_err *err)
{
    if (!cargo_name_ok(name))
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a crate name", name);
    EC_AUTOFREE char *path = cargo_index_path(name);
    EC_AUTOFREE char *rel = ec_xasprintf("index/%s", path);
    EC_AUTOFREE char *key = registry_key(ctx, rel);
    EC_AUTOFREE char *url = ec_xasprintf("%s/%s", cargo_upstream(ctx), path);
    EC_AUTOFREE char *what = ec_xasprintf("the index file of crate %s", name);
    return doc_get(ctx, key, url, what, blob, asked_upstream, err);
}

int cargo_dl_template(char **out, ec_fetch_ctx *ctx, ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("%s/config.json", cargo_upstream(ctx));
    ec_digest d;
    bool asked;
    ec_buf b = EC_BUF_INIT;
    EC_AUTOFREE char *key = registry_key(ctx, "config.json");
    int r = doc_get(ctx, key, url, "the registry's config.json", &d, &asked,
                    err);
    if (r == EC_OK)
        r = cargo_blob_read(ctx->store, &d, &b, err);
    EC_AUTO(json_t) j = r == EC_OK ? json_loadb(b.p, b.n, 0, NULL) : NULL;
    const char *dl = json_string_value(json_object_get(j, "dl"));
    if (r == EC_OK && !dl)
        r = ec_fail(err, EC_EFORMAT, "cargo: %s has no \"dl\" string: not a sparse registry",
                    url);
    if (r == EC_OK)
        *out = ec_xstrdup(dl);
    ec_buf_fini(&b);
    return r;
}

static void add_marker(ec_buf *b, const char *m, const char *name, const char *vers,
                       const char *cksum)
{
    EC_AUTOFREE char *path = cargo_index_path(name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (strcmp(m, "crate") == 0)
        ec_buf_adds(b, name, NULL);
    else if (strcmp(m, "version") == 0)
        ec_buf_adds(b, vers, NULL);
    else if (strcmp(m, "lowerprefix") == 0)
        ec_buf_adds(b, path, NULL);
    else if (strcmp(m, "prefix") == 0) { /* the prefix in the name's own case */
        EC_AUTOFREE char *cased = ec_xstrdup(path);
        for (size_t i = 0, j = 0; cased[i]; i++)
            if (cased[i] != '/' && name[j])
                cased[i] = name[j++];
        ec_buf_adds(b, strlen(name) <= 3 ? path : cased, NULL);
    } else if (strcmp(m, "sha256-checksum") == 0)
        ec_buf_adds(b, cksum, NULL);
}

char *cargo_dl_url(const char *dl, const char *name, const char *vers, const char *cksum)
{
    static const char *const markers[] = {"{crate}", "{version}", "{prefix}", "{lowerprefix}",
                                          "{sha256-checksum}"};
    bool any = false;
    for (size_t i = 0; i < 5; i++)
        any |= strstr(dl, markers[i]) != NULL;
    if (!any)
        return ec_xasprintf("%s%s%s/%s/download", dl,
                            dl[0] && dl[strlen(dl) - 1] == '/' ? "" : "/", name, vers);
    ec_buf b = EC_BUF_INIT;
    for (const char *p = dl; *p;) {
        size_t i;
        for (i = 0; i < 5 && strncmp(p, markers[i], strlen(markers[i])) != 0; i++)
            ;
        if (i < 5) {
            char m[32];
            snprintf(m, sizeof m, "%.*s", (int)strlen(markers[i]) - 2, markers[i] + 1);
            add_marker(&b, m, name, vers, cksum);
            p += strlen(markers[i]);
        } else
            ec_buf_add(&b, p++, 1, NULL);
    }
    return ec_buf_steal(&b);
}

json_t *cargo_index_find(const char *text, const char *vers)
{
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        json_t *j = json_loadb(line, n, 0, NULL);
        const char *v = json_string_value(json_object_get(j, "vers"));
        if (v && strcmp(v, vers) == 0)
            return j;
        json_decref(j);
        line += n + (line[n] == '\n');
    }
    return NULL;
}

int cargo_crate_pull(ec_fetch_ctx *ctx, const char *name, const char *vers, const char *cksum,
                     ec_digest *out, ec_err *err)
{
    ec_digest want;
    EC_AUTOFREE char *text = ec_xasprintf("sha256:%s", cksum);
    if (ec_digest_parse(&want, text, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "cargo: crate %s@%s: the index's cksum \"%s\" is not a "
                       "sha256", name, vers, cksum);
    EC_AUTOFREE char *key = cargo_crate_key(ctx, name, vers);
    if (ec_store_has_blob(ctx->store, &want)) {
        *out = want;
        return ec_mirror_digest_put(ctx->store, key, &want, err);
    }
    EC_AUTOFREE char *dl = NULL;
    int r = cargo_dl_template(&dl, ctx, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *url = cargo_dl_url(dl, name, vers, cksum);
    EC_AUTOFREE char *what = ec_xasprintf("crate %s@%s", name, vers);
    ec_http_req q = {.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                     .want_sha256 = &want, .what = what};
    r = ec_http_get(ctx->http, &q);
    if (r == EC_EINTEGRITY)
        ec_fail(err, r, "cargo: crate %s@%s: the download from %s does not match the index's "
                "cksum %s; nothing was stored", name, vers, url, cksum);
    else if (r < 0)
        ec_fail(err, r, "cargo: crate %s@%s: %s", name, vers, q.err.msg);
    else if (q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "cargo: crate %s@%s: %s answered HTTP %ld", name, vers,
                    url, q.status);
    ec_http_req_reset(&q);
    if (r == EC_OK)
        r = ec_mirror_digest_put(ctx->store, key, &want, err);
    if (r == EC_OK)
        *out = want;
    return r;
}
