/* SPDX-License-Identifier: MIT */
/* What every request must pass before it is routed, beyond its head's own checks
 * (request_head.c): its framing, and a URL that percent-decodes to UTF-8 without NULs.
 * Each refusal is an API error with a request id. */
#include "cache/api/request_head.h"
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <string.h>
#include <strings.h>

/* Chunked bodies are refused before any chunk is read: clients of this API send JSON
 * bodies with a content-length, and one framing is one less to get wrong. */
static bool framing_ok(ec_req *rq)
{
    const char *te = ec_req_header(rq, "transfer-encoding");
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
    size_t n = ec_http_unescape(dec, false);
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
    return framing_ok(rq) && url_ok(rq);
}
