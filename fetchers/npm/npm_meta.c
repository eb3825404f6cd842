/* SPDX-License-Identifier: MIT */
/* Packument cache: the store keeps every document with its ETag, so a warm-up or the
 * mirror asks upstream at most once per package per freshness window, and then only
 * "has it changed?" (If-None-Match → 304). */
#include "fetchers/npm/npm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

typedef ec_mirror_doc meta_rec;

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
    return ec_mirror_doc_get(st, key, out);
}

static int rec_put(ec_store *st, ec_npm_doc kind, const char *name, const meta_rec *r,
                   ec_err *err)
{
    EC_AUTOFREE char *key = meta_key(kind, name);
    return ec_mirror_doc_put(st, key, r, err);
}

bool ec_npm_meta_current(ec_store *st, ec_npm_doc kind, const char *name, int64_t ttl,
                         ec_digest *blob_out)
{
    meta_rec r;
    if (!rec_get(st, kind, name, &r) || ec_now() - r.fetched > ttl)
        return false;
    *blob_out = r.blob;
    return true;
}

bool ec_npm_meta_fresh(ec_store *st, ec_npm_doc kind, const char *name, int64_t ttl)
{
    meta_rec r;
    return rec_get(st, kind, name, &r) && ec_now() - r.fetched <= ttl;
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

/* --- a fetch run: names may be added while it runs --- */

typedef struct meta_job {
    struct ec_npm_meta_run *run;
    struct meta_job *next;       /* all jobs of the run */
    struct meta_job *ready_next; /* the queue of cached documents */
    char *name;
    char *url;
    meta_rec rec;
    bool have_rec;
    bool cached; /* deliver from the store; no request */
    ec_http_req req;
} meta_job;

struct ec_npm_meta_run {
    ec_fetch_ctx *ctx;
    ec_npm_doc kind;
    int64_t ttl;
    ec_npm_meta_fn fn;
    void *ud;
    ec_http_batch *batch;
    meta_job *jobs;         /* every job, for cleanup */
    meta_job *ready, **ready_tail; /* cached documents waiting to be delivered */
    bool draining;
    bool tolerant;          /* a failed document is skipped, not fatal */
    int rc;
    ec_err err;
    unsigned upstream;
};

static void run_fail(ec_npm_meta_run *run, int rc, const ec_err *e)
{
    if (run->tolerant)
        return;
    if (run->rc == EC_OK) {
        run->rc = rc;
        run->err = *e;
    }
}

static int deliver_cached(ec_npm_meta_run *run, const char *name, const ec_digest *d,
                          ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    b.max = (size_t)1 << 30;
    int rc = read_blob(run->ctx->store, d, &b, err);
    if (rc == EC_OK)
        rc = run->fn(name, ec_buf_str(&b), b.n, run->ud, err);
    ec_buf_fini(&b);
    return rc;
}

/* Delivers queued cached documents; their callbacks may queue more. Not reentrant. */
static void run_drain(ec_npm_meta_run *run)
{
    if (run->draining)
        return;
    run->draining = true;
    while (run->ready && run->rc == EC_OK) {
        meta_job *j = run->ready;
        run->ready = j->ready_next;
        if (!run->ready)
            run->ready_tail = &run->ready;
        ec_err e = {0};
        int rc = deliver_cached(run, j->name, &j->rec.blob, &e);
        if (rc < 0)
            run_fail(run, rc, &e);
    }
    run->draining = false;
}

static int job_finish(meta_job *j, ec_err *err)
{
    ec_npm_meta_run *run = j->run;
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
    if (q->status != 200)
        return ec_fail(err, EC_ENETWORK, "npm package %s: %s answered HTTP %ld", j->name,
                       j->url, q->status);
    meta_rec r = {.fetched = ec_now()};
    snprintf(r.etag, sizeof r.etag, "%s", q->etag);
    int rc = ec_blob_put_buf(&r.blob, run->ctx->store, q->body.p, q->body.n, err);
    if (rc == EC_OK)
        rc = rec_put(run->ctx->store, run->kind, j->name, &r, err);
    if (rc == EC_OK)
        rc = run->fn(j->name, ec_buf_str(&q->body), q->body.n, run->ud, err);
    return rc;
}

static void job_done(ec_http_req *req, void *ud)
{
    meta_job *j = ud;
    ec_npm_meta_run *run = j->run;
    if (run->rc == EC_OK) {
        ec_err e = {0};
        int rc = job_finish(j, &e);
        if (rc == EC_ENOTFOUND)
            ec_err_prefix(&e, "npm package %s does not exist in the registry", j->name);
        if (rc < 0)
            run_fail(run, rc, &e);
    }
    ec_buf_fini(&req->body); /* bodies can be megabytes: let go as soon as parsed */
    run_drain(run);
}

int ec_npm_meta_run_new(ec_npm_meta_run **out, ec_fetch_ctx *ctx, ec_npm_doc kind,
                        int64_t ttl, ec_npm_meta_fn fn, void *ud)
{
    ec_npm_meta_run *run = ec_xcalloc(1, sizeof *run);
    *run = (ec_npm_meta_run){.ctx = ctx, .kind = kind, .ttl = ttl, .fn = fn, .ud = ud};
    run->ready_tail = &run->ready;
    *out = run;
    return EC_OK;
}

static void job_request(meta_job *j)
{
    ec_npm_meta_run *run = j->run;
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
    ec_http_batch_add(run->batch, &j->req);
}

void ec_npm_meta_run_tolerate(ec_npm_meta_run *run)
{
    run->tolerant = true;
}

void ec_npm_meta_run_add(ec_npm_meta_run *run, const char *name)
{
    if (run->rc < 0)
        return;
    meta_job *j = ec_xcalloc(1, sizeof *j);
    j->run = run;
    j->name = ec_xstrdup(name);
    j->next = run->jobs;
    run->jobs = j;
    j->have_rec = rec_get(run->ctx->store, run->kind, name, &j->rec);
    if (j->have_rec && (run->ctx->offline || ec_now() - j->rec.fetched <= run->ttl)) {
        j->cached = true;
        *run->ready_tail = j;
        run->ready_tail = &j->ready_next;
        return;
    }
    ec_err e = {0};
    if (run->ctx->offline) {
        ec_fail(&e, EC_ENOTFOUND, "npm package %s is not cached and the warm-up is offline",
                name);
        run_fail(run, EC_ENOTFOUND, &e);
        return;
    }
    if (!run->batch) {
        int rc = ec_http_batch_new(&run->batch, run->ctx->http, &e);
        if (rc < 0) {
            run_fail(run, rc, &e);
            return;
        }
    }
    job_request(j);
}

int ec_npm_meta_run_go(ec_npm_meta_run *run, ec_err *err)
{
    run_drain(run);
    /* Deliveries may add requests to a batch made only now; run until nothing is left. */
    while (run->rc == EC_OK && run->batch) {
        ec_http_batch *b = run->batch;
        int rc = ec_http_batch_run(b, err);
        run_drain(run);
        if (rc < 0)
            return rc;
        if (run->batch == b)
            break;
    }
    if (run->rc < 0 && err)
        *err = run->err;
    return run->rc;
}

unsigned ec_npm_meta_run_free(ec_npm_meta_run *run)
{
    if (!run)
        return 0;
    unsigned up = run->upstream;
    ec_http_batch_free(run->batch); /* before the requests it may still hold */
    for (meta_job *j = run->jobs, *next; j; j = next) {
        next = j->next;
        ec_http_req_reset(&j->req);
        free(j->url);
        free(j->name);
        free(j);
    }
    free(run);
    return up;
}

int ec_npm_meta_fetch(ec_fetch_ctx *ctx, ec_npm_doc kind, const char *const *names, size_t n,
                      int64_t ttl, ec_npm_meta_fn fn, void *ud, unsigned *upstream_out,
                      ec_err *err)
{
    ec_npm_meta_run *run = NULL;
    ec_npm_meta_run_new(&run, ctx, kind, ttl, fn, ud);
    for (size_t i = 0; i < n; i++)
        ec_npm_meta_run_add(run, names[i]);
    int rc = ec_npm_meta_run_go(run, err);
    unsigned up = ec_npm_meta_run_free(run);
    if (upstream_out)
        *upstream_out += up;
    return rc;
}
