/* SPDX-License-Identifier: MIT */
/* Packument cache: the store keeps every document with its ETag, so a warm-up or the
 * mirror asks upstream at most once per package per freshness window, and then only
 * "has it changed?" (If-None-Match → 304). */
#include "fetchers/npm/npm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

typedef struct meta_rec {
    ec_digest blob;
    char etag[256];
    int64_t fetched;
} meta_rec;

char *ec_npm_meta_url(const char *upstream, const char *name)
{
    size_t ul = strlen(upstream);
    while (ul && upstream[ul - 1] == '/')
        ul--;
    const char *slash = name[0] == '@' ? strchr(name, '/') : NULL;
    if (!slash)
        return ec_xasprintf("%.*s/%s", (int)ul, upstream, name);
    return ec_xasprintf("%.*s/%.*s%%2f%s", (int)ul, upstream, (int)(slash - name), name,
                        slash + 1);
}

static char *meta_key(ec_npm_doc kind, const char *name)
{
    return ec_xasprintf("npm/meta/%c/%s", kind == EC_NPM_ABBREV ? 'a' : 'f', name);
}

/* Absent or unreadable records are simply misses: the document is fetched again. */
static bool rec_get(ec_store *st, ec_npm_doc kind, const char *name, meta_rec *out)
{
    EC_AUTOFREE char *key = meta_key(kind, name);
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t vlen;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, EC_TBL_MIRROR, key, strlen(key), &v, &vlen, NULL) < 0)
        return false;
    json_t *j = json_loadb(v, vlen, 0, NULL);
    const char *blob = json_string_value(json_object_get(j, "blob"));
    const char *etag = json_string_value(json_object_get(j, "etag"));
    bool ok = blob && ec_digest_parse(&out->blob, blob, NULL) == EC_OK;
    snprintf(out->etag, sizeof out->etag, "%s", etag ? etag : "");
    out->fetched = (int64_t)json_integer_value(json_object_get(j, "fetched"));
    json_decref(j);
    return ok && ec_store_has_blob(st, &out->blob);
}

static int rec_put(ec_store *st, ec_npm_doc kind, const char *name, const meta_rec *r,
                   ec_err *err)
{
    char hex[EC_DIGEST_STR_LEN];
    EC_AUTOFREE char *key = meta_key(kind, name);
    json_t *j = json_pack("{s:s, s:s, s:I}", "blob", ec_digest_format(hex, &r->blob), "etag",
                          r->etag, "fetched", (json_int_t)r->fetched);
    EC_AUTOFREE char *val = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    EC_AUTO(ec_txn) txn = NULL;
    int rc = ec_txn_begin(&txn, st, 0, err);
    if (rc == EC_OK)
        rc = ec_kv_put(txn, EC_TBL_MIRROR, key, strlen(key), val, strlen(val), 0, err);
    if (rc == EC_OK)
        rc = ec_txn_commit(ec_steal(&txn), err);
    return rc;
}

/* Reads a cached document, checking its bytes against its name. */
static int read_blob(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int rc = ec_blob_open(&fd, st, d, err);
    if (rc < 0)
        return rc;
    char chunk[65536];
    ec_digest got;
    ec_sha256 *h = ec_sha256_new();
    for (;;) {
        ssize_t k = read(fd, chunk, sizeof chunk);
        if (k < 0) {
            ec_sha256_free(h);
            return ec_fail_sys(err, errno, "cannot read a cached packument");
        }
        if (k == 0)
            break;
        ec_sha256_update(h, chunk, (size_t)k);
        if ((rc = ec_buf_add(out, chunk, (size_t)k, err)) < 0) {
            ec_sha256_free(h);
            return rc;
        }
    }
    ec_sha256_final(h, &got);
    if (!ec_digest_eq(&got, d))
        return ec_fail(err, EC_EINTEGRITY, "a cached packument does not match its digest");
    return EC_OK;
}

static int store_body(ec_store *st, const ec_buf *body, ec_digest *out, ec_err *err)
{
    EC_AUTO(ec_blob_writer) w = NULL;
    int rc = ec_blob_writer_new(&w, st, err);
    if (rc == EC_OK)
        rc = ec_blob_writer_write(w, body->p ? body->p : "", body->n, err);
    if (rc == EC_OK)
        rc = ec_blob_writer_commit(ec_steal(&w), NULL, out, err);
    return rc;
}

/* --- one fetch round --- */

typedef struct meta_job {
    struct meta_run *run;
    const char *name;
    char *url;
    meta_rec rec;
    bool have_rec;
    ec_http_req req;
} meta_job;

typedef struct meta_run {
    ec_fetch_ctx *ctx;
    ec_npm_doc kind;
    ec_npm_meta_fn fn;
    void *ud;
    int rc;
    ec_err err;
    unsigned upstream;
} meta_run;

static int deliver_cached(meta_run *run, const char *name, const ec_digest *d, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    b.max = (size_t)1 << 30;
    int rc = read_blob(run->ctx->store, d, &b, err);
    if (rc == EC_OK)
        rc = run->fn(name, ec_buf_str(&b), b.n, run->ud, err);
    ec_buf_fini(&b);
    return rc;
}

static int job_finish(meta_job *j, ec_err *err)
{
    meta_run *run = j->run;
    ec_http_req *q = &j->req;
    if (q->rc < 0) {
        *err = q->err;
        return q->rc;
    }
    if (q->status == 304 && j->have_rec) {
        j->rec.fetched = ec_now();
        int rc = rec_put(run->ctx->store, run->kind, j->name, &j->rec, err);
        return rc < 0 ? rc : deliver_cached(run, j->name, &j->rec.blob, err);
    }
    if (q->status == 404)
        return ec_fail(err, EC_ENOTFOUND, "npm package %s does not exist in the registry (%s)",
                       j->name, j->url);
    if (q->status != 200)
        return ec_fail(err, EC_EFORMAT, "npm package %s: %s answered HTTP %ld", j->name,
                       j->url, q->status);
    meta_rec r = {.fetched = ec_now()};
    snprintf(r.etag, sizeof r.etag, "%s", q->etag);
    int rc = store_body(run->ctx->store, &q->body, &r.blob, err);
    if (rc == EC_OK)
        rc = rec_put(run->ctx->store, run->kind, j->name, &r, err);
    if (rc == EC_OK)
        rc = run->fn(j->name, ec_buf_str(&q->body), q->body.n, run->ud, err);
    return rc;
}

static void job_done(ec_http_req *req, void *ud)
{
    meta_job *j = ud;
    meta_run *run = j->run;
    if (run->rc == EC_OK) {
        ec_err e = {0};
        int rc = job_finish(j, &e);
        if (rc < 0) {
            run->rc = rc;
            run->err = e;
        }
    }
    ec_http_req_reset(req); /* bodies can be megabytes: let go as soon as parsed */
}

static void job_start(meta_job *j, ec_http_batch *b)
{
    meta_run *run = j->run;
    j->url = ec_npm_meta_url(run->ctx->upstream, j->name);
    j->req = (ec_http_req){
        .url = j->url,
        .accept = run->kind == EC_NPM_ABBREV ? EC_NPM_ACCEPT_ABBREV : EC_NPM_ACCEPT_FULL,
        .if_none_match = j->have_rec && j->rec.etag[0] ? j->rec.etag : NULL,
        .sink = EC_HTTP_SINK_MEM,
        .what = j->name,
        .on_done = job_done,
        .ud = j,
    };
    run->upstream++;
    ec_http_batch_add(b, &j->req);
}

int ec_npm_meta_fetch(ec_fetch_ctx *ctx, ec_npm_doc kind, const char *const *names, size_t n,
                      int64_t ttl, ec_npm_meta_fn fn, void *ud, unsigned *upstream_out,
                      ec_err *err)
{
    meta_run run = {.ctx = ctx, .kind = kind, .fn = fn, .ud = ud};
    meta_job *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    EC_AUTO(ec_http_batch) b = NULL;
    size_t queued = 0;
    int rc = EC_OK;
    int64_t now = ec_now();

    for (size_t i = 0; i < n && rc == EC_OK; i++) {
        meta_job *j = &jobs[i];
        j->run = &run;
        j->name = names[i];
        j->have_rec = rec_get(ctx->store, kind, names[i], &j->rec);
        if (j->have_rec && (ctx->offline || now - j->rec.fetched <= ttl)) {
            rc = deliver_cached(&run, names[i], &j->rec.blob, err);
            continue;
        }
        if (ctx->offline) {
            rc = ec_fail(err, EC_ENOTFOUND, "npm package %s is not cached and the warm-up is "
                         "offline", names[i]);
            break;
        }
        if (!b && (rc = ec_http_batch_new(&b, ctx->http, err)) < 0)
            break;
        job_start(j, b);
        queued++;
    }
    if (rc == EC_OK && queued)
        rc = ec_http_batch_run(b, err);
    if (rc == EC_OK && run.rc < 0) {
        rc = run.rc;
        if (err)
            *err = run.err;
    }
    ec_http_batch_free(ec_steal(&b)); /* before the requests it may still hold */
    for (size_t i = 0; i < n; i++) {
        ec_http_req_reset(&jobs[i].req);
        free(jobs[i].url);
    }
    free(jobs);
    if (upstream_out)
        *upstream_out += run.upstream;
    return rc;
}
