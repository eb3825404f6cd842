/* SPDX-License-Identifier: MIT */
/* Replies: the one table from ec_code to HTTP status, and API.md's error shape. */
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code, status;
} statuses[] = {
    {EC_EINVAL, 400},    {EC_EARCHIVED, 400}, {EC_EFORMAT, 400},     {EC_ENOTFOUND, 404},
    {EC_ECONFLICT, 409}, {EC_EBUSY, 409},     {EC_ELIMIT, 413},      {EC_EUNSUPPORTED, 501},
};

int ec_api_status(int code)
{
    for (size_t i = 0; i < EC_ARRAY_LEN(statuses); i++)
        if (statuses[i].code == code)
            return statuses[i].status;
    return 500;
}

/* API.md: the error type follows the status. */
static const char *error_type(int status)
{
    switch (status) {
    case 400:
    case 405:
    case 409:
    case 411:
    case 414:
    case 431:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    default:
        return "api_error";
    }
}

static void reply_buf(ec_req *rq, int status, const char *ctype, char *p, size_t n)
{
    ec_resp_free(rq->resp); /* the last reply wins */
    rq->resp = ec_resp_buffer(p, n);
    ec_resp_header(rq->resp, "Content-Type", ctype);
    rq->status = status;
    rq->resp_bytes = n;
}

void ec_reply_json(ec_req *rq, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) {
        s = ec_xasprintf("{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                         "\"message\":\"cannot encode the answer\"},\"request_id\":\"%s\"}",
                         rq->id);
        status = 500;
    }
    reply_buf(rq, status, "application/json", s, strlen(s));
}

/* A message may quote what the client sent, which need not be UTF-8, or be cut inside a
 * character: the bytes of such a message that are not ASCII are written as \xNN, so the
 * answer always encodes. */
static json_t *message_string(const char *msg)
{
    json_t *j = json_string(msg);
    if (j)
        return j;
    ec_buf b = {0};
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        char esc[8];
        int n = *p < 0x80 ? snprintf(esc, sizeof esc, "%c", *p)
                          : snprintf(esc, sizeof esc, "\\x%02x", *p);
        ec_buf_add(&b, esc, (size_t)n, NULL);
    }
    j = json_string(ec_buf_str(&b));
    ec_buf_fini(&b);
    return j;
}

void ec_reply_json_text(ec_req *rq, int status, char *text, size_t n)
{
    reply_buf(rq, status, "application/json", text, n);
}

static json_t *error_json(int status, const char *msg, const char *detail, const char *rid)
{
    json_t *e = json_pack("{s:s, s:o}", "type", error_type(status), "message",
                          message_string(msg));
    if (detail && *detail)
        json_object_set_new(e, "details", json_pack("{s:s}", "error_code", detail));
    return json_pack("{s:s, s:o, s:s}", "type", "error", "error", e, "request_id", rid);
}

char *ec_api_error_text(int status, const char *msg, const char *request_id)
{
    json_t *j = error_json(status, msg, NULL, request_id);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static void reply_error(ec_req *rq, int status, const char *msg, const char *detail)
{
    ec_reply_json(rq, status, error_json(status, msg, detail, rq->id));
}

void ec_reply_err(ec_req *rq, const ec_err *err)
{
    int status = ec_api_status(err->code);
    const char *msg = err->msg[0] ? err->msg : ec_code_text(err->code);
    reply_error(rq, status, msg, err->detail);
}

void ec_reply_fail(ec_req *rq, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(rq, status, msg, NULL);
}

void ec_reply_text(ec_req *rq, int status, const char *ctype, const char *text, size_t n)
{
    char *p = ec_xmalloc(n + 1);
    memcpy(p, text, n);
    p[n] = '\0';
    reply_buf(rq, status, ctype, p, n);
}
