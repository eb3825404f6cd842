/* SPDX-License-Identifier: MIT */
/* The batch: one libcurl multi loop, a queue of requests, and a timer per retrying one.
 *
 * Each turn of the loop (1) moves retries whose timer is due back to the queue, (2) starts
 * queued requests up to a bound, (3) lets libcurl move every transfer along, (4) settles
 * the finished ones: done, failed, or scheduled for another attempt on their own timer,
 * and (5) sleeps in curl_multi_poll until a socket, a libcurl timer or a retry timer is
 * due. A request waiting to retry therefore never holds up the others.
 */
#include "fetchers/http/http_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/log.h"
#include "store/util/mem.h"

struct ec_http_batch {
    ec_http *h;
    CURLM *multi;
    struct ec_http_rp *queue, *queue_tail; /* ready to start, in order */
    struct ec_http_rp *wait;               /* waiting for their retry timer */
    struct ec_http_rp **live;              /* in the multi now */
    size_t nlive, live_cap;
    size_t max_live;
    uint32_t rnd;
    bool in_run;
};

int ec_http_batch_new(ec_http_batch **out, ec_http *h, ec_err *err)
{
    *out = NULL;
    CURLM *m = ec_http__multi_get(h);
    if (!m)
        return ec_fail(err, EC_ENOMEM, "cannot create a libcurl multi handle");
    ec_http_batch *b = ec_xcalloc(1, sizeof *b);
    b->h = h;
    b->multi = m;
    /* Past the connection bound extra transfers only wait inside libcurl (or share an
     * HTTP/2 connection); a bound keeps memory and open temporary files in check. */
    b->max_live = (size_t)h->o.max_total_conns * 8;
    if (b->max_live < 16)
        b->max_live = 16;
    b->rnd = (uint32_t)(ec_http__now_ms() ^ (uintptr_t)b) | 1u;
    *out = b;
    return EC_OK;
}

static void rp_free(struct ec_http_rp *rp)
{
    if (rp->easy)
        curl_easy_cleanup(rp->easy);
    curl_slist_free_all(rp->headers);
    ec_blob_writer_cancel(rp->w);
    if (rp->integ)
        EVP_MD_CTX_free(rp->integ);
    free(rp);
}

static void live_remove(ec_http_batch *b, struct ec_http_rp *rp)
{
    for (size_t i = 0; i < b->nlive; i++) {
        if (b->live[i] == rp) {
            b->live[i] = b->live[--b->nlive];
            break;
        }
    }
    curl_multi_remove_handle(b->multi, rp->easy);
    rp->in_multi = false;
}

static void abandon(ec_http_req *req)
{
    struct ec_http_rp *rp = req->priv_;
    req->priv_ = NULL;
    if (req->rc == EC_OK)
        req->rc = ec_fail(&req->err, EC_EBUSY, "fetching %s from %s: the batch was freed first",
                          ec_http__what(req), req->url);
    rp_free(rp);
}

void ec_http_batch_free(ec_http_batch *b)
{
    if (!b)
        return;
    while (b->nlive) {
        struct ec_http_rp *rp = b->live[0];
        live_remove(b, rp);
        abandon(rp->req);
    }
    for (struct ec_http_rp *l = b->queue, *next; l; l = next) {
        next = l->next;
        abandon(l->req);
    }
    for (struct ec_http_rp *l = b->wait, *next; l; l = next) {
        next = l->next;
        abandon(l->req);
    }
    free(b->live);
    ec_http__multi_put(b->h, b->multi);
    free(b);
}

static void enqueue(ec_http_batch *b, struct ec_http_rp *rp)
{
    rp->next = NULL;
    if (b->queue_tail)
        b->queue_tail->next = rp;
    else
        b->queue = rp;
    b->queue_tail = rp;
}

void ec_http_batch_add(ec_http_batch *b, ec_http_req *req)
{
    ec_http_req_reset(req);
    struct ec_http_rp *rp = ec_xcalloc(1, sizeof *rp);
    rp->h = b->h;
    rp->b = b;
    rp->req = req;
    rp->retry_after_ms = -1;
    req->priv_ = rp;
    enqueue(b, rp);
}

/* --- settling a request --- */

/* The request is finished: release its transfer state, then tell its owner. */
static void complete(ec_http_batch *b, struct ec_http_rp *rp)
{
    (void)b;
    ec_http_req *req = rp->req;
    req->priv_ = NULL;
    rp_free(rp);
    if (req->rc != EC_OK)
        ec_debug("http: %s", req->err.msg);
    if (req->on_done)
        req->on_done(req, req->ud);
}

static void fail(ec_http_batch *b, struct ec_http_rp *rp, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(ec_http_batch *b, struct ec_http_rp *rp, int code, const char *fmt, ...)
{
    ec_http_req *req = rp->req;
    va_list ap;
    va_start(ap, fmt);
    ec_failv(&req->err, code, fmt, ap);
    va_end(ap);
    req->rc = req->err.code ? req->err.code : code;
    ec_blob_writer_cancel(ec_steal(&rp->w));
    ec_buf_fini(&req->body);
    complete(b, rp);
}

static uint32_t next_rand(ec_http_batch *b)
{
    uint32_t x = b->rnd; /* xorshift32: jitter needs spread, not secrecy */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return b->rnd = x;
}

/* The attempt failed in a way worth repeating: wait on this request's own timer. */
static void retry_or_fail(ec_http_batch *b, struct ec_http_rp *rp)
{
    ec_http *h = b->h;
    ec_http_req *req = rp->req;
    if (req->attempts >= h->o.max_retries + 1) {
        fail(b, rp, EC_ENETWORK, "fetching %s from %s: failed after %u attempts (last: %s)",
             ec_http__what(req), req->url, req->attempts, rp->last);
        return;
    }
    uint64_t delay = rp->retry_after_ms >= 0
                         ? (uint64_t)rp->retry_after_ms
                         : ec_http__backoff_ms(h->o.backoff_ms, req->attempts, next_rand(b));
    ec_debug("http: %s from %s: %s; attempt %u in %llu ms", ec_http__what(req), req->url,
             rp->last, req->attempts + 1, (unsigned long long)delay);
    /* Drop the partial body now: a retry restarts from zero and never mixes bodies. */
    ec_blob_writer_cancel(ec_steal(&rp->w));
    ec_buf_fini(&req->body);
    atomic_fetch_add(&h->n_retries, 1);
    rp->due_ms = ec_http__now_ms() + delay;
    rp->next = b->wait;
    b->wait = rp;
}

/* Why a transfer failed, in words for people. */
static void describe_curl(struct ec_http_rp *rp, CURLcode c)
{
    long oserr = 0;
    if (c == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(rp->easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr) {
        snprintf(rp->last, sizeof rp->last, "%s", strerror((int)oserr));
        rp->last[0] = (char)tolower((unsigned char)rp->last[0]);
        return;
    }
    snprintf(rp->last, sizeof rp->last, "%s", rp->errbuf[0] ? rp->errbuf : curl_easy_strerror(c));
}

static void settle(ec_http_batch *b, CURL *easy, CURLcode result)
{
    ec_http_req *req = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
    struct ec_http_rp *rp = req->priv_;
    ec_http *h = b->h;
    live_remove(b, rp);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &req->status);

    if (rp->sink_err.code != EC_OK) { /* over a limit, or the store failed: final */
        req->err = rp->sink_err;
        fail(b, rp, rp->sink_err.code, "%s", rp->sink_err.msg);
        return;
    }
    if (result == CURLE_FILESIZE_EXCEEDED) {
        fail(b, rp, EC_ELIMIT, "fetching %s from %s: the body is larger than the limit of %llu bytes",
             ec_http__what(req), req->url, (unsigned long long)h->o.max_mem_body);
        return;
    }
    if (result != CURLE_OK) {
        describe_curl(rp, result);
        if (ec_http__curl_retryable(result))
            retry_or_fail(b, rp);
        else
            fail(b, rp, EC_ENETWORK, "fetching %s from %s: %s", ec_http__what(req), req->url,
                 rp->last);
        return;
    }

    long st = req->status;
    const char *reason = ec_http__reason(st);
    if (st >= 200 && st <= 299) {
        if (ec_http__sink_finish(req) != EC_OK) {
            ec_buf_fini(&req->body);
            complete(b, rp);
            return;
        }
        complete(b, rp);
    } else if (st == 304) {
        atomic_fetch_add(&h->n_not_modified, 1);
        ec_buf_fini(&req->body);
        req->rc = EC_OK;
        complete(b, rp);
    } else if (ec_http__status_retryable(st)) {
        snprintf(rp->last, sizeof rp->last, "HTTP %ld%s%s", st, *reason ? " " : "", reason);
        retry_or_fail(b, rp);
    } else {
        fail(b, rp, st == 404 || st == 410 ? EC_ENOTFOUND : EC_ENETWORK,
             "fetching %s from %s: HTTP %ld%s%s", ec_http__what(req), req->url, st,
             *reason ? " " : "", reason);
    }
}

/* --- starting an attempt --- */

static void start(ec_http_batch *b, struct ec_http_rp *rp)
{
    ec_http *h = b->h;
    ec_http_req *req = rp->req;
    if (!rp->easy) {
        int r = ec_http__easy_setup(h, req, rp, &req->err);
        if (r < 0) {
            req->rc = r;
            complete(b, rp);
            return;
        }
    }
    ec_http__sink_reset(req);
    req->attempts++;
    atomic_fetch_add(&h->n_requests, 1);
    CURLMcode mc = curl_multi_add_handle(b->multi, rp->easy);
    if (mc != CURLM_OK) {
        fail(b, rp, EC_ENETWORK, "fetching %s from %s: %s", ec_http__what(req), req->url,
             curl_multi_strerror(mc));
        return;
    }
    if (b->nlive == b->live_cap) {
        b->live_cap = b->live_cap ? b->live_cap * 2 : 32;
        b->live = ec_xrealloc(b->live, b->live_cap * sizeof *b->live);
    }
    b->live[b->nlive++] = rp;
    rp->in_multi = true;
}

/* Moves due retries to the queue; returns ms until the next one is due (-1: none waits). */
static long wake_due(ec_http_batch *b, uint64_t now)
{
    long next = -1;
    for (struct ec_http_rp **pp = &b->wait; *pp;) {
        struct ec_http_rp *rp = *pp;
        if (rp->due_ms <= now) {
            *pp = rp->next;
            enqueue(b, rp);
            continue;
        }
        long left = (long)(rp->due_ms - now);
        if (next < 0 || left < next)
            next = left;
        pp = &rp->next;
    }
    return next;
}

int ec_http_batch_run(ec_http_batch *b, ec_err *err)
{
    if (b->in_run)
        return ec_fail(err, EC_EBUSY, "an HTTP batch cannot be run from its own callback");
    b->in_run = true;
    for (;;) {
        long wait_ms = wake_due(b, ec_http__now_ms());
        while (b->queue && b->nlive < b->max_live) {
            struct ec_http_rp *rp = b->queue;
            b->queue = rp->next;
            if (!b->queue)
                b->queue_tail = NULL;
            start(b, rp);
        }
        if (!b->nlive && !b->queue && !b->wait)
            break;

        int still = 0;
        CURLMcode mc = curl_multi_perform(b->multi, &still);
        if (mc != CURLM_OK) {
            b->in_run = false;
            return ec_fail(err, EC_ENETWORK, "HTTP transfers stopped: %s", curl_multi_strerror(mc));
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(b->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                settle(b, msg->easy_handle, msg->data.result);

        /* Callbacks may have queued requests, or finished everything. */
        if ((b->queue && b->nlive < b->max_live) || (!b->nlive && !b->queue && !b->wait))
            continue;
        long t = -1;
        curl_multi_timeout(b->multi, &t);
        if (t < 0 || t > 1000)
            t = 1000;
        wait_ms = wake_due(b, ec_http__now_ms());
        if (b->queue && b->nlive < b->max_live)
            t = 0;
        else if (wait_ms >= 0 && wait_ms < t)
            t = wait_ms;
        if (t > 0)
            curl_multi_poll(b->multi, NULL, 0, (int)t, NULL);
    }
    b->in_run = false;
    return EC_OK;
}
