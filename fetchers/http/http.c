/* SPDX-License-Identifier: MIT */
/* The client handle: libcurl set-up, the shared DNS/TLS cache, the pool of multi handles. */
#include "fetchers/http/http_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/log.h"
#include "store/util/mem.h"

#ifndef EC_VERSION
#define EC_VERSION "0.1.0"
#endif

/* --- process-wide libcurl initialisation --- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

uint64_t ec_http__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- the share: one lock per kind of data, as libcurl asks --- */

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *ud)
{
    (void)e;
    (void)a;
    ec_http *h = ud;
    if ((unsigned)d < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&h->share_mu[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *ud)
{
    (void)e;
    ec_http *h = ud;
    if ((unsigned)d < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&h->share_mu[d]);
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? ec_xstrdup(v) : NULL;
}

int ec_http_new(ec_http **out, const ec_http_opts *opts, ec_err *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return ec_fail(err, EC_ENETWORK, "cannot initialise libcurl: %s",
                       curl_easy_strerror(curl_init_rc));
    curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (!(vi->features & CURL_VERSION_ASYNCHDNS))
        ec_debug("http: libcurl resolves names synchronously; a slow DNS answer stalls a batch");

    ec_http *h = ec_xcalloc(1, sizeof *h);
    if (opts)
        h->o = *opts;
    if (!h->o.max_host_conns)
        h->o.max_host_conns = 8;
    if (!h->o.max_total_conns)
        h->o.max_total_conns = 32;
    if (!h->o.max_retries)
        h->o.max_retries = 4;
    if (!h->o.connect_timeout_ms)
        h->o.connect_timeout_ms = 10000;
    if (!h->o.low_speed_secs)
        h->o.low_speed_secs = 30;
    if (!h->o.max_mem_body)
        h->o.max_mem_body = (uint64_t)256 << 20;
    if (!h->o.backoff_ms)
        h->o.backoff_ms = 500;
    if (!h->o.retry_after_max_secs)
        h->o.retry_after_max_secs = 60;
    h->user_agent = ec_xstrdup(h->o.user_agent ? h->o.user_agent : "envcache/" EC_VERSION);
    h->o.user_agent = h->user_agent;

    /* libcurl reads the proxy variables itself; trust anchors it does not (only the
     * curl tool does), so the conventional variables are honoured here. */
    h->ca_file = env_dup("CURL_CA_BUNDLE");
    if (!h->ca_file)
        h->ca_file = env_dup("SSL_CERT_FILE");
    h->ca_dir = env_dup("SSL_CERT_DIR");

    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_mu[i], NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    h->share = curl_share_init();
    if (!h->share) {
        ec_http_free(h);
        return ec_fail(err, EC_ENOMEM, "cannot create a libcurl share");
    }
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* Not CURL_LOCK_DATA_CONNECT: libcurl does not support one connection cache used by
     * concurrent threads. Connections live in the pooled multi handles instead. */
    *out = h;
    return EC_OK;
}

void ec_http_free(ec_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->npool; i++)
        curl_multi_cleanup(h->pool[i]);
    if (h->share)
        curl_share_cleanup(h->share);
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_mu[i]);
    pthread_mutex_destroy(&h->pool_mu);
    free(h->user_agent);
    free(h->ca_file);
    free(h->ca_dir);
    free(h);
}

void ec_http_stats_get(ec_http *h, ec_http_stats *out)
{
    out->requests = atomic_load(&h->n_requests);
    out->retries = atomic_load(&h->n_retries);
    out->not_modified = atomic_load(&h->n_not_modified);
    out->bytes = atomic_load(&h->n_bytes);
}

/* --- the pool of multi handles (each one a connection cache) --- */

CURLM *ec_http__multi_get(ec_http *h)
{
    CURLM *m = NULL;
    pthread_mutex_lock(&h->pool_mu);
    if (h->npool)
        m = h->pool[--h->npool];
    pthread_mutex_unlock(&h->pool_mu);
    if (m)
        return m;
    m = curl_multi_init();
    if (!m)
        return NULL;
    curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->o.max_host_conns);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)h->o.max_total_conns);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)h->o.max_total_conns);
    return m;
}

void ec_http__multi_put(ec_http *h, CURLM *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&h->pool_mu);
    if (h->npool < EC_HTTP_POOL_MAX) {
        h->pool[h->npool++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&h->pool_mu);
    if (m)
        curl_multi_cleanup(m);
}

/* --- per-request easy handle --- */

static int add_header(struct curl_slist **l, const char *name, const char *value, ec_err *err)
{
    EC_AUTOFREE char *line = ec_xasprintf("%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return ec_fail(err, EC_ENOMEM, "out of memory building request headers");
    *l = n;
    return EC_OK;
}

int ec_http__easy_setup(ec_http *h, ec_http_req *req, struct ec_http_rp *rp, ec_err *err)
{
    if (!req->url || !*req->url)
        return ec_fail(err, EC_EINVAL, "fetching %s: no URL given", ec_http__what(req));
    if (req->sink == EC_HTTP_SINK_BLOB && !req->store)
        return ec_fail(err, EC_EINVAL, "fetching %s from %s: a blob request needs a store",
                       ec_http__what(req), req->url);
    CURL *e = rp->easy = curl_easy_init();
    if (!e)
        return ec_fail(err, EC_ENOMEM, "cannot create a libcurl handle");
    int r = EC_OK;
    if (req->accept)
        r = add_header(&rp->headers, "Accept", req->accept, err);
    if (r == EC_OK && req->if_none_match && *req->if_none_match)
        r = add_header(&rp->headers, "If-None-Match", req->if_none_match, err);
    if (r < 0)
        return r;

    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, req);
    curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* No CURLOPT_PIPEWAIT: curl 7.88 then queues every transfer to an HTTP/1.1 host
     * behind one connection (test_http's parallel batch saw one request at a time). An
     * HTTP/2 host costs at most max_host_conns handshakes before streams share them. */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->o.low_speed_secs);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rp->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, ec_http__on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ec_http__on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    if (rp->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, rp->headers);
    if (req->sink == EC_HTTP_SINK_MEM) {
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
        /* Refuse an announced oversized body before reading it; the sink still counts
         * what arrives, for bodies without a Content-Length or decoded ones. */
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->o.max_mem_body);
    } else {
        /* A blob is the server's bytes exactly: that is what registries' digests cover. */
        curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
        curl_easy_setopt(e, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
    }
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->ca_dir)
        curl_easy_setopt(e, CURLOPT_CAPATH, h->ca_dir);
    return EC_OK;
}

/* --- the blocking call --- */

int ec_http_get(ec_http *h, ec_http_req *req)
{
    void (*on_done)(ec_http_req *, void *) = req->on_done;
    EC_AUTO(ec_http_batch) b = NULL;
    ec_err berr = {0};
    req->on_done = NULL;
    int r = ec_http_batch_new(&b, h, &berr);
    if (r == EC_OK) {
        ec_http_batch_add(b, req);
        r = ec_http_batch_run(b, &berr);
    }
    req->on_done = on_done;
    if (r < 0) {
        req->rc = r;
        req->err = berr;
    }
    return req->rc;
}

void ec_http_req_reset(ec_http_req *req)
{
    struct ec_http_rp *rp = req->priv_;
    if (rp) {
        if (rp->easy)
            curl_easy_cleanup(rp->easy);
        curl_slist_free_all(rp->headers);
        ec_blob_writer_cancel(rp->w);
        if (rp->integ)
            EVP_MD_CTX_free(rp->integ);
        free(rp);
        req->priv_ = NULL;
    }
    ec_buf_fini(&req->body);
    req->rc = EC_OK;
    ec_err_clear(&req->err);
    req->status = 0;
    req->etag[0] = '\0';
    req->content_type[0] = '\0';
    memset(&req->blob, 0, sizeof req->blob);
    req->size = 0;
    req->attempts = 0;
}
