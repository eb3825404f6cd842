/* SPDX-License-Identifier: MIT */
/* One HTTP/1.1 connection, on its worker's thread: read a request's head (request_head.c
 * checks it), its body by content-length, run its handler (server.c), write the answer
 * (sendfile for file bodies), then the next request, kept-alive or pipelined, the same
 * way. Whatever cannot be parsed is answered in the API's error shape and the connection
 * closed after a moment's lingering, so the answer is not lost to a reset.
 *
 * Readiness is edge-triggered: can_read and can_write remember what epoll said until a
 * read or write finds the socket empty or full. A request's bytes stay in `in` until its
 * answer is written (its header fields point into them), so nothing more is read while a
 * request is handled; pipelined requests wait in the buffer or the socket. */
#include "cache/api/http_conn.h"
#include "cache/api/http_resp.h"
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#define IN_FIRST 4096         /* a connection's first read buffer; most heads fit */
#define COPY_BODY_MAX 16384   /* memory bodies up to this go out in the head's write */
#define SENDFILE_CHUNK (4u << 20)
#define LINGER_READS 64       /* reads per readiness while lingering */
#define TURN_ANSWERS 16       /* answers in a row on one connection before the others' turn */

enum step { STEP_MORE, STEP_WAIT, STEP_GONE };

static void conn_run(ec_conn *c);

/* --- reading --- */

/* Reads into `in` (grown up to read_max + 1 bytes). > 0: bytes read; 0: the client closed
 * its side; -1: nothing more now (EAGAIN) or an error (errno), -2 when the buffer is full. */
static ssize_t read_in(ec_conn *c)
{
    size_t cap_max = c->k->read_max + 1;
    if (c->in_n == c->in_cap) {
        if (c->in_cap >= cap_max)
            return -2;
        size_t cap = c->in_cap ? c->in_cap * 2 : IN_FIRST;
        c->in_cap = cap < cap_max ? cap : cap_max;
        c->in = ec_xrealloc(c->in, c->in_cap);
    }
    size_t room = c->in_cap - c->in_n;
    ssize_t n = recv(c->fd, c->in + c->in_n, room, 0);
    if (n > 0) {
        c->in_n += (size_t)n;
        /* The socket is empty: the next edge says when it is not. Unless the client has
         * closed its side: then the end of the stream is still to be read. */
        if ((size_t)n < room && !c->rdhup)
            c->can_read = false;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->can_read = false;
    } else if (n < 0 && errno == EINTR) {
        return read_in(c);
    }
    return n;
}

/* --- the request --- */

static bool bodiless_status(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* NUL-terminates a field's name and value where they lie in `in` (the byte after a name
 * is its colon, after a value its line end or blanks): the request's headers cost no
 * copy. */
static void take_fields(ec_conn *c, ec_req *rq)
{
    ec_head *h = &c->head;
    rq->nfields = h->fields;
    rq->fields = h->fields ? ec_xmalloc(h->fields * sizeof *rq->fields) : NULL;
    for (size_t i = 0; i < h->fields; i++) {
        ec_head_field *f = &h->f[i];
        char *name = c->in + f->name.off;
        name[f->name.len] = '\0';
        rq->fields[i].name = name;
        size_t vl = f->value.len;
        char *value = c->in + f->value.off;
        while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            vl--;
        if (vl) {
            value[vl] = '\0';
            rq->fields[i].value = value;
        } else {
            rq->fields[i].value = "";
        }
    }
}

static ec_req *new_request(ec_conn *c)
{
    ec_req *rq = ec_server__req_new(c->k->s, c);
    ec_head *h = &c->head;
    c->rq = rq;
    rq->peer = (const struct sockaddr *)&c->addr;
    if (h->url_n > 0 && !h->bad_method)
        rq->method = http_method_str((enum http_method)h->p.method);
    return rq;
}

static enum step answer(ec_conn *c);

/* A head refused by request_head.c: answered, then the connection closes. */
static enum step refuse(ec_conn *c)
{
    ec_req *rq = new_request(c);
    rq->route = "unparsed";
    ec_reply_fail(rq, c->head.status, "%s", c->head.msg);
    c->closing = true;
    return answer(c);
}

static enum step run_handler(ec_conn *c)
{
    c->state = EC_CONN_HANDLE;
    ec_http_worker_watch(c, EC_LIST_NONE);
    ec_server__req_run(c->rq);
    if (c->rq->deferred)
        return STEP_WAIT; /* its thread resumes it (ec_conn_resumed) */
    return answer(c);
}

static enum step start_request(ec_conn *c)
{
    ec_head *h = &c->head;
    ec_req *rq = new_request(c);
    rq->raw_uri = ec_xstrndup(c->in + h->url.off, h->url.len);
    size_t path_n = strcspn(rq->raw_uri, "?");
    char *url = ec_xstrndup(rq->raw_uri, path_n);
    url[ec_http_unescape(url, false)] = '\0';
    rq->url = url;
    if (rq->raw_uri[path_n] == '?')
        ec_server__req_args(rq, rq->raw_uri + path_n + 1);
    take_fields(c, rq);
    c->used = h->len;
    c->closing = !http_should_keep_alive(&h->p);
    if (!ec_server__req_begin(rq, c->shed)) {
        c->closing = true; /* the body, if any, is not read */
        return answer(c);
    }
    c->body_left = (h->p.flags & F_CONTENTLENGTH) ? h->p.content_length : 0;
    const char *expect = ec_req_header(rq, "expect");
    if (c->body_left && expect && strcasecmp(expect, "100-continue") == 0 &&
        h->p.http_minor >= 1 && c->in_n == c->used) {
        /* The client waits for this before it sends the body (a few bytes into an empty
         * send buffer: one send takes them, or the client sends anyway after its wait). */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        (void)!send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (!c->body_left)
        return run_handler(c);
    c->state = EC_CONN_BODY;
    ec_http_worker_watch(c, EC_LIST_WAIT);
    return STEP_MORE;
}

static enum step step_head(ec_conn *c)
{
    for (;;) {
        ec_head_verdict v = ec_head_feed(&c->head, c->in, c->in_n);
        if (v == EC_HEAD_OK)
            return start_request(c);
        if (v == EC_HEAD_BAD)
            return refuse(c);
        if (c->in_n > c->k->read_max) {
            ec_head_overflow(&c->head);
            return refuse(c);
        }
        if (!c->can_read)
            return STEP_WAIT;
        ssize_t n = read_in(c);
        if (n == 0 && strspn(c->in ? c->in : "", "\r\n") >= c->in_n) {
            ec_conn_close(c); /* a kept-alive connection the client closed: nothing lost */
            return STEP_GONE;
        }
        if (n == 0) {
            ec_head_truncated(&c->head);
            return refuse(c);
        }
        if (n == -1 && c->can_read) { /* an error, not EAGAIN: the client is gone */
            ec_conn_close(c);
            return STEP_GONE;
        }
    }
}

static void body_add(ec_conn *c, const char *p, size_t n)
{
    ec_req *rq = c->rq;
    if (!rq->too_large && ec_buf_add(&rq->body, p, n, NULL) < 0)
        rq->too_large = true;
    c->body_left -= n;
}

static enum step step_body(ec_conn *c)
{
    size_t have = c->in_n - c->used;
    size_t take = have < c->body_left ? have : (size_t)c->body_left;
    if (take) {
        body_add(c, c->in + c->used, take);
        c->used += take;
    }
    bool moved = false;
    while (c->body_left && c->can_read) {
        /* Never past the body: what follows is the next request's. */
        size_t want = c->body_left < c->k->read_max ? (size_t)c->body_left : c->k->read_max;
        ssize_t n = recv(c->fd, c->k->scratch, want, 0);
        if (n > 0) {
            body_add(c, c->k->scratch, (size_t)n);
            moved = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_read = false;
            break;
        }
        ec_conn_close(c); /* closed or failed before its body ended */
        return STEP_GONE;
    }
    if (c->body_left) {
        if (moved) /* a slow sender gets the timeout from its last bytes, not the head's */
            ec_http_worker_watch(c, EC_LIST_WAIT);
        return STEP_WAIT;
    }
    return run_handler(c);
}

/* --- the answer --- */

static const char *http_date(void)
{
    static _Thread_local time_t last;
    static _Thread_local char text[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return text;
}

/* Writes the answer's head into `out` and sets up its body. */
static enum step answer(ec_conn *c)
{
    ec_req *rq = c->rq;
    ec_server__req_answer(rq);
    ec_resp *r = rq->resp;
    if (ec_server__stopping(c->k->s))
        c->closing = true;
    bool bodiless = bodiless_status(rq->status);
    bool head_only = rq->method && strcmp(rq->method, "HEAD") == 0;
    ec_buf *o = &c->out;
    ec_buf_reset(o);
    ec_buf_addf(o, NULL, "HTTP/1.1 %d %s\r\nDate: %s\r\n", rq->status,
                http_status_str((enum http_status)rq->status), http_date());
    if (r->headers.n)
        ec_buf_add(o, r->headers.p, r->headers.n, NULL);
    if (!bodiless)
        ec_buf_addf(o, NULL, "Content-Length: %llu\r\n",
                    (unsigned long long)ec_resp_length(r));
    ec_buf_addf(o, NULL, "request-id: %s\r\n%s\r\n", rq->id,
                c->closing                          ? "Connection: close\r\n"
                : c->head.p.http_minor == 0         ? "Connection: Keep-Alive\r\n"
                                                    : "");
    c->out_off = 0;
    c->mem = NULL;
    c->mem_n = 0;
    c->file_left = 0;
    if (!bodiless && !head_only) {
        if (r->fd >= 0) {
            c->file_off = r->off;
            c->file_left = r->len;
        } else if (r->body_n <= COPY_BODY_MAX) {
            ec_buf_add(o, r->body, r->body_n, NULL);
        } else {
            c->mem = r->body;
            c->mem_n = r->body_n;
        }
    }
    c->state = EC_CONN_WRITE;
    ec_http_worker_watch(c, EC_LIST_WAIT);
    return STEP_MORE;
}

/* One write of what is left: > 0 bytes written, or -1 (errno); *@asked: how many it
 * offered, so that a short write tells the socket's buffer is full. */
static ssize_t write_some(ec_conn *c, size_t *asked)
{
    size_t head_left = c->out.n - c->out_off;
    if (head_left && c->mem_n) {
        struct iovec iov[2] = {{c->out.p + c->out_off, head_left}, {(void *)c->mem, c->mem_n}};
        *asked = head_left + c->mem_n;
        return writev(c->fd, iov, 2); /* SIGPIPE is blocked in the workers */
    }
    if (head_left) {
        *asked = head_left;
        return send(c->fd, c->out.p + c->out_off, head_left,
                    MSG_NOSIGNAL | (c->file_left ? MSG_MORE : 0));
    }
    if (c->mem_n) {
        *asked = c->mem_n;
        return send(c->fd, c->mem, c->mem_n, MSG_NOSIGNAL);
    }
    off_t off = (off_t)c->file_off;
    *asked = c->file_left < SENDFILE_CHUNK ? (size_t)c->file_left : SENDFILE_CHUNK;
    ssize_t n = sendfile(c->fd, c->rq->resp->fd, &off, *asked);
    if (n == 0) { /* the file is shorter than it was when the answer was made */
        errno = EIO;
        return -1;
    }
    return n;
}

static enum step finish_answer(ec_conn *c);

static enum step step_write(ec_conn *c)
{
    bool moved = false;
    while (c->out_off < c->out.n || c->mem_n || c->file_left) {
        if (!c->can_write) {
            if (moved) /* a slow reader gets the timeout from its last progress */
                ec_http_worker_watch(c, EC_LIST_WAIT);
            return STEP_WAIT;
        }
        size_t asked = 0;
        ssize_t n = write_some(c, &asked);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_write = false;
            continue;
        }
        if (n < 0) {
            ec_conn_close(c); /* the client went away mid-answer */
            return STEP_GONE;
        }
        moved = true;
        size_t left = (size_t)n;
        /* A short write means the send buffer is full: wait for its edge. Not for a file:
         * it may be the file that is short, which the next sendfile tells (0: failed). */
        if ((size_t)n < asked && !(c->out_off == c->out.n && !c->mem_n))
            c->can_write = false;
        size_t h = c->out.n - c->out_off;
        if (h) {
            size_t t = left < h ? left : h;
            c->out_off += t;
            left -= t;
        }
        if (left && c->mem_n) {
            c->mem += left;
            c->mem_n -= left;
        } else if (left) {
            c->file_off += left;
            c->file_left -= left;
        }
    }
    return finish_answer(c);
}

/* --- after the answer --- */

static enum step step_linger(ec_conn *c)
{
    for (int i = 0; i < LINGER_READS && c->can_read; i++) {
        ssize_t n = recv(c->fd, c->k->scratch, c->k->read_max, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_read = false;
            return STEP_WAIT;
        }
        ec_conn_close(c); /* the client has read the answer and closed, or failed */
        return STEP_GONE;
    }
    return STEP_WAIT;
}

/* Unread bytes at close() make the kernel send a reset, which can reach the client before
 * it has read the answer: the connection is half-closed and drained for a while first. */
static enum step start_linger(ec_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = EC_CONN_LINGER;
    ec_http_worker_watch(c, EC_LIST_LINGER);
    return STEP_MORE;
}

static enum step finish_answer(ec_conn *c)
{
    ec_server__req_end(c->rq, true);
    c->rq = NULL;
    if (c->closing)
        return start_linger(c);
    c->in_n -= c->used;
    memmove(c->in, c->in + c->used, c->in_n);
    c->used = 0;
    if (c->in_cap > IN_FIRST && c->in_n <= IN_FIRST) { /* a big head's buffer is not kept */
        c->in_cap = IN_FIRST;
        c->in = ec_xrealloc(c->in, c->in_cap);
    }
    ec_head_init(&c->head, &c->k->lim);
    c->state = EC_CONN_HEAD;
    ec_http_worker_watch(c, c->shed ? EC_LIST_SHED : EC_LIST_WAIT);
    return STEP_MORE;
}

/* --- driving --- */

static void conn_run(ec_conn *c)
{
    for (int answers = 0;;) {
        enum step s = STEP_WAIT;
        switch (c->state) {
        case EC_CONN_HEAD:
            s = step_head(c);
            break;
        case EC_CONN_BODY:
            s = step_body(c);
            break;
        case EC_CONN_HANDLE:
            return;
        case EC_CONN_WRITE:
            s = step_write(c);
            /* A client that pipelines without end does not hold the worker. */
            if (s == STEP_MORE && c->state == EC_CONN_HEAD && ++answers >= TURN_ANSWERS) {
                ec_http_worker_later(c);
                return;
            }
            break;
        case EC_CONN_LINGER:
            s = step_linger(c);
            break;
        }
        if (s != STEP_MORE)
            return;
    }
}

void ec_conn_open(ec_http_worker *k, int fd, const struct sockaddr_storage *addr, bool shed)
{
    ec_conn *c = ec_xcalloc(1, sizeof *c);
    c->k = k;
    c->fd = fd;
    c->addr = *addr;
    c->shed = shed;
    c->list = EC_LIST_NONE;
    c->can_read = c->can_write = true; /* its request has often arrived already */
    ec_head_init(&c->head, &k->lim);
    c->all_next = k->all;
    if (k->all)
        k->all->all_prev = c;
    k->all = c;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ec_conn_close(c);
        return;
    }
    ec_http_worker_watch(c, shed ? EC_LIST_SHED : EC_LIST_WAIT);
    conn_run(c);
}

void ec_conn_event(ec_conn *c, uint32_t events)
{
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->rdhup = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->can_read = true; /* a read tells which: data, the end, or the error */
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->can_write = true;
    conn_run(c);
}

void ec_conn_continue(ec_conn *c)
{
    conn_run(c);
}

void ec_conn_resumed(ec_conn *c)
{
    if (answer(c) == STEP_MORE)
        conn_run(c);
}

void ec_conn_close(ec_conn *c)
{
    ec_http_worker *k = c->k;
    if (c->rq)
        ec_server__req_end(c->rq, false);
    ec_http_worker_watch(c, EC_LIST_NONE);
    ec_http_worker_unready(c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        k->all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    /* Out of the epoll set by hand: close() alone leaves it there while another copy of
     * the descriptor lives (the sandbox's first process, cloned during a warm-up, holds
     * copies of them all), and its next event would name freed memory. Shut down for the
     * same reason: the client sees the end now, not when the copy goes. */
    epoll_ctl(k->ep, EPOLL_CTL_DEL, c->fd, NULL);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    ec_server__conn_closed(k->s);
    free(c->in);
    ec_buf_fini(&c->out);
    free(c);
}
