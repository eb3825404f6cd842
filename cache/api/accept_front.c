/* SPDX-License-Identifier: MIT */
/* The accept front: one thread owns the listening socket, accepts, keeps the connection
 * limits and hands each connection to a worker (http_workers.c), which reads and answers
 * every request on it. Past max_connections a connection is still taken, marked to have
 * its request answered 503 (with EC_SERVER_SHED_TIMEOUT_S to send it); past the headroom
 * beyond that it is closed at once. Out of descriptors, it stops accepting for a moment
 * instead of spinning on the ready socket.
 *
 * Threads: one, started and stopped from the server's start and stop. */
#include "cache/api/http_conn.h"
#include "cache/api/server_int.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096 /* the kernel caps it at net.core.somaxconn */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: wait before accepting again */

struct ec_front {
    ec_server *s;
    int lfd, ep, stop_fd;
    uint16_t port;
    pthread_t thread;
    bool started;
    struct timespec accept_paused;
    bool accept_off;
};

static const char listen_tag = 'l', stop_tag = 's';

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void accept_all(ec_front *f)
{
    unsigned max = f->s->o.max_connections;
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t alen = sizeof addr;
        int fd = accept4(f->lfd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: stop watching the socket for a moment, not spin. */
                struct epoll_event ev = {.events = 0, .data.ptr = (void *)&listen_tag};
                epoll_ctl(f->ep, EPOLL_CTL_MOD, f->lfd, &ev);
                clock_gettime(CLOCK_MONOTONIC, &f->accept_paused);
                f->accept_off = true;
            }
            return;
        }
        unsigned held = (unsigned)atomic_fetch_add(&f->s->conns, 1);
        if (held >= max + EC_SERVER_SHED_HEADROOM) {
            close(fd); /* past even the 503 headroom: closed at once */
            atomic_fetch_sub(&f->s->conns, 1);
            continue;
        }
        /* Answers are written whole (a head and its body in one write, or a head marked
         * MSG_MORE before sendfile): Nagle would only hold a body's last segment back
         * for the client's delayed ACK, 40 ms per answer. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ec_http_workers_add(f->s->workers, fd, &addr, held >= max);
    }
}

static void *front_main(void *arg)
{
    ec_front *f = arg;
    struct epoll_event evs[4];
    for (;;) {
        int n = epoll_wait(f->ep, evs, (int)EC_ARRAY_LEN(evs), f->accept_off ? ACCEPT_PAUSE_MS : -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &stop_tag)
                return NULL;
            accept_all(f);
        }
        if (f->accept_off && since(&f->accept_paused) * 1000 >= ACCEPT_PAUSE_MS) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = (void *)&listen_tag};
            epoll_ctl(f->ep, EPOLL_CTL_MOD, f->lfd, &ev);
            f->accept_off = false;
        }
    }
}

/* --- life cycle --- */

int ec_front_open(ec_front **out, ec_server *s, const struct sockaddr_storage *ss, ec_err *err)
{
    ec_front *f = ec_xcalloc(1, sizeof *f);
    f->s = s;
    f->lfd = f->ep = f->stop_fd = -1;
    socklen_t sl = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
    int one = 1;
    f->lfd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->lfd >= 0) {
        /* A restart binds while old connections linger in TIME_WAIT. Not SO_REUSEPORT: a second server on the same port is an error, not a silent share. */
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss->ss_family == AF_INET6) /* [::]:P listens on IPv6 alone, as before */
            setsockopt(f->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (f->lfd < 0 || bind(f->lfd, (const struct sockaddr *)ss, sl) < 0 ||
        listen(f->lfd, LISTEN_BACKLOG) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&bound, &bl) < 0) {
        int e = errno;
        ec_front_close(f);
        return ec_fail_sys(err, e, "cannot listen on %s", s->o.listen);
    }
    f->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = (void *)&listen_tag};
    struct epoll_event se = {.events = EPOLLIN, .data.ptr = (void *)&stop_tag};
    if (f->ep < 0 || f->stop_fd < 0 || epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &le) < 0 ||
        epoll_ctl(f->ep, EPOLL_CTL_ADD, f->stop_fd, &se) < 0) {
        int e = errno;
        ec_front_close(f);
        return ec_fail_sys(err, e, "cannot set up the accept loop");
    }
    *out = f;
    return EC_OK;
}

int ec_front_start(ec_front *f, ec_err *err)
{
    int e = pthread_create(&f->thread, NULL, front_main, f);
    if (e != 0) /* pthread_create returns its error; errno is not set */
        return ec_fail_sys(err, e, "cannot start the accept thread");
    f->started = true;
    return EC_OK;
}

uint16_t ec_front_port(const ec_front *f)
{
    return f->port;
}

void ec_front_close(ec_front *f)
{
    if (!f)
        return;
    if (f->started) {
        uint64_t one = 1;
        if (write(f->stop_fd, &one, sizeof one) < 0)
            ec_warn("serve: cannot stop the accept thread: %s", strerror(errno));
        pthread_join(f->thread, NULL);
    }
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->ep >= 0)
        close(f->ep);
    if (f->stop_fd >= 0)
        close(f->stop_fd);
    free(f);
}
