/* SPDX-License-Identifier: MIT */
/* serve: the npm registry protocol under /mirror/npm/. Packuments come from the shared
 * metadata cache with tarball URLs pointed at this mirror; tarballs come from the store,
 * pulled through (verified against the packument's integrity) on a miss, once however
 * many clients ask for the same file at the same moment. */
#include "fetchers/npm/npm_int.h"
#include "fetchers/npm/npm_mirror_doc.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

/* --- request paths --- */

/* npm's package name rules, loosely: what could climb out of a key or a path is refused. */
static bool name_ok(const char *n)
{
    const char *slash = strchr(n, '/');
    if (!*n || n[0] == '.' || n[0] == '_' || strlen(n) > 214 || strstr(n, ".."))
        return false;
    if (n[0] == '@' ? (!slash || slash == n + 1 || strchr(slash + 1, '/') || !slash[1])
                    : slash != NULL)
        return false;
    for (const char *c = n; *c; c++)
        if ((unsigned char)*c <= ' ' || strchr("\"\\%?#~'!()*", *c))
            return false;
    return true;
}

static int not_found(ec_mirror_resp *resp, const char *what)
{
    resp->status = 404;
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    json_t *j = json_pack("{s:s}", "error", what);
    EC_AUTOFREE char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return ec_buf_adds(&resp->body, s, NULL);
}

/* --- packuments --- */

typedef struct doc_out {
    const ec_mirror_req *req;
    const char *upstream;
    ec_mirror_resp *resp;
} doc_out;

static int doc_deliver(const char *name, const char *body, size_t len, void *ud, ec_err *err)
{
    (void)name;
    doc_out *o = ud;
    return ec_npm_mirror_rewrite(&o->resp->body, body, len, o->upstream, o->req->base_url, err);
}

static void set_etag(ec_mirror_resp *resp)
{
    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN];
    ec_sha256_buf(&d, resp->body.p ? resp->body.p : "", resp->body.n);
    snprintf(resp->etag, sizeof resp->etag, "\"%.32s\"", ec_digest_hex(hex, &d));
}

static const char *req_header(const ec_mirror_req *req, const char *name)
{
    return req->header ? req->header(req, name) : NULL;
}

/* --- answers kept: a mirror hit is a lookup and a copy --- */

/* A packument answer is a pure function of the stored document (its blob), its kind, the
 * mirror's base URL and the upstream's: kept per those with the blob it was made from, it
 * is reused while the store's fresh record names that same blob. This skips reading and
 * re-hashing the document, rewriting its tarball URLs and hashing the answer for its
 * ETag on every hit. */
#define DOC_SLOTS 128
#define DOC_KEEP_MAX (4u << 20)

struct doc_slot {
    char *key;
    ec_digest blob;
    char *body;
    size_t n;
    char etag[sizeof ((ec_mirror_resp *)0)->etag];
};

static struct doc_slot doc_cache[DOC_SLOTS];
static pthread_mutex_t doc_mu = PTHREAD_MUTEX_INITIALIZER;

static struct doc_slot *doc_slot_of(const char *key)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = h * 33 + *p;
    return &doc_cache[h % DOC_SLOTS];
}

static bool doc_kept(const char *key, const ec_digest *blob, ec_mirror_resp *resp)
{
    struct doc_slot *sl = doc_slot_of(key);
    bool hit = false;
    pthread_mutex_lock(&doc_mu);
    if (sl->key && strcmp(sl->key, key) == 0 && ec_digest_eq(&sl->blob, blob)) {
        hit = ec_buf_add(&resp->body, sl->body, sl->n, NULL) == EC_OK;
        snprintf(resp->etag, sizeof resp->etag, "%s", sl->etag);
    }
    pthread_mutex_unlock(&doc_mu);
    return hit;
}

static void doc_keep(const char *key, const ec_digest *blob, const ec_mirror_resp *resp)
{
    if (resp->body.n > DOC_KEEP_MAX)
        return;
    struct doc_slot *sl = doc_slot_of(key);
    pthread_mutex_lock(&doc_mu);
    free(sl->key);
    free(sl->body);
    sl->key = ec_xstrdup(key);
    sl->blob = *blob;
    sl->body = ec_xmalloc(resp->body.n + 1);
    memcpy(sl->body, resp->body.p ? resp->body.p : "", resp->body.n);
    sl->n = resp->body.n;
    snprintf(sl->etag, sizeof sl->etag, "%s", resp->etag);
    pthread_mutex_unlock(&doc_mu);
}

/* Status, content type and If-None-Match of a packument answer whose body and ETag are set. */
static int doc_answer(const ec_mirror_req *req, ec_mirror_resp *resp, ec_npm_doc kind)
{
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s",
             kind == EC_NPM_ABBREV ? EC_NPM_CTYPE_ABBREV : "application/json");
    const char *inm = req_header(req, "If-None-Match");
    if (inm && strcmp(inm, resp->etag) == 0) {
        resp->status = 304;
        ec_buf_reset(&resp->body);
    }
    return EC_OK;
}

static int serve_doc(ec_fetch_ctx *ctx, const ec_mirror_req *req, const char *name,
                     ec_mirror_resp *resp, ec_err *err)
{
    const char *accept = req_header(req, "Accept");
    ec_npm_doc kind = accept && strstr(accept, EC_NPM_CTYPE_ABBREV) ? EC_NPM_ABBREV
                                                                     : EC_NPM_FULL;
    EC_AUTOFREE char *kept_key =
        ec_xasprintf("%c %s %s %s", kind == EC_NPM_ABBREV ? 'a' : 'f', name, req->base_url,
                     ctx->upstream ? ctx->upstream : "");
    ec_digest blob;
    bool current = ec_npm_meta_current(ctx->store, kind, name, EC_NPM_META_TTL, &blob);
    if (current && doc_kept(kept_key, &blob, resp))
        return doc_answer(req, resp, kind);
    doc_out o = {req, ctx->upstream, resp};
    unsigned upstream = 0;
    ec_fetch_ctx local = *ctx;
    if (ctx->cache_only) { /* a fresh copy, or the caller retries where it may wait */
        if (!ec_npm_meta_fresh(ctx->store, kind, name, EC_NPM_META_TTL))
            return ec_fail(err, EC_EBUSY, "%s is not fresh in the store", name);
        local.offline = true;
        ctx = &local;
    }
    int rc = ec_npm_meta_fetch(ctx, kind, &name, 1, EC_NPM_META_TTL, doc_deliver, &o,
                               &upstream, err);
    if (rc < 0 && rc != EC_ENOTFOUND && !ctx->offline) {
        /* Upstream is down or odd: a stale copy is better than no answer. */
        ec_fetch_ctx stale = *ctx;
        stale.offline = true;
        ec_buf_reset(&resp->body);
        if (ec_npm_meta_fetch(&stale, kind, &name, 1, 0, doc_deliver, &o, NULL, NULL) == 0)
            rc = EC_OK;
    }
    resp->from_upstream = upstream > 0;
    if (rc == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "package not found");
    if (rc < 0)
        return rc;
    set_etag(resp);
    /* Kept only when what was read is the document the record names now. */
    ec_digest now;
    if (ec_npm_meta_current(ctx->store, kind, name, EC_NPM_META_TTL, &now) &&
        (!current || ec_digest_eq(&now, &blob)) && !upstream)
        doc_keep(kept_key, &now, resp);
    return doc_answer(req, resp, kind);
}

/* --- tarballs --- */

/* Concurrent misses for one file wait for the first one's download. */

static int pull_tarball(ec_fetch_ctx *ctx, const char *name, const char *file, ec_digest *out,
                        ec_err *err)
{
    ec_npm_find_dist f = {.file = file};
    int rc = ec_npm_meta_fetch(ctx, EC_NPM_ABBREV, &name, 1, EC_NPM_META_TTL, ec_npm_find_in_doc, &f,
                               NULL, err);
    if (rc == EC_OK && !f.url)
        rc = ec_fail(err, EC_ENOTFOUND, "%s has no version with tarball %s", name, file);
    ec_http_req req = {.url = f.url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                       .what = f.what};
    if (rc == EC_OK)
        rc = ec_npm_integrity_parse(f.integrity, f.shasum, &req.integrity_algo,
                                    req.integrity_want, err);
    if (rc == EC_OK && (rc = ec_http_get(ctx->http, &req)) < 0 && err)
        *err = req.err;
    if (rc == EC_OK && req.status != 200)
        rc = ec_fail(err, req.status == 404 ? EC_ENOTFOUND : EC_EFORMAT,
                     "fetching %s: HTTP %ld", f.what, req.status);
    if (rc == EC_OK)
        rc = ec_npm_tgz_record(ctx->store, name, file, &req.blob, err);
    if (rc == EC_OK)
        *out = req.blob;
    ec_http_req_reset(&req);
    free(f.url);
    free(f.integrity);
    free(f.shasum);
    free(f.what);
    return rc;
}

static int answer_blob(ec_mirror_resp *resp, const ec_digest *d, uint64_t size)
{
    char hex[EC_DIGEST_HEX_LEN];
    resp->status = 200;
    resp->offset = 0;
    resp->length = size;
    snprintf(resp->content_type, sizeof resp->content_type, "application/octet-stream");
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, d));
    return EC_OK;
}

static int serve_tarball(ec_fetch_ctx *ctx, const char *name, const char *file,
                         ec_mirror_resp *resp, ec_err *err)
{
    ec_digest d;
    uint64_t size;
    EC_AUTOFREE char *key = ec_npm_tgz_key(name, file);
    /* A hit, the common case: one read txn and one open. */
    if (ec_mirror_blob_open(ctx->store, key, &d, &resp->fd, &size, NULL) == EC_OK)
        return answer_blob(resp, &d, size);
    if (ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "%s is not in the store", file);
    int rc = EC_ENOTFOUND;
    if (!ctx->offline) {
        while (rc < 0 && !ec_flight_enter(key))
            rc = ec_npm_tgz_lookup(ctx->store, name, file, &d, NULL);
        if (rc < 0) {
            rc = ec_npm_tgz_lookup(ctx->store, name, file, &d, NULL);
            if (rc < 0) {
                resp->from_upstream = true;
                rc = pull_tarball(ctx, name, file, &d, err);
            }
            ec_flight_leave(key);
        }
    }
    if (rc == EC_ENOTFOUND || (rc < 0 && ctx->offline))
        return ec_err_clear(err), not_found(resp, "tarball not found");
    if (rc < 0)
        return rc;
    struct stat sb;
    if ((rc = ec_blob_open(&resp->fd, ctx->store, &d, err)) < 0)
        return rc;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat the blob of %s", file);
    return answer_blob(resp, &d, (uint64_t)sb.st_size);
}

int ec_npm_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err)
{
    EC_AUTOFREE char *path = ec_mirror_path_decode(req->path);
    while (path[0] == '/')
        memmove(path, path + 1, strlen(path));
    if (strcmp(path, "") == 0 || strcmp(path, "-/ping") == 0) {
        resp->status = 200;
        snprintf(resp->content_type, sizeof resp->content_type, "application/json");
        return ec_buf_adds(&resp->body, "{}", err);
    }
    char *dash = strstr(path, "/-/");
    if (dash) {
        *dash = '\0';
        const char *file = dash + 3;
        if (!name_ok(path) || !*file || strchr(file, '/') || file[0] == '.')
            return not_found(resp, "not a tarball path");
        return serve_tarball(ctx, path, file, resp, err);
    }
    if (!name_ok(path))
        return not_found(resp, "not a package name, or not an endpoint this mirror serves");
    return serve_doc(ctx, req, path, resp, err);
}
