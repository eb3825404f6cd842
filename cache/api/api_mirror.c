/* SPDX-License-Identifier: MIT */
/* The mirror's dispatch (/mirror/<manager>/… to the manager's fetcher) and the writing of
 * file bodies: sendfile from a store blob, HEAD, ETag, one byte range (206/416). */
#include "cache/cache_int.h"
#include "cache/api/http_range.h"
#include "cache/api/server_int.h"
#include "fetchers/fetcher.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* --- file bodies --- */

static bool etag_matches(const ec_req *rq, const char *etag)
{
    const char *inm = ec_req_header(rq, "if-none-match");
    return etag && *etag && inm && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

/* Answers with the file on @fd (consumed) at [@off, @off+@size). */
static void reply_fd(ec_req *rq, int fd, uint64_t off, uint64_t size, const char *ctype,
                     const char *etag)
{
    uint64_t start = 0, len = size;
    int status = 200, rr = -1;
    const char *range = ec_req_header(rq, "range");
    char cr[96] = "";
    if (etag_matches(rq, etag)) {
        close(fd);
        ec_reply_text(rq, 304, ctype, "", 0);
    } else if (range && (rr = ec_http_range_parse(range, size, &start, &len)) == 0) {
        close(fd);
        ec_reply_fail(rq, 416, "range %s is outside the %" PRIu64 " bytes", range, size);
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        ec_resp_header(rq->resp, "Content-Range", cr);
        return;
    } else {
        if (rr == 1) {
            status = 206;
            snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                     start + len - 1, size);
        }
        ec_resp_free(rq->resp);
        /* Sent with sendfile; @fd is closed with the answer. */
        rq->resp = ec_resp_file(fd, off + start, len);
        rq->status = status;
        rq->resp_bytes = strcmp(rq->method, "HEAD") == 0 ? 0 : len;
        ec_resp_header(rq->resp, "Content-Type", ctype);
        if (cr[0])
            ec_resp_header(rq->resp, "Content-Range", cr);
    }
    ec_resp_header(rq->resp, "Accept-Ranges", "bytes");
    if (etag && *etag)
        ec_resp_header(rq->resp, "ETag", etag);
}

static void reply_mirror(ec_req *rq, ec_mirror_resp *m)
{
    const char *ctype = m->content_type[0] ? m->content_type : "application/octet-stream";
    rq->upstream = m->from_upstream;
    if (m->fd >= 0 && m->status == 200)
        return reply_fd(rq, ec_steal_fd(&m->fd), m->offset, m->length, ctype, m->etag);
    ec_reply_text(rq, m->status ? m->status : 500, ctype, ec_buf_str(&m->body), m->body.n);
    if (m->etag[0])
        ec_resp_header(rq->resp, "ETag", m->etag);
}

/* --- /mirror/<manager>/… --- */

static const char *mirror_header(const ec_mirror_req *r, const char *name)
{
    return ec_req_header(r->server_ud, name);
}

/* Answers from the fetcher; with @cache_only, EC_EBUSY (nothing sent) when the answer
 * needs upstream or a download in flight. */
static int mirror_serve(ec_req *rq, bool cache_only)
{
    const ec_manager *m = ec_manager_find(rq->manager);
    const char *rest = rq->raw_uri + strlen("/mirror/") + strlen(rq->manager);
    rest += *rest == '/';
    const char *host = ec_req_header(rq, "host");
    EC_AUTOFREE char *base = host ? ec_xasprintf("http://%s/mirror/%s", host, rq->manager)
                                   : ec_xasprintf("http://127.0.0.1:%u/mirror/%s",
                                                  rq->srv->port, rq->manager);
    ec_fetch_ctx ctx;
    ec_err err = {0};
    if (ec_cache__fetch_ctx(&ctx, rq->srv->c, m, &err) < 0) {
        ec_reply_fail(rq, 502, "mirror %s: %s", rq->manager, err.msg);
        return EC_OK;
    }
    ctx.cache_only = cache_only;
    ec_mirror_req mreq = {.method = rq->method, .path = rest, .base_url = base,
                          .header = mirror_header, .server_ud = rq};
    ec_mirror_resp resp;
    ec_mirror_resp_init(&resp);
    int r = m->ops->serve(&ctx, &mreq, &resp, &err);
    if (r == EC_EBUSY && cache_only) {
        ec_mirror_resp_fini(&resp);
        return EC_EBUSY;
    }
    if (r < 0)
        ec_reply_fail(rq, 502, "%s", err.msg);
    else
        reply_mirror(rq, &resp);
    ec_mirror_resp_fini(&resp);
    return EC_OK;
}

/* --- pull-through: who may add to the store, and how much --- */

static const char *pull_ws(const ec_req *rq)
{
    return rq->ws ? rq->ws : EC_DEFAULT_WORKSPACE;
}

/* Before a request that may fetch from upstream: a key when the policy needs one, room on
 * the store's disk (507), and the workspace's pull-through budget left (429). Replies and
 * returns false when one fails. */
static bool pull_allowed(ec_req *rq)
{
    const ec_server_opts *o = &rq->srv->o;
    bool need_key = o->pull_auth == EC_PULL_AUTH_ON ||
                    (o->pull_auth == EC_PULL_AUTH_AUTO && !rq->srv->loopback);
    if (!rq->ws && (need_key || ec_req_has_key(rq))) {
        if (need_key && !ec_req_has_key(rq)) {
            ec_reply_fail(rq, 401, "mirror %s: fetching from upstream into the cache needs an "
                          "API key on this server (it listens beyond loopback): send "
                          "x-api-key, authorization: Bearer, or the key as the password of "
                          "the source URL", rq->manager);
            return false;
        }
        if (!ec_req_authenticate(rq))
            return false;
    }
    struct statvfs vfs;
    if (o->min_free_bytes != UINT64_MAX &&
        statvfs(ec_store_home(ec_cache_store(rq->srv->c)), &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < o->min_free_bytes) {
        ec_reply_fail(rq, 507, "mirror %s: the store's disk has %llu bytes free, under the "
                      "%llu kept free; nothing more is fetched until space is freed (envcache "
                      "gc on the server)", rq->manager,
                      (unsigned long long)vfs.f_bavail * vfs.f_frsize,
                      (unsigned long long)o->min_free_bytes);
        return false;
    }
    uint64_t used = ec_api__pull_used(rq->srv->c, pull_ws(rq));
    if (o->pull_budget != UINT64_MAX && used >= o->pull_budget) {
        ec_reply_fail(rq, 429, "mirror %s: workspace %s has fetched %llu bytes from upstream "
                      "into the cache, its budget is %llu (serve --pull-budget); cached "
                      "files are still served", rq->manager, pull_ws(rq),
                      (unsigned long long)used, (unsigned long long)o->pull_budget);
        ec_resp_header(rq->resp, "Retry-After", "3600");
        return false;
    }
    return true;
}

static void mirror_work(ec_req *rq)
{
    mirror_serve(rq, false);
    if (rq->upstream && rq->status < 400 && rq->resp_bytes)
        ec_api__pull_add(rq->srv->c, pull_ws(rq), rq->resp_bytes, NULL);
}

void ec_api_mirror(ec_req *rq, const char *manager, const char *rest)
{
    (void)rest; /* the deferred work finds it again in the raw URI */
    const ec_manager *m = ec_manager_find(manager);
    const ec_fetcher *f = m ? m->ops : NULL;
    if (!f || !f->serve)
        return ec_reply_fail(rq, 404, "no mirror for manager %s", manager);
    snprintf(rq->manager, sizeof rq->manager, "%s", manager);
    /* A hit is a store lookup: answered here. A miss pulls from upstream: never on a worker
     * thread. */
    if (f->serve_cache_only && mirror_serve(rq, true) == EC_OK)
        return;
    /* A manager that cannot answer hits alone counts every request as a possible pull. */
    if (!pull_allowed(rq))
        return;
    ec_req_defer(rq, mirror_work);
}

/* --- /cache/blobs/sha256:<hex> --- */

void ec_api_blob(ec_req *rq, const char *text)
{
    ec_digest d;
    ec_err err = {0};
    int fd = -1;
    struct stat stt;
    if (ec_digest_parse(&d, text, &err) < 0)
        return ec_reply_fail(rq, 404, "blob %s not found: %s", text, err.msg);
    if (ec_blob_open(&fd, ec_cache_store(rq->srv->c), &d, &err) < 0)
        return ec_reply_err(rq, &err);
    if (fstat(fd, &stt) < 0) {
        int e = errno;
        close(fd);
        return ec_reply_fail(rq, 500, "blob %s: %s", text, strerror(e));
    }
    char etag[EC_DIGEST_STR_LEN + 2], ds[EC_DIGEST_STR_LEN];
    snprintf(etag, sizeof etag, "\"%s\"", ec_digest_format(ds, &d));
    snprintf(rq->manager, sizeof rq->manager, "blobs");
    reply_fd(rq, fd, 0, (uint64_t)stt.st_size, "application/octet-stream", etag);
}
