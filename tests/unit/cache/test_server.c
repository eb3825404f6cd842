/* SPDX-License-Identifier: MIT */
/* The API over real HTTP (libcurl against ec_server on loopback): every status and error
 * type of API.md, paging 2,500 environments, workspaces, racing creates, warm-ups seen
 * from sessions, blobs with Range, metrics, and a graceful stop that resumes warm-ups. */
#include "tests/unit/helpers/ec_test.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/api/auth.h"
#include "cache/api/server.h"
#include "cache/session/session_int.h"
#include "cache/warm/idx_warm.h"
#include "store/util/mem.h"

#define EC_TEST_LOCK "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static atomic_bool gate_open;
static atomic_int warm_calls;

/* Warm-ups wait for the gate; the workspace "bad" fails like a missing package would. */
static int fake_warm(json_t **out, ec_cache *c, const ec_warm_opts *o, ec_err *err)
{
    (void)c;
    atomic_fetch_add(&warm_calls, 1);
    while (!atomic_load(&gate_open) && !*o->cancel) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (*o->cancel)
        return ec_fail(err, EC_EBUSY, "cancelled");
    if (strcmp(o->ws, "bad") == 0)
        return ec_fail(err, EC_EINVAL, "pip: \"nope==9.9\": no such version on the index");
    *out = json_pack("{s:s}", "env", o->env);
    return EC_OK;
}

struct fx {
    char *home;
    ec_cache *c;
    ec_server *s;
    char *key_a, *key_b, *key_bad;
    char base[64];
};

static ec_server *start_server(struct fx *f, int session_wait_ms)
{
    ec_server_opts o = {.listen = "127.0.0.1:0", .warm_fn = fake_warm, .threads = 4,
                        .session_wait_ms = session_wait_ms, .shutdown_grace_ms = 5000};
    ec_server *s = NULL;
    ec_err err = {0};
    if (ec_server_start(&s, f->c, &o, &err) < 0)
        fail_msg("server: %s", err.msg);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", ec_server_port(s));
    return s;
}

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    atomic_store(&gate_open, true);
    atomic_store(&warm_calls, 0);
    if (ec_cache_open(&f->c, f->home, NULL) < 0 || ec_key_create(&f->key_a, f->c, "a", NULL) < 0 ||
        ec_key_create(&f->key_b, f->c, "b", NULL) < 0 ||
        ec_key_create(&f->key_bad, f->c, "bad", NULL) < 0)
        return -1;
    f->s = start_server(f, 400);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    atomic_store(&gate_open, true);
    ec_server_stop(f->s);
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f->key_a);
    free(f->key_b);
    free(f->key_bad);
    free(f);
    return 0;
}

/* --- a small client --- */

enum { NO_VERSION = 1, NO_BETA = 2, BEARER = 4 };

struct reply {
    long status;
    ec_buf body;
    char headers[4096];
    size_t hn;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    ec_buf_add(&((struct reply *)ud)->body, p, sz * n, NULL);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t k = sz * n;
    if (r->hn + k < sizeof r->headers) {
        memcpy(r->headers + r->hn, p, k);
        r->hn += k;
        r->headers[r->hn] = '\0';
    }
    return k;
}

/* Sends one request; *@out (if given) is the parsed JSON answer. Returns the status. */
static long call(struct fx *f, const char *method, const char *path, const char *key,
                 const char *body, unsigned flags, json_t **out, struct reply *keep)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    char url[2048], kh[128];
    struct reply r = {0};
    snprintf(url, sizeof url, "%s%s", f->base, path);
    if (key) {
        snprintf(kh, sizeof kh, flags & BEARER ? "authorization: Bearer %s" : "x-api-key: %s", key);
        hd = curl_slist_append(hd, kh);
    }
    if (!(flags & NO_VERSION))
        hd = curl_slist_append(hd, "anthropic-version: 2023-06-01");
    if (!(flags & NO_BETA))
        hd = curl_slist_append(hd, "anthropic-beta: other-beta, managed-agents-2026-04-01");
    hd = curl_slist_append(hd, "content-type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (out)
        *out = json_loads(ec_buf_str(&r.body), 0, NULL);
    if (keep)
        *keep = r;
    else
        ec_buf_fini(&r.body);
    return r.status;
}

/* Asserts an API.md error: status, type, a message containing @text, and a request id. */
static void expect_error(struct fx *f, const char *method, const char *path, const char *key,
                         const char *body, unsigned flags, long status, const char *type,
                         const char *text, const char *detail)
{
    json_t *j = NULL;
    long st = call(f, method, path, key, body, flags, &j, NULL);
    if (st != status)
        fail_msg("%s %s: status %ld, want %ld (%s)", method, path, st, status,
                 j ? json_dumps(j, 0) : "no JSON");
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), type);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!msg || !strstr(msg, text))
        fail_msg("%s %s: message \"%s\" lacks \"%s\"", method, path, msg, text);
    if (strstr(msg, "`envcache")) /* an API client has no CLI to run */
        fail_msg("%s %s: message \"%s\" points at a CLI command", method, path, msg);
    assert_int_equal(strncmp(json_string_value(json_object_get(j, "request_id")), "req_", 4), 0);
    if (detail)
        assert_string_equal(json_string_value(json_object_get(json_object_get(e, "details"),
                                                              "error_code")), detail);
    json_decref(j);
}

static char *create_env(struct fx *f, const char *key, const char *name)
{
    char body[512];
    json_t *j = NULL;
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    long st = call(f, "POST", "/v1/environments", key, body, 0, &j, NULL);
    if (st != 200)
        fail_msg("create %s: %ld", name, st);
    char *id = ec_xstrdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    return id;
}

/* The record types the tests write, through their tables' accessors. */
enum rec_kind { REC_SESSION, REC_WARM_STATE, REC_LOCK };

/* A lock record as the warm-up stores it, under a digest that no lock text has: the one
 * record written past its accessor (warm/idx_locks.c computes digests from the text). */
static const ec_table test_locks_tbl = {"locks", 0};

/* Writes JSON @val for @a (and @b), as the service's own writers would. */
static void put_record(struct fx *f, enum rec_kind kind, const char *a, const char *b,
                       const char *val)
{
    ec_txn *txn = NULL;
    json_t *j = json_loads(val, 0, NULL);
    assert_non_null(j);
    assert_int_equal(ec_txn_begin(&txn, ec_cache_store(f->c), 0, NULL), EC_OK);
    if (kind == REC_SESSION)
        assert_int_equal(ec_session__put(txn, a, j, 0, NULL), EC_OK);
    else if (kind == REC_WARM_STATE)
        assert_int_equal(ec_warm_state_put(txn, a, b, j, NULL), EC_OK);
    else
        assert_int_equal(ec_cache__json_put(txn, &test_locks_tbl, a, j, 0, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
    json_decref(j);
}

/* Writes a session record that references @env_id, standing in for a mounted session. */
static void put_fake_session(struct fx *f, const char *sid, const char *env_id)
{
    char sval[256];
    snprintf(sval, sizeof sval, "{\"id\":\"%s\",\"environment_id\":\"%s\",\"workspace\":\"a\"}",
             sid, env_id);
    put_record(f, REC_SESSION, sid, NULL, sval);
}

/* GET @path answers @want exactly: the same keys with the same values. */
static void expect_same_object(struct fx *f, const char *path, const json_t *want)
{
    json_t *got = NULL;
    assert_int_equal(call(f, "GET", path, f->key_a, NULL, 0, &got, NULL), 200);
    if (!json_equal(got, want))
        fail_msg("GET %s: %s, but create answered %s", path, json_dumps(got, JSON_SORT_KEYS),
                 json_dumps(want, JSON_SORT_KEYS));
    json_decref(got);
}

/* --- tests --- */

static void server__headers_and_keys(void **state)
{
    struct fx *f = *state;
    const char *p = "/v1/environments";
    expect_error(f, "GET", p, NULL, NULL, 0, 401, "authentication_error", "x-api-key", NULL);
    expect_error(f, "GET", p, "eck_wrong", NULL, 0, 401, "authentication_error", "invalid", NULL);
    expect_error(f, "GET", p, f->key_a, NULL, NO_VERSION, 400, "invalid_request_error",
                 "anthropic-version", NULL);
    expect_error(f, "GET", p, f->key_a, NULL, NO_BETA, 400, "invalid_request_error",
                 "anthropic-beta", NULL);
    assert_int_equal(call(f, "GET", "/v1/environments?beta=true", f->key_a, NULL, BEARER, NULL,
                          NULL), 200);
    struct reply r;
    assert_int_equal(call(f, "GET", "/healthz", NULL, NULL, 0, NULL, &r), 200);
    assert_non_null(strstr(r.headers, "request-id: req_"));
    ec_buf_fini(&r.body);
}

static void server__environment_errors(void **state)
{
    struct fx *f = *state;
    const char *k = f->key_a;
    char path[256], big[1100];
    EC_AUTOFREE char *id = create_env(f, k, "one");
    expect_error(f, "POST", "/v1/environments", k, "{\"name\":\"one\"}", 0, 409,
                 "invalid_request_error", "already exists", NULL);
    expect_error(f, "POST", "/v1/environments", k,
                 "{\"name\":\"p\",\"config\":{\"type\":\"cloud\",\"packages\":{\"pip\":[\"pandas===\"]}}}",
                 0, 400, "invalid_request_error", "config.packages.pip[0]", NULL);
    expect_error(f, "POST", "/v1/environments", k, "{\"name\":\"u\",\"colour\":1}", 0, 400,
                 "invalid_request_error", "colour", NULL);
    expect_error(f, "POST", "/v1/environments", k, "{\"name\":", 0, 400,
                 "invalid_request_error", "not valid JSON", NULL);
    expect_error(f, "POST", "/v1/environments", k, "[1]", 0, 400, "invalid_request_error",
                 "JSON object", NULL);
    snprintf(big, sizeof big, "{\"name\":\"m\",\"metadata\":{\"k\":\"%0600d\"}}", 1);
    expect_error(f, "POST", "/v1/environments", k, big, 0, 400, "invalid_request_error",
                 "metadata", "invalid_metadata");
    expect_error(f, "GET", "/v1/environments/env_000000000000000000000000", k, NULL, 0, 404,
                 "not_found_error", "not found", "environment_not_found");
    expect_error(f, "GET", "/v1/environments?limit=0", k, NULL, 0, 400, "invalid_request_error",
                 "limit", NULL);
    expect_error(f, "GET", "/v1/environments?page=nonsense", k, NULL, 0, 400,
                 "invalid_request_error", "page", NULL);
    expect_error(f, "GET", "/v1/environments?include_archived=maybe", k, NULL, 0, 400,
                 "invalid_request_error", "include_archived", NULL);
    expect_error(f, "GET", "/v1/nothing", k, NULL, 0, 404, "not_found_error", "no route", NULL);
    expect_error(f, "PUT", "/v1/environments", k, "{}", 0, 405, "invalid_request_error",
                 "not allowed", NULL);
    snprintf(path, sizeof path, "/v1/environments/%s", id);
    expect_error(f, "POST", path, k, "{\"config\":{\"type\":\"other\"}}", 0, 400,
                 "invalid_request_error", "config.type", "invalid_config_type_change");
    /* A body over 1 MiB: 413 in the API's shape. */
    size_t n = (1u << 20) + 100;
    char *huge = ec_xmalloc(n + 1);
    memset(huge, ' ', n);
    huge[n] = '\0';
    huge[0] = '{';
    huge[n - 1] = '}';
    expect_error(f, "POST", "/v1/environments", k, huge, 0, 413, "request_too_large", "body",
                 NULL);
    free(huge);
    /* Archive, then the archived rules. */
    snprintf(path, sizeof path, "/v1/environments/%s/archive", id);
    json_t *j = NULL;
    assert_int_equal(call(f, "POST", path, k, NULL, 0, &j, NULL), 200);
    assert_true(json_is_string(json_object_get(j, "archived_at")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/environments/%s", id);
    expect_error(f, "POST", path, k, "{\"description\":\"x\"}", 0, 400, "invalid_request_error",
                 "archived", "environment_archived");
    char body[256];
    snprintf(body, sizeof body, "{\"agent\":\"agt_1\",\"environment_id\":\"%s\"}", id);
    expect_error(f, "POST", "/v1/sessions", k, body, 0, 400, "invalid_request_error", "archived",
                 "environment_archived");
    expect_error(f, "POST", "/v1/sessions", k, "{\"environment_id\":\"env_x\"}", 0, 400,
                 "invalid_request_error", "agent", NULL);
    expect_error(f, "POST", "/v1/sessions", k,
                 "{\"agent\":\"a\",\"environment_id\":\"env_000000000000000000000000\"}", 0, 404,
                 "not_found_error", "not found", "environment_not_found");
    expect_error(f, "GET", "/v1/sessions/sesn_000000000000000000000000", k, NULL, 0, 404,
                 "not_found_error", "not found", NULL);
    /* Deleting while a session references it is 409; the record stands in for a mount. */
    char skey[] = "sesn_000000000000000000000001";
    put_fake_session(f, skey, id);
    ec_txn *txn = NULL;
    expect_error(f, "DELETE", path, k, NULL, 0, 409, "invalid_request_error", "session", NULL);
    assert_int_equal(ec_txn_begin(&txn, ec_cache_store(f->c), 0, NULL), EC_OK);
    assert_int_equal(ec_session__del(txn, skey, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
    assert_int_equal(call(f, "DELETE", path, k, NULL, 0, &j, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "environment_deleted");
    json_decref(j);
    expect_error(f, "GET", path, k, NULL, 0, 404, "not_found_error", "not found",
                 "environment_not_found");
}

/* The errors that once told clients to run `envcache session ls` or `envcache umount`
 * now say what to do through the API (expect_error refuses any CLI command). */
static void server__errors_speak_api(void **state)
{
    struct fx *f = *state;
    const char *unknown = "/v1/sessions/sesn_000000000000000000000009";
    expect_error(f, "GET", unknown, f->key_a, NULL, 0, 404, "not_found_error",
                 "session sesn_000000000000000000000009 not found", NULL);
    expect_error(f, "DELETE", unknown, f->key_a, NULL, 0, 404, "not_found_error",
                 "session sesn_000000000000000000000009 not found", NULL);
    EC_AUTOFREE char *id = create_env(f, f->key_a, "in-use");
    put_fake_session(f, "sesn_000000000000000000000002", id);
    char path[256];
    snprintf(path, sizeof path, "/v1/environments/%s", id);
    expect_error(f, "DELETE", path, f->key_a, NULL, 0, 409, "invalid_request_error",
                 "delete its sessions first (DELETE /v1/sessions/{id})", NULL);
}

/* Polls GET @path until the warm-up is ready; *@out is that last answer. */
static void wait_ready(struct fx *f, const char *path, json_t **out)
{
    for (int i = 0; i < 400; i++) {
        assert_int_equal(call(f, "GET", path, f->key_a, NULL, 0, out, NULL), 200);
        if (strcmp(json_string_value(json_object_get(*out, "state")), "ready") == 0)
            return;
        json_decref(*out);
        usleep(10000);
    }
    fail_msg("GET %s: never ready", path);
}

static bool is_api_state(const json_t *obj)
{
    const char *st = json_string_value(json_object_get(obj, "state"));
    return st && (!strcmp(st, "pending") || !strcmp(st, "building") || !strcmp(st, "ready") ||
                  !strcmp(st, "failed"));
}

/* Records as the warm-up writes them: one per manager, and the lock under its digest. A
 * record older than the latest warm-up belongs to an earlier one and shows as pending. */
static void put_cache_records(struct fx *f, const char *id)
{
    static const struct {
        const char *mgr, *rec;
    } recs[] = {
        {"pip", "{\"state\":\"ready\",\"updated_at\":\"2100-01-01T00:00:00Z\",\"lock\":\""
                EC_TEST_LOCK "\",\"packages\":2,\"size\":4096}"},
        {"npm", "{\"state\":\"failed\",\"updated_at\":\"2100-01-01T00:00:00Z\",\"error\":"
                "{\"type\":\"EINVAL\",\"message\":\"express@4.18.0: no such version\"}}"},
        {"cargo", "{\"state\":\"building\",\"updated_at\":\"2100-01-01T00:00:00Z\"}"},
        {"gem", "{\"state\":\"ready\",\"updated_at\":\"2000-01-01T00:00:00Z\",\"lock\":\""
                EC_TEST_LOCK "\"}"},
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(recs); i++)
        put_record(f, REC_WARM_STATE, id, recs[i].mgr, recs[i].rec);
    put_record(f, REC_LOCK, "lock/" EC_TEST_LOCK, NULL,
               "{\"manager\":\"pip\",\"version\":1,\"specs\":[\"pandas==2.2.0\"],\"packages\":"
               "[{\"name\":\"numpy\",\"version\":\"1.26.4\",\"url\":\"u1\"},"
               "{\"name\":\"pandas\",\"version\":\"2.2.0\",\"url\":\"u2\"}]}");
}

/* GET /cache: the lock's packages with exact versions per manager, and only API.md's
 * states (pending, building, ready, failed), whatever envcache calls them inside. */
static void server__cache_lists_locked_packages(void **state)
{
    struct fx *f = *state;
    json_t *j = NULL;
    assert_int_equal(call(f, "POST", "/v1/environments", f->key_a,
                          "{\"name\":\"locked\",\"config\":{\"type\":\"cloud\",\"packages\":"
                          "{\"pip\":[\"pandas==2.2.0\"],\"npm\":[\"express@4.18.0\"],"
                          "\"cargo\":[\"ripgrep@14.0.0\"],\"gem\":[\"rails:7.1.0\"]}}}",
                          0, &j, NULL), 200);
    char path[256];
    snprintf(path, sizeof path, "/v1/environments/%s/cache",
             json_string_value(json_object_get(j, "id")));
    put_cache_records(f, json_string_value(json_object_get(j, "id")));
    json_decref(j);
    wait_ready(f, path, &j);
    json_t *m = json_object_get(j, "managers");
    json_t *pip = json_object_get(m, "pip");
    json_t *want = json_loads("[{\"name\":\"numpy\",\"version\":\"1.26.4\"},"
                              "{\"name\":\"pandas\",\"version\":\"2.2.0\"}]", 0, NULL);
    if (!json_equal(json_object_get(pip, "packages"), want))
        fail_msg("pip packages: %s", json_dumps(json_object_get(pip, "packages"), 0));
    json_decref(want);
    assert_string_equal(json_string_value(json_object_get(pip, "state")), "ready");
    assert_string_equal(json_string_value(json_object_get(pip, "lock")), EC_TEST_LOCK);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pip, "specs"), 0)),
                        "pandas==2.2.0");
    json_t *npm = json_object_get(m, "npm");
    assert_string_equal(json_string_value(json_object_get(npm, "state")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(npm, "error"),
                                                             "message")), "express@4.18.0"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "cargo"), "state")),
                        "building");
    json_t *gem = json_object_get(m, "gem"); /* its record predates the warm-up */
    assert_string_equal(json_string_value(json_object_get(gem, "state")), "pending");
    assert_int_equal(json_array_size(json_object_get(gem, "packages")), 0);
    assert_true(is_api_state(j) && is_api_state(json_object_get(j, "warm_up")));
    const char *k;
    json_object_foreach(m, k, pip)
        assert_true(is_api_state(pip));
    json_decref(j);
}

static void server__workspaces_are_isolated(void **state)
{
    struct fx *f = *state;
    EC_AUTOFREE char *id = create_env(f, f->key_a, "shared-name");
    EC_AUTOFREE char *other = create_env(f, f->key_b, "shared-name"); /* names per workspace */
    char path[256];
    snprintf(path, sizeof path, "/v1/environments/%s", id);
    expect_error(f, "GET", path, f->key_b, NULL, 0, 404, "not_found_error", "not found",
                 "environment_not_found");
    expect_error(f, "POST", path, f->key_b, "{\"description\":\"x\"}", 0, 404, "not_found_error",
                 "not found", NULL);
    expect_error(f, "DELETE", path, f->key_b, NULL, 0, 404, "not_found_error", "not found", NULL);
    snprintf(path, sizeof path, "/v1/environments/%s/cache", id);
    expect_error(f, "GET", path, f->key_b, NULL, 0, 404, "not_found_error", "not found", NULL);
    json_t *j = NULL;
    assert_int_equal(call(f, "GET", "/v1/environments", f->key_b, NULL, 0, &j, NULL), 200);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(data, 0), "id")), other);
    json_decref(j);
}

static void server__pages_2500_without_loss_or_duplicates(void **state)
{
    struct fx *f = *state;
    enum { N = 2500 };
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "e%04d", i);
        free(create_env(f, f->key_a, name));
    }
    static const int limits[] = {1000, 97};
    for (size_t l = 0; l < EC_ARRAY_LEN(limits); l++) {
        json_t *seen = json_object();
        char path[256], prev[64] = "";
        const char *page = NULL;
        json_t *j = NULL;
        int pages = 0;
        do {
            if (page)
                snprintf(path, sizeof path, "/v1/environments?limit=%d&page=%s", limits[l], page);
            else
                snprintf(path, sizeof path, "/v1/environments?limit=%d", limits[l]);
            json_t *next = NULL;
            assert_int_equal(call(f, "GET", path, f->key_a, NULL, 0, &next, NULL), 200);
            json_decref(j);
            j = next;
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(j, "data"), i, e) {
                const char *id = json_string_value(json_object_get(e, "id"));
                assert_null(json_object_get(seen, id));
                assert_true(!prev[0] || strcmp(id, prev) < 0); /* newest first */
                snprintf(prev, sizeof prev, "%s", id);
                json_object_set_new(seen, id, json_true());
            }
            page = json_string_value(json_object_get(j, "next_page"));
            pages++;
        } while (page);
        json_decref(j);
        assert_int_equal(json_object_size(seen), N);
        assert_int_equal(pages, (N + limits[l] - 1) / limits[l]);
        json_decref(seen);
    }
}

struct racer {
    struct fx *f;
    long status;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->status = call(r->f, "POST", "/v1/environments", r->f->key_a, "{\"name\":\"contested\"}", 0,
                     NULL, NULL);
    return NULL;
}

static void server__concurrent_creates_of_one_name_one_wins(void **state)
{
    enum { N = 16 };
    pthread_t t[N];
    struct racer r[N];
    int won = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){*state, 0};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        won += r[i].status == 200;
        lost += r[i].status == 409;
        if (r[i].status != 200 && r[i].status != 409)
            print_message("racer %d: status %ld\n", i, r[i].status);
    }
    assert_int_equal(won, 1);
    assert_int_equal(lost, N - 1);
}

static void server__warm_join_failure_and_session_wait(void **state)
{
    struct fx *f = *state;
    atomic_store(&gate_open, false);
    EC_AUTOFREE char *id = create_env(f, f->key_a, "warming"); /* eager: queued at create */
    char path[256], body[256];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/v1/environments/%s/cache/warm", id);
    for (int i = 0; i < 200 && atomic_load(&warm_calls) == 0; i++)
        usleep(5000);
    assert_int_equal(call(f, "POST", path, f->key_a, NULL, 0, &j, NULL), 200);
    assert_true(json_is_true(json_object_get(j, "joined")));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/environments/%s/cache", id);
    assert_int_equal(call(f, "GET", path, f->key_a, NULL, 0, &j, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "building");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "warm_up"), "state")),
                        "building");
    json_decref(j);
    /* A session on a warming environment waits, here past its 400 ms limit: 503. */
    snprintf(body, sizeof body, "{\"agent\":{\"type\":\"agent\",\"id\":\"agt_1\"},"
                                "\"environment_id\":\"%s\"}", id);
    assert_int_equal(call(f, "POST", "/v1/sessions", f->key_a, body, 0, NULL, NULL), 503);
    assert_int_equal(atomic_load(&warm_calls), 1); /* joined, never started twice */
    atomic_store(&gate_open, true);
    /* A failed warm-up makes sessions 400, naming the package and the reason. */
    EC_AUTOFREE char *bad = create_env(f, f->key_bad, "broken");
    snprintf(body, sizeof body, "{\"agent\":\"agt_1\",\"environment_id\":\"%s\"}", bad);
    expect_error(f, "POST", "/v1/sessions", f->key_bad, body, 0, 400, "invalid_request_error",
                 "nope==9.9", NULL);
    /* A ready environment: the session mounts (root and overlay or copy needed). */
    snprintf(body, sizeof body, "{\"agent\":\"agt_1\",\"environment_id\":\"%s\"}", id);
    long st = call(f, "POST", "/v1/sessions", f->key_a, body, 0, &j, NULL);
    if (st != 200) {
        json_decref(j);
        skip(); /* the kernel or the user refuses mounts here */
    }
    char sid[64];
    snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(j, "id")));
    assert_string_equal(json_string_value(json_object_get(j, "status")), "idle");
    assert_string_equal(json_string_value(json_object_get(j, "agent")), "agt_1");
    snprintf(path, sizeof path, "/v1/sessions/%s", sid);
    expect_error(f, "GET", path, f->key_b, NULL, 0, 404, "not_found_error", "not found", NULL);
    expect_same_object(f, path, j);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/environments/%s", id);
    expect_error(f, "DELETE", path, f->key_a, NULL, 0, 409, "invalid_request_error", "session",
                 NULL);
    snprintf(path, sizeof path, "/v1/sessions/%s", sid);
    assert_int_equal(call(f, "DELETE", path, f->key_a, NULL, 0, &j, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "session_deleted");
    json_decref(j);
    expect_error(f, "GET", path, f->key_a, NULL, 0, 404, "not_found_error", "not found", NULL);
}

/* The fake warm-up records no manager as ready, as a warm-up that never ran would: the
 * session is refused with the API's error, which names no CLI command. */
static void server__session_on_unwarmed_environment_is_409(void **state)
{
    struct fx *f = *state;
    char body[256];
    json_t *j = NULL;
    assert_int_equal(call(f, "POST", "/v1/environments", f->key_a,
                          "{\"name\":\"cold\",\"config\":{\"type\":\"cloud\",\"packages\":"
                          "{\"npm\":[\"left-pad@1.3.0\"]}}}", 0, &j, NULL), 200);
    snprintf(body, sizeof body, "{\"agent\":\"agt_1\",\"environment_id\":\"%s\"}",
             json_string_value(json_object_get(j, "id")));
    json_decref(j);
    expect_error(f, "POST", "/v1/sessions", f->key_a, body, 0, 409, "invalid_request_error",
                 "npm packages are not warmed yet", "environment_not_ready");
    assert_int_equal(call(f, "POST", "/v1/sessions", f->key_a, body, 0, &j, NULL), 409);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    assert_null(strstr(msg, "envcache"));
    json_decref(j);
}

static void server__blobs_mirror_metrics(void **state)
{
    struct fx *f = *state;
    ect_write(f->home, "src/blob", "hello, range", 0644);
    EC_AUTOFREE char *src = ec_xasprintf("%s/src/blob", f->home);
    ec_digest d;
    char ds[EC_DIGEST_STR_LEN], path[256];
    assert_int_equal(ec_blob_put_file(&d, ec_cache_store(f->c), src, NULL, NULL), EC_OK);
    snprintf(path, sizeof path, "/cache/blobs/%s", ec_digest_format(ds, &d));
    struct reply r;
    assert_int_equal(call(f, "GET", path, NULL, NULL, 0, NULL, &r), 200);
    assert_string_equal(ec_buf_str(&r.body), "hello, range");
    ec_buf_fini(&r.body);
    assert_int_equal(call(f, "HEAD", path, NULL, NULL, 0, NULL, &r), 200);
    assert_int_equal(r.body.n, 0);
    assert_non_null(strstr(r.headers, "Content-Length: 12"));
    ec_buf_fini(&r.body);
    /* Ranges go through curl's own header, not CURLOPT_RANGE, to test the raw form. */
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Range: bytes=7-");
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    memset(&r, 0, sizeof r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    assert_int_equal(r.status, 206);
    assert_string_equal(ec_buf_str(&r.body), "range");
    ec_buf_fini(&r.body);
    curl_slist_free_all(hd);
    hd = curl_slist_append(NULL, "Range: bytes=100-");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    assert_int_equal(r.status, 416);
    ec_buf_fini(&r.body);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    expect_error(f, "GET", "/cache/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
                 NULL, NULL, 0, 404, "not_found_error", "", NULL);
    expect_error(f, "GET", "/mirror/nosuch/express", NULL, NULL, 0, 404, "not_found_error",
                 "no mirror for manager nosuch", NULL);
    assert_int_equal(call(f, "GET", "/metrics", NULL, NULL, 0, NULL, &r), 200);
    const char *m = ec_buf_str(&r.body);
    assert_non_null(strstr(m, "envcache_http_requests_total{route=\"GET /cache/blobs/{digest}\",status=\"206\"}"));
    assert_non_null(strstr(m, "envcache_http_request_duration_seconds_bucket{route=\"GET /healthz\"") ?
                    m : strstr(m, "envcache_http_request_duration_seconds_count"));
    assert_non_null(strstr(m, "envcache_store_bytes "));
    assert_non_null(strstr(m, "envcache_bytes_served_total{manager=\"blobs\"}"));
    ec_buf_fini(&r.body);
}

struct stopper {
    struct fx *f;
    long status;
};

static void *late_session(void *arg)
{
    struct stopper *s = arg;
    char body[256];
    json_t *j = NULL;
    assert_int_equal(call(s->f, "GET", "/v1/environments?limit=1", s->f->key_a, NULL, 0, &j,
                          NULL), 200);
    snprintf(body, sizeof body, "{\"agent\":\"a\",\"environment_id\":\"%s\"}",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0),
                                               "id")));
    json_decref(j);
    s->status = call(s->f, "POST", "/v1/sessions", s->f->key_a, body, 0, NULL, NULL);
    return NULL;
}

static void server__stop_is_graceful_and_warm_ups_resume(void **state)
{
    struct fx *f = *state;
    ec_server_stop(f->s);
    f->s = start_server(f, 60000);
    atomic_store(&gate_open, false);
    EC_AUTOFREE char *id = create_env(f, f->key_a, "resumes");
    pthread_t t;
    struct stopper s = {f, 0};
    pthread_create(&t, NULL, late_session, &s); /* waits on the warm-up */
    usleep(200000);
    ec_server_stop(f->s); /* the waiting request is answered, not cut */
    pthread_join(t, NULL);
    assert_int_equal(s.status, 503);
    int before = atomic_load(&warm_calls);
    atomic_store(&gate_open, true);
    f->s = start_server(f, 60000); /* the interrupted warm-up resumes */
    char path[256];
    json_t *j = NULL;
    snprintf(path, sizeof path, "/v1/environments/%s/cache", id);
    const char *st = NULL;
    for (int i = 0; i < 400; i++) {
        json_decref(j);
        assert_int_equal(call(f, "GET", path, f->key_a, NULL, 0, &j, NULL), 200);
        st = json_string_value(json_object_get(j, "state"));
        if (strcmp(st, "ready") == 0)
            break;
        usleep(10000);
    }
    assert_string_equal(st, "ready");
    assert_true(atomic_load(&warm_calls) > before);
    json_decref(j);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(server__headers_and_keys),
        T(server__environment_errors),
        T(server__errors_speak_api),
        T(server__cache_lists_locked_packages),
        T(server__workspaces_are_isolated),
        T(server__pages_2500_without_loss_or_duplicates),
        T(server__concurrent_creates_of_one_name_one_wins),
        T(server__blobs_mirror_metrics),
        T(server__stop_is_graceful_and_warm_ups_resume),
        T(server__warm_join_failure_and_session_wait),
        T(server__session_on_unwarmed_environment_is_409),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
