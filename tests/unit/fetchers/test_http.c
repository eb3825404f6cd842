/* SPDX-License-Identifier: MIT */
/* Unit tests of the shared HTTP client against a scripted libmicrohttpd server on loopback. */
#include "tests/unit/helpers/ec_test.h"

#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "fetchers/http/http.h"
#include "fetchers/http/http_int.h"
#include "store/util/mem.h"

/* --- the scripted server --- */

#define MAX_PATHS 64

static struct server {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    struct {
        char path[64];
        int hits;
        uint64_t at_ms[8]; /* when each of the first hits arrived */
    } paths[MAX_PATHS];
    atomic_int busy, max_busy; /* requests of /n/… being answered at once, and the most */
    atomic_bool stopping;
} srv;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Counts a hit on @path and returns its number (1 for the first); all of /n/… count as one.
 * Runs on the server's threads, so it never asserts. */
static int hit(const char *path)
{
    if (strncmp(path, "/n/", 3) == 0)
        path = "/n/";
    pthread_mutex_lock(&srv.mu);
    int i;
    for (i = 0; i < MAX_PATHS && srv.paths[i].path[0]; i++)
        if (strcmp(srv.paths[i].path, path) == 0)
            break;
    if (i == MAX_PATHS) {
        pthread_mutex_unlock(&srv.mu);
        return 0;
    }
    snprintf(srv.paths[i].path, sizeof srv.paths[i].path, "%s", path);
    int n = ++srv.paths[i].hits;
    if (n <= 8)
        srv.paths[i].at_ms[n - 1] = mono_ms();
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static int hits(const char *path, uint64_t at_ms[8])
{
    int n = 0;
    pthread_mutex_lock(&srv.mu);
    for (int i = 0; i < MAX_PATHS && srv.paths[i].path[0]; i++) {
        if (strcmp(srv.paths[i].path, path) == 0) {
            n = srv.paths[i].hits;
            if (at_ms)
                memcpy(at_ms, srv.paths[i].at_ms, sizeof srv.paths[i].at_ms);
        }
    }
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static const char BIG_BODY_CHAR = 'x';
#define STALL_SIZE 8192
#define TRUNC_SIZE 1000

/* Sends half of STALL_SIZE, then nothing until the client gives up (or 5 s pass). */
static ssize_t stall_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos < STALL_SIZE / 2) {
        size_t n = STALL_SIZE / 2 - (size_t)pos;
        if (n > max)
            n = max;
        memset(buf, 's', n);
        return (ssize_t)n;
    }
    for (int i = 0; i < 250 && !atomic_load(&srv.stopping); i++)
        usleep(20000);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Promises TRUNC_SIZE bytes, sends half, and closes. */
static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= TRUNC_SIZE / 2)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = TRUNC_SIZE / 2 - (size_t)pos;
    if (n > max)
        n = max;
    memset(buf, 't', n);
    return (ssize_t)n;
}

/* 5000 bytes without a Content-Length (chunked): the cap must hold while streaming. */
static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 5000)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = 5000 - (size_t)pos;
    if (n > max)
        n = max;
    memset(buf, BIG_BODY_CHAR, n);
    return (ssize_t)n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *h1, const char *v1)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (h1)
        MHD_add_response_header(r, h1, v1);
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    int n = hit(url);
    char body[128];

    if (strcmp(url, "/ok") == 0)
        return reply(c, 200, "hello, world", NULL, NULL);
    if (strcmp(url, "/etag") == 0) {
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        if (inm && strcmp(inm, "\"v1\"") == 0)
            return reply(c, 304, "", "ETag", "\"v1\"");
        return reply(c, 200, "versioned", "ETag", "\"v1\"");
    }
    if (strcmp(url, "/flaky") == 0)
        return n <= 2 ? reply(c, 503, "busy, not this body", NULL, NULL)
                      : reply(c, 200, "the right body", NULL, NULL);
    if (strcmp(url, "/slowdown") == 0)
        return n == 1 ? reply(c, 429, "slow down", "Retry-After", "1")
                      : reply(c, 200, "patience pays", NULL, NULL);
    if (strcmp(url, "/missing") == 0)
        return reply(c, 404, "no such thing", NULL, NULL);
    if (strcmp(url, "/big") == 0) {
        char big[5000];
        memset(big, BIG_BODY_CHAR, sizeof big);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof big, big, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/bigchunked") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 512, chunked_reader, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/encoded") == 0)
        return reply(c, 200, "not really gzip", "Content-Encoding", "gzip");
    if (strcmp(url, "/stall") == 0 || strcmp(url, "/trunc") == 0) {
        bool stall = url[1] == 's';
        if (stall && n > 1) {
            char full[STALL_SIZE];
            memset(full, 's', sizeof full);
            struct MHD_Response *r =
                MHD_create_response_from_buffer(sizeof full, full, MHD_RESPMEM_MUST_COPY);
            enum MHD_Result ret = MHD_queue_response(c, 200, r);
            MHD_destroy_response(r);
            return ret;
        }
        struct MHD_Response *r =
            MHD_create_response_from_callback(stall ? STALL_SIZE : TRUNC_SIZE, 1024,
                                              stall ? stall_reader : trunc_reader, NULL, NULL);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strncmp(url, "/n/", 3) == 0) {
        /* Counted while the handler runs, not per connection: the client sees no reply
         * before it returns, so this is the client's own concurrency, where a count of
         * open connections lags closes the client already made. */
        int now = atomic_fetch_add(&srv.busy, 1) + 1;
        int m = atomic_load(&srv.max_busy);
        while (now > m && !atomic_compare_exchange_weak(&srv.max_busy, &m, now))
            ;
        usleep(2000); /* long enough for requests to overlap */
        atomic_fetch_sub(&srv.busy, 1);
        snprintf(body, sizeof body, "body of %s", url + 3);
        return reply(c, 200, body, NULL, NULL);
    }
    return reply(c, 404, "unknown path", NULL, NULL);
}

static void server_start(void)
{
    memset(srv.paths, 0, sizeof srv.paths);
    atomic_store(&srv.busy, 0);
    atomic_store(&srv.max_busy, 0);
    atomic_store(&srv.stopping, false);
    pthread_mutex_init(&srv.mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                             0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_END);
    assert_non_null(srv.d);
    srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    assert_true(srv.port > 0);
}

static void server_stop(void)
{
    atomic_store(&srv.stopping, true);
    MHD_stop_daemon(srv.d);
    srv.d = NULL;
    pthread_mutex_destroy(&srv.mu);
}

/* --- fixture: a store, a server, and a client with quick retries --- */

struct fx {
    struct ect_store_fixture *sf;
    ec_http *h;
    char url[128];
};

static ec_http *client(unsigned max_conns, unsigned retries, long low_speed)
{
    ec_http_opts o = {.max_host_conns = max_conns, .max_total_conns = max_conns,
                      .max_retries = retries, .low_speed_secs = low_speed, .backoff_ms = 20,
                      .connect_timeout_ms = 2000};
    ec_http *h = NULL;
    ec_err err = {0};
    assert_int_equal(ec_http_new(&h, &o, &err), EC_OK);
    return h;
}

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    void *sf = NULL;
    assert_int_equal(ect_store_setup(&sf), 0);
    f->sf = sf;
    server_start();
    f->h = client(4, 3, 30);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ec_http_free(f->h); /* closes its connections before the server goes */
    server_stop();
    void *sf = f->sf;
    ect_store_teardown(&sf);
    free(f);
    return 0;
}

static const char *url(struct fx *f, const char *path)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", srv.port, path);
    return f->url;
}

static void sha256_of(ec_digest *d, const char *s)
{
    ec_sha256_buf(d, s, strlen(s));
}

static int blob_files(struct fx *f)
{
    return ect_count(f->sf->home, "blobs");
}

/* --- tests --- */

static void http__get_into_memory_and_blob(void **state)
{
    struct fx *f = *state;
    ec_http_req m = {.url = url(f, "/ok"), .sink = EC_HTTP_SINK_MEM, .what = "greeting"};
    assert_int_equal(ec_http_get(f->h, &m), EC_OK);
    assert_int_equal(m.status, 200);
    assert_string_equal(ec_buf_str(&m.body), "hello, world");
    assert_int_equal(m.size, 12);
    assert_string_equal(m.content_type, "text/plain");
    assert_int_equal(m.attempts, 1);
    ec_http_req_reset(&m);

    ec_http_req b = {.url = url(f, "/ok"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st};
    ec_digest want;
    sha256_of(&want, "hello, world");
    b.want_sha256 = &want;
    assert_int_equal(ec_http_get(f->h, &b), EC_OK);
    assert_true(ec_digest_eq(&b.blob, &want));
    assert_true(ec_store_has_blob(f->sf->st, &want));
    assert_null(b.body.p);
    ec_http_req_reset(&b);
}

static void http__etag_revalidation_gives_304(void **state)
{
    struct fx *f = *state;
    ec_http_req r = {.url = url(f, "/etag"), .sink = EC_HTTP_SINK_MEM};
    assert_int_equal(ec_http_get(f->h, &r), EC_OK);
    assert_string_equal(r.etag, "\"v1\"");
    char etag[256];
    snprintf(etag, sizeof etag, "%s", r.etag);
    ec_http_req_reset(&r);

    r.if_none_match = etag;
    assert_int_equal(ec_http_get(f->h, &r), EC_OK);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.n, 0);
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    assert_int_equal(st.not_modified, 1);
    assert_int_equal(st.requests, 2);
    ec_http_req_reset(&r);
}

static void http__retries_503_then_stores_the_right_body(void **state)
{
    struct fx *f = *state;
    ec_digest right;
    sha256_of(&right, "the right body");
    ec_http_req r = {.url = url(f, "/flaky"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                     .what = "flaky@1.0.0 tarball"};
    assert_int_equal(ec_http_get(f->h, &r), EC_OK);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(hits("/flaky", NULL), 3);
    assert_true(ec_digest_eq(&r.blob, &right));
    assert_true(ec_store_has_blob(f->sf->st, &right));
    assert_int_equal(r.size, strlen("the right body"));
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.not_modified, 0);
    assert_true(st.bytes >= strlen("the right body"));
    ec_http_req_reset(&r);
}

static void http__honours_retry_after(void **state)
{
    struct fx *f = *state;
    ec_http_req r = {.url = url(f, "/slowdown"), .sink = EC_HTTP_SINK_MEM};
    assert_int_equal(ec_http_get(f->h, &r), EC_OK);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(ec_buf_str(&r.body), "patience pays");
    uint64_t at[8] = {0};
    assert_int_equal(hits("/slowdown", at), 2);
    assert_true(at[1] - at[0] >= 900); /* the server asked for 1 s, not the 20 ms backoff */
    ec_http_req_reset(&r);
}

static void http__404_fails_at_once(void **state)
{
    struct fx *f = *state;
    ec_http_req r = {.url = url(f, "/missing"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                     .what = "express@4.18.0 tarball"};
    assert_int_equal(ec_http_get(f->h, &r), EC_ENOTFOUND);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.status, 404);
    char want[256];
    snprintf(want, sizeof want, "fetching express@4.18.0 tarball from %s: HTTP 404 Not Found",
             url(f, "/missing"));
    assert_string_equal(r.err.msg, want);
    ec_http_req_reset(&r);
}

static void digest_evp(const EVP_MD *md, const char *s, unsigned char *out)
{
    unsigned n = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), out, &n, md, NULL), 1);
}

static void http__integrity_checked_and_mismatch_stores_nothing(void **state)
{
    struct fx *f = *state;
    int before = blob_files(f);
    ec_digest got;
    sha256_of(&got, "hello, world");

    ec_http_req bad = {.url = url(f, "/ok"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                       .what = "left-pad@1.3.0 tarball", .integrity_algo = EC_HTTP_HASH_SHA512};
    digest_evp(EVP_sha512(), "something else", bad.integrity_want);
    assert_int_equal(ec_http_get(f->h, &bad), EC_EINTEGRITY);
    assert_int_equal(bad.attempts, 1);
    assert_non_null(strstr(bad.err.msg, "left-pad@1.3.0 tarball"));
    assert_non_null(strstr(bad.err.msg, "expected sha512-"));
    assert_non_null(strstr(bad.err.msg, "got sha512-"));
    assert_false(ec_store_has_blob(f->sf->st, &got));
    assert_int_equal(blob_files(f), before);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_http_req_reset(&bad);

    ec_digest other;
    sha256_of(&other, "other");
    ec_http_req bad2 = {.url = url(f, "/ok"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                        .what = "pinned file", .want_sha256 = &other};
    assert_int_equal(ec_http_get(f->h, &bad2), EC_EINTEGRITY);
    assert_non_null(strstr(bad2.err.msg, "pinned file"));
    assert_false(ec_store_has_blob(f->sf->st, &got));
    assert_int_equal(blob_files(f), before);
    ec_http_req_reset(&bad2);

    ec_http_hash algos[] = {EC_HTTP_HASH_SHA1, EC_HTTP_HASH_SHA256, EC_HTTP_HASH_SHA512};
    const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha512()};
    for (size_t i = 0; i < 3; i++) {
        ec_http_req ok = {.url = url(f, "/ok"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                          .integrity_algo = algos[i]};
        digest_evp(mds[i], "hello, world", ok.integrity_want);
        assert_int_equal(ec_http_get(f->h, &ok), EC_OK);
        assert_true(ec_digest_eq(&ok.blob, &got));
        ec_http_req_reset(&ok);
    }
    assert_true(ec_store_has_blob(f->sf->st, &got));
}

/* A tee that counts what it was given since its last reset. */
struct tee_count {
    size_t bytes, resets;
    bool only_s;
};

static void tee_count_data(const void *p, size_t n, void *ud)
{
    struct tee_count *t = ud;
    for (size_t i = 0; i < n; i++)
        t->only_s &= ((const char *)p)[i] == 's';
    t->bytes += n;
}

static void tee_count_reset(void *ud)
{
    struct tee_count *t = ud;
    t->bytes = 0;
    t->only_s = true;
    t->resets++;
}

static void http__stalled_body_is_retried(void **state)
{
    struct fx *f = *state;
    ec_http *h = client(4, 3, 1); /* 1 s below 1 KB/s aborts */
    struct tee_count tc = {0};
    ec_http_req r = {.url = url(f, "/stall"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                     .tee = tee_count_data, .tee_reset = tee_count_reset, .tee_ud = &tc};
    assert_int_equal(ec_http_get(h, &r), EC_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.size, STALL_SIZE);
    /* the tee started again with the retry: it saw the whole body once, not 1.x bodies */
    assert_int_equal(tc.resets, 2);
    assert_int_equal(tc.bytes, STALL_SIZE);
    assert_true(tc.only_s);
    char full[STALL_SIZE + 1];
    memset(full, 's', STALL_SIZE);
    full[STALL_SIZE] = '\0';
    ec_digest want;
    sha256_of(&want, full);
    assert_true(ec_digest_eq(&r.blob, &want));
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_http_req_reset(&r);
    ec_http_free(h);
}

static void http__truncated_body_fails_after_retries(void **state)
{
    struct fx *f = *state;
    int before = blob_files(f);
    ec_http_req r = {.url = url(f, "/trunc"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                     .what = "short file"};
    assert_int_equal(ec_http_get(f->h, &r), EC_ENETWORK);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(hits("/trunc", NULL), 4);
    assert_non_null(strstr(r.err.msg, "fetching short file from http://127.0.0.1:"));
    assert_non_null(strstr(r.err.msg, "failed after 4 attempts (last: "));
    assert_int_equal(blob_files(f), before);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_http_req_reset(&r);
}

static void http__memory_body_is_capped(void **state)
{
    struct fx *f = *state;
    ec_http_opts o = {.max_mem_body = 1000, .backoff_ms = 20};
    ec_http *h = NULL;
    assert_int_equal(ec_http_new(&h, &o, NULL), EC_OK);
    ec_http_req r = {.url = url(f, "/big"), .sink = EC_HTTP_SINK_MEM, .what = "index"};
    assert_int_equal(ec_http_get(h, &r), EC_ELIMIT);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.err.msg, url(f, "/big")));
    assert_null(r.body.p);
    ec_http_req_reset(&r);

    r = (ec_http_req){.url = url(f, "/bigchunked"), .sink = EC_HTTP_SINK_MEM, .what = "index"};
    assert_int_equal(ec_http_get(h, &r), EC_ELIMIT);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.err.msg, url(f, "/bigchunked")));
    assert_null(r.body.p);
    ec_http_req_reset(&r);
    ec_http_free(h);
}

static void http__blob_keeps_the_servers_bytes(void **state)
{
    struct fx *f = *state;
    ec_digest want;
    sha256_of(&want, "not really gzip");
    ec_http_req r = {.url = url(f, "/encoded"), .sink = EC_HTTP_SINK_BLOB, .store = f->sf->st,
                     .want_sha256 = &want};
    assert_int_equal(ec_http_get(f->h, &r), EC_OK);
    assert_true(ec_digest_eq(&r.blob, &want));
    ec_http_req_reset(&r);
}

static void http__connection_refused_is_retried_then_named(void **state)
{
    (void)state;
    /* A port nobody listens on: bind one, note it, close it. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
    close(s);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
    ec_http *h = client(2, 1, 30);
    ec_http_req r = {.url = u, .sink = EC_HTTP_SINK_MEM, .what = "nothing"};
    assert_int_equal(ec_http_get(h, &r), EC_ENETWORK);
    assert_int_equal(r.attempts, 2);
    assert_non_null(strstr(r.err.msg, "failed after 2 attempts (last: connection refused)"));
    ec_http_req_reset(&r);
    ec_http_free(h);
}

/* 100 requests; each one's callback adds a follow-up, so 200 run through one batch. */
#define FANOUT 100
struct fan {
    ec_http_batch *b;
    ec_http_req reqs[2 * FANOUT];
    char urls[2 * FANOUT][64];
    int done;
};

static void fan_done(ec_http_req *req, void *ud)
{
    struct fan *fan = ud;
    size_t i = (size_t)(req - fan->reqs);
    fan->done++;
    if (i < FANOUT) {
        ec_http_req *next = &fan->reqs[FANOUT + i];
        next->url = fan->urls[FANOUT + i];
        next->sink = EC_HTTP_SINK_MEM;
        next->on_done = fan_done;
        next->ud = fan;
        ec_http_batch_add(fan->b, next);
    }
}

static void http__parallel_batch_with_callbacks_adding_more(void **state)
{
    struct fx *f = *state;
    struct fan *fan = ec_xcalloc(1, sizeof *fan);
    ec_err err = {0};
    assert_int_equal(ec_http_batch_new(&fan->b, f->h, &err), EC_OK);
    for (int i = 0; i < 2 * FANOUT; i++)
        snprintf(fan->urls[i], sizeof fan->urls[i], "http://127.0.0.1:%d/n/%d", srv.port, i);
    for (int i = 0; i < FANOUT; i++) {
        fan->reqs[i] = (ec_http_req){.url = fan->urls[i], .sink = EC_HTTP_SINK_MEM,
                                     .on_done = fan_done, .ud = fan};
        ec_http_batch_add(fan->b, &fan->reqs[i]);
    }
    assert_int_equal(ec_http_batch_run(fan->b, &err), EC_OK);
    assert_int_equal(fan->done, 2 * FANOUT);
    for (int i = 0; i < 2 * FANOUT; i++) {
        char want[64];
        snprintf(want, sizeof want, "body of %d", i);
        assert_int_equal(fan->reqs[i].rc, EC_OK);
        assert_string_equal(ec_buf_str(&fan->reqs[i].body), want);
        ec_http_req_reset(&fan->reqs[i]);
    }
    ec_http_batch_free(fan->b);
    assert_true(atomic_load(&srv.max_busy) <= 4);
    assert_true(atomic_load(&srv.max_busy) >= 2); /* a batch that ran one at a time fails */
    print_message("most requests answered at once: %d\n", atomic_load(&srv.max_busy));
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    assert_int_equal(st.requests, 2 * FANOUT);
    free(fan);
}

struct thr {
    struct fx *f;
    int ok;
    int id;
};

static void *thread_main(void *p)
{
    struct thr *t = p;
    for (int i = 0; i < 10; i++) {
        char u[96], body[64];
        snprintf(u, sizeof u, "http://127.0.0.1:%d/n/t%d-%d", srv.port, t->id, i);
        snprintf(body, sizeof body, "body of t%d-%d", t->id, i);
        ec_digest want;
        sha256_of(&want, body);
        ec_http_req r = {.url = u, .sink = EC_HTTP_SINK_BLOB, .store = t->f->sf->st,
                         .want_sha256 = &want};
        if (ec_http_get(t->f->h, &r) == EC_OK && ec_digest_eq(&r.blob, &want))
            t->ok++;
        ec_http_req_reset(&r);
    }
    return NULL;
}

static void http__get_from_four_threads(void **state)
{
    struct fx *f = *state;
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){.f = f, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].ok, 10);
    }
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    assert_int_equal(st.requests, 40);
    assert_int_equal(st.retries, 0);
}

static void http__retry_after_and_backoff_rules(void **state)
{
    (void)state;
    long ms = -1;
    time_t now = 1700000000;
    assert_true(ec_http__retry_after_parse("1", now, 60, &ms));
    assert_int_equal(ms, 1000);
    assert_true(ec_http__retry_after_parse(" 120 ", now, 60, &ms));
    assert_int_equal(ms, 60000);
    assert_true(ec_http__retry_after_parse("99999999999999999999999", now, 60, &ms));
    assert_int_equal(ms, 60000);
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
    assert_true(ec_http__retry_after_parse("Tue, 14 Nov 2023 22:13:25 GMT", now, 60, &ms));
    assert_int_equal(ms, 5000);
    assert_true(ec_http__retry_after_parse("Tue, 14 Nov 2023 22:00:00 GMT", now, 60, &ms));
    assert_int_equal(ms, 0);
    assert_true(ec_http__retry_after_parse("Wed, 15 Nov 2023 22:00:00 GMT", now, 60, &ms));
    assert_int_equal(ms, 60000);
    assert_false(ec_http__retry_after_parse("soon", now, 60, &ms));
    assert_false(ec_http__retry_after_parse("5s", now, 60, &ms));
    assert_false(ec_http__retry_after_parse("", now, 60, &ms));

    for (uint32_t rnd = 0; rnd < 1000; rnd += 37) {
        uint64_t d1 = ec_http__backoff_ms(100, 1, rnd), d3 = ec_http__backoff_ms(100, 3, rnd);
        assert_true(d1 >= 50 && d1 <= 100);
        assert_true(d3 >= 200 && d3 <= 400);
        assert_true(ec_http__backoff_ms(100, 40, rnd) <= 30000);
    }
    assert_true(ec_http__status_retryable(503));
    assert_true(ec_http__status_retryable(429));
    assert_true(ec_http__status_retryable(408));
    assert_false(ec_http__status_retryable(404));
    assert_false(ec_http__status_retryable(403));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(http__get_into_memory_and_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(http__etag_revalidation_gives_304, setup, teardown),
        cmocka_unit_test_setup_teardown(http__retries_503_then_stores_the_right_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http__honours_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(http__404_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(http__integrity_checked_and_mismatch_stores_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(http__stalled_body_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(http__truncated_body_fails_after_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http__memory_body_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(http__blob_keeps_the_servers_bytes, setup, teardown),
        cmocka_unit_test(http__connection_refused_is_retried_then_named),
        cmocka_unit_test_setup_teardown(http__parallel_batch_with_callbacks_adding_more, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http__get_from_four_threads, setup, teardown),
        cmocka_unit_test(http__retry_after_and_backoff_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
