/* SPDX-License-Identifier: MIT */
/* Answers as handlers build them: a body (memory or a file range) and extra headers. */
#include "cache/api/http_resp.h"
#include "store/util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ec_resp *ec_resp_buffer(char *p, size_t n)
{
    ec_resp *r = ec_xcalloc(1, sizeof *r);
    r->body = p;
    r->body_n = n;
    r->fd = -1;
    return r;
}

ec_resp *ec_resp_file(int fd, uint64_t off, uint64_t len)
{
    ec_resp *r = ec_xcalloc(1, sizeof *r);
    r->fd = fd;
    r->off = off;
    r->len = len;
    return r;
}

/* RFC 9110, 5.6.2: a field name is a token. */
static bool token(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    return *s && strspn(s, tchar) == strlen(s);
}

void ec_resp_header(ec_resp *r, const char *name, const char *value)
{
    if (!r || !token(name) || strpbrk(value, "\r\n"))
        return;
    ec_buf_adds(&r->headers, name, NULL);
    ec_buf_add(&r->headers, ": ", 2, NULL);
    ec_buf_adds(&r->headers, value, NULL);
    ec_buf_add(&r->headers, "\r\n", 2, NULL);
}

uint64_t ec_resp_length(const ec_resp *r)
{
    return r->fd >= 0 ? r->len : r->body_n;
}

void ec_resp_free(ec_resp *r)
{
    if (!r)
        return;
    free(r->body);
    if (r->fd >= 0)
        close(r->fd);
    ec_buf_fini(&r->headers);
    free(r);
}
