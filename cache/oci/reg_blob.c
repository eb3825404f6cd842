/* SPDX-License-Identifier: MIT */
/* Blobs on a registry: HEAD first, cross-repository mount where offered, chunked uploads
 * that resume from what the registry says it has, and verified downloads into the store. */
#include "cache/oci/oci_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define UPLOAD_RESUMES 3

static char *scope_of(const char *repo, const char *what)
{
    return ec_xasprintf("repository:%s:%s", repo, what);
}

int ec_reg_blob_has(ec_reg *g, const char *repo, const char *digest, ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("/v2/%s/blobs/%s", repo, digest);
    EC_AUTOFREE char *scope = scope_of(repo, "pull");
    EC_AUTOFREE char *what = ec_xasprintf("blob %s of %s", digest, repo);
    ec_reg_req rq = {.method = "HEAD", .url = url, .scope = scope, .what = what};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    if (r == EC_OK && rs.status == 404)
        r = EC_ENOTFOUND;
    else if (r == EC_OK && rs.status != 200)
        r = ec_reg_fail(err, &rq, &rs);
    ec_reg_resp_fini(&rs);
    return r;
}

/* "0-N" from a Range header: the next byte to send is N+1. */
static uint64_t range_next(const char *range)
{
    const char *dash = range ? strchr(range, '-') : NULL;
    return dash ? strtoull(dash + 1, NULL, 10) + 1 : 0;
}

/* Asks the upload session where it is (after a failed chunk). */
static int upload_status(ec_reg *g, const char *loc, const char *scope, uint64_t *next,
                         ec_err *err)
{
    ec_reg_req rq = {.method = "GET", .url = loc, .scope = scope, .what = "upload status"};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    if (r == EC_OK && rs.status != 204)
        r = ec_reg_fail(err, &rq, &rs);
    if (r == EC_OK)
        *next = rs.range ? range_next(rs.range) : 0;
    ec_reg_resp_fini(&rs);
    return r;
}

/* Starts an upload session (or mounts): *@loc the session's URL, or NULL when mounted. */
static int upload_start(char **loc, ec_reg *g, const char *repo, const char *digest,
                        const char *from, const char *scope, const char *what, ec_err *err)
{
    EC_AUTOFREE char *url = from ? ec_xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", repo,
                                                digest, from)
                                 : ec_xasprintf("/v2/%s/blobs/uploads/", repo);
    EC_AUTOFREE char *sc = from ? ec_xasprintf("%s repository:%s:pull", scope, from) : NULL;
    ec_reg_req rq = {.method = "POST", .url = url, .scope = sc ? sc : scope, .what = what};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    *loc = NULL;
    if (r == EC_OK && rs.status == 201 && from)
        g->stats.blobs_mounted++;
    else if (r == EC_OK && rs.status == 202 && rs.location)
        *loc = ec_reg_url(g, rs.location);
    else if (r == EC_OK)
        r = ec_reg_fail(err, &rq, &rs);
    ec_reg_resp_fini(&rs);
    return r;
}

static int upload_finish(ec_reg *g, const char *loc, const char *digest, const char *scope,
                         const char *what, const void *p, size_t n, ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?',
                                         digest);
    ec_reg_req rq = {.method = "PUT", .url = url, .content_type = "application/octet-stream",
                     .body = p, .body_n = n, .scope = scope, .what = what};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    if (r == EC_OK && rs.status != 201)
        r = ec_reg_fail(err, &rq, &rs);
    ec_reg_resp_fini(&rs);
    return r;
}

/* Chunks of g->chunk bytes; a chunk that fails is asked about and the rest sent from where
 * the registry is, at most UPLOAD_RESUMES times. */
static int upload_chunks(char **loc, ec_reg *g, int fd, uint64_t size, const char *scope,
                         const char *what, ec_err *err)
{
    uint64_t off = 0;
    int resumes = 0;
    while (off < size) {
        uint64_t len = size - off < g->chunk ? size - off : g->chunk;
        char cr[64];
        snprintf(cr, sizeof cr, "%llu-%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1));
        ec_reg_req rq = {.method = "PATCH", .url = *loc, .content_type =
                         "application/octet-stream", .from_fd = true, .body_fd = fd,
                         .body_off = off, .body_len = len, .content_range = cr, .scope = scope,
                         .what = what};
        ec_reg_resp rs = {0};
        ec_err e = {0};
        int r = ec_reg_do(g, &rq, &rs, &e);
        if (r == EC_OK && rs.status == 202) {
            if (rs.location) {
                free(*loc);
                *loc = ec_reg_url(g, rs.location);
            }
            off = rs.range ? range_next(rs.range) : off + len;
            g->stats.bytes_sent += len;
            ec_reg_resp_fini(&rs);
            continue;
        }
        if (r == EC_OK)
            ec_reg_fail(&e, &rq, &rs);
        ec_reg_resp_fini(&rs);
        if (++resumes > UPLOAD_RESUMES || e.code == EC_EINTEGRITY) {
            if (err)
                *err = e;
            return e.code ? e.code : EC_ENETWORK;
        }
        ec_warn("%s: chunk %s failed (%s); resuming from where the registry is", what, cr,
                e.msg);
        if ((r = upload_status(g, *loc, scope, &off, err)) < 0)
            return r;
    }
    return EC_OK;
}

int ec_reg_blob_push(ec_reg *g, ec_store *st, const char *repo, const ec_digest *d,
                     const char *from, ec_err *err)
{
    char ds[EC_DIGEST_STR_LEN];
    ec_digest_format(ds, d);
    int r = ec_reg_blob_has(g, repo, ds, err);
    if (r == EC_OK) {
        g->stats.blobs_present++;
        return EC_OK;
    }
    if (r != EC_ENOTFOUND)
        return r;
    EC_AUTOFREE char *scope = scope_of(repo, "pull,push");
    EC_AUTOFREE char *what = ec_xasprintf("uploading blob %s to %s", ds, repo);
    EC_AUTOFREE char *loc = NULL;
    if (from && strcmp(from, repo) == 0)
        from = NULL;
    if ((r = upload_start(&loc, g, repo, ds, from, scope, what, err)) < 0 || !loc)
        return r;
    EC_AUTOFD int fd = -1;
    struct stat sb;
    if ((r = ec_blob_open(&fd, st, d, err)) < 0)
        return r;
    if (fstat(fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat blob %s", ds);
    if ((r = upload_chunks(&loc, g, fd, (uint64_t)sb.st_size, scope, what, err)) < 0 ||
        (r = upload_finish(g, loc, ds, scope, what, NULL, 0, err)) < 0)
        return r;
    g->stats.blobs_sent++;
    return EC_OK;
}

int ec_reg_blob_push_buf(ec_reg *g, const char *repo, const void *p, size_t n, ec_digest *out,
                         ec_err *err)
{
    char ds[EC_DIGEST_STR_LEN];
    ec_sha256_buf(out, p, n);
    ec_digest_format(ds, out);
    int r = ec_reg_blob_has(g, repo, ds, err);
    if (r == EC_OK) {
        g->stats.blobs_present++;
        return EC_OK;
    }
    if (r != EC_ENOTFOUND)
        return r;
    EC_AUTOFREE char *scope = scope_of(repo, "pull,push");
    EC_AUTOFREE char *what = ec_xasprintf("uploading blob %s to %s", ds, repo);
    EC_AUTOFREE char *loc = NULL;
    if ((r = upload_start(&loc, g, repo, ds, NULL, scope, what, err)) < 0)
        return r;
    if ((r = upload_finish(g, loc, ds, scope, what, p, n, err)) < 0)
        return r;
    g->stats.blobs_sent++;
    g->stats.bytes_sent += n;
    return EC_OK;
}

static int blob_get(ec_reg *g, const char *repo, const char *ds, ec_blob_writer *w,
                    ec_reg_resp *rs, ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("/v2/%s/blobs/%s", repo, ds);
    EC_AUTOFREE char *scope = scope_of(repo, "pull");
    EC_AUTOFREE char *what = ec_xasprintf("downloading blob %s of %s", ds, repo);
    ec_reg_req rq = {.method = "GET", .url = url, .sink = w, .scope = scope, .what = what};
    int r = ec_reg_do(g, &rq, rs, err);
    if (r == EC_OK && rs->status != 200)
        r = ec_reg_fail(err, &rq, rs);
    return r;
}

int ec_reg_blob_pull(ec_reg *g, ec_store *st, const char *repo, const ec_digest *d,
                     ec_err *err)
{
    if (ec_store_has_blob(st, d))
        return EC_OK;
    char ds[EC_DIGEST_STR_LEN];
    ec_digest_format(ds, d);
    EC_AUTO(ec_blob_writer) w = NULL;
    int r = ec_blob_writer_new(&w, st, err);
    if (r < 0)
        return r;
    ec_reg_resp rs = {0};
    r = blob_get(g, repo, ds, w, &rs, err);
    ec_reg_resp_fini(&rs);
    if (r < 0)
        return r;
    uint64_t n = ec_blob_writer_size(w);
    /* The digest is checked as the blob is committed: a wrong body leaves nothing. */
    if ((r = ec_blob_writer_commit(ec_steal(&w), d, NULL, err)) < 0) {
        ec_err_prefix(err, "blob %s from %s", ds, repo);
        return r;
    }
    g->stats.blobs_got++;
    g->stats.bytes_got += n;
    return EC_OK;
}

int ec_reg_blob_get(char **out, size_t *n_out, ec_reg *g, const char *repo, const char *digest,
                    ec_err *err)
{
    ec_digest want, got;
    int r = ec_digest_parse(&want, digest, err);
    if (r < 0)
        return r;
    ec_reg_resp rs = {0};
    r = blob_get(g, repo, digest, NULL, &rs, err);
    if (r == EC_OK) {
        ec_sha256_buf(&got, rs.body.p ? rs.body.p : "", rs.body.n);
        if (!ec_digest_eq(&want, &got))
            r = ec_fail(err, EC_EINTEGRITY, "blob %s of %s: the registry's bytes do not match "
                        "the digest", digest, repo);
    }
    if (r == EC_OK) {
        *n_out = rs.body.n;
        *out = rs.body.p ? ec_buf_steal(&rs.body) : ec_xstrdup("");
    }
    ec_reg_resp_fini(&rs);
    return r;
}
