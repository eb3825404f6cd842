/* SPDX-License-Identifier: MIT */
/* Retry policy: which failures are worth another attempt, backoff, and Retry-After. */
#include "fetchers/http/http_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

const char *ec_http__reason(long status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

bool ec_http__status_retryable(long status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

bool ec_http__curl_retryable(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST: /* the resolver here drops bursts of queries */
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: /* connect timeout and the low-speed abort */
    case CURLE_PARTIAL_FILE:       /* body shorter than Content-Length */
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

bool ec_http__retry_after_parse(const char *value, time_t now, unsigned cap_secs, long *ms_out)
{
    long cap_ms = (long)cap_secs * 1000;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return false;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end)
            return false;
        *ms_out = (errno == ERANGE || s > cap_secs) ? cap_ms : (long)s * 1000;
        return true;
    }
    time_t when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return false;
    double d = difftime(when, now);
    if (d <= 0)
        *ms_out = 0;
    else if (d >= (double)cap_secs)
        *ms_out = cap_ms;
    else
        *ms_out = (long)(d * 1000.0);
    return true;
}

uint64_t ec_http__backoff_ms(unsigned base_ms, unsigned attempt, uint32_t rnd)
{
    const uint64_t cap = 30000;
    uint64_t d = base_ms ? base_ms : 1;
    for (unsigned i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* "Equal jitter": never less than half the delay, so a burst of failures spreads out
     * without any request retrying almost at once. */
    uint64_t half = d / 2;
    return half + (half ? rnd % (half + 1) : 0);
}
