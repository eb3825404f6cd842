/* SPDX-License-Identifier: MIT */
/* fetch: every tarball of a lock into the store, in parallel, each checked against the
 * registry's integrity while it streams; a tarball the mirror already holds is not
 * downloaded again. */
#include "fetchers/npm/npm_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

typedef struct tgz_job {
    struct tgz_run *run;
    json_t *pkg; /* borrowed from the lock */
    char what[300];
    ec_http_req req;
} tgz_job;

typedef struct tgz_run {
    ec_fetch_ctx *ctx;
    int rc;
    ec_err err;
    uint64_t done, total, bytes;
} tgz_run;

static void set_sha256(json_t *pkg, const ec_digest *d)
{
    char hex[EC_DIGEST_STR_LEN];
    json_object_set_new(pkg, "sha256", json_string(ec_digest_format(hex, d)));
}

static void report(tgz_run *run, const char *item)
{
    if (!run->ctx->progress)
        return;
    ec_progress_event p = {.manager = "npm", .phase = EC_PHASE_DOWNLOADING, .done = run->done,
                     .total = run->total, .bytes_done = run->bytes, .item = item};
    run->ctx->progress(&p, run->ctx->progress_ud);
}

static void tgz_done(ec_http_req *req, void *ud)
{
    tgz_job *j = ud;
    tgz_run *run = j->run;
    const char *name = json_string_value(json_object_get(j->pkg, "name"));
    const char *url = json_string_value(json_object_get(j->pkg, "url"));
    ec_err e = {0};
    int rc = req->rc;
    if (rc < 0)
        e = req->err;
    else if (req->status != 200)
        rc = ec_fail(&e, EC_EFORMAT, "fetching %s from %s: HTTP %ld", j->what, url, req->status);
    else
        rc = ec_npm_tgz_record(run->ctx->store, name, ec_npm_url_file(url), &req->blob, &e);
    if (rc == EC_OK) {
        set_sha256(j->pkg, &req->blob);
        run->done++;
        run->bytes += req->size;
        report(run, j->what);
    } else if (run->rc == EC_OK) {
        run->rc = rc;
        run->err = e;
    }
}

/* Already here: a blob named in the lock, or one the mirror index knows. */
static bool have_tarball(ec_store *st, json_t *pkg)
{
    ec_digest d;
    const char *sha = json_string_value(json_object_get(pkg, "sha256"));
    if (sha && ec_digest_parse(&d, sha, NULL) == EC_OK && ec_store_has_blob(st, &d))
        return true;
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *url = json_string_value(json_object_get(pkg, "url"));
    if (!name || !url || ec_npm_tgz_lookup(st, name, ec_npm_url_file(url), &d, NULL) < 0)
        return false;
    set_sha256(pkg, &d);
    return true;
}

static int job_prepare(tgz_job *j, tgz_run *run, json_t *pkg, ec_err *err)
{
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *version = json_string_value(json_object_get(pkg, "version"));
    const char *url = json_string_value(json_object_get(pkg, "url"));
    if (!name || !version || !url)
        return ec_fail(err, EC_EFORMAT, "the npm lock has a package without name, version "
                       "or url");
    j->run = run;
    j->pkg = pkg;
    snprintf(j->what, sizeof j->what, "%s@%s tarball", name, version);
    j->req = (ec_http_req){.url = url, .sink = EC_HTTP_SINK_BLOB, .store = run->ctx->store,
                           .what = j->what, .on_done = tgz_done, .ud = j};
    int rc = ec_npm_integrity_parse(json_string_value(json_object_get(pkg, "integrity")),
                                    json_string_value(json_object_get(pkg, "shasum")),
                                    &j->req.integrity_algo, j->req.integrity_want, err);
    return rc < 0 ? ec_err_prefix(err, "%s@%s", name, version), rc : EC_OK;
}

int ec_npm_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), i;
    json_t *pkg;
    tgz_run run = {.ctx = ctx};
    tgz_job *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    EC_AUTO(ec_http_batch) b = NULL;
    int rc = EC_OK;

    json_array_foreach(pkgs, i, pkg) {
        if (json_is_true(json_object_get(pkg, "bundled")) || have_tarball(ctx->store, pkg))
            continue;
        if (ctx->offline) {
            rc = ec_fail(err, EC_ENOTFOUND, "%s@%s is not in the store and the warm-up is "
                         "offline", json_string_value(json_object_get(pkg, "name")),
                         json_string_value(json_object_get(pkg, "version")));
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
    ec_http_batch_free(ec_steal(&b)); /* before the requests it may still hold */
    for (i = 0; i < n; i++)
        ec_http_req_reset(&jobs[i].req);
    free(jobs);
    return rc;
}
