/* SPDX-License-Identifier: MIT */
/* Private to the server files: the server and request structs, replies, the handlers. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "cache/api/http_resp.h"
#include "cache/api/server.h"
#include "store/util/buf.h"

struct sockaddr;
struct sockaddr_storage;
typedef struct ec_front ec_front;
typedef struct ec_http_workers ec_http_workers;
struct ec_conn;

/* Connections past max_connections are still accepted, up to this many more, so that each
 * can be told 503 instead of being dropped unanswered; they get EC_SERVER_SHED_TIMEOUT_S
 * to send their request. Past that new connections are closed at once. */
#define EC_SERVER_SHED_HEADROOM 1024
#define EC_SERVER_SHED_TIMEOUT_S 2

struct ec_server {
    ec_cache *c;
    ec_server_opts o;
    ec_http_workers *workers; /* the threads that run the connections (http_workers.c) */
    ec_front *front;     /* owns the listening socket (accept_front.c) */
    ec_warm_queue *wq;
    uint16_t port;
    bool loopback;       /* listens on a loopback address only */
    atomic_int inflight; /* requests begun and not completed */
    atomic_int conns;    /* connections open: counted at accept, until closed */
    atomic_int deferred; /* handler threads running (their connections wait) */
    atomic_bool stopping;
};

typedef struct ec_req ec_req;
typedef void (*ec_req_work)(ec_req *rq);

typedef struct ec_req_field {
    const char *name, *value;
} ec_req_field;

struct ec_req {
    ec_server *srv;
    struct ec_conn *conn;
    char id[64];       /* req_… */
    char *raw_uri;     /* as the client sent it, query included, still percent-encoded */
    const char *method; /* NULL when the request line could not be read */
    const char *url;   /* the path, percent-decoded, without the query */
    ec_req_field *fields; /* header fields as sent, in order (in the connection's buffer) */
    size_t nfields;
    ec_req_field *args; /* query arguments, decoded */
    size_t nargs;
    char *argbuf;      /* their bytes */
    ec_buf body;
    bool too_large;
    char *ws;          /* the workspace the key maps to, once authenticated */
    char *basic_key;   /* the key taken from basic credentials, if any */
    const char *route; /* template for logs and metrics: "GET /v1/environments/{id}" */
    char manager[16];  /* mirror requests: the manager, for metrics */
    bool upstream;     /* the mirror needed upstream for this answer */
    int status;
    ec_resp *resp;
    uint64_t resp_bytes;
    bool deferred;     /* its handler handed the work to a thread (ec_req_defer) */
    ec_req_work work;
    struct timespec t0;
    const struct sockaddr *peer; /* the client */
};

/* --- requests' life, for the connections (server.c; called from http_conn.c) --- */

/** A request begins on @c: its id, clock and the in-flight count. */
ec_req *ec_server__req_new(ec_server *s, struct ec_conn *c);
/** Decodes query string @q ("a=1&b=2") into rq->args. */
void ec_server__req_args(ec_req *rq, const char *q);
/** Checks before the body is read (the connection limit when @shed, framing, URL,
 *  declared size); replies and returns false when one fails. */
bool ec_server__req_begin(ec_req *rq, bool shed);
/** Routes the request; its handler replies, or defers (rq->deferred). */
void ec_server__req_run(ec_req *rq);
/** Just before its answer is written: a handler that gave none answers 500. */
void ec_server__req_answer(ec_req *rq);
/** The answer is written (@ok), or the connection ended first: logged, counted, freed. */
void ec_server__req_end(ec_req *rq, bool ok);
/** A connection closed: the front's count falls. */
void ec_server__conn_closed(ec_server *s);
bool ec_server__stopping(ec_server *s);
const ec_server_opts *ec_server__opts(const ec_server *s);

/* --- replies (api_errors.c) --- */

/** Replies @status with @j as the body (consumes @j). */
void ec_reply_json(ec_req *rq, int status, json_t *j);
/** Replies @status with JSON text @text of @n bytes (consumed: freed with the answer). */
void ec_reply_json_text(ec_req *rq, int status, char *text, size_t n);
/** Replies with the API error shape; status and type from @err's code. */
void ec_reply_err(ec_req *rq, const ec_err *err);
/** Replies with the API error shape for @status; the message is formatted. */
void ec_reply_fail(ec_req *rq, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Replies @status with @text (copied) as @ctype. */
void ec_reply_text(ec_req *rq, int status, const char *ctype, const char *text, size_t n);
/** The HTTP status for an ec_code. */
int ec_api_status(int code);
/** API.md's error body for @status (malloc'd JSON text, NULL without memory). */
char *ec_api_error_text(int status, const char *msg, const char *request_id);

/** Writes @rq's access-log line and counts it in the request metrics (server.c). */
void ec_req_account(const ec_req *rq);

/* --- the accept front (accept_front.c) --- */

/** Binds and listens on @ss for @s (which must have its workers before the start). */
int ec_front_open(ec_front **out, ec_server *s, const struct sockaddr_storage *ss, ec_err *err);
/** Starts the thread that accepts and hands each connection to a worker. */
int ec_front_start(ec_front *f, ec_err *err);
uint16_t ec_front_port(const ec_front *f);
/** Stops the thread, closes the listening socket and the connections not handed over.
 *  NULL is fine. */
void ec_front_close(ec_front *f);

/* --- checks every request passes first (request_checks.c) --- */

/* URLs (request target, query included) past this are 414. */
#define EC_SERVER_URL_MAX 8192u

/** Checks the framing and the URL's encoding; replies (411, 400) and returns false on the
 *  first that fails. (The head's sizes are request_head.c's.) */
bool ec_req_check(ec_req *rq);

/* --- the handlers --- */

/** Checks the request's key (x-api-key, Bearer, or basic credentials) and sets rq->ws;
 *  replies 401 and returns false when it is missing or unknown (api_router.c). */
bool ec_req_authenticate(ec_req *rq);
/** Whether the request carries a key at all. */
bool ec_req_has_key(ec_req *rq);

/* --- pull-through accounting (idx_pull.c) --- */

/** Bytes the mirror has pulled from upstream into the store for @ws (0 when none). */
uint64_t ec_api__pull_used(ec_cache *c, const char *ws);
/** Adds @n bytes to @ws's pulled total. */
int ec_api__pull_add(ec_cache *c, const char *ws, uint64_t n, ec_err *err);

/** Reads the request, finds its route and calls its handler (api_router.c). */
void ec_api_route(ec_req *rq);
/** Runs @work on a thread of its own while the connection waits (server.c). */
void ec_req_defer(ec_req *rq, ec_req_work work);
/** A request header, or NULL. */
const char *ec_req_header(const ec_req *rq, const char *name);
/** A query argument, or NULL. */
const char *ec_req_query(const ec_req *rq, const char *name);
/** Parses the body as a JSON object; replies 400 and returns NULL when it is not one. */
json_t *ec_req_json_body(ec_req *rq);

void ec_api_env_create(ec_req *rq);
void ec_api_env_list(ec_req *rq);
void ec_api_env_get(ec_req *rq, const char *id);
void ec_api_env_update(ec_req *rq, const char *id);
void ec_api_env_archive(ec_req *rq, const char *id);
void ec_api_env_delete(ec_req *rq, const char *id);
void ec_api_session_create(ec_req *rq);
void ec_api_session_get(ec_req *rq, const char *id);
void ec_api_session_delete(ec_req *rq, const char *id);
void ec_api_cache_get(ec_req *rq, const char *id);
void ec_api_cache_warm(ec_req *rq, const char *id);
void ec_api_healthz(ec_req *rq);
void ec_api_metrics(ec_req *rq);
/** /mirror/<manager>/…: @rest is the raw path after the manager's segment. */
void ec_api_mirror(ec_req *rq, const char *manager, const char *rest);
/** GET|HEAD /cache/blobs/sha256:<hex>: a store blob, with sendfile and Range. */
void ec_api_blob(ec_req *rq, const char *digest);
