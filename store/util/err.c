/* SPDX-License-Identifier: MIT */
/* Error records: the first message wins, foreign codes are translated once. */
#include "store/util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moves @i back (@dir < 0) or forward to the start of a UTF-8 character. */
static size_t utf8_boundary(const char *s, size_t i, size_t n, int dir)
{
    while (i > 0 && i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
        i = dir < 0 ? i - 1 : i + 1;
    return i;
}

/* A message longer than the buffer (it quotes a long name, say) keeps its start and its
 * end, where the rule broken is usually said, with "..." between; cuts fall between
 * UTF-8 characters, so the message stays valid text. */
static void fit_long(char *out, size_t cap, const char *fmt, va_list ap, size_t n)
{
    char *full = malloc(n + 1);
    if (!full)
        return; /* keep vsnprintf's plain cut */
    vsnprintf(full, n + 1, fmt, ap);
    size_t head = utf8_boundary(full, (cap - 4) / 2, n, -1);
    size_t tail = utf8_boundary(full, n - (cap - 4 - head), n, 1);
    memcpy(out, full, head);
    memcpy(out + head, "...", 3);
    memcpy(out + head + 3, full + tail, n - tail);
    out[head + 3 + n - tail] = '\0';
    free(full);
}

int ec_failv(ec_err *err, int code, const char *fmt, va_list ap)
{
    if (!err || err->code != EC_OK)
        return code;
    err->code = code;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (n >= (int)sizeof err->msg)
        fit_long(err->msg, sizeof err->msg, fmt, again, (size_t)n);
    va_end(again);
    return code;
}

int ec_fail(ec_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ec_failv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int ec_fail_sys(ec_err *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    if (!err || err->code != EC_OK)
        return EC_ESYS;
    va_start(ap, fmt);
    ec_failv(err, EC_ESYS, fmt, ap);
    va_end(ap);
    err->sys = errnum;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
    return EC_ESYS;
}

void ec_err_prefix(ec_err *err, const char *fmt, ...)
{
    char pre[512], old[sizeof err->msg];
    va_list ap;
    if (!err || err->code == EC_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the start of the message carries the context. */
    size_t n = strlen(pre);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, pre, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
}

void ec_err_detail(ec_err *err, const char *detail)
{
    if (err && !err->detail[0])
        snprintf(err->detail, sizeof err->detail, "%s", detail);
}

void ec_err_clear(ec_err *err)
{
    if (err) {
        err->detail[0] = '\0';
        err->code = EC_OK;
        err->sys = 0;
        err->msg[0] = '\0';
    }
}

const char *ec_code_name(int code)
{
    switch (code) {
#define EC__NAME(name, value, short_name, text) \
    case value:                                \
        return short_name;
        EC_CODES(EC__NAME)
#undef EC__NAME
    }
    return "unknown";
}

const char *ec_code_text(int code)
{
    switch (code) {
#define EC__TEXT(name, value, short_name, text) \
    case value:                                \
        return text;
        EC_CODES(EC__TEXT)
#undef EC__TEXT
    }
    return "unknown error";
}
