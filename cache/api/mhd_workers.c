/* SPDX-License-Identifier: MIT */
/* libmicrohttpd's daemons run by threads of ours, not by its internal thread pool.
 *
 * Why: in MHD's epoll loop (0.9.75 and still upstream), the loop that drains epoll_wait
 * calls it again whenever a call returned a full batch (128 events), with the daemon's
 * whole wait: up to the connection timeout. Connections added from outside (the accept
 * front's) arrive in bursts whose events come all at once, so a worker that got exactly
 * 128 of them, and then nothing more, sat on their answers until the timeout: 128 of 129
 * connections opened together waited the full timeout. Run from outside, MHD_run waits
 * for nothing (each of its epoll_waits returns at once); the waiting is ours, on MHD's
 * epoll descriptor and on our queue of new connections, for as long as MHD_get_timeout
 * says.
 *
 * Each worker's daemon is touched by its thread only: the front queues a connection and
 * wakes the thread (an eventfd), which adds it with MHD_add_connection. A deferred
 * request's thread resumes its connection and then wakes the worker the same way: in
 * external mode MHD has no inter-thread channel of its own (it drops MHD_USE_ITC), and
 * MHD_get_timeout does not count a connection being resumed. */
#include "cache/api/mhd_workers.h"

#include <microhttpd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store/util/log.h"
#include "store/util/mem.h"

/* The longest a worker waits without looking at its daemon: MHD's timeout is the real
 * deadline; this bounds what a wake-up missed inside MHD could cost. */
#define WAIT_MAX_MS 1000

struct conn_in {
    int fd;
    socklen_t alen;
    struct sockaddr_storage addr;
};

struct ec_mhd_worker { /* ec_mhd_waker */
    struct MHD_Daemon *d;
    int ep, wake;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool queued; /* q has connections: spares a look at the eventfd when busy */
    pthread_mutex_t mu; /* guards q */
    struct conn_in *q;
    size_t qn, qcap;
};

struct ec_mhd_workers {
    struct ec_mhd_worker *w;
    unsigned n;
    unsigned next; /* round robin; the front's thread alone adds */
};

static void take_new(struct ec_mhd_worker *k)
{
    pthread_mutex_lock(&k->mu);
    struct conn_in *q = k->q;
    size_t n = k->qn;
    k->q = NULL;
    k->qn = k->qcap = 0;
    atomic_store(&k->queued, false);
    pthread_mutex_unlock(&k->mu);
    for (size_t i = 0; i < n; i++) /* MHD closes the socket when it cannot take it */
        MHD_add_connection(k->d, q[i].fd, (const struct sockaddr *)&q[i].addr, q[i].alen);
    free(q);
}

/* Empties the wake-up counter whenever epoll reports it, whether or not anything is
 * queued: a wake-up written after its connection was already taken would otherwise keep
 * the descriptor readable and the loop spinning. */
static void drain_wake(struct ec_mhd_worker *k)
{
    uint64_t v;
    if (read(k->wake, &v, sizeof v) < 0 && errno != EAGAIN)
        ec_warn("serve: reading a worker's wake-up: %s", strerror(errno));
}

static int wait_ms(struct ec_mhd_worker *k)
{
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(k->d, &to) != MHD_YES || to > WAIT_MAX_MS)
        return WAIT_MAX_MS;
    return (int)to;
}

static _Thread_local struct ec_mhd_worker *current;

ec_mhd_waker ec_mhd_workers_current(void)
{
    return current;
}

void ec_mhd_workers_wake(ec_mhd_waker k)
{
    uint64_t one = 1;
    if (k && write(k->wake, &one, sizeof one) < 0)
        ec_warn("serve: cannot wake a worker: %s", strerror(errno));
}

static void *worker_main(void *arg)
{
    struct ec_mhd_worker *k = arg;
    current = k;
    struct epoll_event evs[2];
    /* A client gone mid-answer is a failed write here, not the process's death: with
     * SIGPIPE blocked in this thread MHD may send files with sendfile (which, unlike
     * send, cannot be told MSG_NOSIGNAL). */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    while (!atomic_load(&k->stop)) {
        int ms = wait_ms(k);
        /* At 0 MHD has work in hand (a file half sent): it runs at once, as it would in
         * its own loop, and the queue is looked at through its flag. */
        int n = ms > 0 ? epoll_wait(k->ep, evs, 2, ms) : 0;
        if (n < 0 && errno != EINTR)
            ec_warn("serve: a worker's wait failed: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            if (evs[i].data.ptr == k)
                drain_wake(k);
        if (atomic_load(&k->queued))
            take_new(k);
        MHD_run(k->d);
    }
    return NULL;
}

static int worker_start(struct ec_mhd_worker *k, ec_mhd_start_fn start, void *arg, ec_err *err)
{
    k->ep = k->wake = -1;
    pthread_mutex_init(&k->mu, NULL);
    /* worker_main blocks SIGPIPE, which MHD cannot know of a thread it did not start. */
    const struct MHD_OptionItem opts[] = {{MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL},
                                          {MHD_OPTION_END, 0, NULL}};
    errno = 0;
    k->d = start(MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                 opts, arg);
    if (!k->d)
        return ec_fail_sys(err, errno ? errno : ENOMEM, "cannot start the HTTP server");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(k->d, MHD_DAEMON_INFO_EPOLL_FD);
    k->ep = epoll_create1(EPOLL_CLOEXEC);
    k->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event me = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event we = {.events = EPOLLIN, .data.ptr = k};
    if (!di || k->ep < 0 || k->wake < 0 ||
        epoll_ctl(k->ep, EPOLL_CTL_ADD, di->epoll_fd, &me) < 0 ||
        epoll_ctl(k->ep, EPOLL_CTL_ADD, k->wake, &we) < 0)
        return ec_fail_sys(err, di ? errno : EINVAL, "cannot set up the HTTP server's loop");
    int e = pthread_create(&k->thread, NULL, worker_main, k);
    if (e != 0) /* pthread_create returns its error; errno is not set */
        return ec_fail_sys(err, e, "cannot start the HTTP server's threads");
    k->started = true;
    return EC_OK;
}

static void worker_stop(struct ec_mhd_worker *k)
{
    if (k->started) {
        uint64_t one = 1;
        atomic_store(&k->stop, true);
        if (write(k->wake, &one, sizeof one) < 0)
            ec_warn("serve: cannot wake a worker to stop: %s", strerror(errno));
        pthread_join(k->thread, NULL);
    }
    for (size_t i = 0; i < k->qn; i++) /* queued after the thread's last look */
        close(k->q[i].fd);
    free(k->q);
    MHD_stop_daemon(k->d); /* its "closed" notifications come from this thread */
    if (k->ep >= 0)
        close(k->ep);
    if (k->wake >= 0)
        close(k->wake);
    pthread_mutex_destroy(&k->mu);
}

int ec_mhd_workers_start(ec_mhd_workers **out, unsigned n, ec_mhd_start_fn start, void *arg,
                         ec_err *err)
{
    ec_mhd_workers *w = ec_xcalloc(1, sizeof *w);
    w->w = ec_xcalloc(n, sizeof *w->w);
    int r = EC_OK;
    for (; w->n < n && r == EC_OK; w->n++)
        r = worker_start(&w->w[w->n], start, arg, err);
    if (r < 0) {
        ec_mhd_workers_stop(w);
        return r;
    }
    *out = w;
    return EC_OK;
}

void ec_mhd_workers_add(ec_mhd_workers *w, int fd, const struct sockaddr *addr,
                        socklen_t alen)
{
    struct ec_mhd_worker *k = &w->w[w->next++ % w->n];
    struct conn_in c = {.fd = fd, .alen = alen};
    memcpy(&c.addr, addr, alen < sizeof c.addr ? alen : sizeof c.addr);
    pthread_mutex_lock(&k->mu);
    if (k->qn == k->qcap) {
        k->qcap = k->qcap ? k->qcap * 2 : 16;
        k->q = ec_xrealloc(k->q, k->qcap * sizeof *k->q);
    }
    k->q[k->qn++] = c;
    atomic_store(&k->queued, true);
    pthread_mutex_unlock(&k->mu);
    ec_mhd_workers_wake(k);
}

void ec_mhd_workers_stop(ec_mhd_workers *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->n; i++)
        worker_stop(&w->w[i]);
    free(w->w);
    free(w);
}
