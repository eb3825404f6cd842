/* SPDX-License-Identifier: MIT */
/* fetch: every .crate of a lock into the store, all in flight together on the shared
 * client, each checked against the index's cksum (the lock's) while it streams; a
 * mismatch fails naming the crate and stores nothing. Crates already stored are not
 * downloaded again. */
#include "fetchers/cargo/cargo_int.h"

#include <stdlib.h>
#include <string.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

typedef struct job {
    ec_http_req req;
    ec_digest want;
    const char *name, *vers;
    char *what;
} job;

static int job_result(ec_fetch_ctx *ctx, job *j, ec_err *err)
{
    ec_http_req *q = &j->req;
    if (q->rc == EC_EINTEGRITY)
        return ec_fail(err, q->rc, "cargo: crate %s@%s: the download from %s does not match "
                       "the index's cksum; nothing was stored", j->name, j->vers, q->url);
    if (q->rc < 0)
        return ec_fail(err, q->rc, "cargo: crate %s@%s: %s", j->name, j->vers, q->err.msg);
    if (q->status != 200)
        return ec_fail(err, EC_ENETWORK, "cargo: crate %s@%s: %s answered HTTP %ld", j->name,
                       j->vers, q->url, q->status);
    EC_AUTOFREE char *key = cargo_crate_key(ctx, j->name, j->vers);
    return ec_mirror_digest_put(ctx->store, key, &j->want, err);
}

static int queue(ec_fetch_ctx *ctx, ec_http_batch *b, job *j, const json_t *p, ec_err *err)
{
    j->name = json_string_value(json_object_get(p, "name"));
    j->vers = json_string_value(json_object_get(p, "version"));
    const char *sha = json_string_value(json_object_get(p, "sha256"));
    const char *url = json_string_value(json_object_get(p, "url"));
    if (!j->name || !j->vers || !url || !sha || ec_digest_parse(&j->want, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "cargo: a lock package lacks name, version, url or "
                       "sha256");
    EC_AUTOFREE char *key = cargo_crate_key(ctx, j->name, j->vers);
    if (ec_store_has_blob(ctx->store, &j->want))
        return ec_mirror_digest_put(ctx->store, key, &j->want, err);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "cargo: crate %s@%s is not in the store (offline)",
                       j->name, j->vers);
    j->what = ec_xasprintf("crate %s@%s", j->name, j->vers);
    j->req = (ec_http_req){.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                           .want_sha256 = &j->want, .what = j->what};
    ec_http_batch_add(b, &j->req);
    return EC_OK;
}

int cargo_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    const json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs);
    job *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    ec_http_batch *b = NULL;
    int r = ec_http_batch_new(&b, ctx->http, err);
    for (size_t i = 0; r == EC_OK && i < n; i++)
        r = queue(ctx, b, &jobs[i], json_array_get(pkgs, i), err);
    if (r == EC_OK)
        r = ec_http_batch_run(b, err);
    for (size_t i = 0; i < n; i++) {
        if (r == EC_OK && jobs[i].what)
            r = job_result(ctx, &jobs[i], err);
        ec_http_req_reset(&jobs[i].req);
        free(jobs[i].what);
    }
    ec_http_batch_free(b);
    free(jobs);
    return r;
}
