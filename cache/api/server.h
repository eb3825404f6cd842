/* SPDX-License-Identifier: MIT */
/* `envcache serve`: the environments API (API.md), the mirror's dispatch, /healthz and
 * /metrics on one port, on connections of its own (http_conn.c).
 *
 * The server runs a few worker threads, each with its own epoll loop. Handlers that may
 * block for long (a session waiting for its environment's warm-up, then mounting) hand
 * their work to a thread of their own, so a worker never waits.
 * Threads: start and stop from one thread; everything else is internal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/cache.h"
#include "cache/warm/warm_queue.h"

typedef struct ec_server ec_server;

/** When an environment is warmed. */
typedef enum ec_warm_policy {
    EC_WARM_EAGER = 0,  /* on create and on every update that changes its config */
    EC_WARM_ON_SESSION, /* when the first session asks for it */
    EC_WARM_OFF,        /* never: sessions mount whatever stack the environment has */
} ec_warm_policy;

/** Whether the mirror's pull-through (a miss fetched from upstream) needs an API key. */
typedef enum ec_pull_auth {
    EC_PULL_AUTH_AUTO = 0, /* when the server listens beyond loopback (the default) */
    EC_PULL_AUTH_ON,
    EC_PULL_AUTH_OFF,
} ec_pull_auth;

typedef struct ec_server_opts {
    const char *listen;        /* "HOST:PORT" (IPv4, or [IPv6]:PORT); port 0 = any free one;
                                  NULL = "127.0.0.1:8080" */
    unsigned threads;          /* worker threads; 0 = 2 per CPU, at least 4 */
    unsigned max_connections;  /* held at once; past it new connections are answered 503
                                  (up to 1,024 more, then closed); 0 = 10,000. The soft
                                  descriptor limit is raised to fit, or this lowered */
    unsigned conn_timeout_s;   /* a connection idle or stalled this long is closed; 0 = 10 */
    size_t max_header_bytes;   /* request headers past this are 431; 0 = 16 KiB */
    size_t max_body_bytes;     /* request bodies past this are 413; 0 = 1 MiB */
    bool no_auth;              /* every API request works on the default workspace, no key */
    bool mirror_auth;          /* /mirror/ needs a key too (package managers send none) */
    ec_pull_auth pull_auth;    /* the mirror's pulls from upstream need a key */
    uint64_t pull_budget;      /* bytes pull-through may add per workspace (429 past it);
                                  0 = 10 GiB, UINT64_MAX = no budget */
    uint64_t min_free_bytes;   /* pull-through stops (507) when the store's file system has
                                  less free; 0 = 1 GiB, UINT64_MAX = never */
    ec_warm_policy warm;
    unsigned warm_concurrency; /* environments warmed at once; 0 = 4 */
    ec_warm_fn warm_fn;        /* NULL = ec_warm_env; tests inject fakes */
    int session_wait_ms;       /* how long POST /v1/sessions waits for a warm-up; 0 = 120 s */
    int shutdown_grace_ms;     /* how long in-flight requests get at stop; 0 = 30 s */
    FILE *access_log;          /* one JSON line per request, or NULL */
    bool mirror_only;          /* the mirror and blobs alone: no API, no warm-up queue (the
                                  mirror a command-line warm-up starts for build steps) */
} ec_server_opts;

/** Binds, starts the warm-up queue (resuming unfinished warm-ups) and the worker threads.
 *  @c is borrowed and must outlive the server. EC_EINVAL for a bad listen address,
 *  EC_ESYS when the address cannot be bound. */
int ec_server_start(ec_server **out, ec_cache *c, const ec_server_opts *opts, ec_err *err);

/** Makes @c's build steps reach a mirror: a mirror-only server on 127.0.0.1, started the
 *  first time a build needs it and stopped when @c closes. For processes that warm without
 *  serving (`envcache warm`). */
void ec_server_mirror_on_demand(ec_cache *c);

/** The port bound (useful with port 0). */
uint16_t ec_server_port(const ec_server *s);

/** Graceful stop: stops accepting connections, stops warm-ups at their next safe point
 *  (they resume on the next start), lets in-flight requests finish (up to the grace
 *  period), then closes every connection and frees @s. NULL is fine. */
void ec_server_stop(ec_server *s);
