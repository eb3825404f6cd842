/* SPDX-License-Identifier: MIT */
/* Spec messages and the scanners the managers' parsers share (checks by manager name are
 * lookups in the manager table, fetchers/managers.c). */
#include "fetchers/spec.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/util/auto.h"

/* --- messages --- */

/* Input characters quoted in a message; more are cut to "...", so that the
 * reason always fits in the message after even a long escaped text. */
#define SPEC_QUOTE_MAX 200

/* Quotes @text for a message: '"' and '\' escaped, anything outside printable
 * ASCII as \xNN (messages must stay one line of valid UTF-8). */
static void spec_quote(char *out, size_t size, const char *text)
{
    size_t o = 0, i;
    for (i = 0; text[i] && i < SPEC_QUOTE_MAX && o + 8 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (text[i])
        o += (size_t)snprintf(out + o, size - o, "...");
    out[o] = '\0';
}

int ec_spec_fail(ec_err *err, const char *text, const char *what, const char *fmt, ...)
{
    char quoted[4 * SPEC_QUOTE_MAX + 8];
    char reason[256];
    va_list ap;

    if (!err || err->code != EC_OK)
        return EC_EINVAL;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    spec_quote(quoted, sizeof quoted, text);
    return ec_fail(err, EC_EINVAL, "\"%s\" is not a valid %s: %s", quoted, what, reason);
}

int ec_spec_check_text(const char *text, const char *what, ec_err *err)
{
    assert(text);
    if (!*text)
        return ec_fail(err, EC_EINVAL, "an empty string is not a valid %s", what);
    size_t n = strnlen(text, EC_SPEC_TEXT_MAX + 1);
    if (n > EC_SPEC_TEXT_MAX)
        return ec_spec_fail(err, text, what, "longer than %d characters", EC_SPEC_TEXT_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c >= 0x7f)
            return ec_spec_fail(err, text, what, "contains a control or non-ASCII character");
    }
    return EC_OK;
}

void ec_spec_copy(char *dst, const char *p, size_t n)
{
    if (n > EC_SPEC_TEXT_MAX)
        n = EC_SPEC_TEXT_MAX;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* --- scanners --- */

bool ec_spec_scan_number(const char **pp, bool loose)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p))
        return false;
    if (!loose && p[0] == '0' && isdigit((unsigned char)p[1]))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    *pp = p;
    return true;
}

static bool spec_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

bool ec_spec_scan_idents(const char **pp, bool numeric_strict)
{
    const char *p = *pp;
    for (;;) {
        const char *start = p;
        bool numeric = true;
        while (spec_ident_char(*p)) {
            numeric = numeric && isdigit((unsigned char)*p);
            p++;
        }
        if (p == start)
            return false;
        if (numeric_strict && numeric && start[0] == '0' && p - start > 1)
            return false;
        if (*p != '.')
            break;
        p++;
    }
    *pp = p;
    return true;
}

bool ec_spec_scan_semver(const char **pp, bool loose)
{
    const char *p = *pp;
    for (int part = 0; part < 3; part++) {
        if (part && *p++ != '.')
            return false;
        if (!ec_spec_scan_number(&p, loose))
            return false;
    }
    if (!ec_spec_scan_qualifiers(&p, !loose))
        return false;
    *pp = p;
    return true;
}

bool ec_spec_scan_qualifiers(const char **pp, bool strict_pre)
{
    const char *p = *pp;
    if (*p == '-') {
        p++;
        if (!ec_spec_scan_idents(&p, strict_pre))
            return false;
    }
    if (*p == '+') {
        p++;
        if (!ec_spec_scan_idents(&p, false))
            return false;
    }
    *pp = p;
    return true;
}
