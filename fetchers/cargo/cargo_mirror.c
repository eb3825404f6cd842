/* SPDX-License-Identifier: MIT */
/* serve: the sparse registry protocol under /mirror/cargo/: index/config.json (whose dl
 * points back here), index files from the shared cache (ETag and 304), and .crate files
 * from the store, pulled through once on a miss and checked against the index's cksum. */
#include "fetchers/cargo/cargo_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

static int not_found(ec_mirror_resp *resp, const char *why)
{
    resp->status = 404;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    return ec_buf_adds(&resp->body, why, NULL);
}

static int blob_resp(ec_fetch_ctx *ctx, const ec_mirror_req *req, const ec_digest *d,
                     const char *type, ec_mirror_resp *resp, ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, d));
    snprintf(resp->content_type, sizeof resp->content_type, "%s", type);
    const char *inm = req->header ? req->header(req, "If-None-Match") : NULL;
    if (inm && strcmp(inm, resp->etag) == 0) {
        resp->status = 304;
        return EC_OK;
    }
    struct stat sb;
    int r = ec_blob_open(&resp->fd, ctx->store, d, err);
    if (r == EC_OK && fstat(resp->fd, &sb) < 0)
        r = ec_fail_sys(err, errno, "cargo mirror: cannot stat a blob");
    if (r == EC_OK) {
        resp->status = 200;
        resp->offset = 0;
        resp->length = (uint64_t)sb.st_size;
    }
    return r;
}

static int serve_index(ec_fetch_ctx *ctx, const ec_mirror_req *req, const char *path,
                       ec_mirror_resp *resp, ec_err *err)
{
    const char *name = strrchr(path, '/') + 1;
    EC_AUTOFREE char *want = cargo_name_ok(name) ? cargo_index_path(name) : NULL;
    if (!want || strcmp(path, want) != 0)
        return not_found(resp, "not an index file path");
    ec_digest d;
    bool asked = false;
    int r = cargo_index_get(ctx, name, &d, &asked, err);
    resp->from_upstream = asked;
    if (r == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "no such crate");
    return r < 0 ? r : blob_resp(ctx, req, &d, "text/plain", resp, err);
}

/* The .crate's cksum from its index file, then the download, once for all callers. */
static int pull_crate(ec_fetch_ctx *ctx, const char *name, const char *vers, ec_digest *out,
                      ec_err *err)
{
    ec_digest d;
    bool asked;
    ec_buf text = EC_BUF_INIT;
    int r = cargo_index_get(ctx, name, &d, &asked, err);
    if (r == EC_OK)
        r = cargo_blob_read(ctx->store, &d, &text, err);
    EC_AUTO(json_t) line = r == EC_OK ? cargo_index_find(ec_buf_str(&text), vers) : NULL;
    const char *cksum = json_string_value(json_object_get(line, "cksum"));
    if (r == EC_OK && !cksum)
        r = ec_fail(err, EC_ENOTFOUND, "crate %s has no version %s", name, vers);
    if (r == EC_OK)
        r = cargo_crate_pull(ctx, name, vers, cksum, out, err);
    ec_buf_fini(&text);
    return r;
}

static int serve_crate(ec_fetch_ctx *ctx, const ec_mirror_req *req, const char *name,
                       const char *vers, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *key = cargo_crate_key(ctx, name, vers);
    ec_digest d;
    int r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
    if (r < 0 && ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "crate %s@%s is not in the store", name, vers);
    if (r < 0 && !ctx->offline) {
        while (r < 0 && !ec_flight_enter(key))
            r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
        if (r < 0) {
            r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
            if (r < 0) {
                resp->from_upstream = true;
                r = pull_crate(ctx, name, vers, &d, err);
            }
            ec_flight_leave(key);
        }
    }
    if (r == EC_ENOTFOUND || (r < 0 && ctx->offline))
        return ec_err_clear(err), not_found(resp, "no such crate file");
    return r < 0 ? r : blob_resp(ctx, req, &d, "application/x-tar", resp, err);
}

int cargo_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                ec_err *err)
{
    EC_AUTOFREE char *path = ec_mirror_path_decode(req->path);
    const char *p = path;
    while (*p == '/')
        p++;
    if (strcmp(p, "index/config.json") == 0) {
        EC_AUTOFREE char *body = ec_xasprintf("{\"dl\":\"%s/crates/{crate}/{version}/download\"}",
                                              req->base_url);
        resp->status = 200;
        snprintf(resp->content_type, sizeof resp->content_type, "application/json");
        return ec_buf_adds(&resp->body, body, err);
    }
    if (strncmp(p, "index/", 6) == 0 && strchr(p + 6, '/'))
        return serve_index(ctx, req, p + 6, resp, err);
    char name[80], vers[160];
    int used = 0;
    if (sscanf(p, "crates/%79[^/]/%159[^/]/download%n", name, vers, &used) == 2 &&
        !p[used] && cargo_name_ok(name) && vers[0] != '.')
        return serve_crate(ctx, req, name, vers, resp, err);
    return not_found(resp, "not a path of the sparse registry protocol");
}
