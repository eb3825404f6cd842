/* SPDX-License-Identifier: MIT */
/* An answer's body and the headers its handler adds (http_resp.c); the connection code
 * (http_conn.c) writes the status line, framing and the headers every answer carries.
 * Private to cache/api/. */
#pragma once

#include <stdint.h>

#include "store/util/buf.h"

typedef struct ec_resp {
    char *body;     /* owned; NULL with a file body or none */
    size_t body_n;
    int fd;         /* a file body at [off, off + len), owned (closed at free); -1 if none */
    uint64_t off, len;
    ec_buf headers; /* "name: value\r\n" lines */
} ec_resp;

/** An answer whose body is @p's @n bytes (taken: freed with the answer). */
ec_resp *ec_resp_buffer(char *p, size_t n);
/** An answer whose body is @len bytes of @fd from @off (taken: closed with the answer),
 *  sent with sendfile. */
ec_resp *ec_resp_file(int fd, uint64_t off, uint64_t len);
/** Adds a header. A name or value that would break the framing (CR, LF, NUL, or a name
 *  that is not a token) is dropped, so that nothing from upstream can split the answer. */
void ec_resp_header(ec_resp *r, const char *name, const char *value);
/** The body's length. */
uint64_t ec_resp_length(const ec_resp *r);
/** NULL is fine. */
void ec_resp_free(ec_resp *r);
