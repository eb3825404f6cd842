/* SPDX-License-Identifier: MIT */
/* The server against careless and hostile input over raw sockets on loopback: names at
 * the API's limits, bad UTF-8 and NULs in URLs, oversized and badly framed requests, byte
 * ranges by RFC 9110, and random bytes driven at the parser and routes, each answered in
 * API.md's error shape with a request id. */
#include "tests/unit/helpers/ec_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cache/api/auth.h"
#include "cache/api/server.h"
#include "store/util/buf.h"
#include "store/util/mem.h"

struct fx {
    char *home;
    ec_cache *c;
    ec_server *s;
    char *key;
    char blob[128]; /* "/cache/blobs/sha256:…" of a 26-byte blob */
};

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    ec_err err = {0};
    if (ec_cache_open(&f->c, f->home, &err) < 0 || ec_key_create(&f->key, f->c, "a", &err) < 0)
        fail_msg("%s", err.msg);
    ec_server_opts o = {.listen = "127.0.0.1:0", .threads = 2, .warm = EC_WARM_OFF,
                        .shutdown_grace_ms = 2000, .conn_timeout_s = 5};
    if (ec_server_start(&f->s, f->c, &o, &err) < 0)
        fail_msg("server: %s", err.msg);
    ect_write(f->home, "src/blob", "abcdefghijklmnopqrstuvwxyz", 0644);
    EC_AUTOFREE char *src = ec_xasprintf("%s/src/blob", f->home);
    ec_digest d;
    char ds[EC_DIGEST_STR_LEN];
    assert_int_equal(ec_blob_put_file(&d, ec_cache_store(f->c), src, NULL, NULL), EC_OK);
    snprintf(f->blob, sizeof f->blob, "/cache/blobs/%s", ec_digest_format(ds, &d));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ec_server_stop(f->s);
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f->key);
    free(f);
    return 0;
}

/* --- a raw client --- */

struct answer {
    int status;
    char headers[8192];
    ec_buf body;
};

struct client {
    int fd;
    ec_buf in; /* received and not yet taken as an answer */
};

static void client_open(struct fx *f, struct client *cl)
{
    memset(cl, 0, sizeof *cl);
    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ec_server_port(f->s))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void client_send(struct client *cl, const void *req, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(cl->fd, (const char *)req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)w;
    }
}

/* The length of the first whole answer in @in (its body by content-length), or 0. */
static size_t answer_len(const ec_buf *in)
{
    const char *s = ec_buf_str(in), *end = strstr(s, "\r\n\r\n");
    if (!end)
        return 0;
    const char *cl = strcasestr(s, "\r\ncontent-length:");
    size_t body = cl && cl < end ? strtoull(cl + 17, NULL, 10) : 0;
    size_t n = (size_t)(end + 4 - s) + body;
    return in->n >= n ? n : 0;
}

/* Reads the next answer: status 0 when none came (the server closed, or 10 s passed). */
static void client_answer(struct client *cl, struct answer *a)
{
    memset(a, 0, sizeof *a);
    char chunk[65536];
    size_t n;
    while ((n = answer_len(&cl->in)) == 0) {
        ssize_t r = recv(cl->fd, chunk, sizeof chunk, 0);
        if (r <= 0)
            break;
        ec_buf_add(&cl->in, chunk, (size_t)r, NULL);
    }
    if (n == 0)
        n = cl->in.n; /* closed before a whole answer: take what came */
    const char *s = ec_buf_str(&cl->in), *end = strstr(s, "\r\n\r\n");
    if (n > 12 && strncmp(s, "HTTP/1.", 7) == 0)
        a->status = atoi(s + 9);
    if (end && (size_t)(end + 4 - s) <= n) {
        snprintf(a->headers, sizeof a->headers, "%.*s", (int)(end - s), s);
        ec_buf_add(&a->body, end + 4, n - (size_t)(end + 4 - s), NULL);
    }
    size_t rest = cl->in.n - n;
    EC_AUTOFREE char *keep = rest ? ec_xstrndup(cl->in.p + n, rest) : NULL;
    ec_buf_reset(&cl->in);
    if (rest)
        ec_buf_add(&cl->in, keep, rest, NULL);
}

static void client_close(struct client *cl)
{
    close(cl->fd);
    ec_buf_fini(&cl->in);
}

/* Sends @n bytes as they are (then closes its sending side when @half_close) and reads
 * one answer (the server closes, or the body's content-length is in). status 0: no
 * answer at all. */
static void raw_ex(struct fx *f, const void *req, size_t n, bool half_close, struct answer *a)
{
    struct client cl;
    client_open(f, &cl);
    client_send(&cl, req, n);
    if (half_close)
        shutdown(cl.fd, SHUT_WR);
    client_answer(&cl, a);
    client_close(&cl);
}

static void raw(struct fx *f, const void *req, size_t n, struct answer *a)
{
    raw_ex(f, req, n, false, a);
}

static void raw_str(struct fx *f, const char *req, struct answer *a)
{
    raw(f, req, strlen(req), a);
}

/* An API request line and headers for @path with @extra headers and @body. */
static char *api_req(struct fx *f, const char *method, const char *path, const char *extra,
                     const char *body)
{
    return ec_xasprintf("%s %s HTTP/1.1\r\nHost: t\r\nx-api-key: %s\r\nanthropic-version: 1\r\n"
                        "anthropic-beta: managed-agents-2026-04-01\r\nConnection: close\r\n"
                        "%scontent-length: %zu\r\n\r\n%s",
                        method, path, f->key, extra ? extra : "", body ? strlen(body) : 0,
                        body ? body : "");
}

/* Asserts API.md's error shape with a request id (body and header) for @status. */
static void expect_shape(const struct answer *a, int status, const char *what)
{
    if (a->status != status)
        fail_msg("%s: status %d, want %d: %s", what, a->status, status,
                 a->body.p ? ec_buf_str((ec_buf *)&a->body) : "");
    json_t *j = json_loadb(a->body.p ? a->body.p : "", a->body.n, 0, NULL);
    if (!j)
        fail_msg("%s: the body is not JSON: %.200s", what, a->body.p ? a->body.p : "");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "error");
    json_t *e = json_object_get(j, "error");
    assert_non_null(json_string_value(json_object_get(e, "type")));
    assert_non_null(json_string_value(json_object_get(e, "message")));
    const char *rid = json_string_value(json_object_get(j, "request_id"));
    if (!rid || strncmp(rid, "req_", 4) != 0)
        fail_msg("%s: no request_id", what);
    if (!strcasestr(a->headers, "\r\nrequest-id: req_"))
        fail_msg("%s: no request-id header", what);
    json_decref(j);
}

static void fini(struct answer *a)
{
    ec_buf_fini(&a->body);
}

/* --- names, ids and keys at the API's limits --- */

static void input__names_of_256_characters_work(void **state)
{
    struct fx *f = *state;
    ec_buf name = {0};
    for (int i = 0; i < 256; i++)
        ec_buf_add(&name, "\xf0\x9f\x98\x80", 4, NULL); /* 1,024 bytes of UTF-8 */
    EC_AUTOFREE char *body = ec_xasprintf("{\"name\":\"%s\"}", ec_buf_str(&name));
    EC_AUTOFREE char *req = api_req(f, "POST", "/v1/environments", NULL, body);
    struct answer a;
    raw_str(f, req, &a);
    if (a.status != 200)
        fail_msg("create: %d %s", a.status, ec_buf_str(&a.body));
    fini(&a);
    raw_str(f, req, &a); /* the name is still unique in the workspace */
    expect_shape(&a, 409, "second create");
    fini(&a);
    EC_AUTOFREE char *over = ec_xasprintf("{\"name\":\"%sx\"}", ec_buf_str(&name));
    EC_AUTOFREE char *req2 = api_req(f, "POST", "/v1/environments", NULL, over);
    raw_str(f, req2, &a);
    expect_shape(&a, 400, "257 characters");
    fini(&a);
    ec_buf_fini(&name);
}

/* --- URLs: UTF-8 and NULs --- */

static void input__bad_utf8_and_nul_in_urls_are_400(void **state)
{
    struct fx *f = *state;
    EC_AUTOFREE char *path = ec_xasprintf("/v1/environments");
    struct answer a;
    EC_AUTOFREE char *mk = api_req(f, "POST", path, NULL, "{\"name\":\"x\"}");
    raw_str(f, mk, &a);
    assert_int_equal(a.status, 200);
    json_t *env = json_loadb(a.body.p, a.body.n, 0, NULL);
    const char *id = json_string_value(json_object_get(env, "id"));
    fini(&a);
    const char *paths[] = {"/v1/environments/env_%ff", "/v1/environments/%c0%af",
                           "/v1/environments?limit=%ff", "/v1/environments?page=%c0%af",
                           "/mirror/npm/%ff", "/mirror/npm/%c0%af", "/healthz?x=%ff",
                           "/nosuch/%ff"};
    for (size_t i = 0; i < EC_ARRAY_LEN(paths); i++) {
        EC_AUTOFREE char *req = api_req(f, "GET", paths[i], NULL, NULL);
        raw_str(f, req, &a);
        expect_shape(&a, 400, paths[i]);
        assert_non_null(strstr(ec_buf_str(&a.body), "UTF-8"));
        fini(&a);
    }
    /* "<id>%00junk" is not <id> */
    EC_AUTOFREE char *nul = ec_xasprintf("/v1/environments/%s%%00junk", id);
    EC_AUTOFREE char *req = api_req(f, "GET", nul, NULL, NULL);
    raw_str(f, req, &a);
    expect_shape(&a, 400, nul);
    assert_non_null(strstr(ec_buf_str(&a.body), "NUL"));
    fini(&a);
    json_decref(env);
}

/* --- sizes and framing --- */

static void input__oversized_and_unframed_requests_answer_json(void **state)
{
    struct fx *f = *state;
    struct answer a;
    ec_buf big = {0};
    for (int i = 0; i < 20000; i++) /* over the 16 KiB header limit */
        ec_buf_add(&big, "a", 1, NULL);
    EC_AUTOFREE char *hdr = ec_xasprintf("GET /healthz HTTP/1.1\r\nHost: t\r\nx-big: %s\r\n"
                                         "Connection: close\r\n\r\n", ec_buf_str(&big));
    raw_str(f, hdr, &a);
    expect_shape(&a, 431, "20 KB header");
    fini(&a);
    EC_AUTOFREE char *url = ec_xasprintf("GET /v1/%s HTTP/1.1\r\nHost: t\r\nConnection: close"
                                         "\r\n\r\n", ec_buf_str(&big));
    raw_str(f, url, &a);
    expect_shape(&a, 414, "20 KB URL");
    fini(&a);
    raw_str(f, "POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: 99999999\r\n"
               "Connection: close\r\n\r\n", &a);
    expect_shape(&a, 413, "content-length over the cap");
    fini(&a);
    /* Chunked framing is refused before any of it is parsed: bad chunks never reach MHD. */
    raw_str(f, "POST /v1/environments HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               "Connection: close\r\n\r\nzz\r\nnot a chunk\r\n", &a);
    expect_shape(&a, 411, "bad chunked body");
    fini(&a);
    ec_buf_fini(&big);
}

/* --- heads the HTTP library would answer with its own page --- */

/* Each of these used to get libmicrohttpd's HTML page (or a bare status line, or
 * nothing) without a request id; the accept front answers them in the API's shape. */
static void input__malformed_heads_answer_json(void **state)
{
    struct fx *f = *state;
    struct answer a;
    ec_buf big = {0}, many = {0};
    for (int i = 0; i < 40000; i++) /* past MHD's 32 KiB pool */
        ec_buf_add(&big, "a", 1, NULL);
    for (int i = 0; i < 3000; i++) /* small fields, each taking room in MHD's pool */
        ec_buf_add(&many, "a:\r\n", 4, NULL);
    EC_AUTOFREE char *hdr40 = ec_xasprintf("GET /healthz HTTP/1.1\r\nHost: t\r\nx-big: %s\r\n"
                                           "\r\n", ec_buf_str(&big));
    EC_AUTOFREE char *url40 = ec_xasprintf("GET /v1/%s HTTP/1.1\r\nHost: t\r\n\r\n",
                                           ec_buf_str(&big));
    EC_AUTOFREE char *fields = ec_xasprintf("GET /healthz HTTP/1.1\r\nHost: t\r\n%s\r\n",
                                            ec_buf_str(&many));
    const struct {
        const char *req;
        int status;
        const char *says; /* a piece of the message */
    } cases[] = {
        {hdr40, 431, "headers are over"},
        {fields, 431, "header fields"},
        {url40, 414, "request target is over"},
        {"GARBAGE\r\n\r\n", 400, "request line"},
        {"GET  HTTP/1.1\r\nHost: t\r\n\r\n", 400, "malformed"},
        {"GET /healthz HTTP/1.1\rHost: t\r\n\r\n", 400, "CR without its LF"},
        {"GET /healthz HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n", 400, "CR without its LF"},
        {"GET /healthz HTTX/1.1\r\nHost: t\r\n\r\n", 400, "HTTP version"},
        {"GET /heal\x01thz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "malformed"},
        {"GET /healthz HTTP/1.1\r\n\r\n", 400, "needs a host"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one host"},
        {"GET /healthz HTTP/1.1\r\nHost: t\r\nnocolon\r\n\r\n", 400, "malformed"},
        {"GET /healthz HTTP/1.1\r\nHost: t\r\nX\xff: a\r\n\r\n", 400, "malformed"},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: abc\r\n\r\n", 400,
         "content-length"},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: -1\r\n\r\n", 400,
         "content-length"},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: 1 \r\n\r\nx", 400,
         "content-length"},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: "
         "99999999999999999999999\r\n\r\n", 400, "content-length"},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: 1\r\n"
         "content-length: 2\r\n\r\nab", 400, "content-length"},
        {"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "HTTP/2.0 is not supported"},
        {"GET /healthz\r\n\r\n", 505, "HTTP/0.9 is not supported"},
        {"GET /healthz HTTP/3.x\r\nHost: t\r\n\r\n", 400, "HTTP version"},
        {"GET /healthz FTP/1.1\r\nHost: t\r\n\r\n", 400, "malformed"},
        {"FOO /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 501, "FOO is not implemented"},
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        raw_str(f, cases[i].req, &a);
        char what[64];
        snprintf(what, sizeof what, "case %zu: %.40s", i, cases[i].req);
        expect_shape(&a, cases[i].status, what);
        if (!strstr(ec_buf_str(&a.body), cases[i].says))
            fail_msg("%s: the message does not say \"%s\": %s", what, cases[i].says,
                     ec_buf_str(&a.body));
        assert_non_null(strcasestr(a.headers, "\r\nconnection: close"));
        fini(&a);
    }
    /* A head the client stops sending halfway (it closes its side): 400, not silence. */
    const char cut[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Half: ab";
    raw_ex(f, cut, strlen(cut), true, &a);
    expect_shape(&a, 400, "a head cut short");
    fini(&a);
    /* What is well-formed still works: HTTP/1.0 needs no host; 1.2 is answered as 1.1. */
    raw_str(f, "GET /healthz HTTP/1.0\r\n\r\n", &a);
    assert_int_equal(a.status, 200);
    fini(&a);
    raw_str(f, "GET /healthz HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n", &a);
    assert_int_equal(a.status, 200);
    fini(&a);
    ec_buf_fini(&big);
    ec_buf_fini(&many);
}

/* Every request on a connection is checked, not only the first: the malformed heads
 * above, sent after a good request on a kept-alive connection (in the same segment, and
 * after its answer was read), get the same answers in the API's shape. */
static void input__later_requests_on_a_connection_are_checked(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"GET /healthz HTTX/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\nHost: t\r\nnocolon\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Fold: a\r\n b\r\n\r\n", 400},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ncontent-length: abc\r\n\r\n", 400},
        {"POST /v1/environments HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n"
         "zz\r\n", 411},
        {"FOO /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 501},
        {"GET /v1/%ff HTTP/1.1\r\nHost: t\r\n\r\n", 400},
    };
    static const char good[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        for (int pipelined = 0; pipelined < 2; pipelined++) {
            char what[96];
            snprintf(what, sizeof what, "case %zu (%s): %.40s", i,
                     pipelined ? "pipelined" : "after an answer", cases[i].req);
            struct client cl;
            struct answer a;
            client_open(f, &cl);
            ec_buf both = {0};
            ec_buf_adds(&both, good, NULL);
            if (pipelined)
                ec_buf_adds(&both, cases[i].req, NULL);
            client_send(&cl, both.p, both.n);
            client_answer(&cl, &a);
            if (a.status != 200 || strcasestr(a.headers, "\r\nconnection: close"))
                fail_msg("%s: the first answer: %d %s", what, a.status, a.headers);
            fini(&a);
            if (!pipelined)
                client_send(&cl, cases[i].req, strlen(cases[i].req));
            client_answer(&cl, &a);
            expect_shape(&a, cases[i].status, what);
            assert_non_null(strcasestr(a.headers, "\r\nconnection: close"));
            fini(&a);
            ec_buf_fini(&both);
            client_close(&cl);
        }
    }
    /* Good requests pipelined in one segment are answered in order, bodies included. */
    struct client cl;
    struct answer a;
    client_open(f, &cl);
    EC_AUTOFREE char *post = api_req(f, "POST", "/v1/environments", NULL, "{\"name\":\"pipe\"}");
    *strstr(post, "Connection: close\r\n") = 'X'; /* "Xonnection": kept alive */
    EC_AUTOFREE char *three = ec_xasprintf("%s%sGET /nowhere HTTP/1.1\r\nHost: t\r\n"
                                           "Connection: close\r\n\r\n", good, post);
    client_send(&cl, three, strlen(three));
    client_answer(&cl, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(ec_buf_str(&a.body), "{\"status\":\"ok\"}");
    fini(&a);
    client_answer(&cl, &a);
    if (a.status != 200 || !strstr(ec_buf_str(&a.body), "\"name\":\"pipe\""))
        fail_msg("pipelined POST: %d %s", a.status, ec_buf_str(&a.body));
    fini(&a);
    client_answer(&cl, &a);
    expect_shape(&a, 404, "pipelined 404");
    fini(&a);
    client_close(&cl);
}

/* A head that arrives in pieces, split inside a field's name, is read whole: the host
 * header split as "Ho" + "st" still counts. */
static void input__a_head_in_pieces_is_read_whole(void **state)
{
    struct fx *f = *state;
    static const char *const parts[][3] = {
        {"GET /healthz HTTP/1.1\r\nHo", "st: t\r\nConnection: cl", "ose\r\n\r\n"},
        {"GE", "T /healthz HTTP/1.1\r\nHost: t\r", "\nConnection: close\r\n\r\n"},
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(parts); i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(ec_server_port(f->s))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        for (int k = 0; k < 3; k++) {
            assert_true(send(fd, parts[i][k], strlen(parts[i][k]), MSG_NOSIGNAL) > 0);
            struct timespec ts = {0, 30 * 1000000L}; /* separate segments, not one */
            nanosleep(&ts, NULL);
        }
        char buf[512];
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        close(fd);
        assert_true(n > 12);
        buf[n] = '\0';
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
            fail_msg("pieces %zu: %s", i, buf);
    }
}

/* The front listens on IPv6 as well: a good head is served, a bad one answered in shape. */
static void input__ipv6_listening_checks_heads_too(void **state)
{
    struct fx *f = *state;
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6) { /* a property of the machine, not something the setup can install */
        print_message("no IPv6 loopback on this machine: IPv6 listening not checked\n");
        skip();
    }
    ec_server *s6;
    ec_err err = {0};
    ec_server_opts o = {.listen = "[::1]:0", .threads = 2, .warm = EC_WARM_OFF,
                        .shutdown_grace_ms = 2000, .conn_timeout_s = 5};
    if (ec_server_start(&s6, f->c, &o, &err) < 0)
        fail_msg("server on [::1]: %s", err.msg);
    static const char *const reqs[] = {"GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                       "Connection: close\r\n\r\n",
                                       "GET /healthz HTTP/1.1\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin6_port = htons(ec_server_port(s6));
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_true(send(fd, reqs[i], strlen(reqs[i]), MSG_NOSIGNAL) > 0);
        char buf[1024];
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        close(fd);
        assert_true(n > 12);
        buf[n] = '\0';
        const char *want = i == 0 ? "HTTP/1.1 200" : "HTTP/1.1 400";
        if (strncmp(buf, want, 12) != 0 || (i == 1 && !strstr(buf, "\"request_id\":\"req_")))
            fail_msg("[::1] request %d: %s", i, buf);
    }
    ec_server_stop(s6);
}

/* --- ranges (RFC 9110, 14) --- */

static void range(struct fx *f, const char *value, struct answer *a)
{
    EC_AUTOFREE char *req = ec_xasprintf("GET %s HTTP/1.1\r\nHost: t\r\nRange: %s\r\n"
                                         "Connection: close\r\n\r\n", f->blob, value);
    raw_str(f, req, a);
}

static void input__ranges_follow_rfc9110(void **state)
{
    struct fx *f = *state;
    struct answer a;
    static const struct {
        const char *range;
        int status;
        const char *body; /* NULL: an error */
    } cases[] = {
        {"bytes=0-2", 206, "abc"},
        {"bytes=23-", 206, "xyz"},
        {"bytes=-3", 206, "xyz"},
        {"bytes=20-99", 206, "uvwxyz"},
        {"bytes=-100", 206, "abcdefghijklmnopqrstuvwxyz"}, /* suffix past the start */
        {"BYTES=1-1", 206, "b"},                            /* the unit is case-insensitive */
        {"bytes=26-", 416, NULL},
        {"bytes=-0", 416, NULL},
        {"bytes=30-40", 416, NULL},
        {"bytes=--1", 200, "abcdefghijklmnopqrstuvwxyz"},   /* malformed: ignored */
        {"bytes=1--2", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=-18446744073709551616", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=18446744073709551616-", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes= 1-2", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=+1-2", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=5-2", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"items=0-1", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=0-1,3-4", 200, "abcdefghijklmnopqrstuvwxyz"}, /* several: whole */
        {"bytes=0-1, 1--2", 200, "abcdefghijklmnopqrstuvwxyz"},
        {"bytes=30-,40-", 416, NULL},                         /* none satisfiable */
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        range(f, cases[i].range, &a);
        if (a.status != cases[i].status)
            fail_msg("Range: %s: %d, want %d: %s", cases[i].range, a.status, cases[i].status,
                     ec_buf_str(&a.body));
        if (cases[i].body) {
            if (strcmp(ec_buf_str(&a.body), cases[i].body) != 0)
                fail_msg("Range: %s: body %s", cases[i].range, ec_buf_str(&a.body));
        } else {
            expect_shape(&a, 416, cases[i].range);
            assert_non_null(strcasestr(a.headers, "\r\ncontent-range: bytes */26"));
        }
        fini(&a);
    }
}

/* --- property: random bytes at the parser and routes --- */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bytes that keep the request line's and headers' framing: no space, CR or LF. */
static void rnd_bytes(ec_buf *b, size_t n, bool in_url)
{
    static const char pct[] = "%00%ff%c0%af%2f%25%3f%23%e2%82";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rnd();
        if (in_url && rnd() % 4 == 0) {
            size_t k = (rnd() % 10) * 3;
            ec_buf_add(b, pct + k, 3, NULL);
            continue;
        }
        if (c == ' ' || c == '\r' || c == '\n' || (in_url && (c < 0x21 || c == 0x7f)))
            c = 'x';
        ec_buf_add(b, &c, 1, NULL);
    }
}

/* Breaks the framing of a request's line and first headers (@pre) one way or another: a
 * control byte or separator in place of another, another HTTP version, no host or two,
 * a bad or second content-length. */
static void mutate_head(ec_buf *pre)
{
    static const char bytes[] = " \r\n:\t\x7f\xff";
    static const char *const versions[] = {"HTTP/2.0", "HTTP/0.9", "HTTP/1.x", "HTTX/1.1",
                                           "HTTP/1.1 x", "", "HTTP/1.0", "HTTP/11.1"};
    static const char *const lengths[] = {"abc", "-1", "1 2", "99999999999999999999999", "5",
                                          "",    "1 ", "0\t", " 0  "};
    EC_AUTOFREE char *s = ec_xstrdup(ec_buf_str(pre));
    char *nl = strstr(s, "\r\n");
    ec_buf out = {0};
    switch (rnd() % 5) {
    case 0:
        for (int k = 1 + (int)(rnd() % 3); k > 0; k--) {
            size_t at = rnd() % pre->n;
            s[at] = (char)(rnd() % 8 == 0 ? 0 : bytes[rnd() % (sizeof bytes - 1)]);
        }
        ec_buf_add(&out, s, pre->n, NULL);
        break;
    case 1: { /* the line's last word is its version */
        char *sp = memrchr(s, ' ', (size_t)(nl - s));
        ec_buf_add(&out, s, (size_t)(sp + 1 - s), NULL);
        const char *v = versions[rnd() % EC_ARRAY_LEN(versions)];
        ec_buf_add(&out, v, strlen(v), NULL);
        ec_buf_add(&out, nl, strlen(nl), NULL);
        break;
    }
    case 2: /* the host line follows the request line */
        ec_buf_add(&out, s, (size_t)(nl + 2 - s), NULL);
        ec_buf_add(&out, strstr(nl + 2, "\r\n") + 2, strlen(strstr(nl + 2, "\r\n") + 2), NULL);
        break;
    case 3:
        ec_buf_add(&out, s, (size_t)(nl + 2 - s), NULL);
        ec_buf_add(&out, "Host: u\r\n", 9, NULL);
        ec_buf_add(&out, nl + 2, strlen(nl + 2), NULL);
        break;
    default: {
        EC_AUTOFREE char *cl =
            ec_xasprintf("content-length: %s\r\n", lengths[rnd() % EC_ARRAY_LEN(lengths)]);
        ec_buf_add(&out, s, (size_t)(nl + 2 - s), NULL);
        ec_buf_add(&out, cl, strlen(cl), NULL);
        ec_buf_add(&out, nl + 2, strlen(nl + 2), NULL);
    }
    }
    ec_buf_fini(pre);
    *pre = out;
}

/* @b's bytes as C would write them, for failure messages (static buffer). */
static const char *escaped(const ec_buf *b)
{
    static char out[2048];
    size_t o = 0;
    for (size_t i = 0; i < b->n && o + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)b->p[i];
        o += (size_t)(c >= 0x20 && c < 0x7f && c != '\\'
                          ? snprintf(out + o, sizeof out - o, "%c", c)
                          : snprintf(out + o, sizeof out - o, "\\x%02x", c));
    }
    out[o] = '\0';
    return out;
}

static void input__random_requests_get_the_api_shape(void **state)
{
    struct fx *f = *state;
    static const char *const methods[] = {"GET", "POST",    "DELETE", "HEAD", "PUT",
                                          "PATCH", "OPTIONS", "FOO",    "get"};
    static const char *const prefixes[] = {"/v1/environments/", "/v1/sessions/", "/mirror/npm/",
                                           "/cache/blobs/", "/healthz?", "/v1/environments?",
                                           "/", "/mirror/"};
    const char *seed = getenv("EC_PROPERTY_SEED");
    if (seed)
        rng_state = strtoull(seed, NULL, 10) | 1;
    int n = getenv("EC_PROPERTY_N") ? atoi(getenv("EC_PROPERTY_N")) : 300;
    for (int i = 0; i < n; i++) {
        const char *method = methods[rnd() % EC_ARRAY_LEN(methods)];
        ec_buf url = {0}, val = {0}, body = {0};
        const char *pre = prefixes[rnd() % EC_ARRAY_LEN(prefixes)];
        ec_buf_add(&url, pre, strlen(pre), NULL);
        rnd_bytes(&url, rnd() % 64, true);
        rnd_bytes(&val, rnd() % 64, false);
        rnd_bytes(&body, rnd() % 256, false);
        if (rnd() % 3 == 0) /* sometimes a body that is nearly JSON */
            ec_buf_add(&body, "{\"name\":\"\xff\"}", 13, NULL);
        EC_AUTOFREE char *head = ec_xasprintf(
            "%s %s HTTP/1.1\r\nHost: t\r\nx-api-key: %s\r\nanthropic-version: 1\r\n"
            "anthropic-beta: managed-agents-2026-04-01\r\nx-junk: %s\r\nRange: bytes=%s\r\n",
            method, ec_buf_str(&url), rnd() % 2 ? f->key : ec_buf_str(&val), ec_buf_str(&val),
            ec_buf_str(&val));
        EC_AUTOFREE char *tail =
            ec_xasprintf("Connection: close\r\ncontent-length: %zu\r\n\r\n", body.n);
        ec_buf req = {0};
        ec_buf_add(&req, head, strlen(head), NULL);
        if (rnd() % 3 == 0) /* sometimes framing that does not parse */
            mutate_head(&req);
        ec_buf_add(&req, tail, strlen(tail), NULL);
        ec_buf_add(&req, body.p ? body.p : "", body.n, NULL);
        /* Half of them as a kept-alive connection's second request. */
        static const char good[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
        bool second = rnd() % 2 == 0;
        struct client cl;
        struct answer a;
        client_open(f, &cl);
        if (second)
            client_send(&cl, good, strlen(good));
        client_send(&cl, req.p, req.n);
        if (second) {
            client_answer(&cl, &a);
            if (a.status != 200)
                fail_msg("case %d: the good first request: %d %s", i, a.status, a.headers);
            fini(&a);
        }
        client_answer(&cl, &a);
        client_close(&cl);
        char what[64];
        snprintf(what, sizeof what, "case %d (%s%s)", i, method, second ? ", second" : "");
        if (a.status == 0)
            fail_msg("%s: no answer to %.300s", what, ec_buf_str(&req));
        /* 501 (a method no route has) and 505 (a version) are the client's doing too. */
        if (a.status >= 500 && a.status != 501 && a.status != 505)
            fail_msg("%s: status %d to %.300s: %s", what, a.status, ec_buf_str(&req),
                     ec_buf_str(&a.body));
        if (!strcasestr(a.headers, "\r\nrequest-id: req_"))
            fail_msg("%s: no request-id header in %s, to %s", what, a.headers, escaped(&req));
        /* npm's own 404s ({"error": …}) are the manager's protocol, not the API's. */
        bool npm404 = a.status == 404 && strncmp(ec_buf_str(&url), "/mirror/npm/", 12) == 0;
        if (a.status >= 400 && strcmp(method, "HEAD") != 0 && !npm404) {
            json_t *j = json_loadb(a.body.p ? a.body.p : "", a.body.n, 0, NULL);
            if (!j)
                fail_msg("%s: %s with a body that is not JSON: %s, to %s", what, a.headers,
                         ec_buf_str(&a.body), escaped(&req));
            json_decref(j);
            expect_shape(&a, a.status, what);
        }
        fini(&a);
        ec_buf_fini(&req);
        ec_buf_fini(&url);
        ec_buf_fini(&val);
        ec_buf_fini(&body);
    }
    /* The server still answers. */
    struct answer a;
    raw_str(f, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &a);
    assert_int_equal(a.status, 200);
    fini(&a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(input__names_of_256_characters_work),
        T(input__bad_utf8_and_nul_in_urls_are_400),
        T(input__oversized_and_unframed_requests_answer_json),
        T(input__malformed_heads_answer_json),
        T(input__later_requests_on_a_connection_are_checked),
        T(input__a_head_in_pieces_is_read_whole),
        T(input__ipv6_listening_checks_heads_too),
        T(input__ranges_follow_rfc9110),
        T(input__random_requests_get_the_api_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
