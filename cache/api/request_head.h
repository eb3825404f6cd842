/* SPDX-License-Identifier: MIT */
/* A request's head parsed and checked incrementally (request_head.c): every request the
 * server reads goes through it. Feed it the bytes received so far, from the request's
 * first, as often as more arrive; only the new ones are parsed. Once it is complete, the
 * spans say where the target and each field lie in those bytes. Private to cache/api/. */
#pragma once

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ec_head_limits {
    size_t url_max;    /* request target, query included: past it 414 */
    size_t header_max; /* header fields, counted as request_checks.c does: past it 431 */
    size_t fields_max; /* number of header fields: past it 431 */
} ec_head_limits;

/* Header fields kept per request: fields_max is capped at this. */
#define EC_HEAD_FIELDS_MAX 100

typedef struct ec_head_span {
    size_t off, len; /* in the bytes fed */
} ec_head_span;

typedef struct ec_head_field {
    ec_head_span name, value; /* the value as sent: trailing blanks not yet trimmed */
} ec_head_field;

typedef struct ec_head {
    http_parser p;
    ec_head_limits lim;
    size_t seen; /* bytes parsed so far */
    size_t cr_checked; /* bytes checked for a CR without LF */
    const char *all; /* during a feed: everything received, from the first byte */
    size_t all_n;
    size_t url_n, header_n, fields;
    unsigned hosts;
    char name[15]; /* the start of the header name being read */
    unsigned char name_n;
    bool in_field;
    bool in_length; /* reading content-length's value */
    bool done;
    bool bad_method; /* http-parser refused the method: 501 or 400 once its end is in */
    int status;   /* set when refused */
    char msg[160]; /* why, for the API's error message */
    size_t len;    /* once complete: the head's bytes, its blank line included */
    ec_head_span url;
    ec_head_field f[EC_HEAD_FIELDS_MAX]; /* the first `fields` are set */
} ec_head;

typedef enum ec_head_verdict {
    EC_HEAD_MORE, /* not complete yet, nothing wrong so far */
    EC_HEAD_OK,   /* complete and acceptable */
    EC_HEAD_BAD,  /* refused: status and msg say why */
} ec_head_verdict;

void ec_head_init(ec_head *h, const ec_head_limits *lim);
/** Parses what of @all's @n bytes (everything received so far) it has not seen yet. */
ec_head_verdict ec_head_feed(ec_head *h, const char *all, size_t n);
/** The head did not end within the bytes the front reads: refuses it (414 or 431). */
void ec_head_overflow(ec_head *h);
/** The client closed its side before the head ended: refuses it (400). */
void ec_head_truncated(ec_head *h);

/** Percent-decodes @s in place (also '+' to a space with @plus, as in a query); invalid
 *  escapes stay as they are. Returns the decoded length, which may include NULs. */
size_t ec_http_unescape(char *s, bool plus);
