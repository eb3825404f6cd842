/* SPDX-License-Identifier: MIT */
/* Internals shared by the HTTP client's files: the handle, per-request state, helpers. */
#pragma once

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "fetchers/http/http.h"

#define EC_HTTP_POOL_MAX 16 /* idle multi handles kept for reuse */

struct ec_http {
    ec_http_opts o; /* defaults filled in */
    char *user_agent;
    char *ca_file; /* from CURL_CA_BUNDLE or SSL_CERT_FILE, or NULL */
    char *ca_dir;  /* from SSL_CERT_DIR, or NULL */

    CURLSH *share; /* DNS cache and TLS sessions, for every transfer */
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

    pthread_mutex_t pool_mu; /* guards pool/npool */
    CURLM *pool[EC_HTTP_POOL_MAX];
    size_t npool;

    _Atomic uint64_t n_requests, n_retries, n_not_modified, n_bytes;
};

/* One request's private state, created when it is added to a batch (req->priv_). */
struct ec_http_rp {
    ec_http *h;
    ec_http_batch *b;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];

    /* this attempt's response */
    long status;
    long retry_after_ms; /* -1: none given */
    bool in_multi;

    /* body sink; reset before every attempt */
    ec_blob_writer *w;
    EVP_MD_CTX *integ;
    ec_err sink_err; /* a sink failure (limit, store) that ends the request: no retry */

    /* retry bookkeeping */
    uint64_t due_ms; /* monotonic time to start the next attempt */
    char last[512];  /* why the last attempt failed, for the final message */
    struct ec_http_rp *next; /* in the batch's queue or wait list */
    ec_http_req *req;
};

/** How errors name @req: its `what`, else "a file". */
static inline const char *ec_http__what(const ec_http_req *req)
{
    return req->what && *req->what ? req->what : "a file";
}

/* --- http.c --- */
uint64_t ec_http__now_ms(void);
/** Borrows a multi handle from the pool (or makes one); NULL only on OOM. */
CURLM *ec_http__multi_get(ec_http *h);
void ec_http__multi_put(ec_http *h, CURLM *m);
/** Sets the options every attempt of @req shares (URL, headers, limits, share, CA). */
int ec_http__easy_setup(ec_http *h, ec_http_req *req, struct ec_http_rp *rp, ec_err *err);

/* --- http_sink.c --- */
size_t ec_http__on_header(char *p, size_t size, size_t n, void *ud);
size_t ec_http__on_body(char *p, size_t size, size_t n, void *ud);
/** Clears the previous attempt's body: cancels the blob writer, empties the buffer. */
void ec_http__sink_reset(ec_http_req *req);
/** A 2xx response ended: checks the integrity digest, commits the blob. Sets req->rc/err. */
int ec_http__sink_finish(ec_http_req *req);

/* --- http_retry.c --- */
/** The standard reason phrase of an HTTP status ("Not Found"), "" when unknown. */
const char *ec_http__reason(long status);
/** True for statuses worth another attempt: 408, 429, 5xx. */
bool ec_http__status_retryable(long status);
/** True for transfer errors worth another attempt (timeouts, resets, DNS, truncation). */
bool ec_http__curl_retryable(CURLcode c);
/** Parses a Retry-After value (delta-seconds or an HTTP date, relative to @now) into
 *  milliseconds capped at @cap_secs. Returns false when the value is not understood. */
bool ec_http__retry_after_parse(const char *value, time_t now, unsigned cap_secs, long *ms_out);
/** The delay before attempt @attempt + 1 (attempt >= 1): base * 2^(attempt-1), capped at
 *  30 s, then jittered into [d/2, d] with @rnd (any 32-bit random value). */
uint64_t ec_http__backoff_ms(unsigned base_ms, unsigned attempt, uint32_t rnd);
