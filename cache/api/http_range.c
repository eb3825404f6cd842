/* SPDX-License-Identifier: MIT */
/* The Range header of a GET, by RFC 9110, 14.1-14.2 (see http_range.h). */
#include "cache/api/http_range.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Byte ranges by RFC 9110, 14.1-14.2. A malformed Range (another unit, a bad number, one
 * that overflows 64 bits, last < first) is ignored: the whole file, 200. Several ranges
 * are answered with the whole file too (allowed; no multipart). One range, or several
 * none of which is satisfiable, is 206 or 416. */

/* 1*DIGIT into *@out; false on no digit or overflow. Moves *@p past the digits. */
static bool range_num(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}

/* One range-spec in [@p, @end): EC_RANGE_IGNORE when malformed, else whether it is
 * satisfiable against @size, with the span it selects. */
static int range_spec(const char *p, const char *end, uint64_t size, uint64_t *start,
                      uint64_t *len)
{
    uint64_t a, b;
    if (*p == '-') { /* suffix-range */
        p++;
        if (!range_num(&p, &b) || p != end)
            return EC_RANGE_IGNORE;
        if (b == 0 || size == 0)
            return EC_RANGE_UNSATISFIABLE;
        *len = b > size ? size : b;
        *start = size - *len;
        return EC_RANGE_ONE;
    }
    if (!range_num(&p, &a) || *p != '-')
        return EC_RANGE_IGNORE;
    p++;
    b = UINT64_MAX;
    if (p != end && (!range_num(&p, &b) || b < a))
        return EC_RANGE_IGNORE;
    if (p != end)
        return EC_RANGE_IGNORE;
    if (a >= size)
        return EC_RANGE_UNSATISFIABLE;
    if (b >= size)
        b = size - 1;
    *start = a;
    *len = b - a + 1;
    return EC_RANGE_ONE;
}

int ec_http_range_parse(const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (strncasecmp(h, "bytes=", 6) != 0)
        return EC_RANGE_IGNORE;
    int specs = 0, satisfiable = 0;
    uint64_t first_start = 0, first_len = 0;
    for (const char *p = h + 6;;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *e = end;
        if (comma) /* OWS around the list's commas */
            while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
        if (e > p) { /* empty list elements are allowed and skipped */
            uint64_t s0 = 0, l0 = 0;
            int r = range_spec(p, e, size, &s0, &l0);
            if (r == EC_RANGE_IGNORE)
                return EC_RANGE_IGNORE;
            specs++;
            if (r == EC_RANGE_ONE && satisfiable++ == 0) {
                first_start = s0;
                first_len = l0;
            }
        }
        if (!comma)
            break;
        p = comma + 1 + strspn(comma + 1, " \t");
    }
    if (specs == 0)
        return EC_RANGE_IGNORE;
    if (satisfiable == 0)
        return EC_RANGE_UNSATISFIABLE;
    if (specs > 1)
        return EC_RANGE_IGNORE;
    *start = first_start; /* written only for the one range served */
    *len = first_len;
    return EC_RANGE_ONE;
}
