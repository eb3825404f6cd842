/* SPDX-License-Identifier: MIT */
/* The server's worker threads: each waits (epoll, edge-triggered) on its connections, on
 * an eventfd for connections the accept front hands it and requests whose deferred work
 * is done, and on the nearest deadline, then moves its connections on (http_conn.c).
 *
 * Deadlines: a connection waiting for a request's head, reading a body or writing an
 * answer is in the WAIT list (the server's timeout); a connection over the limit in the
 * SHED list (EC_SERVER_SHED_TIMEOUT_S); a closing one in the LINGER list. Each list's
 * entries share one timeout and join at the tail when their deadline starts, so each list
 * is in deadline order and only its head is looked at. A head's deadline counts from the
 * connection's start or its previous answer, never from the last byte: a client that
 * dribbles a byte now and then (a slow loris) is closed all the same. */
#include "cache/api/http_conn.h"
#include "cache/api/server_int.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WAIT_MAX_MS 1000
#define LINGER_S 2
#define EVENTS 128

struct ec_conn_in {
    int fd;
    bool shed;
    struct sockaddr_storage addr;
};

struct ec_http_workers {
    ec_http_worker *w;
    unsigned n;
    unsigned next; /* round robin; the front's thread alone adds */
};

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void ec_http_worker_watch(ec_conn *c, int list)
{
    ec_http_worker *k = c->k;
    if (c->list != EC_LIST_NONE) {
        if (c->prev)
            c->prev->next = c->next;
        else
            k->lists[c->list].first = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            k->lists[c->list].last = c->prev;
    }
    c->list = list;
    c->prev = c->next = NULL;
    if (list == EC_LIST_NONE)
        return;
    clock_gettime(CLOCK_MONOTONIC, &c->since);
    c->prev = k->lists[list].last;
    if (c->prev)
        c->prev->next = c;
    else
        k->lists[list].first = c;
    k->lists[list].last = c;
}

void ec_http_worker_later(ec_conn *c)
{
    ec_http_worker *k = c->k;
    if (c->ready)
        return;
    c->ready = true;
    c->ready_next = NULL;
    c->ready_prev = k->ready_last;
    if (k->ready_last)
        k->ready_last->ready_next = c;
    else
        k->ready_first = c;
    k->ready_last = c;
}

void ec_http_worker_unready(ec_conn *c)
{
    ec_http_worker *k = c->k;
    if (!c->ready)
        return;
    if (c->ready_prev)
        c->ready_prev->ready_next = c->ready_next;
    else
        k->ready_first = c->ready_next;
    if (c->ready_next)
        c->ready_next->ready_prev = c->ready_prev;
    else
        k->ready_last = c->ready_prev;
    c->ready = false;
    c->ready_prev = c->ready_next = NULL;
}

/* Gives each connection that had more to do its next turn; those that still have more
 * after it join the list again, behind the ones already in it. */
static void run_ready(ec_http_worker *k)
{
    size_t n = 0;
    for (ec_conn *c = k->ready_first; c; c = c->ready_next)
        n++;
    for (; n > 0 && k->ready_first; n--) {
        ec_conn *c = k->ready_first;
        ec_http_worker_unready(c);
        ec_conn_continue(c);
    }
}

/* Closes the connections past their deadline, without an answer: a head not complete in
 * time gets nothing to read. */
static void expire(ec_http_worker *k)
{
    for (int l = 0; l < EC_NLISTS; l++)
        while (k->lists[l].first && since(&k->lists[l].first->since) >= k->lists[l].timeout_s)
            ec_conn_close(k->lists[l].first);
}

static int next_wait_ms(const ec_http_worker *k)
{
    double ms = WAIT_MAX_MS;
    for (int l = 0; l < EC_NLISTS; l++)
        if (k->lists[l].first) {
            double left = (k->lists[l].timeout_s - since(&k->lists[l].first->since)) * 1000;
            ms = left < ms ? left : ms;
        }
    return ms < 0 ? 0 : (int)ms + 1;
}

static void wake(ec_http_worker *k)
{
    uint64_t one = 1;
    if (write(k->wake, &one, sizeof one) < 0)
        ec_warn("serve: cannot wake a worker: %s", strerror(errno));
}

/* Takes what other threads left for this one: new connections, and requests whose
 * deferred work is done (answered in the order they finished). */
static void take_pending(ec_http_worker *k)
{
    pthread_mutex_lock(&k->mu);
    struct ec_conn_in *q = k->q;
    size_t n = k->qn;
    ec_conn *resumed = k->resumed;
    k->q = NULL;
    k->qn = k->qcap = 0;
    k->resumed = NULL;
    atomic_store(&k->pending, false);
    pthread_mutex_unlock(&k->mu);
    for (size_t i = 0; i < n; i++)
        ec_conn_open(k, q[i].fd, &q[i].addr, q[i].shed);
    free(q);
    ec_conn *fifo = NULL;
    while (resumed) {
        ec_conn *c = resumed;
        resumed = c->resumed_next;
        c->resumed_next = fifo;
        fifo = c;
    }
    while (fifo) {
        ec_conn *c = fifo;
        fifo = c->resumed_next;
        ec_conn_resumed(c);
    }
}

static void *worker_main(void *arg)
{
    ec_http_worker *k = arg;
    struct epoll_event evs[EVENTS];
    /* A client gone mid-answer is a failed write, not the process's death: sendfile
     * cannot be told MSG_NOSIGNAL. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    while (!atomic_load(&k->stop)) {
        int n = epoll_wait(k->ep, evs, EVENTS, k->ready_first ? 0 : next_wait_ms(k));
        if (n < 0 && errno != EINTR)
            ec_warn("serve: a worker's wait failed: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == k) {
                uint64_t v;
                /* Emptied at every report, whatever is queued: a wake-up written after
                 * its work was taken would otherwise keep the loop spinning. */
                if (read(k->wake, &v, sizeof v) < 0 && errno != EAGAIN)
                    ec_warn("serve: reading a worker's wake-up: %s", strerror(errno));
            } else {
                ec_conn_event(evs[i].data.ptr, evs[i].events);
            }
        }
        if (atomic_load(&k->pending))
            take_pending(k);
        run_ready(k);
        expire(k);
    }
    return NULL;
}

static int worker_start(ec_http_worker *k, ec_server *s, ec_err *err)
{
    const ec_server_opts *o = ec_server__opts(s);
    k->s = s;
    k->ep = k->wake = -1;
    pthread_mutex_init(&k->mu, NULL);
    k->lists[EC_LIST_WAIT].timeout_s = o->conn_timeout_s;
    k->lists[EC_LIST_SHED].timeout_s = EC_SERVER_SHED_TIMEOUT_S;
    k->lists[EC_LIST_LINGER].timeout_s = LINGER_S;
    k->lim = (ec_head_limits){.url_max = EC_SERVER_URL_MAX,
                              .header_max = o->max_header_bytes,
                              .fields_max = EC_HEAD_FIELDS_MAX};
    /* The request line (method, target, version) and the header block at their limits. */
    k->read_max = EC_SERVER_URL_MAX + o->max_header_bytes + 1024;
    k->scratch = ec_xmalloc(k->read_max);
    k->ep = epoll_create1(EPOLL_CLOEXEC);
    k->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event we = {.events = EPOLLIN, .data.ptr = k};
    if (k->ep < 0 || k->wake < 0 || epoll_ctl(k->ep, EPOLL_CTL_ADD, k->wake, &we) < 0)
        return ec_fail_sys(err, errno, "cannot set up the HTTP server's loop");
    int e = pthread_create(&k->thread, NULL, worker_main, k);
    if (e != 0) /* pthread_create returns its error; errno is not set */
        return ec_fail_sys(err, e, "cannot start the HTTP server's threads");
    k->started = true;
    return EC_OK;
}

static void worker_halt(ec_http_worker *k)
{
    if (k->started) {
        atomic_store(&k->stop, true);
        wake(k);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
}

static void worker_stop(ec_http_worker *k)
{
    worker_halt(k);
    for (size_t i = 0; i < k->qn; i++) { /* queued after the thread's last look */
        close(k->q[i].fd);
        ec_server__conn_closed(k->s);
    }
    free(k->q);
    while (k->all)
        ec_conn_close(k->all);
    if (k->ep >= 0)
        close(k->ep);
    if (k->wake >= 0)
        close(k->wake);
    free(k->scratch);
    pthread_mutex_destroy(&k->mu);
}

int ec_http_workers_start(ec_http_workers **out, ec_server *s, unsigned n, ec_err *err)
{
    ec_http_workers *w = ec_xcalloc(1, sizeof *w);
    w->w = ec_xcalloc(n, sizeof *w->w);
    int r = EC_OK;
    for (; w->n < n && r == EC_OK; w->n++)
        r = worker_start(&w->w[w->n], s, err);
    if (r < 0) {
        ec_http_workers_stop(w);
        return r;
    }
    *out = w;
    return EC_OK;
}

void ec_http_workers_add(ec_http_workers *w, int fd, const struct sockaddr_storage *addr,
                         bool shed)
{
    ec_http_worker *k = &w->w[w->next++ % w->n];
    pthread_mutex_lock(&k->mu);
    if (k->qn == k->qcap) {
        k->qcap = k->qcap ? k->qcap * 2 : 16;
        k->q = ec_xrealloc(k->q, k->qcap * sizeof *k->q);
    }
    k->q[k->qn++] = (struct ec_conn_in){.fd = fd, .shed = shed, .addr = *addr};
    atomic_store(&k->pending, true);
    pthread_mutex_unlock(&k->mu);
    wake(k);
}

void ec_http_workers_resume(ec_conn *c)
{
    ec_http_worker *k = c->k;
    pthread_mutex_lock(&k->mu);
    c->resumed_next = k->resumed;
    k->resumed = c;
    atomic_store(&k->pending, true);
    pthread_mutex_unlock(&k->mu);
    wake(k);
}

void ec_http_workers_halt(ec_http_workers *w)
{
    for (unsigned i = 0; i < w->n; i++)
        worker_halt(&w->w[i]);
}

void ec_http_workers_stop(ec_http_workers *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->n; i++)
        worker_stop(&w->w[i]);
    free(w->w);
    free(w);
}
