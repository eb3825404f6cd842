/* SPDX-License-Identifier: MIT */
/* The sandbox's network: loopback only, plus the mirror relayed from the host's loopback.
 *
 * The child brings up lo in its new network namespace, opens a listener on
 * 127.0.0.1:PORT there and hands the listening socket to the parent over a unix socket
 * (SCM_RIGHTS). A socket keeps the namespace it was created in, so the parent accepts
 * sandbox connections on it while its own connect() to 127.0.0.1:PORT reaches the host's
 * mirror. No process of the sandbox ever holds a socket of the host's namespace, and the
 * sandbox needs no helper process of its own.
 */
#include "cache/sandbox/sandbox_int.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* --- inside --- */

int ec_sandbox__lo_up(ec_err *err)
{
    EC_AUTOFD int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    if (s < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot open a socket to bring up lo");
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot read the flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot bring up lo");
    return EC_OK;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int ec_sandbox__listen(int *fd_out, int port, ec_err *err)
{
    struct sockaddr_in a = loopback(port);
    EC_AUTOFD int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot open the mirror's listener");
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot listen on 127.0.0.1:%d", port);
    *fd_out = ec_steal_fd(&s);
    return EC_OK;
}

/* --- descriptor passing --- */

int ec_sandbox__send(int sock, const void *msg, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {(void *)msg, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

ssize_t ec_sandbox__recv(int sock, void *msg, size_t cap, int *fd_out)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {msg, cap};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    *fd_out = -1;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd_out, CMSG_DATA(c), sizeof *fd_out);
    }
    return n;
}

/* --- the forwarder --- */

#define FWD_MAX_CONNS 256

struct fwd_conn {
    pthread_t thread;
    int inside, outside;
    int stop; /* the forwarder's eventfd (borrowed) */
    volatile int done;
};

struct ec_sandbox_fwd {
    pthread_t thread;
    int listen_fd, port, stop;
    struct fwd_conn *conns[FWD_MAX_CONNS];
    size_t nconns;
};

/* Moves what @from has to @to; false at EOF or error. */
static bool relay_once(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        off += w;
    }
    return true;
}

/* Each direction ends on its own: EOF on one side half-closes the other, so a client that
 * shuts down its write side still gets the whole answer. */
static void *conn_main(void *arg)
{
    struct fwd_conn *c = arg;
    struct pollfd p[3] = {{c->inside, POLLIN, 0}, {c->outside, POLLIN, 0}, {c->stop, POLLIN, 0}};
    bool open_in = true, open_out = true;
    while (open_in || open_out) {
        p[0].fd = open_in ? c->inside : -1;
        p[1].fd = open_out ? c->outside : -1;
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[2].revents)
            break;
        if (p[0].revents && !relay_once(c->inside, c->outside)) {
            open_in = false;
            shutdown(c->outside, SHUT_WR);
        }
        if (p[1].revents && !relay_once(c->outside, c->inside)) {
            open_out = false;
            shutdown(c->inside, SHUT_WR);
        }
    }
    close(c->inside);
    close(c->outside);
    c->done = 1;
    return NULL;
}

static void fwd_reap(ec_sandbox_fwd *f, bool all)
{
    size_t k = 0;
    for (size_t i = 0; i < f->nconns; i++) {
        struct fwd_conn *c = f->conns[i];
        if (all || c->done) {
            pthread_join(c->thread, NULL);
            free(c);
        } else {
            f->conns[k++] = c;
        }
    }
    f->nconns = k;
}

static void fwd_accept(ec_sandbox_fwd *f)
{
    EC_AUTOFD int in = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (in < 0)
        return;
    fwd_reap(f, false);
    struct sockaddr_in a = loopback(f->port);
    EC_AUTOFD int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (out < 0 || connect(out, (struct sockaddr *)&a, sizeof a) < 0) {
        ec_warn("sandbox: cannot reach the mirror at 127.0.0.1:%d: %s", f->port,
                strerror(errno));
        return; /* closing @in tells the client */
    }
    if (f->nconns == FWD_MAX_CONNS)
        return;
    struct fwd_conn *c = ec_xcalloc(1, sizeof *c);
    *c = (struct fwd_conn){.inside = in, .outside = out, .stop = f->stop};
    if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
        free(c);
        return;
    }
    in = out = -1; /* the thread owns them */
    f->conns[f->nconns++] = c;
}

static void *fwd_main(void *arg)
{
    ec_sandbox_fwd *f = arg;
    struct pollfd p[2] = {{f->listen_fd, POLLIN, 0}, {f->stop, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (p[0].revents)
            fwd_accept(f);
    }
    return NULL;
}

int ec_sandbox__fwd_start(ec_sandbox_fwd **out, int listen_fd, int port, ec_err *err)
{
    ec_sandbox_fwd *f = ec_xcalloc(1, sizeof *f);
    f->listen_fd = listen_fd;
    f->port = port;
    f->stop = eventfd(0, EFD_CLOEXEC);
    if (f->stop < 0) {
        int e = errno;
        close(listen_fd);
        free(f);
        return ec_fail_sys(err, e, "sandbox: cannot create the forwarder's eventfd");
    }
    int e = pthread_create(&f->thread, NULL, fwd_main, f);
    if (e != 0) {
        close(f->stop);
        close(listen_fd);
        free(f);
        return ec_fail_sys(err, e, "sandbox: cannot start the mirror forwarder");
    }
    *out = f;
    return EC_OK;
}

void ec_sandbox__fwd_stop(ec_sandbox_fwd *f)
{
    if (!f)
        return;
    uint64_t one = 1;
    if (write(f->stop, &one, sizeof one) < 0)
        ec_warn("sandbox: cannot signal the forwarder: %s", strerror(errno));
    pthread_join(f->thread, NULL);
    fwd_reap(f, true);
    close(f->listen_fd);
    close(f->stop);
    free(f);
}
