/* SPDX-License-Identifier: MIT */
/* What every request must pass before it is routed: the size of its URL and headers, its
 * framing, and a URL that percent-decodes to UTF-8 without NULs. Each refusal is an API
 * error with a request id, never a page of the HTTP library's. */
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <string.h>
#include <strings.h>

struct header_sum {
    size_t n;
};

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct header_sum *h = cls;
    (void)kind;
    h->n += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static bool sizes_ok(ec_req *rq)
{
    size_t ul = strlen(rq->raw_uri);
    if (ul > EC_SERVER_URL_MAX) {
        ec_reply_fail(rq, 414, "the URL is %zu bytes; at most %u are accepted", ul,
                      EC_SERVER_URL_MAX);
        return false;
    }
    struct header_sum h = {0};
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, add_header, &h);
    if (h.n > rq->srv->o.max_header_bytes) {
        ec_reply_fail(rq, 431, "the request headers are %zu bytes; at most %zu are accepted",
                      h.n, rq->srv->o.max_header_bytes);
        return false;
    }
    return true;
}

/* Chunked bodies are refused before MHD reads any chunk: a malformed chunk would
 * otherwise be answered by MHD itself, outside the API's shape. Clients of this API
 * send JSON bodies with a content-length. */
static bool framing_ok(ec_req *rq)
{
    const char *te = ec_req_header(rq, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "identity") != 0) {
        ec_reply_fail(rq, 411, "transfer-encoding: %s bodies are not accepted; send the body "
                      "with a content-length", te);
        return false;
    }
    return true;
}

static bool url_ok(ec_req *rq)
{
    EC_AUTOFREE char *dec = ec_xstrdup(rq->raw_uri);
    size_t n = MHD_http_unescape(dec);
    const char *what = strchr(rq->raw_uri, '?') ? "URL" : "path";
    if (memchr(dec, '\0', n)) {
        ec_reply_fail(rq, 400, "%s: a NUL byte (%%00) is not allowed", what);
        return false;
    }
    json_t *s = json_stringn(dec, n); /* jansson checks UTF-8 */
    if (!s) {
        ec_reply_fail(rq, 400, "%s: not valid UTF-8 once percent-decoded", what);
        return false;
    }
    json_decref(s);
    return true;
}

bool ec_req_check(ec_req *rq)
{
    return sizes_ok(rq) && framing_ok(rq) && url_ok(rq);
}
