/* SPDX-License-Identifier: MIT */
/* The server's HTTP/1.1 connections (http_conn.c) and the worker threads that run them
 * (http_workers.c). Every request on a connection, the first and each kept-alive or
 * pipelined one after it, is parsed by request_head.c, so that whatever a client sends
 * is answered in the API's shape. Private to cache/api/. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include "cache/api/request_head.h"
#include "store/util/buf.h"
#include "store/util/err.h"

typedef struct ec_server ec_server;
typedef struct ec_req ec_req;
typedef struct ec_http_worker ec_http_worker;
typedef struct ec_http_workers ec_http_workers;

enum ec_conn_state {
    EC_CONN_HEAD,    /* reading a request's head (or idle between requests) */
    EC_CONN_BODY,    /* reading its body */
    EC_CONN_HANDLE,  /* its handler, or the handler's deferred work, runs */
    EC_CONN_WRITE,   /* writing the answer */
    EC_CONN_LINGER,  /* answered and closing: reading what the client still sends */
};

/* Deadline lists; a connection is in one of them, or in none while its handler runs. */
enum { EC_LIST_WAIT, EC_LIST_SHED, EC_LIST_LINGER, EC_NLISTS, EC_LIST_NONE = EC_NLISTS };

typedef struct ec_conn {
    struct ec_conn *prev, *next;         /* in its deadline list */
    struct ec_conn *all_prev, *all_next; /* in the worker's connections */
    struct ec_conn *resumed_next;        /* in the worker's resumed queue */
    int list;
    struct timespec since; /* when its deadline started */
    ec_http_worker *k;
    int fd;
    struct sockaddr_storage addr;
    enum ec_conn_state state;
    bool shed;       /* over the connection limit: its request is answered 503 */
    bool can_read;   /* epoll said readable since the last read that emptied the socket */
    bool can_write;  /* likewise for writing */
    bool closing;    /* close after this answer */
    bool rdhup;      /* the client has closed its side: reads end in the end of stream */
    bool ready;      /* in the worker's ready list */
    struct ec_conn *ready_prev, *ready_next;
    char *in;        /* bytes received, from the current request's first */
    size_t in_n, in_cap, used; /* used: the current request's bytes among them */
    ec_head head;
    ec_req *rq;
    uint64_t body_left;
    ec_buf out;      /* the answer's head, and a memory body's copy when small */
    size_t out_off;
    const char *mem; /* the rest of a memory body (the answer's own bytes) */
    size_t mem_n;
    uint64_t file_off, file_left;
} ec_conn;

struct ec_http_worker {
    ec_server *s;
    int ep, wake;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool pending;  /* queued connections or resumed requests: spares a lock */
    pthread_mutex_t mu;   /* guards q and resumed */
    struct ec_conn_in *q; /* handed over by the accept front */
    size_t qn, qcap;
    ec_conn *resumed;     /* requests whose deferred work is done */
    struct {
        ec_conn *first, *last;
        double timeout_s;
    } lists[EC_NLISTS];
    ec_conn *all;
    ec_conn *ready_first, *ready_last; /* connections with more to do, each in turn */
    ec_head_limits lim;
    size_t read_max;      /* a head larger than this is refused (414/431) */
    char *scratch;        /* read_max bytes: bodies and lingering reads land here */
};

/* --- one connection (http_conn.c), on its worker's thread --- */

/** A connection handed over: starts reading its first request. */
void ec_conn_open(ec_http_worker *k, int fd, const struct sockaddr_storage *addr, bool shed);
/** epoll reported @events for @c: moves it on as far as it can go. */
void ec_conn_event(ec_conn *c, uint32_t events);
/** The deferred work of @c's request is done: writes its answer. */
void ec_conn_resumed(ec_conn *c);
/** Closes @c (its deadline passed, or the worker stops). */
void ec_conn_close(ec_conn *c);

/* --- the worker's bookkeeping (http_workers.c) --- */

/** Moves @c to deadline list @list (EC_LIST_NONE: none), its deadline counted from now. */
void ec_http_worker_watch(ec_conn *c, int list);
/** @c has more to do (pipelined requests) but has had its turn: it goes on after the
 *  worker's other connections. */
void ec_http_worker_later(ec_conn *c);
/** Takes @c out of the ready list, if it is in it. */
void ec_http_worker_unready(ec_conn *c);
/** Runs @c again (from the ready list). */
void ec_conn_continue(ec_conn *c);

/* --- the workers (http_workers.c) --- */

/** Starts @n worker threads for @s. */
int ec_http_workers_start(ec_http_workers **out, ec_server *s, unsigned n, ec_err *err);
/** Hands connection @fd (peer @addr) to the next worker; @shed: answer its request 503.
 *  The worker owns @fd from here on. */
void ec_http_workers_add(ec_http_workers *w, int fd, const struct sockaddr_storage *addr,
                         bool shed);
/** From a deferred request's thread: its work is done, its worker writes the answer. */
void ec_http_workers_resume(ec_conn *c);
/** Stops the threads (connections stay open; deferred work may still hand its
 *  connection back). */
void ec_http_workers_halt(ec_http_workers *w);
/** Stops the threads if they run, closes every connection and frees @w. Deferred work
 *  must be over. NULL is fine. */
void ec_http_workers_stop(ec_http_workers *w);
