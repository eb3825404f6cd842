/* SPDX-License-Identifier: MIT */
/* fetch: every .gem of a lock into the store, in parallel, each checked against the
 * sha256 its compact index info line publishes while it streams (a mismatch stores
 * nothing and names the gem); a gem the store already holds is not downloaded again. */
#include "fetchers/gem/gem_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

typedef struct gem_job {
    json_t *pkg; /* borrowed from the lock */
    ec_digest want;
    char what[300];
    ec_http_req req;
} gem_job;

static void set_sha256(json_t *pkg, const ec_digest *d)
{
    char hex[EC_DIGEST_STR_LEN];
    json_object_set_new(pkg, "sha256", json_string(ec_digest_format(hex, d)));
}

static int record(ec_store *st, json_t *pkg, const ec_digest *d, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("gems/%s.gem",
                                          json_string_value(json_object_get(pkg, "full_name")));
    EC_AUTOFREE char *key = gem_file_key(path);
    set_sha256(pkg, d);
    return ec_mirror_digest_put(st, key, d, err);
}

static int job_prepare(gem_job *j, json_t *pkg, ec_err *err)
{
    const char *full = json_string_value(json_object_get(pkg, "full_name"));
    const char *url = json_string_value(json_object_get(pkg, "url"));
    const char *sum = json_string_value(json_object_get(pkg, "integrity"));
    if (!full || !url || !sum)
        return ec_fail(err, EC_EFORMAT, "the gem lock has a package without full_name, url "
                       "or integrity");
    EC_AUTOFREE char *d = ec_xasprintf("sha256:%s", sum);
    if (ec_digest_parse(&j->want, d, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "gem %s: its checksum \"%s\" is not a sha256", full,
                       sum);
    j->pkg = pkg;
    snprintf(j->what, sizeof j->what, "%s.gem", full);
    return EC_OK;
}

static int job_finish(ec_fetch_ctx *ctx, gem_job *j, ec_err *err)
{
    ec_http_req *q = &j->req;
    if (q->rc == EC_EINTEGRITY)
        return ec_fail(err, EC_EINTEGRITY, "gem: %s from %s does not match the sha256 its "
                       "compact index lists: refused, nothing stored", j->what,
                       json_string_value(json_object_get(j->pkg, "url")));
    if (q->rc < 0) {
        *err = q->err;
        return q->rc;
    }
    if (q->status != 200)
        return ec_fail(err, EC_ENETWORK, "gem: fetching %s: HTTP %ld", j->what, q->status);
    return record(ctx->store, j->pkg, &q->blob, err);
}

int gem_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    json_t *pkgs = json_object_get(lock, "packages"), *pkg;
    size_t n = json_array_size(pkgs), i, k = 0;
    gem_job *jobs = ec_xcalloc(n + 1, sizeof *jobs);
    EC_AUTO(ec_http_batch) b = NULL;
    int r = EC_OK;
    json_array_foreach(pkgs, i, pkg) {
        gem_job *j = &jobs[k];
        if ((r = job_prepare(j, pkg, err)) < 0)
            break;
        if (ec_store_has_blob(ctx->store, &j->want)) {
            if ((r = record(ctx->store, pkg, &j->want, err)) < 0)
                break;
            continue;
        }
        if (ctx->offline) {
            r = ec_fail(err, EC_ENOTFOUND, "gem: %s is not in the store and the warm-up is "
                        "offline", j->what);
            break;
        }
        if (!b && (r = ec_http_batch_new(&b, ctx->http, err)) < 0)
            break;
        j->req = (ec_http_req){.url = json_string_value(json_object_get(pkg, "url")),
                               .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                               .want_sha256 = &j->want, .what = j->what};
        ec_http_batch_add(b, &j->req);
        k++;
    }
    if (r == EC_OK && k) {
        if (ctx->progress) {
            ec_progress_event p = {.manager = "gem", .phase = EC_PHASE_DOWNLOADING,
                                   .total = k};
            ctx->progress(&p, ctx->progress_ud);
        }
        r = ec_http_batch_run(b, err);
    }
    for (i = 0; r == EC_OK && i < k; i++)
        r = job_finish(ctx, &jobs[i], err);
    ec_http_batch_free(ec_steal(&b));
    for (i = 0; i < k; i++)
        ec_http_req_reset(&jobs[i].req);
    free(jobs);
    return r;
}
