/* SPDX-License-Identifier: MIT */
/* Routing: the path's segments pick a handler; API routes first check the key and the
 * version and beta headers (API.md, Conventions). */
#include "cache/api/auth.h"
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>
#include <strings.h>

#define BETA "managed-agents-2026-04-01"
#define MAX_SEGS 6

/* --- headers and keys --- */

static bool beta_listed(const char *value)
{
    /* A comma-separated list; surrounding spaces are allowed. */
    for (const char *p = value; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m == strlen(BETA) && strncmp(p, BETA, m) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Basic credentials ("user:key", or "key:" ): how apt and gem send a key, in the
 * source URL's user part. The key is whichever half starts with "eck_". */
static const char *basic_key(ec_req *rq, const char *b64)
{
    size_t n = strlen(b64);
    if (n == 0 || n > 512 || n % 4)
        return NULL;
    unsigned char out[400];
    int m = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    if (m < 0)
        return NULL;
    m -= (b64[n - 1] == '=') + (b64[n - 2] == '='); /* EVP counts padding as bytes */
    if (m < 0 || memchr(out, '\0', (size_t)m))
        return NULL;
    out[m] = '\0';
    char *colon = strchr((char *)out, ':');
    if (!colon)
        return NULL;
    *colon = '\0';
    const char *k = strncmp(colon + 1, "eck_", 4) == 0 ? colon + 1 : (const char *)out;
    if (!*k)
        return NULL;
    free(rq->basic_key);
    rq->basic_key = ec_xstrdup(k);
    return rq->basic_key;
}

static const char *bearer(ec_req *rq)
{
    const char *k = ec_req_header(rq, "x-api-key");
    if (k && *k)
        return k;
    const char *a = ec_req_header(rq, "authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0 && a[7])
        return a + 7;
    if (a && strncasecmp(a, "Basic ", 6) == 0)
        return basic_key(rq, a + 6);
    return NULL;
}

bool ec_req_has_key(ec_req *rq)
{
    return bearer(rq) != NULL;
}

/* Sets rq->ws, or replies 401. */
bool ec_req_authenticate(ec_req *rq)
{
    if (rq->srv->o.no_auth) {
        rq->ws = ec_xstrdup(EC_DEFAULT_WORKSPACE);
        return true;
    }
    const char *key = bearer(rq);
    if (!key) {
        ec_reply_fail(rq, 401, "x-api-key: header is required");
        return false;
    }
    ec_err err = {0};
    if (ec_key_lookup(&rq->ws, rq->srv->c, key, &err) < 0) {
        if (err.code == EC_ENOTFOUND)
            ec_reply_fail(rq, 401, "invalid x-api-key");
        else
            ec_reply_err(rq, &err);
        return false;
    }
    return true;
}

/* Key, then anthropic-version, then anthropic-beta; replies and returns false on failure. */
static bool api_preamble(ec_req *rq)
{
    if (!ec_req_authenticate(rq))
        return false;
    if (!ec_req_header(rq, "anthropic-version")) {
        ec_reply_fail(rq, 400, "anthropic-version: header is required");
        return false;
    }
    const char *beta = ec_req_header(rq, "anthropic-beta");
    if (!beta || !beta_listed(beta)) {
        ec_reply_fail(rq, 400, "anthropic-beta: header is required and must list \"%s\"",
                      BETA);
        return false;
    }
    return true;
}

/* --- routes --- */

/* Splits the decoded path into at most MAX_SEGS segments; false when there are more. */
static bool split(char *path, char *segs[MAX_SEGS], int *n)
{
    *n = 0;
    for (char *p = strtok_r(path, "/", &path); p; p = strtok_r(NULL, "/", &path)) {
        if (*n == MAX_SEGS)
            return false;
        segs[(*n)++] = p;
    }
    return true;
}

static bool is(const ec_req *rq, const char *method)
{
    return strcmp(rq->method, method) == 0;
}

static void wrong_method(ec_req *rq)
{
    ec_reply_fail(rq, 405, "%s is not allowed on %s", rq->method, rq->url);
}

static void route_envs(ec_req *rq, char **seg, int n)
{
    if (n == 2) {
        rq->route = is(rq, "POST") ? "POST /v1/environments" : "GET /v1/environments";
        return is(rq, "POST") ? ec_api_env_create(rq)
               : is(rq, "GET") ? ec_api_env_list(rq) : wrong_method(rq);
    }
    const char *id = seg[2];
    if (n == 3) {
        rq->route = is(rq, "GET")    ? "GET /v1/environments/{id}"
                    : is(rq, "POST") ? "POST /v1/environments/{id}"
                                     : "DELETE /v1/environments/{id}";
        return is(rq, "GET")      ? ec_api_env_get(rq, id)
               : is(rq, "POST")   ? ec_api_env_update(rq, id)
               : is(rq, "DELETE") ? ec_api_env_delete(rq, id) : wrong_method(rq);
    }
    if (n == 4 && strcmp(seg[3], "archive") == 0) {
        rq->route = "POST /v1/environments/{id}/archive";
        return is(rq, "POST") ? ec_api_env_archive(rq, id) : wrong_method(rq);
    }
    if (n == 4 && strcmp(seg[3], "cache") == 0) {
        rq->route = "GET /v1/environments/{id}/cache";
        return is(rq, "GET") ? ec_api_cache_get(rq, id) : wrong_method(rq);
    }
    if (n == 5 && strcmp(seg[3], "cache") == 0 && strcmp(seg[4], "warm") == 0) {
        rq->route = "POST /v1/environments/{id}/cache/warm";
        return is(rq, "POST") ? ec_api_cache_warm(rq, id) : wrong_method(rq);
    }
    ec_reply_fail(rq, 404, "no route for %s %s", rq->method, rq->url);
}

static void route_sessions(ec_req *rq, char **seg, int n)
{
    if (n == 2) {
        rq->route = "POST /v1/sessions";
        return is(rq, "POST") ? ec_api_session_create(rq) : wrong_method(rq);
    }
    if (n == 3) {
        rq->route = is(rq, "GET") ? "GET /v1/sessions/{id}" : "DELETE /v1/sessions/{id}";
        return is(rq, "GET")      ? ec_api_session_get(rq, seg[2])
               : is(rq, "DELETE") ? ec_api_session_delete(rq, seg[2]) : wrong_method(rq);
    }
    ec_reply_fail(rq, 404, "no route for %s %s", rq->method, rq->url);
}

static void route_v1(ec_req *rq, char **seg, int n)
{
    if (!api_preamble(rq))
        return;
    if (n >= 2 && strcmp(seg[1], "environments") == 0)
        return route_envs(rq, seg, n);
    if (n >= 2 && strcmp(seg[1], "sessions") == 0)
        return route_sessions(rq, seg, n);
    ec_reply_fail(rq, 404, "no route for %s %s", rq->method, rq->url);
}

/* /mirror/<manager>/<rest>: the rest is taken from the raw URI, still percent-encoded,
 * because registries' paths carry meaning in their encoding (npm's "@scope%2fname"). */
static void route_mirror(ec_req *rq)
{
    const char *p = rq->raw_uri + strlen("/mirror/");
    size_t ml = strcspn(p, "/?");
    char manager[sizeof rq->manager];
    rq->route = "/mirror/{manager}";
    if (ml == 0 || ml >= sizeof manager)
        return ec_reply_fail(rq, 404, "no mirror for manager %.*s", (int)ml, p);
    if (rq->srv->o.mirror_auth && !ec_req_authenticate(rq))
        return;
    memcpy(manager, p, ml);
    manager[ml] = '\0';
    const char *rest = p + ml + (p[ml] == '/');
    ec_api_mirror(rq, manager, rest);
}

static bool is_read(const ec_req *rq)
{
    return is(rq, "GET") || is(rq, "HEAD");
}

void ec_api_route(ec_req *rq)
{
    if (strncmp(rq->raw_uri, "/mirror/", 8) == 0)
        return route_mirror(rq);
    char path[1024];
    char *segs[MAX_SEGS];
    int n;
    snprintf(path, sizeof path, "%s", rq->url);
    if (!split(path, segs, &n) || n == 0)
        return ec_reply_fail(rq, 404, "no route for %s %s", rq->method, rq->url);
    if (strcmp(segs[0], "v1") == 0 && !rq->srv->o.mirror_only)
        return route_v1(rq, segs, n);
    if (n == 1 && strcmp(segs[0], "healthz") == 0) {
        rq->route = "GET /healthz";
        return is_read(rq) ? ec_api_healthz(rq) : wrong_method(rq);
    }
    if (n == 1 && strcmp(segs[0], "metrics") == 0) {
        rq->route = "GET /metrics";
        return is_read(rq) ? ec_api_metrics(rq) : wrong_method(rq);
    }
    if (n == 3 && strcmp(segs[0], "cache") == 0 && strcmp(segs[1], "blobs") == 0) {
        rq->route = "GET /cache/blobs/{digest}";
        if (rq->srv->o.mirror_auth && !ec_req_authenticate(rq))
            return;
        return is_read(rq) ? ec_api_blob(rq, segs[2]) : wrong_method(rq);
    }
    ec_reply_fail(rq, 404, "no route for %s %s", rq->method, rq->url);
}
