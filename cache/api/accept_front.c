/* SPDX-License-Identifier: MIT */
/* The accept front: our own thread owns the listening socket, so that every new
 * connection's first request head is checked before libmicrohttpd reads it. MHD 0.9.75
 * answers what it cannot parse (oversized heads, bad request lines, bad content-length,
 * other HTTP versions) with its own HTML page and no request id, and has no hook to
 * replace them; here those heads get the API's error shape instead.
 *
 * Each accepted connection is watched (epoll, edge-triggered) and its bytes are peeked
 * (MSG_PEEK: nothing is consumed) and fed to request_head.c until the head is complete,
 * refused, over the front's read limit, or past its deadline. A good head is handed to
 * a worker's MHD (mhd_workers.c), which then reads the same bytes from the socket; a bad
 * one is answered here, the connection drained for a moment (so that closing it does not
 * reset the answer away) and closed.
 *
 * The connection limits live here too: past max_connections (MHD's connections and the
 * front's together) a connection's request is answered 503 here; past the headroom it is
 * closed at once. A connection gets conn_timeout_s from its accept to complete its head,
 * whatever it dribbles, then it is closed without an answer (as the watcher in server.c
 * does for MHD's connections). Deadlines are kept in three lists, each in deadline order
 * because each list's connections share one timeout: only the heads are checked.
 *
 * Threads: one, started and stopped from the server's start and stop. */
#include "cache/api/request_head.h"
#include "cache/api/server_int.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096 /* the kernel caps it at net.core.somaxconn */
#define LINGER_S 2          /* how long a refused connection is drained before closing */
#define FIELDS_MAX 100      /* header fields in a request (Apache's default too) */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: wait before accepting again */
#define DRAIN_READS 64      /* reads of up to ~25 KiB per drain */

enum { WAIT_HEAD, WAIT_SHED, LINGER, NLISTS };

struct pending {
    struct pending *prev, *next;
    int fd;
    int list;
    struct timespec t0; /* accepted (or, lingering, answered) */
    socklen_t alen;
    struct sockaddr_storage addr;
    ec_head head;
};

struct plist {
    struct pending *first, *last;
    double timeout_s;
};

struct ec_front {
    ec_server *s;
    int lfd, ep, stop_fd;
    uint16_t port;
    pthread_t thread;
    bool started;
    struct plist lists[NLISTS];
    unsigned npending; /* in the lists; only the front's thread touches them */
    struct timespec accept_paused;
    bool accept_off;
    ec_head_limits lim;
    size_t read_max;
    char *buf; /* read_max + 1 bytes: one peek at a time */
};

static const char listen_tag = 'l', stop_tag = 's';

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void list_add(ec_front *f, struct pending *p, int list)
{
    struct plist *l = &f->lists[list];
    p->list = list;
    p->next = NULL;
    p->prev = l->last;
    if (l->last)
        l->last->next = p;
    else
        l->first = p;
    l->last = p;
}

static void list_del(ec_front *f, struct pending *p)
{
    struct plist *l = &f->lists[p->list];
    if (p->prev)
        p->prev->next = p->next;
    else
        l->first = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        l->last = p->prev;
}

static void drop(ec_front *f, struct pending *p)
{
    list_del(f, p);
    close(p->fd); /* also leaves the epoll set */
    free(p);
    f->npending--;
}

/* --- answers of our own --- */

/* Reads and drops what the client has sent, a bounded amount per call so that a client
 * that keeps sending cannot hold the front's thread. The last recv's result: 0 at the
 * end of the stream, < 0 with errno when nothing more is there or on error. */
static ssize_t drain(int fd, char *buf, size_t n)
{
    ssize_t r = -1;
    errno = EAGAIN;
    for (int i = 0; i < DRAIN_READS && (r = recv(fd, buf, n, MSG_DONTWAIT)) > 0; i++)
        ;
    return r;
}

/* Answers @status in the API's shape (api_errors.c), logs it like any request, and lets
 * the connection linger: its unread bytes would make close() send a reset, which can
 * reach the client before it has read the answer. */
static void answer(ec_front *f, struct pending *p, int status, const char *msg,
                   const char *extra)
{
    ec_req rq = {.srv = f->s, .route = "front", .status = status,
                 .peer = (const struct sockaddr *)&p->addr, .t0 = p->t0};
    ec_id_new(rq.id, "req");
    EC_AUTOFREE char *body = ec_api_error_text(status, msg, rq.id);
    if (body) {
        /* An answer to HEAD has no body (once the method is known to be HEAD). */
        bool head = p->head.url_n > 0 && p->head.p.method == HTTP_HEAD;
        EC_AUTOFREE char *out = ec_xasprintf(
            "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
            "request-id: %s\r\nconnection: close\r\n%s\r\n%s",
            status, http_status_str((enum http_status)status), strlen(body), rq.id,
            extra ? extra : "", head ? "" : body);
        drain(p->fd, f->buf, f->read_max + 1);
        /* A few hundred bytes into an empty send buffer: one send takes them. */
        if (send(p->fd, out, strlen(out), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
            rq.resp_bytes = head ? 0 : strlen(body);
    }
    shutdown(p->fd, SHUT_WR);
    ec_req_account(&rq);
    list_del(f, p);
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    list_add(f, p, LINGER);
}

/* --- connections --- */

static bool over(const ec_front *f, unsigned extra)
{
    unsigned held = (unsigned)atomic_load(&f->s->conns) + f->npending;
    return held >= f->s->o.max_connections + extra;
}

static void hand_over(ec_front *f, struct pending *p)
{
    epoll_ctl(f->ep, EPOLL_CTL_DEL, p->fd, NULL);
    list_del(f, p);
    f->npending--;
    ec_mhd_workers_add(f->s->workers, p->fd, (const struct sockaddr *)&p->addr, p->alen);
    free(p);
}

static void on_ready(ec_front *f, struct pending *p, uint32_t events)
{
    if (p->list == LINGER) {
        ssize_t r = drain(p->fd, f->buf, f->read_max + 1);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            drop(f, p);
        return;
    }
    ssize_t n = recv(p->fd, f->buf, f->read_max + 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(f, p); /* closed by the client: its socket is freed at once */
        return;
    }
    if (n < 0)
        return;
    ec_head_verdict v = ec_head_feed(&p->head, f->buf, (size_t)n);
    if (v == EC_HEAD_MORE && (size_t)n > f->read_max) {
        ec_head_overflow(&p->head);
        v = EC_HEAD_BAD;
    } else if (v == EC_HEAD_MORE && (events & (EPOLLRDHUP | EPOLLHUP))) {
        ec_head_truncated(&p->head);
        v = EC_HEAD_BAD;
    }
    if (v == EC_HEAD_MORE)
        return;
    if (v == EC_HEAD_BAD)
        answer(f, p, p->head.status, p->head.msg, NULL);
    else if (p->list == WAIT_SHED) {
        char msg[128];
        snprintf(msg, sizeof msg, "the server holds its limit of %u connections; retry shortly",
                 f->s->o.max_connections);
        answer(f, p, 503, msg, "retry-after: 1\r\n");
    } else
        hand_over(f, p);
}

static void accept_all(ec_front *f)
{
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
        if (over(f, EC_SERVER_SHED_HEADROOM)) {
            close(fd); /* past even the 503 headroom: closed at once */
            continue;
        }
        struct pending *p = ec_xcalloc(1, sizeof *p);
        p->fd = fd;
        p->addr = addr;
        p->alen = alen;
        clock_gettime(CLOCK_MONOTONIC, &p->t0);
        ec_head_init(&p->head, &f->lim);
        list_add(f, p, over(f, 0) ? WAIT_SHED : WAIT_HEAD);
        f->npending++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = p};
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            drop(f, p);
            continue;
        }
        /* The request is often in already (a client that connected and sent at once). */
        on_ready(f, p, 0);
    }
}

/* Closes the connections past their list's deadline: a head not complete in time is
 * closed without an answer (a slow loris gets nothing to read). */
static void expire(ec_front *f)
{
    for (int l = 0; l < NLISTS; l++)
        while (f->lists[l].first && since(&f->lists[l].first->t0) >= f->lists[l].timeout_s)
            drop(f, f->lists[l].first);
    if (f->accept_off && since(&f->accept_paused) * 1000 >= ACCEPT_PAUSE_MS) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = (void *)&listen_tag};
        epoll_ctl(f->ep, EPOLL_CTL_MOD, f->lfd, &ev);
        f->accept_off = false;
    }
}

static int next_wait_ms(const ec_front *f)
{
    double ms = 250;
    for (int l = 0; l < NLISTS; l++)
        if (f->lists[l].first) {
            double left = (f->lists[l].timeout_s - since(&f->lists[l].first->t0)) * 1000;
            ms = left < ms ? left : ms;
        }
    if (f->accept_off)
        ms = ms < ACCEPT_PAUSE_MS ? ms : ACCEPT_PAUSE_MS;
    return ms < 1 ? 1 : (int)ms + 1;
}

static void *front_main(void *arg)
{
    ec_front *f = arg;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(f->ep, evs, (int)EC_ARRAY_LEN(evs), next_wait_ms(f));
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &stop_tag)
                return NULL;
            if (tag == &listen_tag)
                accept_all(f);
            else
                on_ready(f, tag, evs[i].events);
        }
        expire(f);
    }
}

/* --- life cycle --- */

int ec_front_open(ec_front **out, ec_server *s, const struct sockaddr_storage *ss, ec_err *err)
{
    ec_front *f = ec_xcalloc(1, sizeof *f);
    f->s = s;
    f->lfd = f->ep = f->stop_fd = -1;
    f->lists[WAIT_HEAD].timeout_s = s->o.conn_timeout_s;
    f->lists[WAIT_SHED].timeout_s = EC_SERVER_SHED_TIMEOUT_S;
    f->lists[LINGER].timeout_s = LINGER_S;
    f->lim = (ec_head_limits){.url_max = EC_SERVER_URL_MAX,
                              .header_max = s->o.max_header_bytes,
                              .fields_max = FIELDS_MAX};
    /* The request line (method, target, version) and the header block at their limits. */
    f->read_max = EC_SERVER_URL_MAX + s->o.max_header_bytes + 1024;
    f->buf = ec_xmalloc(f->read_max + 1);
    socklen_t sl = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
    int one = 1;
    f->lfd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->lfd >= 0) {
        /* A restart binds while old connections linger in TIME_WAIT. Not SO_REUSEPORT (what
         * MHD set): a second server on the same port is an error, not a silent share. */
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
    for (int l = 0; l < NLISTS; l++)
        while (f->lists[l].first)
            drop(f, f->lists[l].first);
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->ep >= 0)
        close(f->ep);
    if (f->stop_fd >= 0)
        close(f->stop_fd);
    free(f->buf);
    free(f);
}
