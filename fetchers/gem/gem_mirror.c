/* SPDX-License-Identifier: MIT */
/* serve: RubyGems' protocol under /mirror/gem/. The compact index (/versions, /names,
 * /info/NAME) from the shared index cache, with ETags and `Range: bytes=N-` (Bundler's
 * appends); .gem files from the store, pulled through on a miss and verified against the
 * sha256 of their info line, once however many clients miss the same file; quick specs
 * and the legacy specs files pulled through and kept. */
#include "fetchers/gem/gem_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

static int not_found(ec_mirror_resp *resp, const char *what)
{
    resp->status = 404;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    return ec_buf_addf(&resp->body, NULL, "%s\n", what);
}

/* A name or file name of the protocol: nothing that could climb out of a key. */
static bool word_ok(const char *s)
{
    if (!*s || s[0] == '.' || strstr(s, ".."))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return false;
    return true;
}

/* The document as its blob (content addressed, so its digest is that of the bytes): the
 * server then answers If-None-Match with 304 and `Range: bytes=N-` with 206 itself. */
static int answer(ec_fetch_ctx *ctx, ec_mirror_resp *resp, const char *ctype, ec_err *err)
{
    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN];
    struct stat sb;
    ec_sha256_buf(&d, resp->body.p ? resp->body.p : "", resp->body.n);
    ec_buf_reset(&resp->body);
    int r = ec_blob_open(&resp->fd, ctx->store, &d, err);
    if (r < 0)
        return r;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "gem: cannot stat an index document's blob");
    snprintf(resp->etag, sizeof resp->etag, "\"%.32s\"", ec_digest_hex(hex, &d));
    snprintf(resp->content_type, sizeof resp->content_type, "%s", ctype);
    resp->status = 200;
    resp->length = (uint64_t)sb.st_size;
    return EC_OK;
}

static int serve_doc(ec_fetch_ctx *ctx, const ec_mirror_req *req, const char *path,
                     ec_mirror_resp *resp, ec_err *err)
{
    bool up = false;
    int r = EC_OK;
    if (strncmp(path, "info/", 5) == 0) { /* checked against /versions before it is used */
        ec_buf v = EC_BUF_INIT;
        v.max = (size_t)1 << 30;
        gem_info gi;
        r = gem_index_doc(ctx, "versions", GEM_INDEX_TTL, &v, &up, err);
        if (r == EC_OK)
            r = gem_index_info(ctx, ec_buf_str(&v), path + 5, &gi, err);
        if (r == EC_OK)
            gem_info_free(&gi);
        ec_buf_fini(&v);
    }
    resp->body.max = (size_t)1 << 30;
    if (r == EC_OK)
        r = gem_index_doc(ctx, path, GEM_INDEX_TTL, &resp->body, &up, err);
    resp->from_upstream = up;
    if (r == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "not found");
    if (r < 0)
        return r;
    (void)req;
    return answer(ctx, resp, strstr(path, ".gz") ? "application/octet-stream"
                                                 : "text/plain; charset=utf-8", err);
}

/* The info entry whose "VERSION[-PLATFORM]" makes @full with its gem's name: names hold
 * '-' too, so each split before a digit is tried against /versions. */
static int find_entry(ec_fetch_ctx *ctx, const char *full, char sum[65], ec_err *err)
{
    ec_buf v = EC_BUF_INIT;
    v.max = (size_t)1 << 30;
    int r = gem_index_doc(ctx, "versions", GEM_INDEX_TTL, &v, NULL, err);
    bool found = false;
    for (const char *d = full; r == EC_OK && !found && (d = strchr(d, '-')); d++) {
        if (!isdigit((unsigned char)d[1]))
            continue;
        EC_AUTOFREE char *name = ec_xstrndup(full, (size_t)(d - full));
        gem_info gi;
        ec_err e = {0};
        if (gem_index_info(ctx, ec_buf_str(&v), name, &gi, &e) < 0)
            continue;
        for (size_t i = 0; i < gi.n && !found; i++) {
            EC_AUTOFREE char *f = strcmp(gi.e[i].platform, "ruby") == 0
                                      ? ec_xasprintf("%s", gi.e[i].ver.text)
                                      : ec_xasprintf("%s-%s", gi.e[i].ver.text,
                                                     gi.e[i].platform);
            if (strcmp(f, d + 1) == 0) {
                memcpy(sum, gi.e[i].checksum, 65);
                found = true;
            }
        }
        gem_info_free(&gi);
    }
    ec_buf_fini(&v);
    if (r == EC_OK && !found)
        r = ec_fail(err, EC_ENOTFOUND, "gem: no gem %s in the registry's index", full);
    return r;
}

/* A file into the store: a .gem checked against its info line, others kept as served. */
static int pull(ec_fetch_ctx *ctx, const char *path, ec_digest *out, ec_err *err)
{
    ec_digest want;
    bool is_gem = strncmp(path, "gems/", 5) == 0;
    if (is_gem) {
        char sum[65];
        EC_AUTOFREE char *full = ec_xstrndup(path + 5, strlen(path + 5) - 4);
        int r = find_entry(ctx, full, sum, err);
        EC_AUTOFREE char *d = ec_xasprintf("sha256:%s", sum);
        if (r == EC_OK && (r = ec_digest_parse(&want, d, err)) < 0)
            return r;
        if (r < 0)
            return r;
    }
    size_t ul = strlen(ctx->upstream);
    while (ul && ctx->upstream[ul - 1] == '/')
        ul--;
    EC_AUTOFREE char *url = ec_xasprintf("%.*s/%s", (int)ul, ctx->upstream, path);
    ec_http_req q = {.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                     .want_sha256 = is_gem ? &want : NULL, .what = path};
    int r = ec_http_get(ctx->http, &q);
    if (r == EC_EINTEGRITY)
        ec_fail(err, r, "gem: %s does not match the sha256 its compact index lists: refused, "
                "nothing stored", url);
    else if (r < 0)
        ec_fail(err, r, "gem: %s: %s", url, q.err.msg);
    else if (q.status != 200)
        r = ec_fail(err, EC_ENETWORK, "gem: %s answered HTTP %ld", url, q.status);
    EC_AUTOFREE char *key = gem_file_key(path);
    if (r == EC_OK)
        r = ec_mirror_digest_put(ctx->store, key, &q.blob, err);
    if (r == EC_OK)
        *out = q.blob;
    ec_http_req_reset(&q);
    return r;
}

static int serve_file(ec_fetch_ctx *ctx, const char *path, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *key = gem_file_key(path);
    ec_digest d;
    int r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
    if (r < 0 && !ctx->offline) {
        while (r < 0 && !ec_flight_enter(key))
            r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
        if (r < 0) {
            r = ec_mirror_digest_get(ctx->store, key, &d, NULL);
            if (r < 0) {
                resp->from_upstream = true;
                r = pull(ctx, path, &d, err);
            }
            ec_flight_leave(key);
        }
    }
    if (r == EC_ENOTFOUND || (r < 0 && ctx->offline))
        return ec_err_clear(err), not_found(resp, "not found");
    if (r < 0)
        return r;
    struct stat sb;
    if ((r = ec_blob_open(&resp->fd, ctx->store, &d, err)) < 0)
        return r;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "gem: cannot stat the blob of %s", path);
    char hex[EC_DIGEST_HEX_LEN];
    resp->status = 200;
    resp->length = (uint64_t)sb.st_size;
    snprintf(resp->content_type, sizeof resp->content_type, "application/octet-stream");
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, &d));
    return EC_OK;
}

int gem_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *path = ec_mirror_path_decode(req->path);
    while (path[0] == '/')
        memmove(path, path + 1, strlen(path));
    if (!*path) {
        resp->status = 200;
        snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
        return EC_OK;
    }
    if (strcmp(path, "versions") == 0 || strcmp(path, "names") == 0 ||
        strcmp(path, "specs.4.8.gz") == 0 || strcmp(path, "latest_specs.4.8.gz") == 0 ||
        strcmp(path, "prerelease_specs.4.8.gz") == 0 ||
        (strncmp(path, "info/", 5) == 0 && word_ok(path + 5)))
        return serve_doc(ctx, req, path, resp, err);
    size_t n = strlen(path);
    if (strncmp(path, "gems/", 5) == 0 && word_ok(path + 5) && n > 9 &&
        strcmp(path + n - 4, ".gem") == 0)
        return serve_file(ctx, path, resp, err);
    if (strncmp(path, "quick/Marshal.4.8/", 18) == 0 && word_ok(path + 18) && n > 30 &&
        strcmp(path + n - 11, ".gemspec.rz") == 0)
        return serve_file(ctx, path, resp, err);
    return not_found(resp, "not an endpoint of this mirror");
}
