/* SPDX-License-Identifier: MIT */
/* fetch: every module zip of a lock into the store, in parallel from the first proxy
 * (the others, in go's order, for what it does not have), each checked against its h1
 * from the checksum database before it is stored. */
#include "fetchers/go/go_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

typedef struct zjob {
    go_cfg *g;
    json_t *pkg;
    char *url, *what;
    ec_http_req req;
    int rc;
    ec_err err;
} zjob;

static void set_sha256(json_t *pkg, const ec_digest *d)
{
    char hex[EC_DIGEST_STR_LEN];
    json_object_set_new(pkg, "sha256", json_string(ec_digest_format(hex, d)));
}

/* The zip's h1 must be the lock's (the database's, seen at resolve) and the database's. */
static int zip_accept(go_cfg *g, json_t *pkg, const void *zip, size_t n, ec_err *err)
{
    const char *path = json_string_value(json_object_get(pkg, "name"));
    const char *v = json_string_value(json_object_get(pkg, "version"));
    const char *want = json_string_value(json_object_get(pkg, "h1"));
    char h1[64];
    int r = go_verify_zip(g, path, v, zip, n, h1, err);
    if (r == EC_OK && want && strcmp(want, h1) != 0)
        r = ec_fail(err, EC_EINTEGRITY, "%s@%s: the module zip has %s but the lock says %s: "
                    "nothing was stored", path, v, h1, want);
    if (r < 0)
        return r;
    json_object_set_new(pkg, "h1", json_string(h1));
    EC_AUTOFREE char *emod = go_escape(path);
    EC_AUTOFREE char *ever = go_escape(v);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/%s.zip", emod, ever);
    ec_digest d;
    r = go_doc_put(g, rel, zip, n, &d, err);
    if (r == EC_OK)
        set_sha256(pkg, &d);
    return r;
}

static void zjob_done(ec_http_req *req, void *ud)
{
    zjob *j = ud;
    j->rc = req->rc;
    if (j->rc < 0)
        j->err = req->err;
    else if (req->status != 200)
        j->rc = ec_fail(&j->err, EC_ENETWORK, "%s answered HTTP %ld", j->url, req->status);
    else
        j->rc = zip_accept(j->g, j->pkg, req->body.p ? req->body.p : "", req->body.n, &j->err);
    ec_buf_fini(&req->body);
}

static bool have_zip(ec_store *st, json_t *pkg)
{
    ec_digest d;
    const char *url = json_string_value(json_object_get(pkg, "url"));
    if (!url || go_doc_lookup(st, url, &d, NULL) < 0)
        return false;
    set_sha256(pkg, &d);
    return true;
}

int go_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    go_cfg g;
    int r = go_cfg_init(&g, ctx, err);
    if (r < 0)
        return r;
    json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), nj = 0, i;
    zjob *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    EC_AUTO(ec_http_batch) b = NULL;
    const char *first = g.nproxies && g.proxies[0].url &&
                                strncmp(g.proxies[0].url, "http", 4) == 0
                            ? g.proxies[0].url : NULL;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        if (have_zip(ctx->store, p))
            continue;
        zjob *j = &jobs[nj++];
        j->g = &g;
        j->pkg = p;
        j->rc = EC_ENOTFOUND;
        const char *url = json_string_value(json_object_get(p, "url"));
        if (!first || ctx->offline || !url)
            continue; /* the sequential path below says why */
        if (!b && (r = ec_http_batch_new(&b, ctx->http, err)) < 0)
            break;
        j->url = ec_xasprintf("%s/%s", first, url);
        j->what = ec_xasprintf("%s@%s module zip", json_string_value(json_object_get(p, "name")),
                               json_string_value(json_object_get(p, "version")));
        j->req = (ec_http_req){.url = j->url, .sink = EC_HTTP_SINK_MEM, .what = j->what,
                               .on_done = zjob_done, .ud = j};
        ec_http_batch_add(b, &j->req);
    }
    if (r == EC_OK && b)
        r = ec_http_batch_run(b, err);
    for (i = 0; i < nj && r == EC_OK; i++) {
        zjob *j = &jobs[i];
        if (j->rc == EC_OK)
            continue;
        if (j->rc != EC_ENOTFOUND) { /* an integrity failure is final, whatever else has it */
            r = j->rc;
            if (err)
                *err = j->err;
            break;
        }
        ec_digest d; /* not at the first proxy: the others, in go's order */
        char h1[64];
        const char *path = json_string_value(json_object_get(j->pkg, "name"));
        const char *v = json_string_value(json_object_get(j->pkg, "version"));
        r = go_get_zip(&g, path, v, &d, h1, err);
        const char *want = json_string_value(json_object_get(j->pkg, "h1"));
        if (r == EC_OK && want && strcmp(want, h1) != 0)
            r = ec_fail(err, EC_EINTEGRITY, "%s@%s: the module zip has %s but the lock says %s",
                        path, v, h1, want);
        if (r == EC_OK)
            set_sha256(j->pkg, &d);
    }
    ec_http_batch_free(ec_steal(&b));
    for (i = 0; i < nj; i++) {
        ec_http_req_reset(&jobs[i].req);
        free(jobs[i].url);
        free(jobs[i].what);
    }
    free(jobs);
    go_cfg_fini(&g);
    return r;
}
