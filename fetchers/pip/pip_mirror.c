/* SPDX-License-Identifier: MIT */
/* serve: a PEP 503/691 simple index under /mirror/pip/. A project page comes from the
 * store's copy of upstream's JSON page (pip_index.c), with every file URL pointed at this
 * mirror, in the form the client's Accept asks for (JSON or HTML), keeping hashes,
 * requires-python, yanked flags and PEP 658 metadata. Files and metadata files come from
 * the store, pulled through and verified on a miss, once per file.
 *
 * Routes: simple/ (an empty root), simple/<project>/, files/<project>/<filename>[.metadata],
 * and simple-html/<project>/: the HTML form whatever the Accept, for the resolver's pip
 * when it is older than 23.2 (those read a metadata file with no hash from HTML only:
 * "dist-info-metadata": true in JSON crashes them, "core-metadata" they do not know). */
#include "fetchers/pip/pip_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

#define PIP_CTYPE_HTML "text/html; charset=utf-8"

static int not_found(ec_mirror_resp *resp, const char *what)
{
    resp->status = 404;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain");
    return ec_buf_addf(&resp->body, NULL, "%s\n", what);
}

static const char *req_header(const ec_mirror_req *req, const char *name)
{
    return req->header ? req->header(req, name) : NULL;
}

/* PEP 691: JSON when the client names the JSON form (v1 or latest), HTML otherwise. A
 * client that ranks HTML above JSON with q-values gets JSON too: both carry the same. */
static bool wants_json(const ec_mirror_req *req)
{
    const char *a = req_header(req, "Accept");
    return a && (strstr(a, PIP_CTYPE_JSON) || strstr(a, "application/vnd.pypi.simple.latest+json"));
}

static char *mirror_file_url(const ec_mirror_req *req, const char *name, const char *filename)
{
    return ec_xasprintf("%s/files/%s/%s", req->base_url, name, filename);
}

/* --- HTML (PEP 503 with PEP 592, 658/714 attributes) --- */

static int html_escape(ec_buf *b, const char *s)
{
    int r = EC_OK;
    for (; r == EC_OK && *s; s++) {
        switch (*s) {
        case '<': r = ec_buf_adds(b, "&lt;", NULL); break;
        case '>': r = ec_buf_adds(b, "&gt;", NULL); break;
        case '&': r = ec_buf_adds(b, "&amp;", NULL); break;
        case '"': r = ec_buf_adds(b, "&quot;", NULL); break;
        default: r = ec_buf_add(b, s, 1, NULL);
        }
    }
    return r;
}

static int html_attr(ec_buf *b, const char *name, const char *value)
{
    int r = ec_buf_addf(b, NULL, " %s=\"", name);
    if (r == EC_OK)
        r = html_escape(b, value);
    return r == EC_OK ? ec_buf_adds(b, "\"", NULL) : r;
}

static int html_file(ec_buf *b, const ec_mirror_req *req, const char *name, json_t *f)
{
    const char *fn = json_string_value(json_object_get(f, "filename"));
    const char *sha = json_string_value(json_object_get(json_object_get(f, "hashes"),
                                                        "sha256"));
    const char *rp = json_string_value(json_object_get(f, "requires-python"));
    json_t *yanked = json_object_get(f, "yanked");
    json_t *meta = json_object_get(f, "core-metadata");
    if (!json_is_object(meta) && !json_is_true(meta))
        meta = json_object_get(f, "dist-info-metadata");
    if (!fn)
        return EC_OK;
    EC_AUTOFREE char *url = mirror_file_url(req, name, fn);
    EC_AUTOFREE char *href = sha ? ec_xasprintf("%s#sha256=%s", url, sha) : ec_xstrdup(url);
    int r = ec_buf_adds(b, "    <a", NULL);
    if (r == EC_OK)
        r = html_attr(b, "href", href);
    if (r == EC_OK && rp)
        r = html_attr(b, "data-requires-python", rp);
    if (r == EC_OK && (json_is_string(yanked) || json_is_true(yanked)))
        r = html_attr(b, "data-yanked", json_is_string(yanked) ? json_string_value(yanked) : "");
    const char *msha = json_string_value(json_object_get(meta, "sha256"));
    EC_AUTOFREE char *mval = msha ? ec_xasprintf("sha256=%s", msha)
                                  : json_is_true(meta) ? ec_xstrdup("true") : NULL;
    if (r == EC_OK && mval)
        r = html_attr(b, "data-core-metadata", mval);
    if (r == EC_OK && mval)
        r = html_attr(b, "data-dist-info-metadata", mval);
    if (r == EC_OK)
        r = ec_buf_adds(b, ">", NULL);
    if (r == EC_OK)
        r = html_escape(b, fn);
    return r == EC_OK ? ec_buf_adds(b, "</a><br/>\n", NULL) : r;
}

static int render_html(ec_buf *b, const ec_mirror_req *req, const char *name, json_t *page)
{
    int r = ec_buf_addf(b, NULL, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta "
                        "name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links "
                        "for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n",
                        name, name);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        if (r == EC_OK)
            r = html_file(b, req, name, f);
    }
    return r == EC_OK ? ec_buf_adds(b, "  </body>\n</html>\n", NULL) : r;
}

/* --- JSON (PEP 691): upstream's page with the file URLs replaced --- */

/* PEP 714: the metadata hash goes out as "core-metadata" only. pip 22.3 to 23.0 (Debian
 * 12's) read the older "dist-info-metadata" as a string and crash on its hash object. */
static void metadata_key(json_t *f)
{
    json_t *old = json_object_get(f, "dist-info-metadata");
    if (old && !json_object_get(f, "core-metadata"))
        json_object_set(f, "core-metadata", old);
    json_object_del(f, "dist-info-metadata");
}

static int render_json(ec_buf *b, const ec_mirror_req *req, const char *name, json_t *page)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        if (!fn)
            continue;
        metadata_key(f);
        char *url = mirror_file_url(req, name, fn);
        json_object_set_new(f, "url", json_string(url));
        free(url);
    }
    EC_AUTOFREE char *s = json_dumps(page, JSON_COMPACT);
    return s ? ec_buf_adds(b, s, NULL) : EC_ENOMEM;
}

int pip_page_render(ec_buf *b, const ec_mirror_req *req, const char *name, json_t *page,
                    bool json)
{
    pip_metadata_advertise(page);
    return json ? render_json(b, req, name, page) : render_html(b, req, name, page);
}

static void set_etag(ec_mirror_resp *resp)
{
    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN];
    ec_sha256_buf(&d, resp->body.p ? resp->body.p : "", resp->body.n);
    snprintf(resp->etag, sizeof resp->etag, "\"%.32s\"", ec_digest_hex(hex, &d));
}

static int serve_page(ec_fetch_ctx *ctx, const ec_mirror_req *req, const char *name,
                      bool html_only, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTO(json_t) page = NULL;
    bool asked = false;
    int r = pip_page_get(&page, ctx, name, &asked, err);
    if (r < 0 && r != EC_ENOTFOUND && r != EC_EBUSY && !ctx->offline) {
        /* upstream is down or odd: a stale copy is better than no answer */
        ec_fetch_ctx stale = *ctx;
        stale.offline = true;
        if (pip_page_get(&page, &stale, name, NULL, NULL) == EC_OK)
            r = EC_OK;
    }
    resp->from_upstream = asked;
    if (r == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "no such project");
    if (r < 0)
        return r;
    /* pip reads this page now: the metadata of the wheel it will most likely pick next,
     * ahead (not for answers from the store alone: those may not reach upstream) */
    if (!ctx->cache_only && !ctx->offline)
        pip_ahead_project(ctx, name, NULL);
    bool json = !html_only && wants_json(req);
    r = pip_page_render(&resp->body, req, name, page, json);
    if (r < 0)
        return ec_fail(err, r, "cannot render the page of %s", name);
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s",
             json ? PIP_CTYPE_JSON : PIP_CTYPE_HTML);
    set_etag(resp);
    const char *inm = req_header(req, "If-None-Match");
    if (inm && strcmp(inm, resp->etag) == 0) {
        resp->status = 304;
        ec_buf_reset(&resp->body);
    }
    return EC_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A wheel's metadata file that its page gives no hash for (the mirror advertised it):
 * 1 when it is one, with the answer made; 0 when the page vouches for it (or it is not a
 * wheel's), to be served as any file; an error otherwise. */
static int serve_unhashed_metadata(ec_fetch_ctx *ctx, const char *name, const char *filename,
                                   ec_mirror_resp *resp, ec_err *err)
{
    if (!ends_with(filename, ".whl.metadata"))
        return 0;
    EC_AUTOFREE char *wheel = ec_xstrndup(filename, strlen(filename) - 9);
    EC_AUTO(json_t) page = NULL;
    ec_digest d;
    int r = pip_page_get(&page, ctx, name, NULL, err);
    if (r < 0)
        return r;
    if (!pip_page_file(page, wheel) || pip_page_sha256(&d, page, name, wheel, true, NULL) == EC_OK)
        return 0;
    bool asked = false;
    r = pip_metadata_get(&resp->body, ctx, name, wheel, &asked, err);
    resp->from_upstream = asked;
    if (r < 0)
        return r;
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "application/octet-stream");
    set_etag(resp);
    return 1;
}

static int serve_file(ec_fetch_ctx *ctx, const char *name, const char *filename,
                      ec_mirror_resp *resp, ec_err *err)
{
    ec_digest d;
    bool asked = false;
    int r = serve_unhashed_metadata(ctx, name, filename, resp, err);
    if (r != 0)
        return r < 0 ? r : EC_OK;
    r = pip_file_get(&d, ctx, name, filename, &asked, err);
    resp->from_upstream = asked;
    /* pip is choosing that wheel: fetch it ahead, unless answers come from the store alone */
    if (r == EC_OK && !ctx->cache_only && !ctx->offline && ends_with(filename, ".whl.metadata")) {
        EC_AUTOFREE char *wheel = ec_xstrndup(filename, strlen(filename) - 9);
        pip_prefetch_wheel(ctx, name, wheel);
    }
    if (r == EC_ENOTFOUND)
        return ec_err_clear(err), not_found(resp, "no such file");
    if (r < 0)
        return r;
    struct stat sb;
    if ((r = ec_blob_open(&resp->fd, ctx->store, &d, err)) < 0)
        return r;
    if (fstat(resp->fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat the blob of %s", filename);
    char hex[EC_DIGEST_HEX_LEN];
    resp->status = 200;
    resp->offset = 0;
    resp->length = (uint64_t)sb.st_size;
    snprintf(resp->content_type, sizeof resp->content_type, "application/octet-stream");
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", ec_digest_hex(hex, &d));
    return EC_OK;
}

/* A file name as pip writes them: no separators, nothing hidden. */
static bool filename_ok(const char *f)
{
    return *f && f[0] != '.' && !strchr(f, '/') && !strchr(f, '\\') && strlen(f) < 256;
}

int pip_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err)
{
    EC_AUTOFREE char *path = ec_mirror_path_decode(req->path);
    const char *p = path;
    while (*p == '/')
        p++;
    if (strcmp(p, "simple") == 0 || strcmp(p, "simple/") == 0) {
        resp->status = 200;
        snprintf(resp->content_type, sizeof resp->content_type, "%s", PIP_CTYPE_HTML);
        return ec_buf_adds(&resp->body, "<!DOCTYPE html>\n<html><body></body></html>\n", err);
    }
    size_t pre = strncmp(p, "simple/", 7) == 0 ? 7 : strncmp(p, "simple-html/", 12) == 0 ? 12 : 0;
    if (pre) {
        EC_AUTOFREE char *raw = ec_xstrndup(p + pre, strcspn(p + pre, "/"));
        EC_AUTOFREE char *name = pip_name_normalize(raw);
        const char *rest = p + pre + strlen(raw);
        if (!pip_name_ok(name) || (*rest && strcmp(rest, "/") != 0))
            return not_found(resp, "not a project name");
        return serve_page(ctx, req, name, pre == 12, resp, err);
    }
    if (strncmp(p, "files/", 6) == 0) {
        EC_AUTOFREE char *name = ec_xstrndup(p + 6, strcspn(p + 6, "/"));
        const char *file = p + 6 + strlen(name);
        if (!pip_name_ok(name) || *file != '/' || !filename_ok(file + 1))
            return not_found(resp, "not a file path");
        return serve_file(ctx, name, file + 1, resp, err);
    }
    return not_found(resp, "not an endpoint this mirror serves");
}
