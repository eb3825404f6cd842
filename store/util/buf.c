/* SPDX-License-Identifier: MIT */
/* Capped dynamic buffer: a failure frees it, so callers never see half a result. */
#include "store/util/buf.h"
#include "store/util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC_BUF_DEFAULT_MAX ((size_t)64 << 20)

int ec_buf_add(ec_buf *b, const void *data, size_t n, ec_err *err)
{
    size_t max = b->max ? b->max : EC_BUF_DEFAULT_MAX;
    if (n > max - b->n) {
        ec_buf_fini(b);
        return ec_fail(err, EC_ELIMIT, "buffer would exceed its limit of %zu bytes", max);
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = ec_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return EC_OK;
}

int ec_buf_adds(ec_buf *b, const char *s, ec_err *err)
{
    return ec_buf_add(b, s, strlen(s), err);
}

int ec_buf_addf(ec_buf *b, ec_err *err, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ec_fail(err, EC_ENOMEM, "out of memory formatting a string");
    int r = ec_buf_add(b, s, (size_t)n, err);
    free(s);
    return r;
}

void ec_buf_reset(ec_buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

void ec_buf_fini(ec_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *ec_buf_steal(ec_buf *b)
{
    char *p = b->p ? b->p : ec_xstrdup("");
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

const char *ec_buf_str(const ec_buf *b)
{
    return b->p ? b->p : "";
}
