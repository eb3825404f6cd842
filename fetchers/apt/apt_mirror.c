/* SPDX-License-Identifier: MIT */
/* serve: a Debian archive under /mirror/apt/<route>/ (route = the last part of a source's
 * URI). Release files go out byte-for-byte as upstream signed them, so apt checks Debian's
 * own signature; index files are served as the verified Release names them; by-hash objects
 * and .debs are immutable, pulled through once on a miss and checked against the verified
 * chain (Release → Packages → .deb) before they are stored. */
#include "fetchers/apt/apt_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

/* --- pool records --- */

char *ec_apt_pool_key(const char *route, const char *filename)
{
    return ec_xasprintf("apt/%s/%s", route, filename);
}

int ec_apt_pool_lookup(ec_digest *out, ec_store *st, const char *route, const char *filename,
                       ec_err *err)
{
    EC_AUTOFREE char *key = ec_apt_pool_key(route, filename);
    return ec_mirror_digest_get(st, key, out, err);
}

int ec_apt_pool_record(ec_store *st, const char *route, const char *filename,
                       const ec_digest *d, ec_err *err)
{
    EC_AUTOFREE char *key = ec_apt_pool_key(route, filename);
    return ec_mirror_digest_put(st, key, d, err);
}

/* --- request paths --- */

/* No empty, "." or ".." segments, no control characters or backslashes: a path that could
 * climb out of a key or an upstream URL is not one we serve. */
static bool path_ok(const char *p)
{
    if (!*p)
        return false;
    for (const char *seg = p;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!seg[n])
            break;
        seg += n + 1;
    }
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
    return true;
}

static int not_found(ec_mirror_resp *resp, const char *what, const char *path)
{
    resp->status = 404;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    return ec_buf_addf(&resp->body, NULL, "%s: %s\n", what, path);
}

static int serve_blob(ec_fetch_ctx *ctx, ec_mirror_resp *resp, const ec_digest *d,
                      const char *ctype, ec_err *err)
{
    struct stat sb;
    int rc = ec_blob_open(&resp->fd, ctx->store, d, err);
    if (rc < 0)
        return rc;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat a mirror blob");
    char hex[EC_DIGEST_HEX_LEN];
    resp->status = 200;
    resp->offset = 0;
    resp->length = (uint64_t)sb.st_size;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", ctype);
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, d));
    return EC_OK;
}

/* --- one download per file however many clients miss it at once --- */


/* Fetches @url into the store, checked against @want. */
static int pull(ec_fetch_ctx *ctx, const char *url, const ec_digest *want, const char *what,
                ec_err *err)
{
    ec_http_req req = {.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                       .want_sha256 = want, .what = what};
    int rc = ec_http_get(ctx->http, &req);
    if (rc == EC_OK && req.status != 200)
        rc = ec_fail(&req.err, EC_ENETWORK, "%s: HTTP %ld", url, req.status);
    if (rc == EC_EINTEGRITY) {
        char hex[EC_DIGEST_HEX_LEN];
        rc = ec_fail(err, EC_EINTEGRITY, "%s: sha256 mismatch (expected %s, from %s; %s)", url,
                     ec_digest_hex(hex, want), what, req.err.msg);
    } else if (rc < 0 && err) {
        *err = req.err;
    }
    ec_http_req_reset(&req);
    return rc;
}

/* --- dists/ --- */

static int serve_by_hash(ec_fetch_ctx *ctx, const ec_apt_source *src, const char *path,
                         const char *hex, ec_mirror_resp *resp, ec_err *err)
{
    ec_digest d;
    if (ec_digest_parse(&d, hex, NULL) < 0)
        return not_found(resp, "not a sha256", path);
    if (!ec_store_has_blob(ctx->store, &d) && !ctx->offline) {
        char key[EC_DIGEST_STR_LEN];
        ec_digest_format(key, &d);
        bool owner = false;
        while (!ec_store_has_blob(ctx->store, &d) && !(owner = ec_flight_enter(key)))
            ;
        int rc = EC_OK;
        if (owner) {
            if (!ec_store_has_blob(ctx->store, &d)) {
                EC_AUTOFREE char *url = ec_xasprintf("%s/%s", src->uri, path);
                resp->from_upstream = true;
                rc = pull(ctx, url, &d, "its by-hash name", err);
            }
            ec_flight_leave(key);
        }
        if (rc == EC_ENOTFOUND)
            return ec_err_clear(err), not_found(resp, "not upstream", path);
        if (rc < 0)
            return rc;
    }
    if (!ec_store_has_blob(ctx->store, &d))
        return not_found(resp, "not cached", path);
    return serve_blob(ctx, resp, &d, "application/octet-stream", err);
}

static int serve_dists(ec_fetch_ctx *ctx, const ec_apt_sources *s, const ec_apt_source *src,
                       const char *path, ec_mirror_resp *resp, ec_err *err)
{
    const char *suite_p = path + strlen("dists/");
    const char *slash = strchr(suite_p, '/');
    if (!slash || !slash[1])
        return not_found(resp, "not a file under dists/", path);
    EC_AUTOFREE char *suite = ec_xstrndup(suite_p, (size_t)(slash - suite_p));
    const char *file = slash + 1;
    const char *bh = strstr(file, "by-hash/SHA256/");
    if (bh && (bh == file || bh[-1] == '/') && !strchr(bh + 15, '/'))
        return serve_by_hash(ctx, src, path, bh + 15, resp, err);

    if (strcmp(file, "Release") == 0 || strcmp(file, "Release.gpg") == 0) {
        EC_AUTOFREE char *url = ec_xasprintf("%s/%s", src->uri, path);
        ec_digest d;
        int rc = ec_apt_doc_get(&d, &resp->from_upstream, ctx, url, err);
        if (rc == EC_ENOTFOUND)
            return ec_err_clear(err), not_found(resp, "not upstream", path);
        return rc < 0 ? rc : serve_blob(ctx, resp, &d, "text/plain", err);
    }

    ec_apt_release rel;
    int rc = ec_apt_release_get(&rel, ctx, s, src, suite, err);
    resp->from_upstream = rel.from_upstream;
    if (rc == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "no such suite upstream", path);
    if (rc < 0)
        return rc;
    if (strcmp(file, "InRelease") == 0) {
        rc = serve_blob(ctx, resp, &rel.inrelease, "text/plain", err);
        ec_apt_release_fini(&rel);
        return rc;
    }
    /* Files by name are served as the Release we serve names them, so a client that just
     * read our InRelease always gets matching indexes. */
    const ec_apt_relfile *f = ec_apt_release_find(&rel, file);
    if (!f) {
        ec_apt_release_fini(&rel);
        return not_found(resp, "not listed in the Release", path);
    }
    bool up = false, owner = false;
    char key[EC_DIGEST_STR_LEN];
    ec_digest_format(key, &f->sha256);
    while (!ctx->offline && !ec_store_has_blob(ctx->store, &f->sha256) &&
           !(owner = ec_flight_enter(key)))
        ;
    if (owner) {
        rc = ec_apt_relfile_fetch(ctx, src, suite, &rel, f, &up, err);
        ec_flight_leave(key);
    }
    resp->from_upstream |= up;
    ec_digest d = f->sha256;
    ec_apt_release_fini(&rel);
    if (rc == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "not upstream", path);
    if (rc < 0)
        return rc;
    if (!ec_store_has_blob(ctx->store, &d))
        return not_found(resp, "not cached", path);
    return serve_blob(ctx, resp, &d, "application/octet-stream", err);
}

/* --- pool/ --- */

/* The .deb's SHA256 from the verified Packages indexes of every suite of @route. */
static int pool_find(ec_digest *out, ec_fetch_ctx *ctx, const ec_apt_sources *s,
                     const char *route, const char *filename, ec_err *err)
{
    ec_apt_sources sub = {.arch = s->arch, .keyring = s->keyring};
    sub.v = ec_xcalloc(s->n, sizeof *sub.v);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, route) == 0)
            sub.v[sub.n++] = s->v[i]; /* borrowed: never ec_apt_sources_fini(&sub) */
    ec_apt_index *idx = NULL;
    size_t n = 0;
    int rc = ec_apt_indexes_get(&idx, &n, ctx, &sub, NULL, err);
    if (rc == EC_OK) {
        rc = EC_ENOTFOUND;
        for (size_t i = 0; rc == EC_ENOTFOUND && i < n; i++)
            rc = ec_apt_packages_find(out, NULL, idx[i].path, filename, NULL);
        if (rc == EC_ENOTFOUND)
            ec_fail(err, EC_ENOTFOUND, "%s is in no Packages index of %s", filename, route);
        else if (rc < 0)
            rc = ec_fail(err, rc, "%s: its Packages stanza is damaged", filename);
    }
    ec_apt_indexes_free(idx, n);
    free(sub.v);
    return rc;
}

static int serve_pool(ec_fetch_ctx *ctx, const ec_apt_sources *s, const ec_apt_source *src,
                      const char *path, ec_mirror_resp *resp, ec_err *err)
{
    ec_digest d;
    int rc = ec_apt_pool_lookup(&d, ctx->store, src->name, path, NULL);
    if (rc < 0 && !ctx->offline) {
        EC_AUTOFREE char *key = ec_apt_pool_key(src->name, path);
        while (rc < 0 && !ec_flight_enter(key))
            rc = ec_apt_pool_lookup(&d, ctx->store, src->name, path, NULL);
        if (rc < 0) {
            rc = ec_apt_pool_lookup(&d, ctx->store, src->name, path, NULL);
            if (rc < 0) {
                resp->from_upstream = true;
                rc = pool_find(&d, ctx, s, src->name, path, err);
                EC_AUTOFREE char *url = ec_xasprintf("%s/%s", src->uri, path);
                if (rc == EC_OK)
                    rc = pull(ctx, url, &d, "the verified Packages index", err);
                if (rc == EC_OK)
                    rc = ec_apt_pool_record(ctx->store, src->name, path, &d, err);
            }
            ec_flight_leave(key);
        }
    }
    if (rc == EC_ENOTFOUND || (rc < 0 && ctx->offline))
        return ec_err_clear(err), not_found(resp, "not in the archive", path);
    if (rc < 0)
        return rc;
    return serve_blob(ctx, resp, &d, "application/vnd.debian.binary-package", err);
}

int ec_apt_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err)
{
    EC_AUTOFREE char *path = ec_mirror_path_decode(req->path);
    char *p = path + strspn(path, "/");
    if (!path_ok(p))
        return not_found(resp, "not a path this mirror serves", p);
    char *slash = strchr(p, '/');
    if (!slash)
        return not_found(resp, "not a path this mirror serves", p);
    *slash = '\0';
    const char *route = p, *rest = slash + 1;

    ec_apt_sources s;
    int rc = ec_apt_sources_load(&s, ctx, err);
    if (rc == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "no apt sources are configured", route);
    if (rc < 0)
        return rc;
    const ec_apt_source *src = NULL;
    for (size_t i = 0; i < s.n && !src; i++)
        if (strcmp(s.v[i].name, route) == 0)
            src = &s.v[i];
    if (!src)
        rc = not_found(resp, "no archive with this route name", route);
    else if (strncmp(rest, "dists/", 6) == 0)
        rc = serve_dists(ctx, &s, src, rest, resp, err);
    else if (strncmp(rest, "pool/", 5) == 0)
        rc = serve_pool(ctx, &s, src, rest, resp, err);
    else
        rc = not_found(resp, "not a path this mirror serves", rest);
    ec_apt_sources_fini(&s);
    return rc;
}
