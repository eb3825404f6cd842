/* SPDX-License-Identifier: MIT */
/* One registry's requests over one libcurl easy handle (its connection is reused): bodies
 * from memory or a file range, answers into memory or a store blob, the headers the
 * distribution spec uses, and one authentication challenge answered per request. */
#include "cache/oci/oci_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* Manifests, indexes, configs, locks and error bodies are small; layers go to blobs. */
#define MEM_BODY_MAX (64u << 20)

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int ec_reg_open(ec_reg **out, const ec_oci_ref *ref, ec_err *err)
{
    ec_reg *g = ec_xcalloc(1, sizeof *g);
    g->base = ec_xstrdup(ref->base);
    g->host = ec_xstrdup(ref->host);
    g->curl = curl_easy_init();
    if (!g->curl) {
        ec_reg_close(g);
        return ec_fail(err, EC_ENOMEM, "cannot make a curl handle");
    }
    const char *ca = getenv("ENVCACHE_REGISTRY_CA");
    EC_AUTOFREE char *c1 = ec_xasprintf("/etc/containers/certs.d/%s/ca.crt", g->host);
    EC_AUTOFREE char *c2 = ec_xasprintf("/etc/docker/certs.d/%s/ca.crt", g->host);
    if (ca && *ca)
        g->ca_file = ec_xstrdup(ca);
    else if (file_exists(c1))
        g->ca_file = ec_steal(&c1);
    else if (file_exists(c2))
        g->ca_file = ec_steal(&c2);
    const char *chunk = getenv("ENVCACHE_REGISTRY_CHUNK");
    g->chunk = chunk && *chunk ? strtoull(chunk, NULL, 10) : 0;
    if (g->chunk < 1024)
        g->chunk = 16u << 20;
    ec_reg__creds(g, NULL);
    *out = g;
    return EC_OK;
}

void ec_reg_close(ec_reg *g)
{
    if (!g)
        return;
    if (g->curl)
        curl_easy_cleanup(g->curl);
    free(g->base);
    free(g->host);
    free(g->ca_file);
    free(g->basic);
    free(g->user);
    free(g->pass);
    free(g->bearer);
    free(g->bearer_scope);
    free(g);
}

void ec_reg_resp_fini(ec_reg_resp *rs)
{
    ec_buf_fini(&rs->body);
    free(rs->location);
    free(rs->digest);
    free(rs->range);
    free(rs->challenge);
    free(rs->content_type);
    free(rs->subject);
    memset(rs, 0, sizeof *rs);
}

char *ec_reg_url(const ec_reg *g, const char *loc)
{
    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
        return ec_xstrdup(loc);
    return ec_xasprintf("%s%s%s", g->base, loc[0] == '/' ? "" : "/", loc);
}

/* --- one transfer --- */

struct xfer {
    const ec_reg_req *rq;
    ec_reg_resp *rs;
    uint64_t sent;
    int sink_rc;
    ec_err sink_err;
};

static size_t read_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    const ec_reg_req *rq = x->rq;
    size_t want = size * n;
    if (rq->from_fd) {
        uint64_t left = rq->body_len - x->sent;
        if (want > left)
            want = (size_t)left;
        ssize_t got = pread(rq->body_fd, p, want, (off_t)(rq->body_off + x->sent));
        if (got < 0)
            return CURL_READFUNC_ABORT;
        x->sent += (uint64_t)got;
        return (size_t)got;
    }
    size_t left = rq->body_n - (size_t)x->sent;
    if (want > left)
        want = left;
    memcpy(p, (const char *)rq->body + x->sent, want);
    x->sent += want;
    return want;
}

static char *trimmed(const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && *v == ' ')
        v++, n--;
    return ec_xstrndup(v, n);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    ec_reg_resp *rs = x->rs;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new answer (after a redirect) */
        ec_reg_resp_fini(rs);
        return len;
    }
    static const struct {
        const char *name;
        size_t off;
    } hs[] = {
        {"location", offsetof(ec_reg_resp, location)},
        {"docker-content-digest", offsetof(ec_reg_resp, digest)},
        {"range", offsetof(ec_reg_resp, range)},
        {"www-authenticate", offsetof(ec_reg_resp, challenge)},
        {"content-type", offsetof(ec_reg_resp, content_type)},
        {"oci-subject", offsetof(ec_reg_resp, subject)},
    };
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        size_t hn = strlen(hs[i].name);
        if (len > hn && p[hn] == ':' && strncasecmp(p, hs[i].name, hn) == 0) {
            char **slot = (char **)((char *)rs + hs[i].off);
            free(*slot);
            *slot = trimmed(p + hn + 1, len - hn - 1);
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->rq->sink && x->rs->status / 100 == 2) {
        if (ec_blob_writer_write(x->rq->sink, p, len, &x->sink_err) < 0)
            return x->sink_rc = -1, 0;
        return len;
    }
    x->rs->body.max = MEM_BODY_MAX;
    return ec_buf_add(&x->rs->body, p, len, &x->sink_err) == EC_OK ? len : (x->sink_rc = -1, 0);
}

/* The status is known before the body: answers to redirects go to memory, not the blob. */
static size_t on_header_status(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = on_header(p, size, n, ud);
    if (size * n >= 12 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', size * n);
        x->rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    }
    return len;
}

static int perform(ec_reg *g, const ec_reg_req *rq, ec_reg_resp *rs, const char *auth,
                   ec_err *err)
{
    CURL *h = g->curl;
    curl_easy_reset(h);
    struct xfer x = {.rq = rq, .rs = rs};
    EC_AUTOFREE char *url = ec_reg_url(g, rq->url);
    struct curl_slist *hd = NULL;
    EC_AUTOFREE char *a1 = rq->accept ? ec_xasprintf("Accept: %s", rq->accept) : NULL;
    EC_AUTOFREE char *a2 = rq->content_type ? ec_xasprintf("Content-Type: %s", rq->content_type)
                                            : NULL;
    EC_AUTOFREE char *a3 = rq->content_range ? ec_xasprintf("Content-Range: %s",
                                                            rq->content_range) : NULL;
    EC_AUTOFREE char *a4 = auth ? ec_xasprintf("Authorization: %s", auth) : NULL;
    const char *hs[] = {a1, a2, a3, a4, "Expect:"};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        if (hs[i])
            hd = curl_slist_append(hd, hs[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "envcache");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header_status);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    if (g->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, g->ca_file);
    /* Blob GETs may be redirected to storage; libcurl drops our Authorization header when
     * a redirect leaves the host. */
    bool follow = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    uint64_t blen = rq->from_fd ? rq->body_len : rq->body_n;
    if (strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    } else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hd);
    g->stats.requests++;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    if (x.sink_rc < 0) {
        if (err)
            *err = x.sink_err;
        return x.sink_err.code ? x.sink_err.code : EC_ESYS;
    }
    if (cc != CURLE_OK)
        return ec_fail(err, EC_ENETWORK, "%s: %s %s: %s", rq->what ? rq->what : "registry",
                       rq->method, url, curl_easy_strerror(cc));
    return EC_OK;
}

int ec_reg_do(ec_reg *g, const ec_reg_req *rq, ec_reg_resp *rs, ec_err *err)
{
    for (int attempt = 0;; attempt++) {
        ec_reg_resp_fini(rs);
        const char *auth = g->bearer ? g->bearer : g->basic;
        int r = perform(g, rq, rs, auth, err);
        if (r < 0 || rs->status != 401)
            return r;
        if (attempt == 1)
            return ec_fail(err, EC_ENETWORK, "%s: registry %s refused the credentials%s%s%s "
                           "(HTTP 401)", rq->what ? rq->what : rq->url, g->host,
                           g->user ? " of user \"" : "", g->user ? g->user : "",
                           g->user ? "\"" : "");
        EC_AUTOFREE char *ch = rs->challenge ? ec_xstrdup(rs->challenge) : NULL;
        if (!ch && auth)
            return ec_fail(err, EC_ENETWORK, "%s: registry %s refused the credentials (HTTP "
                           "401)", rq->what ? rq->what : rq->url, g->host);
        if ((r = ec_reg__answer(g, ch, rq->scope, err)) < 0)
            return r;
    }
}

int ec_reg_fail(ec_err *err, const ec_reg_req *rq, const ec_reg_resp *rs)
{
    /* The spec's error body: {"errors":[{"code":…, "message":…}]} */
    EC_AUTO(json_t) j = rs->body.n ? json_loadb(rs->body.p, rs->body.n, 0, NULL) : NULL;
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = json_string_value(json_object_get(e0, "code"));
    const char *msg = json_string_value(json_object_get(e0, "message"));
    int c = rs->status == 404 ? EC_ENOTFOUND : EC_ENETWORK;
    if (code)
        return ec_fail(err, c, "%s: %s %s: HTTP %ld (%s: %s)", rq->what ? rq->what : "registry",
                       rq->method, rq->url, rs->status, code, msg ? msg : "");
    return ec_fail(err, c, "%s: %s %s: HTTP %ld", rq->what ? rq->what : "registry", rq->method,
                   rq->url, rs->status);
}
