/* SPDX-License-Identifier: MIT */
/* The server's life cycle and each request's: context, checks before the body, deferral
 * to a thread, request ids, access log and request metrics, graceful stop. The
 * connections themselves are http_conn.c's. */
#include "cache/api/server_int.h"
#include "cache/api/http_conn.h"
#include "cache/api/request_head.h"
#include "cache/metrics.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* --- a request's life --- */

ec_req *ec_server__req_new(ec_server *s, struct ec_conn *c)
{
    ec_req *rq = ec_xcalloc(1, sizeof *rq);
    rq->srv = s;
    rq->conn = c;
    rq->body.max = s->o.max_body_bytes;
    rq->route = "unmatched";
    ec_id_new(rq->id, "req");
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    atomic_fetch_add(&s->inflight, 1);
    return rq;
}

void ec_server__req_args(ec_req *rq, const char *q)
{
    size_t n = 1;
    for (const char *p = q; *p; p++)
        n += *p == '&';
    rq->argbuf = ec_xstrdup(q);
    rq->args = ec_xcalloc(n, sizeof *rq->args);
    char *save = NULL;
    for (char *kv = strtok_r(rq->argbuf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = '\0';
        ec_http_unescape(kv, true);
        if (eq)
            ec_http_unescape(eq, true);
        rq->args[rq->nargs++] = (ec_req_field){kv, eq ? eq : ""};
    }
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
    const struct sockaddr *peer = rq->peer;
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

void ec_server__req_end(ec_req *rq, bool ok)
{
    ec_server *s = rq->srv;
    if (!ok && rq->status == 0)
        rq->status = 499; /* the client went away or timed out before an answer */
    ec_req_account(rq);
    ec_resp_free(rq->resp);
    ec_buf_fini(&rq->body);
    free(rq->raw_uri);
    free((char *)rq->url);
    free(rq->fields);
    free(rq->args);
    free(rq->argbuf);
    free(rq->ws);
    free(rq->basic_key);
    free(rq);
    atomic_fetch_sub(&s->inflight, 1);
}

void ec_server__conn_closed(ec_server *s)
{
    atomic_fetch_sub(&s->conns, 1);
}

bool ec_server__stopping(ec_server *s)
{
    return atomic_load(&s->stopping);
}

const ec_server_opts *ec_server__opts(const ec_server *s)
{
    return &s->o;
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
    rq->work(rq);
    /* rq may be gone once its worker has it back. Before the count falls: the server's
     * stop waits for the count, then stops the workers. */
    ec_http_workers_resume(rq->conn);
    atomic_fetch_sub(&s->deferred, 1);
    return NULL;
}

void ec_req_defer(ec_req *rq, ec_req_work work)
{
    pthread_t t;
    pthread_attr_t attr;
    if (atomic_load(&rq->srv->stopping)) {
        ec_reply_fail(rq, 503, "the server is stopping; retry shortly");
        ec_resp_header(rq->resp, "Retry-After", "1");
        return;
    }
    rq->work = work;
    atomic_fetch_add(&rq->srv->deferred, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rq->deferred = true; /* before the thread starts: it may finish before we return */
    if (pthread_create(&t, &attr, deferred_main, rq) != 0) {
        /* No thread: do the work here; slower for this worker thread, but answered. */
        rq->deferred = false;
        work(rq);
        atomic_fetch_sub(&rq->srv->deferred, 1);
    }
    pthread_attr_destroy(&attr);
}

/* --- the handler's entry --- */

static bool declared_too_large(ec_req *rq)
{
    const char *cl = ec_req_header(rq, "content-length");
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno != 0 || *end || n > rq->body.max;
}

bool ec_server__req_begin(ec_req *rq, bool shed)
{
    if (shed) {
        ec_reply_fail(rq, 503, "the server holds its limit of %u connections; retry shortly",
                      rq->srv->o.max_connections);
        ec_resp_header(rq->resp, "Retry-After", "1");
        return false;
    }
    if (!ec_req_check(rq))
        return false;
    if (declared_too_large(rq)) { /* refused before reading it */
        ec_reply_fail(rq, 413, "the request body is over %zu bytes", rq->body.max);
        return false;
    }
    return true;
}

void ec_server__req_run(ec_req *rq)
{
    if (rq->too_large)
        ec_reply_fail(rq, 413, "the request body is over %zu bytes", rq->body.max);
    else
        ec_api_route(rq);
}

void ec_server__req_answer(ec_req *rq)
{
    if (!rq->resp)
        ec_reply_fail(rq, 500, "the handler gave no answer");
}

/* --- request accessors --- */

static const char *field_value(const ec_req_field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(f[i].name, name) == 0)
            return f[i].value;
    return NULL;
}

const char *ec_req_header(const ec_req *rq, const char *name)
{
    return field_value(rq->fields, rq->nfields, name);
}

const char *ec_req_query(const ec_req *rq, const char *name)
{
    return field_value(rq->args, rq->nargs, name);
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

static int start_workers(ec_server *s, ec_err *err)
{
    return ec_http_workers_start(&s->workers, s, s->o.threads, err);
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
    if (r == EC_OK)
        r = ec_front_open(&s->front, s, &ss, err);
    if (r == EC_OK)
        r = start_workers(s, err);
    if (r == EC_OK && (r = ec_front_start(s->front, err)) < 0)
        ec_http_workers_stop(s->workers);
    if (r < 0) {
        ec_front_close(s->front);
        ec_warm_queue_stop(s->wq);
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
    /* The workers stop first, all of them, so that no request starts more deferred work;
     * then the deferred threads finish (they hand their connections back to a worker's
     * queue, still there); then every connection is closed. */
    ec_http_workers_halt(s->workers);
    while (atomic_load(&s->deferred) > 0)
        sleep_ms(10);
    ec_http_workers_stop(s->workers);
    ec_warm_queue_stop(s->wq);
    free(s);
}
