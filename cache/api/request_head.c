/* SPDX-License-Identifier: MIT */
/* A request's head (request line and header fields) parsed as it arrives, by Node's
 * http-parser plus our limits, for every request a connection carries (http_conn.c):
 * framing that cannot be parsed, an unsupported HTTP version, a missing or repeated Host,
 * a bad content-length, folded lines, oversized parts are each refused with a status and
 * a message naming the cause in the client's terms, answered in the API's shape. */
#include "cache/api/request_head.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static ec_head *head_of(http_parser *p)
{
    return (ec_head *)p->data;
}

__attribute__((format(printf, 3, 4))) static int refuse(ec_head *h, int status,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    h->status = status;
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    /* Stops the parser (HPE_CB_*). Not 1: on_headers_complete's 1 means "no body" and
     * the parser would go on to read the body as the next request. */
    return -1;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    ec_head *h = head_of(p);
    if (h->url_n == 0)
        h->url.off = (size_t)(at - h->all);
    h->url_n += n;
    h->url.len = h->url_n;
    if (h->url_n > h->lim.url_max)
        return refuse(h, 414, "the request target is over %zu bytes; send a shorter URL",
                      h->lim.url_max);
    return 0;
}

/* Header names can arrive split over several reads: the start of each is kept, enough to
 * tell "host" and "content-length". */
static int on_field(http_parser *p, const char *at, size_t n)
{
    ec_head *h = head_of(p);
    if (!h->in_field) {
        h->in_field = true;
        h->in_length = false;
        h->name_n = 0;
        h->fields++;
        h->header_n += 4; /* ": " and CRLF, as request_checks.c counts them */
        if (h->fields > h->lim.fields_max)
            return refuse(h, 431, "the request has more than %zu header fields",
                          h->lim.fields_max);
        h->f[h->fields - 1].name = (ec_head_span){(size_t)(at - h->all), 0};
    }
    h->f[h->fields - 1].name.len += n;
    for (size_t i = 0; i < n && h->name_n < sizeof h->name; i++)
        h->name[h->name_n++] = at[i]; /* sizeof h->name: longer than any name we look for */
    h->header_n += n;
    if (h->header_n > h->lim.header_max)
        return refuse(h, 431, "the request headers are over %zu bytes", h->lim.header_max);
    return 0;
}

static bool named(const ec_head *h, const char *name)
{
    return h->name_n == strlen(name) && strncasecmp(h->name, name, h->name_n) == 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    ec_head *h = head_of(p);
    ec_head_span *v = &h->f[h->fields - 1].value;
    if (h->in_field) {
        h->in_field = false;
        h->hosts += named(h, "host");
        h->in_length = named(h, "content-length");
        /* An empty value's pointer is the next line's: it is not a place in the head. */
        *v = (ec_head_span){n ? (size_t)(at - h->all) : 0, 0};
        ec_head_span *name = &h->f[h->fields - 1].name;
        size_t colon = name->off + name->len;
        if (n && memchr(h->all + colon, '\n', v->off - colon))
            return refuse(h, 400, "a header value continues on a folded line; send each "
                          "header on one line");
    } else if (n && (v->len == 0 || (size_t)(at - h->all) != v->off + v->len)) {
        /* More of a value is either the rest of a piece cut by the end of a read (it
         * follows on) or a continuation line. An empty value's only call comes at its
         * line's end, so anything after it is one too. RFC 9112, 5.2: a server must
         * refuse obsolete line folding or replace it. */
        return refuse(h, 400, "a header value continues on a folded line; send each header "
                      "on one line");
    }
    v->len += n;
    /* A content-length with anything but digits is refused, the spaces after them too,
     * which http-parser lets through. The digits before count first, as when they arrive
     * apart. */
    size_t i = 0;
    while (h->in_length && i < n && at[i] >= '0' && at[i] <= '9')
        i++;
    bool bad = h->in_length && i < n;
    h->header_n += bad ? i : n;
    if (h->header_n > h->lim.header_max)
        return refuse(h, 431, "the request headers are over %zu bytes", h->lim.header_max);
    if (bad)
        return refuse(h, 400, "content-length: digits only, without spaces or signs");
    return 0;
}

/* Debian builds http-parser without HTTP_PARSER_STRICT, which skips the check of the
 * version's letters ("HTTX/1.1" passes) and lets a CR end a line without its LF; both
 * are refused here. RFC 9112, 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT. */
static bool version_ok(const char *all, size_t n)
{
    size_t i = 0;
    while (i < n && (all[i] == '\r' || all[i] == '\n')) /* empty lines before the request */
        i++;
    const char *line = all + i, *nl = memchr(line, '\n', n - i);
    if (!nl)
        return false;
    size_t len = (size_t)(nl - line);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return len > 9 && line[len - 9] == ' ' && memcmp(line + len - 8, "HTTP/", 5) == 0 &&
           line[len - 3] >= '0' && line[len - 3] <= '9' && line[len - 2] == '.' &&
           line[len - 1] >= '0' && line[len - 1] <= '9';
}

static int on_headers_complete(http_parser *p)
{
    ec_head *h = head_of(p);
    bool http09 = p->http_major == 0 && p->http_minor == 9; /* no version at all */
    if (!http09 && !version_ok(h->all, h->all_n))
        return refuse(h, 400, "the request line's HTTP version is malformed: send HTTP/1.1");
    if (h->in_field) { /* a last field with an empty value */
        h->in_field = false;
        h->hosts += named(h, "host");
    }
    if (p->http_major != 1) {
        return refuse(h, 505, "HTTP/%u.%u is not supported; send HTTP/1.1 (or 1.0)",
                      p->http_major, p->http_minor);
    }
    /* RFC 9112, 3.2: an HTTP/1.1 request without Host, or with several, is 400. */
    if (h->hosts > 1)
        return refuse(h, 400, "the request has more than one host header");
    if (h->hosts == 0 && p->http_minor >= 1)
        return refuse(h, 400, "an HTTP/1.1 request needs a host header");
    h->done = true;
    http_parser_pause(p, 1); /* the body is the connection's to read */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
};

void ec_head_init(ec_head *h, const ec_head_limits *lim)
{
    memset(h, 0, sizeof *h);
    http_parser_init(&h->p, HTTP_REQUEST);
    h->p.data = h;
    h->lim = *lim;
    if (h->lim.fields_max > EC_HEAD_FIELDS_MAX)
        h->lim.fields_max = EC_HEAD_FIELDS_MAX;
}

/* A method http-parser does not know: 501 when it has the form of a method (a token
 * before the first space), 400 when the line is not a request line at all. Undecided
 * (false) while all that has come is token characters: http-parser stops at the first
 * byte no method it knows has, and the space may not have arrived yet. */
static bool refuse_method(ec_head *h, const char *all, size_t n)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i = 0, k = 0;
    while (i < n && (all[i] == '\r' || all[i] == '\n'))
        i++;
    const char *start = all + i;
    n -= i;
    while (k < n && k < 32 && start[k] && strchr(tchar, start[k]))
        k++;
    if (k == n) /* a 32nd token character too: the space may still come (501) */
        return false;
    if (k > 0 && k < n && start[k] == ' ')
        refuse(h, 501, "the method %.*s is not implemented here", (int)k, start);
    else
        refuse(h, 400, "the request line is malformed: it must be METHOD TARGET HTTP/1.1");
    return true;
}

/* The offset of the first CR from h->cr_checked not followed by an LF (*@bare), or of a CR
 * that ends the bytes received (not known yet: decided at the next feed), else @n. The
 * parser reads only the bytes before it, so that a head with a bare CR gets the same
 * verdict however its bytes arrive: the first of the two faults in byte order. */
static size_t cr_stop(ec_head *h, const char *all, size_t n, bool *bare)
{
    *bare = false;
    size_t i = h->cr_checked;
    for (; i < n; i++) {
        if (all[i] != '\r')
            continue;
        if (i + 1 >= n)
            break;
        if (all[i + 1] != '\n') {
            *bare = true;
            break;
        }
    }
    h->cr_checked = i;
    return i;
}

ec_head_verdict ec_head_feed(ec_head *h, const char *all, size_t n)
{
    if (h->status)
        return EC_HEAD_BAD;
    if (h->done)
        return EC_HEAD_OK;
    if (h->bad_method)
        return refuse_method(h, all, n) ? EC_HEAD_BAD : EC_HEAD_MORE;
    if (n <= h->seen)
        return EC_HEAD_MORE;
    bool bare;
    size_t stop = cr_stop(h, all, n, &bare);
    const char *p = all + h->seen;
    size_t len = stop > h->seen ? stop - h->seen : 0;
    h->all = all;
    h->all_n = n;
    ec_head before = *h;
    size_t used = len ? http_parser_execute(&h->p, &settings, p, len) : 0;
    enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
    if (e != HPE_OK && !h->status && !h->done && used > 0) {
        /* http-parser drops the token it was in at an error, uncounted; those bytes count
         * against the limits as when they arrive in pieces (each piece's end passes them
         * on): read again up to the error, which passes them on */
        *h = before;
        http_parser_execute(&h->p, &settings, p, used);
    }
    h->all = NULL;
    h->seen += used;
    if (!h->status && !h->done && e == HPE_OK && bare)
        refuse(h, 400, "a CR without its LF in the request's head: end lines with CRLF");
    if (h->status)
        return EC_HEAD_BAD;
    if (h->done) {
        /* Paused in on_headers_complete, the parser stopped on the blank line's LF. */
        h->len = h->seen + 1;
        return EC_HEAD_OK;
    }
    switch (e) {
    case HPE_OK:
        return EC_HEAD_MORE;
    case HPE_INVALID_METHOD:
        h->bad_method = true;
        if (!refuse_method(h, all, n))
            return EC_HEAD_MORE;
        break;
    case HPE_INVALID_VERSION:
        refuse(h, 400, "the request line's HTTP version is malformed: send HTTP/1.1");
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        refuse(h, 400, "content-length: not a number of bytes (digits only, below 2^64)");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        refuse(h, 400, "content-length: given twice, or beside transfer-encoding; send "
               "one content-length");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        refuse(h, 411, "transfer-encoding: these bodies are not accepted; send the body "
               "with a content-length");
        break;
    case HPE_HEADER_OVERFLOW:
        refuse(h, 431, "the request headers are over %zu bytes", h->lim.header_max);
        break;
    default:
        refuse(h, 400, "the request is malformed: %s", http_errno_description(e));
        break;
    }
    return EC_HEAD_BAD;
}

void ec_head_overflow(ec_head *h)
{
    if (h->status)
        return;
    if (h->fields == 0 && h->url_n > 0)
        refuse(h, 414, "the request target is over %zu bytes; send a shorter URL",
               h->lim.url_max);
    else
        refuse(h, 431, "the request headers are over %zu bytes", h->lim.header_max);
}

void ec_head_truncated(ec_head *h)
{
    if (!h->status)
        refuse(h, 400, "the connection was closed before the request's headers ended");
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

size_t ec_http_unescape(char *s, bool plus)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = plus && *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}
