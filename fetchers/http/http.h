/* SPDX-License-Identifier: MIT */
/* The shared HTTP client: every fetcher's downloads go through one of these.
 *
 * One ec_http per process (or per warm-up) holds a libcurl multi handle with a
 * shared DNS cache, connection pool and TLS session cache, so hundreds of
 * transfers reuse a few connections (HTTP/2 multiplexing where the server
 * offers it) instead of opening one connection, and one DNS query, per file.
 *
 * Two ways to use it:
 *  - batches: add any number of requests, run the batch; each request's
 *    on_done callback runs on the calling thread as it completes and may add
 *    more requests to the same batch (a resolver discovering dependencies).
 *  - ec_http_get: one blocking request, for the mirror's pull-through. Safe
 *    from several threads at once; each call uses its own easy handle but the
 *    shared DNS/connection/TLS caches.
 *
 * Retries: timeouts, connection errors, 429 and 5xx are retried with
 * exponential backoff and jitter, honouring Retry-After (seconds or HTTP date,
 * capped). A retried body is discarded and restarted from zero (blob sinks
 * restart their writer), so a retry never stores a mixed body.
 *
 * Environment: http_proxy/https_proxy/no_proxy/all_proxy (libcurl reads them),
 * CURL_CA_BUNDLE / SSL_CERT_FILE / SSL_CERT_DIR for trust anchors (read once, by
 * ec_http_new).
 *
 * Threads: an ec_http may be shared by any number of threads. A batch belongs to
 * the thread that runs it: add to it only from that thread (its callbacks
 * included). DNS answers and TLS sessions are shared by every transfer; a
 * connection pool lives in a libcurl multi handle, which libcurl does not allow
 * two threads to share, so ec_http keeps a pool of idle multi handles: a batch
 * (or an ec_http_get) borrows one and hands it back with its warm connections.
 * See fetchers/http/README.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/util/buf.h"
#include "store/util/err.h"

typedef struct ec_http ec_http;
typedef struct ec_http_batch ec_http_batch;
typedef struct ec_http_req ec_http_req;

typedef struct ec_http_opts {
    unsigned max_host_conns;  /* connections per host, per batch; 0 = 8 */
    unsigned max_total_conns; /* connections per batch; 0 = 32 */
    unsigned max_retries;     /* 0 = 4 (5 attempts) */
    long connect_timeout_ms;  /* 0 = 10 s */
    long low_speed_secs;      /* abort a transfer slower than 1 KB/s for this long; 0 = 30 */
    uint64_t max_mem_body;    /* cap for in-memory bodies; 0 = 256 MiB */
    const char *user_agent;   /* NULL = "envcache/<version>"; copied */
    unsigned backoff_ms;      /* first retry's delay, doubled per retry, jittered; 0 = 500 */
    unsigned retry_after_max_secs; /* cap on a server's Retry-After; 0 = 60 */
} ec_http_opts;

/** Where a response body goes. */
typedef enum ec_http_sink {
    EC_HTTP_SINK_MEM,  /* into req->body */
    EC_HTTP_SINK_BLOB, /* streamed through sha256 (and the integrity hash) into a store blob */
} ec_http_sink;

/** Extra digest checked while streaming (registries' own integrity data). */
typedef enum ec_http_hash {
    EC_HTTP_HASH_NONE,
    EC_HTTP_HASH_SHA1,
    EC_HTTP_HASH_SHA256,
    EC_HTTP_HASH_SHA512,
} ec_http_hash;

struct ec_http_req {
    /* --- in --- */
    const char *url;
    const char *accept;        /* Accept header, or NULL */
    const char *if_none_match; /* ETag to revalidate, or NULL */
    ec_http_sink sink;
    ec_store *store;           /* for EC_HTTP_SINK_BLOB */
    const ec_digest *want_sha256; /* blob must hash to this (NULL = any) */
    ec_http_hash integrity_algo;  /* checked against integrity_want (raw bytes) */
    unsigned char integrity_want[64];
    const char *what;          /* names the request in errors ("express@4.18.0 tarball") */
    /* EC_HTTP_SINK_BLOB: each body chunk is also handed to tee as it arrives (still
     * unverified: the digests are checked at the end), and tee_reset runs before every
     * attempt, so a retried body starts the tee again too. Neither may fail the transfer:
     * a tee that cannot go on records that itself. */
    void (*tee)(const void *p, size_t n, void *tee_ud);
    void (*tee_reset)(void *tee_ud);
    void *tee_ud;
    void (*on_done)(ec_http_req *req, void *ud);
    void *ud;

    /* --- out (valid in on_done and after the batch) --- */
    int rc;                  /* EC_OK, or the error in err */
    ec_err err;
    long status;             /* final HTTP status; 304 when not modified */
    ec_buf body;             /* EC_HTTP_SINK_MEM: the body (caller frees with ec_buf_free) */
    char etag[256];          /* response ETag, "" if none */
    char content_type[128];
    ec_digest blob;          /* EC_HTTP_SINK_BLOB: the stored blob */
    uint64_t size;           /* body bytes */
    unsigned attempts;

    /* private */
    void *priv_;
};

/** Makes a client (@opts may be NULL: all defaults). Caller frees with ec_http_free, after
 *  every batch and ec_http_get using it has finished. */
int ec_http_new(ec_http **out, const ec_http_opts *opts, ec_err *err);
void ec_http_free(ec_http *h);
EC_DEFINE_AUTO(ec_http, ec_http_free)

/** Counters since ec_http_new, for metrics and for tests that count upstream requests.
 *  Threads: safe at any time (the counters are atomics). */
typedef struct ec_http_stats {
    uint64_t requests; /* attempts sent, retries included */
    uint64_t retries;
    uint64_t not_modified;
    uint64_t bytes;
} ec_http_stats;
void ec_http_stats_get(ec_http *h, ec_http_stats *out);

/** A batch borrows one of @h's multi handles (its connection pool) until freed. */
int ec_http_batch_new(ec_http_batch **out, ec_http *h, ec_err *err);
/** Queues @req (owned by the caller, alive until its on_done ran). Clears its out fields.
 *  May be called from an on_done callback of the same batch. */
void ec_http_batch_add(ec_http_batch *b, ec_http_req *req);
/** Runs until every queued request, including ones added by callbacks, finished.
 *  Returns EC_OK; per-request outcomes are in each req->rc:
 *  EC_ENOTFOUND (HTTP 404/410), EC_ENETWORK (other HTTP errors, connection failures,
 *  retries exhausted), EC_EINTEGRITY (a digest did not match; nothing stored),
 *  EC_ELIMIT (a memory body past max_mem_body), or a store error.
 *  A retry waits on its own timer; the other transfers go on meanwhile. */
int ec_http_batch_run(ec_http_batch *b, ec_err *err);
void ec_http_batch_free(ec_http_batch *b);
EC_DEFINE_AUTO(ec_http_batch, ec_http_batch_free)

/** One blocking request (same fields, on_done ignored). Returns req->rc.
 *  Threads: safe from several threads at once. */
int ec_http_get(ec_http *h, ec_http_req *req);

/** Releases a request's body and private state so the struct can be reused. */
void ec_http_req_reset(ec_http_req *req);
