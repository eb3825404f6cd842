/* SPDX-License-Identifier: MIT */
/* serve: the GOPROXY protocol under /mirror/go/ from the store, pulling through on a
 * miss: .mod and .zip verified against the checksum database before they are stored (and
 * one download per file however many clients miss it together), lists and @latest kept
 * for a freshness window, and the checksum database's endpoints under sumdb/<name>/:
 * lookups verified and kept, tiles kept (immutable, partial ones too; a narrower one
 * answered from a wider one; go verifies them too), latest revalidated. */
#include "fetchers/go/go_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

static int answer(ec_mirror_resp *resp, int status, const char *ctype, const char *body,
                  size_t n, ec_err *err)
{
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", ctype);
    return ec_buf_add(&resp->body, body, n, err);
}

static int not_found(ec_mirror_resp *resp, const char *why)
{
    return answer(resp, 404, "text/plain; charset=utf-8", why, strlen(why), NULL);
}

static int answer_blob(ec_store *st, const ec_digest *d, ec_mirror_resp *resp, ec_err *err)
{
    struct stat sb;
    int r = ec_blob_open(&resp->fd, st, d, err);
    if (r < 0)
        return r;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat a go mirror blob");
    char hex[EC_DIGEST_HEX_LEN];
    resp->status = 200;
    resp->offset = 0;
    resp->length = (uint64_t)sb.st_size;
    snprintf(resp->content_type, sizeof resp->content_type, "application/zip");
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, d));
    return EC_OK;
}

/* A failure of upstream's own making is an answer for go, with upstream's status: go
 * falls through to the next entry of a GOPROXY list on 404 and 410 only, so a 403 must
 * stay a 403 and a 410 a 410. Ours (the store) is an error. */
static int upstream_result(int r, ec_mirror_resp *resp, ec_err *err)
{
    int st = go_upstream_status(err);
    if (st && (r == EC_ENOTFOUND || r == EC_ENETWORK)) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s\n", err->msg);
        ec_err_clear(err);
        return answer(resp, st, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
    }
    if (r == EC_ENOTFOUND || r == EC_EUNSUPPORTED) {
        char msg[1100];
        snprintf(msg, sizeof msg, "not found: %s\n", err ? err->msg : "");
        ec_err_clear(err);
        return not_found(resp, msg);
    }
    if (r == EC_EINTEGRITY) { /* go shows the body: it names the module and the rule */
        char msg[1100];
        snprintf(msg, sizeof msg, "%s\n", err ? err->msg : "verification failed");
        ec_err_clear(err);
        return answer(resp, 410, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
    }
    return r;
}

/* "<escaped module>/@v/<escaped version>.<ext>" → module, version. */
static bool split_version(const char *path, const char *ext, char **module, char **version)
{
    const char *at = strstr(path, "/@v/");
    size_t pl = strlen(path), el = strlen(ext);
    if (!at || pl <= el || strcmp(path + pl - el, ext) != 0)
        return false;
    EC_AUTOFREE char *em = ec_xstrndup(path, (size_t)(at - path));
    EC_AUTOFREE char *ev = ec_xstrndup(at + 4, (size_t)(path + pl - el - at - 4));
    *module = go_unescape(em);
    *version = go_unescape(ev);
    if (*module && *version && go_version_valid(*version) && !strstr(*module, ".."))
        return true;
    free(*module);
    free(*version);
    return false;
}

static int serve_zip(go_cfg *g, const char *rel, const char *module, const char *version,
                     ec_mirror_resp *resp, ec_err *err)
{
    ec_store *st = g->ctx->store;
    ec_digest d;
    int r = go_doc_lookup(st, rel, &d, NULL);
    if (r < 0) {
        EC_AUTOFREE char *key = go_doc_key(rel);
        while (r < 0 && !ec_flight_enter(key))
            r = go_doc_lookup(st, rel, &d, NULL);
        if (r < 0) {
            r = go_doc_lookup(st, rel, &d, NULL);
            if (r < 0) {
                char h1[64];
                resp->from_upstream = true;
                r = go_get_zip(g, module, version, &d, h1, err);
            }
            ec_flight_leave(key);
        }
    }
    return r == EC_OK ? answer_blob(st, &d, resp, err) : upstream_result(r, resp, err);
}

static int serve_doc(go_cfg *g, const char *rel, bool immutable, const char *ctype,
                     ec_mirror_resp *resp, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    b.max = (size_t)64 << 20;
    int r = go_doc_get(g, rel, immutable, &b, err);
    if (r == EC_OK)
        r = answer(resp, 200, ctype, b.p ? b.p : "", b.n, err);
    ec_buf_fini(&b);
    return r == EC_OK ? r : upstream_result(r, resp, err);
}

static int serve_mod(go_cfg *g, const char *module, const char *version, ec_mirror_resp *resp,
                     ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    int r = go_get_mod(g, module, version, &b, err);
    if (r == EC_OK)
        r = answer(resp, 200, "text/plain; charset=utf-8", b.p ? b.p : "", b.n, err);
    ec_buf_fini(&b);
    return r == EC_OK ? r : upstream_result(r, resp, err);
}

/* A lookup: verified by us (go_sumdb_hashes keeps the body under this very path). */
static int serve_lookup(go_cfg *g, const char *rel, const char *arg, ec_mirror_resp *resp,
                        ec_err *err)
{
    const char *at = strrchr(arg, '@');
    if (!at)
        return not_found(resp, "malformed lookup\n");
    EC_AUTOFREE char *em = ec_xstrndup(arg, (size_t)(at - arg));
    EC_AUTOFREE char *m = go_unescape(em);
    EC_AUTOFREE char *v = go_unescape(at + 1);
    if (!m || !v || !go_version_valid(v))
        return not_found(resp, "malformed lookup\n");
    ec_digest d;
    char zh[64], mh[64];
    if (go_doc_lookup(g->ctx->store, rel, &d, NULL) < 0)
        resp->from_upstream = true;
    int r = go_sumdb_hashes(g, m, v, zh, mh, err);
    if (r == EC_OK)
        r = go_doc_lookup(g->ctx->store, rel, &d, err);
    if (r < 0)
        return upstream_result(r, resp, err);
    ec_buf b = EC_BUF_INIT;
    r = go_blob_read(g->ctx->store, &d, &b, err);
    if (r == EC_OK)
        r = answer(resp, 200, "text/plain; charset=utf-8", b.p ? b.p : "", b.n, err);
    ec_buf_fini(&b);
    return r;
}

/* A hash tile "tile/H/L/N.p/W" is the first W hashes of any wider copy of the same tile:
 * the full one, or a wider partial one. go asks for other widths from one build to the
 * next (its proofs start from the tree it saw last), and a stored wider copy answers them
 * without going upstream. Data tiles ("tile/H/data/…") hold records, not hashes: not
 * these. */
static bool tile_from_wider(ec_store *st, const char *rel, const char *tail, ec_buf *out)
{
    const char *p = strstr(tail, ".p/"), *level = tail + 5 + strcspn(tail + 5, "/");
    if (!p || !*level || !isdigit((unsigned char)level[1]))
        return false;
    char *end;
    long h = strtol(tail + 5, NULL, 10), w = strtol(p + 3, &end, 10);
    if (*end || h < 1 || h > 30 || w < 1 || w >= (1L << h))
        return false;
    EC_AUTOFREE char *full = ec_xstrndup(rel, strlen(rel) - strlen(p));
    for (long wider = 1L << h; wider > w; wider--) {
        EC_AUTOFREE char *cand = wider == 1L << h ? ec_xstrdup(full)
                                                  : ec_xasprintf("%s.p/%ld", full, wider);
        ec_digest d;
        ec_buf_reset(out);
        if (go_doc_lookup(st, cand, &d, NULL) == EC_OK &&
            go_blob_read(st, &d, out, NULL) == EC_OK && out->n == (size_t)wider * 32) {
            out->n = (size_t)w * 32;
            return true;
        }
    }
    ec_buf_reset(out);
    return false;
}

/* Tiles and latest, passed through: tiles kept for good (a partial tile of width W never
 * changes either: the database only drops it once the full one exists), latest for a
 * minute. */
static int serve_db_file(go_cfg *g, const char *rel, const char *tail, ec_mirror_resp *resp,
                         ec_err *err)
{
    bool immutable = strncmp(tail, "tile/", 5) == 0;
    ec_digest d;
    ec_mirror_doc doc;
    EC_AUTOFREE char *key = go_doc_key(rel);
    ec_buf b = EC_BUF_INIT;
    int r = EC_ENOTFOUND;
    if (immutable ? go_doc_lookup(g->ctx->store, rel, &d, NULL) == EC_OK
                  : ec_mirror_doc_get(g->ctx->store, key, &doc) &&
                        ec_now() - doc.fetched <= 60 && (d = doc.blob, true))
        r = go_blob_read(g->ctx->store, &d, &b, NULL);
    if (r < 0 && immutable && tile_from_wider(g->ctx->store, rel, tail, &b))
        r = EC_OK;
    if (r < 0) {
        ec_buf_reset(&b);
        EC_AUTOFREE char *url = ec_xasprintf("%s/%s", go_sumdb_base(g), tail);
        resp->from_upstream = true;
        r = go_url_get(g, url, &b, err);
        if (r == EC_OK && immutable)
            r = go_doc_put(g, rel, b.p, b.n, NULL, err);
        else if (r == EC_OK) {
            ec_mirror_doc fresh = {.fetched = ec_now()};
            r = ec_blob_put_buf(&fresh.blob, g->ctx->store, b.p ? b.p : "", b.n, err);
            if (r == EC_OK)
                r = ec_mirror_doc_put(g->ctx->store, key, &fresh, err);
        }
    }
    if (r == EC_OK)
        r = answer(resp, 200, immutable ? "application/octet-stream" : "text/plain; charset=utf-8",
                   b.p ? b.p : "", b.n, err);
    ec_buf_fini(&b);
    return r == EC_OK ? r : upstream_result(r, resp, err);
}

/* sumdb/<name>/…: the configured database only. */
static int serve_sumdb(go_cfg *g, const char *rel, ec_mirror_resp *resp, ec_err *err)
{
    const char *rest = rel + 6;
    size_t nl = strcspn(rest, "/");
    if (!g->sumdb_name || strlen(g->sumdb_name) != nl || strncmp(rest, g->sumdb_name, nl) != 0)
        return not_found(resp, "not the checksum database this mirror serves\n");
    const char *tail = rest[nl] == '/' ? rest + nl + 1 : "";
    if (strcmp(tail, "supported") == 0)
        return answer(resp, 200, "text/plain; charset=utf-8", "", 0, err);
    if (strncmp(tail, "lookup/", 7) == 0)
        return serve_lookup(g, rel, tail + 7, resp, err);
    if (strcmp(tail, "latest") == 0 || strncmp(tail, "tile/", 5) == 0)
        return serve_db_file(g, rel, tail, resp, err);
    return not_found(resp, "not a checksum database endpoint\n");
}

static int serve_path(go_cfg *g, const char *rel, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *module = NULL;
    EC_AUTOFREE char *version = NULL;
    size_t n = strlen(rel);
    if (strncmp(rel, "sumdb/", 6) == 0)
        return serve_sumdb(g, rel, resp, err);
    if (n > 8 && strcmp(rel + n - 8, "/@latest") == 0)
        return serve_doc(g, rel, false, "application/json", resp, err);
    if (n > 8 && strcmp(rel + n - 8, "/@v/list") == 0)
        return serve_doc(g, rel, false, "text/plain; charset=utf-8", resp, err);
    if (split_version(rel, ".info", &module, &version))
        return serve_doc(g, rel, true, "application/json", resp, err);
    if (split_version(rel, ".mod", &module, &version))
        return serve_mod(g, module, version, resp, err);
    if (split_version(rel, ".zip", &module, &version))
        return serve_zip(g, rel, module, version, resp, err);
    return not_found(resp, "not a GOPROXY endpoint\n");
}

int go_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *rel = ec_mirror_path_decode(req->path);
    char *p = rel;
    while (*p == '/')
        p++;
    if (strstr(p, "..") || strstr(p, "//") || !*p)
        return not_found(resp, "not a GOPROXY endpoint\n");
    go_cfg g;
    int r = go_cfg_init(&g, ctx, err);
    if (r < 0)
        return r;
    ec_http_stats before, after;
    ec_http_stats_get(ctx->http, &before);
    r = serve_path(&g, p, resp, err);
    ec_http_stats_get(ctx->http, &after);
    resp->from_upstream |= after.requests != before.requests;
    go_cfg_fini(&g);
    return r;
}
