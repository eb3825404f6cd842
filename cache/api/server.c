/* SPDX-License-Identifier: MIT */
/* The MHD daemon's life cycle and each request's: context, body with a cap, deferral to
 * a thread, request ids, access log and request metrics, graceful stop. */
#include "cache/api/server_int.h"
#include "cache/api/mhd_load.h"
#include "cache/metrics.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_BODY_MAX (1u << 20)
#define DEFAULT_HEADER_MAX (16u << 10)
#define DEFAULT_CONNS 10000
#define DEFAULT_TIMEOUT_S 10
/* Descriptors kept for the store, logs, upstream fetches and deferred work. */
#define FD_RESERVE 512
#define DEFAULT_GRACE_MS 30000
#define DEFAULT_SESSION_WAIT_MS 120000

/* --- connections --- */

/* Each connection is watched from MHD's notify callback until it closes. MHD's own timeout
 * counts from the last byte received, so a client that dribbles a byte now and then keeps
 * a connection forever (a slow loris). The watcher thread gives every connection a
 * deadline instead: its request's headers must be complete within conn_timeout_s of the
 * connection opening or its previous answer. Past it, the watcher shuts the socket down
 * and MHD closes the connection as the client's. Entries leave the list (under the lock)
 * in MHD's "closed" notification, before MHD closes the descriptor. */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    struct timespec since; /* opened, or its last answer finished */
    atomic_bool in_request; /* headers complete, answer not yet finished */
    bool shed;              /* over max_connections: answered 503 */
    bool cut;               /* shut down by the watcher */
};

static double secs_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    ec_server *s = cls;
    struct conn_watch *w = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->conns, 1);
        if (!w)
            return;
        pthread_mutex_lock(&s->watch_mu);
        if (w->prev)
            w->prev->next = w->next;
        else
            s->watch = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&s->watch_mu);
        free(w);
        *socket_context = NULL;
        return;
    }
    w = ec_xcalloc(1, sizeof *w);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    w->fd = ci ? ci->connect_fd : -1;
    clock_gettime(CLOCK_MONOTONIC, &w->since);
    if (atomic_fetch_add(&s->conns, 1) + 1 > (int)s->o.max_connections) {
        w->shed = true;
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)EC_SERVER_SHED_TIMEOUT_S);
    }
    pthread_mutex_lock(&s->watch_mu);
    w->next = s->watch;
    if (w->next)
        w->next->prev = w;
    s->watch = w;
    pthread_mutex_unlock(&s->watch_mu);
    *socket_context = w;
}

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static bool over_limit(const ec_req *rq)
{
    struct conn_watch *w = watch_of(rq->conn);
    return w && w->shed;
}

static void *watcher_main(void *arg)
{
    ec_server *s = arg;
    double limit = s->o.conn_timeout_s;
    pthread_mutex_lock(&s->watch_mu);
    while (!atomic_load(&s->watch_stop)) {
        /* A tick of 250 ms, cut short at stop: a process that stops its server (a CLI
         * command with a mirror on demand) does not wait out the tick. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 250000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &until);
        if (atomic_load(&s->watch_stop))
            break;
        for (struct conn_watch *w = s->watch; w; w = w->next) {
            double lim = w->shed ? EC_SERVER_SHED_TIMEOUT_S : limit;
            if (w->cut || w->fd < 0 || atomic_load(&w->in_request) || secs_since(&w->since) < lim)
                continue;
            shutdown(w->fd, SHUT_RDWR); /* MHD sees the end of the stream and closes it */
            w->cut = true;
        }
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

static void stop_watcher(ec_server *s)
{
    pthread_mutex_lock(&s->watch_mu);
    atomic_store(&s->watch_stop, true);
    pthread_cond_signal(&s->watch_cv);
    pthread_mutex_unlock(&s->watch_mu);
    pthread_join(s->watcher, NULL);
}

/* Raises the soft descriptor limit to what the connection limit needs (up to the hard
 * limit); when the hard limit is lower, holds fewer connections and says so. */
static void fit_fd_limit(ec_server_opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)o->max_connections + EC_SERVER_SHED_HEADROOM + FD_RESERVE;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= want)
        return;
    unsigned fit = rl.rlim_cur > EC_SERVER_SHED_HEADROOM + FD_RESERVE + 64
                       ? (unsigned)(rl.rlim_cur - EC_SERVER_SHED_HEADROOM - FD_RESERVE)
                       : 64;
    ec_warn("serve: the descriptor limit is %llu (ulimit -n); holding at most %u connections "
            "instead of %u: raise the hard limit (ulimit -Hn, or LimitNOFILE= in a systemd "
            "unit) to %llu for all of them",
            (unsigned long long)rl.rlim_cur, fit, o->max_connections, (unsigned long long)want);
    o->max_connections = fit;
}

/* --- request context --- */

/* MHD calls this first for every request with the raw URI, and its result becomes the
 * request's context: the only place the still-encoded path is available. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    ec_server *s = cls;
    ec_req *rq = ec_xcalloc(1, sizeof *rq);
    rq->srv = s;
    rq->conn = conn;
    rq->raw_uri = ec_xstrdup(uri);
    rq->body.max = s->o.max_body_bytes;
    rq->route = "unmatched";
    ec_id_new(rq->id, "req");
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    atomic_fetch_add(&s->inflight, 1);
    return rq;
}

static double elapsed(const ec_req *rq)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - rq->t0.tv_sec) + (double)(now.tv_nsec - rq->t0.tv_nsec) / 1e9;
}

static void access_log(const ec_req *rq, double secs)
{
    FILE *f = rq->srv->o.access_log;
    if (!f)
        return;
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *peer = ci ? ci->client_addr : rq->peer;
    char addr[INET6_ADDRSTRLEN] = "";
    if (peer && peer->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, addr, sizeof addr);
    else if (peer && peer->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, addr,
                  sizeof addr);
    json_t *line = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:i, s:I, s:I, s:s?, s:s}", "ts", ts,
                             "request_id", rq->id, "method", rq->method, "path", rq->raw_uri,
                             "route", rq->route, "status", rq->status, "bytes",
                             (json_int_t)rq->resp_bytes, "duration_us", (json_int_t)(secs * 1e6),
                             "workspace", rq->ws, "remote", addr);
    char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (s) {
        /* One write per line under the stream's lock: lines never interleave. */
        flockfile(f);
        fputs(s, f);
        fputc('\n', f);
        fflush(f);
        funlockfile(f);
        free(s);
    }
}

static void count_request(const ec_req *rq, double secs)
{
    char route[160], labels[224];
    ec_metrics_label_escape(route, sizeof route, rq->route);
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", route, rq->status);
    ec_metrics_inc(EC_M_HTTP_REQUESTS, labels, 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", route);
    ec_metrics_observe(EC_M_HTTP_LATENCY, labels, secs);
    if (rq->manager[0]) {
        snprintf(labels, sizeof labels, "manager=\"%s\"", rq->manager);
        ec_metrics_inc(EC_M_BYTES_SERVED, labels, rq->resp_bytes);
        snprintf(labels, sizeof labels, "manager=\"%s\",result=\"%s\"", rq->manager,
                 rq->upstream ? "miss" : "hit");
        if (rq->status < 400)
            ec_metrics_inc(EC_M_CACHE_REQUESTS, labels, 1);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ec_server *s = cls;
    ec_req *rq = *con_cls;
    struct conn_watch *w = watch_of(conn);
    if (w) { /* the next request's headers get a deadline of their own */
        pthread_mutex_lock(&s->watch_mu);
        clock_gettime(CLOCK_MONOTONIC, &w->since);
        atomic_store(&w->in_request, false);
        pthread_mutex_unlock(&s->watch_mu);
    }
    if (!rq)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && rq->status == 0)
        rq->status = 499; /* the client went away or timed out before an answer */
    ec_req_account(rq);
    if (rq->resp)
        MHD_destroy_response(rq->resp);
    ec_buf_fini(&rq->body);
    free(rq->raw_uri);
    free(rq->ws);
    free(rq->basic_key);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

void ec_req_account(const ec_req *rq)
{
    double secs = elapsed(rq);
    access_log(rq, secs);
    count_request(rq, secs);
}

/* --- deferral --- */

static void *deferred_main(void *arg)
{
    ec_req *rq = arg;
    ec_server *s = rq->srv;
    ec_mhd_waker worker = rq->worker; /* rq may be gone once the connection resumes */
    rq->work(rq);
    atomic_store(&rq->state, EC_REQ_READY);
    MHD_resume_connection(rq->conn);
    /* Before the count falls: the server's stop waits for it, then closes the workers. */
    ec_mhd_workers_wake(worker);
    atomic_fetch_sub(&s->deferred, 1);
    return NULL;
}

void ec_req_defer(ec_req *rq, ec_req_work work)
{
    pthread_t t;
    pthread_attr_t attr;
    rq->work = work;
    rq->worker = ec_mhd_workers_current();
    atomic_store(&rq->state, EC_REQ_DEFERRED);
    atomic_fetch_add(&rq->srv->deferred, 1);
    MHD_suspend_connection(rq->conn);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, deferred_main, rq) != 0) {
        /* No thread: do the work here; slower for this worker thread, but answered. */
        deferred_main(rq);
    }
    pthread_attr_destroy(&attr);
}

/* --- the access handler --- */

static enum MHD_Result send_reply(ec_req *rq)
{
    if (!rq->resp)
        ec_reply_fail(rq, 500, "the handler gave no answer");
    MHD_add_response_header(rq->resp, "request-id", rq->id);
    if (atomic_load(&rq->srv->stopping))
        MHD_add_response_header(rq->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    atomic_store(&rq->state, EC_REQ_SENT);
    return MHD_queue_response(rq->conn, (unsigned)rq->status, rq->resp);
}

static bool declared_too_large(ec_req *rq)
{
    const char *cl = ec_req_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno != 0 || *end || n > rq->body.max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    ec_req *rq = *con_cls;
    (void)cls;
    (void)conn;
    (void)version;
    int state = atomic_load(&rq->state);
    if (state == EC_REQ_DEFERRED)
        return MHD_YES; /* spurious call while the work runs */
    if (state == EC_REQ_READY)
        return send_reply(rq);
    if (!rq->method) { /* first call: headers are in, no body yet */
        struct conn_watch *w = watch_of(conn);
        if (w)
            atomic_store(&w->in_request, true);
        rq->method = method;
        rq->url = url;
        if (over_limit(rq)) {
            ec_reply_fail(rq, 503, "the server holds its limit of %u connections; retry "
                          "shortly", rq->srv->o.max_connections);
            MHD_add_response_header(rq->resp, MHD_HTTP_HEADER_CONNECTION, "close");
            MHD_add_response_header(rq->resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
            return send_reply(rq);
        }
        if (!ec_req_check(rq))
            return send_reply(rq); /* MHD closes the connection: the body is not read */
        if (!declared_too_large(rq))
            return MHD_YES;
        /* Refused before reading it; MHD closes the connection after the answer. */
        ec_reply_fail(rq, 413, "the request body is over %zu bytes", rq->body.max);
        return send_reply(rq);
    }
    if (*upload_size) {
        if (!rq->too_large && ec_buf_add(&rq->body, upload_data, *upload_size, NULL) < 0)
            rq->too_large = true; /* keep reading (and dropping) so the answer gets through */
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_large)
        ec_reply_fail(rq, 413, "the request body is over %zu bytes", rq->body.max);
    else
        ec_api_route(rq);
    if (atomic_load(&rq->state) == EC_REQ_DEFERRED)
        return MHD_YES;
    return send_reply(rq);
}

/* --- request accessors --- */

const char *ec_req_header(const ec_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *ec_req_query(const ec_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *ec_req_json_body(ec_req *rq)
{
    json_error_t jerr;
    if (rq->body.n == 0) {
        ec_reply_fail(rq, 400, "body: a JSON object is required");
        return NULL;
    }
    json_t *j = json_loadb(rq->body.p, rq->body.n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        ec_reply_fail(rq, 400, "body: not valid JSON at line %d, column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ec_reply_fail(rq, 400, "body: must be a JSON object");
        return NULL;
    }
    return j;
}

/* --- start and stop --- */

static int parse_listen(struct sockaddr_storage *ss, const char *listen, ec_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    if (!colon || hl == 0 || hl >= sizeof host)
        return ec_fail(err, EC_EINVAL, "listen address \"%s\": use HOST:PORT", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return ec_fail(err, EC_EINVAL, "listen address \"%s\": bad port", listen);
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return EC_OK;
    }
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            return EC_OK;
        }
    }
    return ec_fail(err, EC_EINVAL, "listen address \"%s\": the host must be an IP address",
                   listen);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return false;
}

static void defaults(ec_server_opts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!o->listen)
        o->listen = DEFAULT_LISTEN;
    if (!o->threads)
        o->threads = cpus > 2 ? (unsigned)cpus * 2 : 4;
    if (!o->max_connections)
        o->max_connections = DEFAULT_CONNS;
    if (!o->conn_timeout_s)
        o->conn_timeout_s = DEFAULT_TIMEOUT_S;
    if (!o->max_header_bytes)
        o->max_header_bytes = DEFAULT_HEADER_MAX;
    if (!o->max_body_bytes)
        o->max_body_bytes = DEFAULT_BODY_MAX;
    if (!o->session_wait_ms)
        o->session_wait_ms = DEFAULT_SESSION_WAIT_MS;
    if (!o->shutdown_grace_ms)
        o->shutdown_grace_ms = DEFAULT_GRACE_MS;
    if (!o->pull_budget)
        o->pull_budget = 10ull << 30;
    if (!o->min_free_bytes)
        o->min_free_bytes = 1ull << 30;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("envcache: serve: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* MHD answers a request line and headers that overflow a connection's memory pool itself,
 * with an HTML page; with a pool larger than our own limits (headers, URL), ec_req_check
 * sees and answers every request up to those limits and some past them in the API's
 * shape. */
static size_t pool_bytes(const ec_server_opts *o)
{
    /* Not more: MHD 0.9.75 zeroes the whole pool after every request, so each kept-alive
     * connection holds all of it resident. */
    return o->max_header_bytes + EC_SERVER_URL_MAX + (8u << 10);
}

static struct MHD_Daemon *start_one(unsigned flags, const struct MHD_OptionItem *opts,
                                    void *arg)
{
    ec_server *s = arg;
    /* Each worker holds up to the whole limit: the front keeps the limit for all. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_ARRAY, opts,
        MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections + EC_SERVER_SHED_HEADROOM,
        MHD_OPTION_CONNECTION_TIMEOUT, s->o.conn_timeout_s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_bytes(&s->o),
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
}

/* MHD listens on nothing: the accept front (accept_front.c) owns the listening socket and
 * hands each connection whose first request head it has checked to one of the workers
 * (mhd_workers.c), each an MHD daemon run by a thread of ours. */
static int start_daemons(ec_server *s, ec_err *err)
{
    if (ec_mhd_unavailable())
        return ec_fail(err, EC_EUNSUPPORTED, "cannot start the HTTP server: %s",
                       ec_mhd_unavailable());
    return ec_mhd_workers_start(&s->workers, s->o.threads, start_one, s, err);
}

static int own_port(uint16_t *port, void *payload, ec_err *err)
{
    (void)err;
    *port = ec_server_port(payload);
    return EC_OK;
}

int ec_server_start(ec_server **out, ec_cache *c, const ec_server_opts *opts, ec_err *err)
{
    ec_server *s = ec_xcalloc(1, sizeof *s);
    s->c = c;
    if (opts)
        s->o = *opts;
    defaults(&s->o);
    fit_fd_limit(&s->o);
    struct sockaddr_storage ss;
    int r = parse_listen(&ss, s->o.listen, err);
    s->loopback = r == EC_OK && is_loopback(&ss);
    if (r == EC_OK && !s->o.mirror_only) { /* with EC_WARM_OFF too: POST …/cache/warm works */
        ec_warm_queue_opts qo = {.concurrency = s->o.warm_concurrency, .warm = s->o.warm_fn};
        r = ec_warm_queue_start(&s->wq, c, &qo, err);
    }
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (r == EC_OK)
        r = ec_front_open(&s->front, s, &ss, err);
    if (r == EC_OK)
        r = start_daemons(s, err);
    int e = r == EC_OK ? pthread_create(&s->watcher, NULL, watcher_main, s) : 0;
    if (e != 0) { /* pthread_create returns its error; errno is not set */
        ec_mhd_workers_stop(s->workers);
        r = ec_fail_sys(err, e, "cannot start the connection watcher");
    }
    if (r == EC_OK && (r = ec_front_start(s->front, err)) < 0) {
        stop_watcher(s);
        ec_mhd_workers_stop(s->workers);
    }
    if (r < 0) {
        ec_front_close(s->front);
        ec_warm_queue_stop(s->wq);
        pthread_cond_destroy(&s->watch_cv);
        pthread_mutex_destroy(&s->watch_mu);
        free(s);
        return r;
    }
    s->port = ec_front_port(s->front);
    if (!s->o.mirror_only) /* build steps of this process's warm-ups use this mirror */
        ec_cache_set_mirror(c, own_port, s, NULL);
    *out = s;
    return EC_OK;
}

/* --- a mirror for build steps, started on demand --- */

struct on_demand {
    pthread_mutex_t mu;
    ec_cache *c;
    ec_server *srv;
};

static int on_demand_port(uint16_t *port, void *payload, ec_err *err)
{
    struct on_demand *d = payload;
    int r = EC_OK;
    pthread_mutex_lock(&d->mu);
    if (!d->srv) {
        ec_server_opts o = {.listen = "127.0.0.1:0", .threads = 2, .mirror_only = true,
                            .warm = EC_WARM_OFF};
        r = ec_server_start(&d->srv, d->c, &o, err);
    }
    if (r == EC_OK)
        *port = ec_server_port(d->srv);
    pthread_mutex_unlock(&d->mu);
    return r;
}

static void on_demand_release(void *payload)
{
    struct on_demand *d = payload;
    ec_server_stop(d->srv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void ec_server_mirror_on_demand(ec_cache *c)
{
    struct on_demand *d = ec_xcalloc(1, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
    d->c = c;
    ec_cache_set_mirror(c, on_demand_port, d, on_demand_release);
}

uint16_t ec_server_port(const ec_server *s)
{
    return s->port;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void ec_server_stop(ec_server *s)
{
    if (!s)
        return;
    if (!s->o.mirror_only)
        ec_cache_set_mirror(s->c, NULL, NULL, NULL);
    atomic_store(&s->stopping, true);
    /* No new connections: the front closes the listening socket and the connections whose
     * request it has not handed over yet. */
    ec_front_close(s->front);
    /* Warm-ups stop first, so sessions waiting on them answer now instead of at the end of
     * their wait; the jobs stay queued in WARM and the next start resumes them. */
    if (s->wq)
        ec_warm_queue_shutdown(s->wq);
    for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < s->o.shutdown_grace_ms;
         waited += 10)
        sleep_ms(10);
    /* A suspended connection must be resumed before MHD stops: wait for deferred work. */
    while (atomic_load(&s->deferred) > 0)
        sleep_ms(10);
    stop_watcher(s);
    ec_mhd_workers_stop(s->workers); /* their "closed" notifications free the watch entries */
    ec_warm_queue_stop(s->wq);
    pthread_cond_destroy(&s->watch_cv);
    pthread_mutex_destroy(&s->watch_mu);
    free(s);
}
