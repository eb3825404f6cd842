/* SPDX-License-Identifier: MIT */
/* fetch: every file of a lock into the store, in parallel, each checked against the
 * index's sha256 (kept in the lock) while it streams; a mismatch stores nothing and fails
 * naming the file. Files the mirror already holds are not downloaded again. */
#include "fetchers/pip/pip_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

typedef struct file_job {
    struct file_run *run;
    json_t *pkg; /* borrowed from the lock */
    ec_digest want;
    char what[300];
    ec_http_req req;
} file_job;

typedef struct file_run {
    ec_fetch_ctx *ctx;
    int rc;
    ec_err err;
    uint64_t done, total, bytes;
} file_run;

static const char *str(const json_t *pkg, const char *key)
{
    return json_string_value(json_object_get(pkg, key));
}

static void report(file_run *run, const char *item)
{
    if (!run->ctx->progress)
        return;
    ec_progress_event p = {.manager = "pip", .phase = EC_PHASE_DOWNLOADING,
                           .done = run->done, .total = run->total, .bytes_done = run->bytes,
                           .item = item};
    run->ctx->progress(&p, run->ctx->progress_ud);
}

static void file_done(ec_http_req *req, void *ud)
{
    file_job *j = ud;
    file_run *run = j->run;
    ec_err e = {0};
    int rc = req->rc;
    if (rc < 0)
        e = req->err;
    else if (req->status != 200)
        rc = ec_fail(&e, EC_ENETWORK, "fetching %s from %s: HTTP %ld", j->what,
                     str(j->pkg, "url"), req->status);
    else
        rc = pip_file_record(run->ctx->store, str(j->pkg, "name"), str(j->pkg, "file"),
                             &req->blob, &e);
    if (rc == EC_OK) {
        run->done++;
        run->bytes += req->size;
        report(run, j->what);
    } else if (run->rc == EC_OK) {
        run->rc = rc;
        run->err = e;
    }
}

static int job_prepare(file_job *j, file_run *run, json_t *pkg, ec_err *err)
{
    const char *name = str(pkg, "name"), *file = str(pkg, "file"), *url = str(pkg, "url");
    const char *sha = str(pkg, "sha256");
    if (!name || !file || !url || !sha || ec_digest_parse(&j->want, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "the pip lock has a package without name, file, url "
                       "or sha256");
    j->run = run;
    j->pkg = pkg;
    snprintf(j->what, sizeof j->what, "%s (pip package %s)", file, name);
    j->req = (ec_http_req){.url = url, .sink = EC_HTTP_SINK_BLOB, .store = run->ctx->store,
                           .want_sha256 = &j->want, .what = j->what, .on_done = file_done,
                           .ud = j};
    return EC_OK;
}

static bool have_file(ec_store *st, const json_t *pkg)
{
    ec_digest d;
    const char *sha = str(pkg, "sha256");
    return sha && ec_digest_parse(&d, sha, NULL) == EC_OK && ec_store_has_blob(st, &d);
}

int pip_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), i;
    json_t *pkg;
    file_run run = {.ctx = ctx};
    file_job *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    EC_AUTO(ec_http_batch) b = NULL;
    int rc = EC_OK;
    int64_t t0 = ec_mono_us();
    pip_prefetch_wait(); /* what the mirror started while pip resolved is then stored */
    int64_t t1 = ec_mono_us();
    json_array_foreach(pkgs, i, pkg) {
        if (have_file(ctx->store, pkg))
            continue;
        if (ctx->offline) {
            rc = ec_fail(err, EC_ENOTFOUND, "%s is not in the store and the warm-up is "
                         "offline", str(pkg, "file"));
            break;
        }
        if ((!b && (rc = ec_http_batch_new(&b, ctx->http, err)) < 0) ||
            (rc = job_prepare(&jobs[run.total], &run, pkg, err)) < 0)
            break;
        ec_http_batch_add(b, &jobs[run.total++].req);
    }
    if (rc == EC_OK && run.total) {
        report(&run, NULL);
        rc = ec_http_batch_run(b, err);
    }
    if (rc == EC_OK && run.rc < 0) {
        rc = run.rc;
        if (err)
            *err = run.err;
    }
    ec_http_batch_free(ec_steal(&b));
    for (i = 0; i < n; i++)
        ec_http_req_reset(&jobs[i].req);
    free(jobs);
    if (rc == EC_OK)
        rc = pip_metadata_check(ctx, lock, err);
    ec_debug("pip: fetch waited %lld ms for downloads begun while pip resolved, then fetched "
             "%llu files in %lld ms", (long long)(t1 - t0) / 1000, (unsigned long long)run.total,
             (long long)(ec_mono_us() - t1) / 1000);
    return rc;
}
