/* SPDX-License-Identifier: MIT */
/* The upstream as go reads it: the GOPROXY list with its ',' and '|' fallbacks, the
 * checksum database settings (GOSUMDB, GONOSUMDB, GOPRIVATE), and a cache of what the
 * proxy answered, kept in the store under the proxy's own paths so the mirror serves it. */
#include "fetchers/go/go_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

static const char *cfg_str(const ec_fetch_ctx *ctx, const char *key)
{
    const char *v = json_string_value(json_object_get(ctx->config, key));
    return v && *v ? v : NULL;
}

/* go's GOPROXY: URLs, "direct" and "off", separated by ',' (next on 404/410) or '|'
 * (next on any error). */
static int parse_proxies(go_cfg *g, const char *list, ec_err *err)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",|");
        EC_AUTOFREE char *item = ec_xstrndup(p, n);
        char *it = item;
        while (*it == ' ')
            it++;
        g->proxies = ec_xrealloc(g->proxies, (g->nproxies + 1) * sizeof *g->proxies);
        go_proxy *x = &g->proxies[g->nproxies++];
        memset(x, 0, sizeof *x);
        x->any_error = p[n] == '|';
        if (strcmp(it, "direct") == 0)
            x->direct = true;
        else if (strcmp(it, "off") == 0)
            x->off = true;
        else if (strncmp(it, "http://", 7) == 0 || strncmp(it, "https://", 8) == 0 ||
                 strncmp(it, "file://", 7) == 0) {
            size_t l = strlen(it);
            while (l && it[l - 1] == '/')
                it[--l] = '\0';
            x->url = ec_xstrdup(it);
        } else
            return ec_fail(err, EC_EINVAL, "GOPROXY entry \"%s\" is not a URL, direct or off "
                           "(the list is \"%s\")", it, list);
        p += n + (p[n] != '\0');
    }
    if (!g->nproxies)
        return ec_fail(err, EC_EINVAL, "GOPROXY is empty");
    return EC_OK;
}

/* GOSUMDB: "off", "name+hash+key [url]", or a name the host's go knows the key of. */
static int parse_sumdb(go_cfg *g, const char *v, ec_err *err)
{
    if (!v)
        return ec_fail(err, EC_EINVAL, "no checksum database is configured: set GOSUMDB (or "
                       "`go env -w GOSUMDB=...` on this host), or GOSUMDB=off to not check");
    if (strcmp(v, "off") == 0)
        return EC_OK;
    size_t n = strcspn(v, " ");
    EC_AUTOFREE char *key = ec_xstrndup(v, n);
    const char *url = v[n] ? v + n + 1 : NULL;
    size_t namelen = strcspn(key, "+");
    g->sumdb_name = ec_xstrndup(key, namelen);
    if (key[namelen] == '+')
        g->sumdb_vkey = ec_xstrdup(key);
    else if (g->govkey_known && strncmp(g->govkey_known, key, namelen) == 0 &&
             g->govkey_known[namelen] == '+')
        g->sumdb_vkey = ec_xstrdup(g->govkey_known);
    else
        return ec_fail(err, EC_EINVAL, "GOSUMDB names %s without its public key, and the "
                       "host's go does not know it: set GOSUMDB=%s+<hash>+<key>", key, key);
    g->sumdb_url = url ? ec_xstrdup(url) : ec_xasprintf("https://%s", g->sumdb_name);
    return EC_OK;
}

int go_cfg_init(go_cfg *g, ec_fetch_ctx *ctx, ec_err *err)
{
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    const char *known = cfg_str(ctx, "gosumdb_known");
    if (known) { /* a quoted Go string literal of the host's go source */
        g->govkey_known = ec_xstrdup(known + (*known == '"'));
        g->govkey_known[strcspn(g->govkey_known, "\"")] = '\0';
    }
    const char *nosum = cfg_str(ctx, "gonosumdb");
    g->nosumdb = ec_xstrdup(nosum ? nosum : cfg_str(ctx, "goprivate") ? cfg_str(ctx, "goprivate") : "");
    g->goflags = ec_xstrdup(cfg_str(ctx, "goflags") ? cfg_str(ctx, "goflags") : "");
    int r = parse_proxies(g, ctx->upstream ? ctx->upstream : "", err);
    if (r == EC_OK)
        r = parse_sumdb(g, cfg_str(ctx, "gosumdb"), err);
    if (r < 0)
        go_cfg_fini(g);
    return r;
}

void go_cfg_fini(go_cfg *g)
{
    for (size_t i = 0; i < g->nproxies; i++)
        free(g->proxies[i].url);
    free(g->proxies);
    free(g->sumdb_name);
    free(g->sumdb_vkey);
    free(g->sumdb_url);
    free(g->nosumdb);
    free(g->goflags);
    free(g->govkey_known);
    memset(g, 0, sizeof *g);
}

bool go_cfg_checks(const go_cfg *g, const char *module)
{
    return g->sumdb_name && !go_glob_match(g->nosumdb, module);
}

/* --- requests --- */

static int url_get(go_cfg *g, const char *url, ec_buf *out, ec_err *err)
{
    if (strncmp(url, "file://", 7) == 0) {
        char *body = NULL;
        size_t n = 0;
        int r = ec_read_file(&body, &n, url + 7, (size_t)1 << 30, err);
        if (r == EC_OK)
            r = ec_buf_add(out, body, n, err);
        free(body);
        if (r == EC_ESYS && (err ? err->sys == ENOENT : 1))
            return ec_err_clear(err), ec_fail(err, EC_ENOTFOUND, "%s: not found", url);
        return r;
    }
    ec_http_req req = {.url = url, .sink = EC_HTTP_SINK_MEM, .what = url};
    int r = ec_http_get(g->ctx->http, &req);
    if (r == EC_OK && req.status != 200)
        r = ec_fail(&req.err, EC_ENETWORK, "%s answered HTTP %ld", url, req.status);
    if (r < 0 && req.status >= 400 && req.status < 500 && req.status != 408 &&
        req.status != 429) { /* an answer, not a failure to get one */
        char detail[32];
        snprintf(detail, sizeof detail, GO_UPSTREAM_HTTP "%ld", req.status);
        ec_err_detail(&req.err, detail);
    }
    if (r == EC_OK)
        r = ec_buf_add(out, req.body.p ? req.body.p : "", req.body.n, err);
    else if (err)
        *err = req.err;
    ec_http_req_reset(&req);
    return r;
}

int go_upstream_status(const ec_err *e)
{
    size_t n = strlen(GO_UPSTREAM_HTTP);
    if (!e || strncmp(e->detail, GO_UPSTREAM_HTTP, n) != 0)
        return 0;
    long st = strtol(e->detail + n, NULL, 10);
    return st >= 400 && st < 500 ? (int)st : 0;
}

/* The module a proxy path names: "<escaped module>/@v/…" or "<escaped module>/@latest". */
static char *rel_module(const char *rel)
{
    const char *at = strstr(rel, "/@v/");
    if (!at)
        at = strstr(rel, "/@latest");
    EC_AUTOFREE char *esc = ec_xstrndup(rel, at ? (size_t)(at - rel) : strlen(rel));
    char *m = go_unescape(esc);
    return m ? m : ec_xstrdup(esc);
}

/* Entry @i of the list is "direct", reached after @last (the proxies before it said not
 * found): go would clone the module's repository here, envcache says so. */
static int direct_reached(const char *rel, size_t i, const ec_err *last, ec_err *err)
{
    EC_AUTOFREE char *module = rel_module(rel);
    ec_err e = {0};
    ec_fail(&e, EC_ENOTFOUND, "module %s: %s%sGOPROXY's %s entry is \"direct\" (fetching from "
            "version control), which envcache does not support: list a module proxy that "
            "serves %s", module, last->msg, i ? "; " : "", i ? "next" : "first", module);
    if (go_upstream_status(last))
        ec_err_detail(&e, last->detail); /* the last proxy's own answer, for the mirror */
    if (err)
        *err = e;
    return EC_ENOTFOUND;
}

/* The index of the "direct" entry a not found from every proxy before it reaches, or -1. */
static long direct_index(const go_cfg *g)
{
    for (size_t i = 0; i < g->nproxies; i++) {
        if (g->proxies[i].off)
            return -1;
        if (g->proxies[i].direct)
            return (long)i;
    }
    return -1;
}

int go_url_get(go_cfg *g, const char *url, ec_buf *out, ec_err *err)
{
    if (g->ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not cached and the warm-up is offline", url);
    return url_get(g, url, out, err);
}

int go_proxy_get(go_cfg *g, const char *rel, ec_buf *out, ec_err *err)
{
    if (g->ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not cached and the warm-up is offline", rel);
    int r = EC_ENOTFOUND;
    ec_err last = {0};
    for (size_t i = 0; i < g->nproxies; i++) {
        go_proxy *x = &g->proxies[i];
        if (x->off)
            return ec_fail(err, EC_EUNSUPPORTED, "GOPROXY=off: downloading %s is disallowed",
                           rel);
        if (x->direct)
            return direct_reached(rel, i, &last, err);
        EC_AUTOFREE char *url = ec_xasprintf("%s/%s", x->url, rel);
        ec_err_clear(&last);
        ec_buf_reset(out);
        r = url_get(g, url, out, &last);
        if (r == EC_OK)
            return EC_OK;
        if (r != EC_ENOTFOUND && !x->any_error)
            break;
    }
    if (err)
        *err = last;
    return r;
}

/* --- the cache --- */

char *go_doc_key(const char *rel)
{
    return ec_xasprintf("go/%s", rel);
}

int go_blob_read(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = ec_blob_open(&fd, st, d, err);
    char chunk[65536];
    while (r == EC_OK) {
        ssize_t k = read(fd, chunk, sizeof chunk);
        if (k < 0)
            return ec_fail_sys(err, errno, "cannot read a cached go document");
        if (k == 0)
            break;
        r = ec_buf_add(out, chunk, (size_t)k, err);
    }
    return r;
}

int go_doc_lookup(ec_store *st, const char *rel, ec_digest *out, ec_err *err)
{
    EC_AUTOFREE char *key = go_doc_key(rel);
    return ec_mirror_digest_get(st, key, out, err);
}

int go_doc_put(go_cfg *g, const char *rel, const void *body, size_t n, ec_digest *out,
               ec_err *err)
{
    ec_digest d;
    EC_AUTOFREE char *key = go_doc_key(rel);
    int r = ec_blob_put_buf(&d, g->ctx->store, body, n, err);
    if (r == EC_OK)
        r = ec_mirror_digest_put(g->ctx->store, key, &d, err);
    if (r == EC_OK && out)
        *out = d;
    return r;
}

/* A "not found" is remembered for the freshness window too, and so is a refusal (a 4xx
 * such as 403 "not available"): go probes every path prefix of a package
 * (golang.org/x/tools/cmd/@v/…), and a mirror would otherwise ask upstream for each probe
 * every time. The record's blob is "STATUS MESSAGE": the upstream's status (the mirror
 * answers with it) and the refusal's message, none for a not found. */
static int gone_recently(go_cfg *g, const char *rel, ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf("go-404/%s", rel);
    ec_mirror_doc doc;
    if (!ec_mirror_doc_get(g->ctx->store, key, &doc) ||
        (!g->ctx->offline && ec_now() - doc.fetched > GO_META_TTL))
        return EC_OK;
    ec_buf b = EC_BUF_INIT;
    int r = go_blob_read(g->ctx->store, &doc.blob, &b, NULL);
    if (r < 0) {
        ec_buf_fini(&b);
        return EC_OK;
    }
    /* "NNN message": the upstream's status, then its message (empty for a not found) */
    const char *text = ec_buf_str(&b);
    int st = 0;
    if (b.n >= 3 && text[0] >= '1' && text[0] <= '9' && (text[3] == ' ' || !text[3])) {
        st = (int)strtol(text, NULL, 10);
        text += text[3] ? 4 : 3;
    }
    if (st == 404 || st == 410 || !b.n)
        r = ec_fail(err, EC_ENOTFOUND, "%s: not found (remembered)", rel);
    else
        r = ec_fail(err, EC_ENETWORK, "%s (remembered)", text);
    if (st) {
        char detail[32];
        snprintf(detail, sizeof detail, GO_UPSTREAM_HTTP "%d", st);
        ec_err_detail(err, detail);
    }
    ec_buf_fini(&b);
    return r;
}

static void remember_gone(go_cfg *g, const char *rel, const ec_err *why)
{
    EC_AUTOFREE char *key = ec_xasprintf("go-404/%s", rel);
    int st = go_upstream_status(why);
    EC_AUTOFREE char *text = ec_xasprintf("%d %s", st ? st : 404, st == 404 || st == 410 || !st
                                                                     ? "" : why->msg);
    ec_mirror_doc doc = {.fetched = ec_now()};
    if (ec_blob_put_buf(&doc.blob, g->ctx->store, text, strlen(text), NULL) == EC_OK)
        (void)ec_mirror_doc_put(g->ctx->store, key, &doc, NULL);
}

static int proxy_get_remembered(go_cfg *g, const char *rel, ec_buf *out, ec_err *err)
{
    ec_err gone = {0};
    int r = gone_recently(g, rel, &gone);
    long d = direct_index(g);
    if (r == EC_ENOTFOUND && d >= 0) /* as when it was asked: direct is next */
        return direct_reached(rel, (size_t)d, &gone, err);
    if (r < 0) {
        if (err)
            *err = gone;
        return r;
    }
    ec_err e = {0};
    r = go_proxy_get(g, rel, out, &e);
    if ((r == EC_ENOTFOUND && !g->ctx->offline) || (r == EC_ENETWORK && go_upstream_status(&e)))
        remember_gone(g, rel, &e);
    if (err)
        *err = e;
    return r;
}

int go_doc_get(go_cfg *g, const char *rel, bool immutable, ec_buf *out, ec_err *err)
{
    ec_store *st = g->ctx->store;
    EC_AUTOFREE char *key = go_doc_key(rel);
    ec_digest d;
    if (immutable) {
        if (ec_mirror_digest_get(st, key, &d, NULL) == EC_OK &&
            go_blob_read(st, &d, out, NULL) == EC_OK)
            return EC_OK;
        ec_buf_reset(out);
        int r = proxy_get_remembered(g, rel, out, err);
        return r < 0 ? r : go_doc_put(g, rel, out->p ? out->p : "", out->n, NULL, err);
    }
    ec_mirror_doc doc;
    bool have = ec_mirror_doc_get(st, key, &doc);
    if (have && (g->ctx->offline || ec_now() - doc.fetched <= GO_META_TTL) &&
        go_blob_read(st, &doc.blob, out, NULL) == EC_OK)
        return EC_OK;
    ec_buf_reset(out);
    int r = proxy_get_remembered(g, rel, out, err);
    if (r == EC_OK) {
        ec_mirror_doc fresh = {.fetched = ec_now()};
        r = ec_blob_put_buf(&fresh.blob, st, out->p ? out->p : "", out->n, err);
        if (r == EC_OK)
            r = ec_mirror_doc_put(st, key, &fresh, err);
        return r;
    }
    if (r != EC_ENOTFOUND && have) { /* upstream is down: a stale copy is still an answer */
        ec_buf_reset(out);
        if (go_blob_read(st, &doc.blob, out, NULL) == EC_OK)
            return ec_err_clear(err), EC_OK;
    }
    return r;
}
