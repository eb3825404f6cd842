/* SPDX-License-Identifier: MIT */
/* node-semver versions and ranges (loose=false, includePrerelease=false). */
#include "fetchers/npm/semver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define SEMVER_MAX_SAFE 9007199254740991ull /* Number.MAX_SAFE_INTEGER */

typedef struct semver_set {
    ec_semver_cmp *c;
    size_t n, cap;
} semver_set;

struct ec_semver_range {
    semver_set *sets;
    size_t n;
};

/* --- scanning --- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* NUMERICIDENTIFIER: 0|[1-9][0-9]*, at most MAX_SAFE_INTEGER. */
static bool scan_num(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (!is_digit(*p))
        return false;
    if (*p == '0') {
        p++;
    } else {
        for (; is_digit(*p); p++) {
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > SEMVER_MAX_SAFE)
                return false;
        }
    }
    *out = v;
    *pp = p;
    return true;
}

/* Dot-separated identifiers; for pre-releases a numeric one may not have a
 * leading zero. Copies the text (without the sigil) into @dst when given. */
static bool scan_idents(const char **pp, bool pre, char *dst, size_t size)
{
    const char *p = *pp, *start = p;
    for (;;) {
        const char *id = p;
        bool numeric = true;
        for (; is_ident_char(*p); p++)
            numeric = numeric && is_digit(*p);
        if (p == id || (pre && numeric && p - id > 1 && *id == '0'))
            return false;
        if (*p != '.')
            break;
        p++;
    }
    if (dst) {
        if ((size_t)(p - start) >= size)
            return false;
        memcpy(dst, start, (size_t)(p - start));
        dst[p - start] = '\0';
    }
    *pp = p;
    return true;
}

/* Optional "-pre" then optional "+build". */
static bool scan_qualifiers(const char **pp, char *pre, size_t size)
{
    const char *p = *pp;
    pre[0] = '\0';
    if (*p == '-') {
        p++;
        if (!scan_idents(&p, true, pre, size))
            return false;
    }
    if (*p == '+') {
        p++;
        if (!scan_idents(&p, false, NULL, 0))
            return false;
    }
    *pp = p;
    return true;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
        p++;
    return p;
}

/* --- versions --- */

int ec_semver_parse(ec_semver *out, const char *text, ec_err *err)
{
    const char *p = skip_space(text);
    size_t len = strlen(text);
    if (len > EC_SEMVER_MAX)
        return ec_fail(err, EC_EINVAL, "\"%.64s…\" is not a valid version: too long", text);
    if (*p == 'v')
        p++;
    if (!scan_num(&p, &out->major) || *p++ != '.' || !scan_num(&p, &out->minor) ||
        *p++ != '.' || !scan_num(&p, &out->patch) ||
        !scan_qualifiers(&p, out->pre, sizeof(out->pre)) || *skip_space(p) != '\0')
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a valid version", text);
    return EC_OK;
}

bool ec_semver_valid(const char *text)
{
    ec_semver v;
    return ec_semver_parse(&v, text, NULL) == EC_OK;
}

static int cmp_num(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* compareIdentifiers: numeric < alphanumeric; numbers by value; else ASCII. */
static int cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
    bool an = true, bn = true;
    for (size_t i = 0; i < na; i++)
        an = an && is_digit(a[i]);
    for (size_t i = 0; i < nb; i++)
        bn = bn && is_digit(b[i]);
    if (an && bn) {
        if (na != nb) /* no leading zeros: longer is larger */
            return na < nb ? -1 : 1;
        int c = memcmp(a, b, na);
        return c < 0 ? -1 : c > 0;
    }
    if (an != bn)
        return an ? -1 : 1;
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c)
        return c < 0 ? -1 : 1;
    return na == nb ? 0 : na < nb ? -1 : 1;
}

static int cmp_pre(const char *a, const char *b)
{
    if (!*a || !*b)
        return (*a != 0) == (*b != 0) ? 0 : *a ? -1 : 1;
    for (;;) {
        size_t na = strcspn(a, "."), nb = strcspn(b, ".");
        int c = cmp_ident(a, na, b, nb);
        if (c)
            return c;
        a += na;
        b += nb;
        if (!*a || !*b)
            return !*a && !*b ? 0 : !*a ? -1 : 1;
        a++;
        b++;
    }
}

int ec_semver_compare(const ec_semver *a, const ec_semver *b)
{
    int c = cmp_num(a->major, b->major);
    if (!c)
        c = cmp_num(a->minor, b->minor);
    if (!c)
        c = cmp_num(a->patch, b->patch);
    return c ? c : cmp_pre(a->pre, b->pre);
}

void ec_semver_format(const ec_semver *v, char *buf, size_t size)
{
    snprintf(buf, size, "%llu.%llu.%llu%s%s", (unsigned long long)v->major,
             (unsigned long long)v->minor, (unsigned long long)v->patch, *v->pre ? "-" : "",
             v->pre);
}

/* --- comparators --- */

static bool cmp_test(const ec_semver_cmp *c, const ec_semver *v)
{
    int r = ec_semver_compare(v, &c->v);
    switch (c->op) {
    case EC_SEMVER_EQ: return r == 0;
    case EC_SEMVER_LT: return r < 0;
    case EC_SEMVER_LE: return r <= 0;
    case EC_SEMVER_GT: return r > 0;
    case EC_SEMVER_GE: return r >= 0;
    }
    return false;
}

static const char *op_text(ec_semver_op op)
{
    static const char *const t[] = {"", "<", "<=", ">", ">="};
    return t[op];
}

static void cmp_format(const ec_semver_cmp *c, char *buf, size_t size)
{
    char v[EC_SEMVER_MAX + 64];
    ec_semver_format(&c->v, v, sizeof(v));
    snprintf(buf, size, "%s%s", op_text(c->op), v);
}

static bool cmp_is_null_set(const ec_semver_cmp *c)
{
    return c->op == EC_SEMVER_LT && !c->v.major && !c->v.minor && !c->v.patch &&
           !strcmp(c->v.pre, "0");
}

static bool set_add(semver_set *s, ec_semver_op op, uint64_t M, uint64_t m, uint64_t p,
                    const char *pre)
{
    if (M > SEMVER_MAX_SAFE || m > SEMVER_MAX_SAFE || p > SEMVER_MAX_SAFE)
        return false;
    if (op == EC_SEMVER_GE && !M && !m && !p && !*pre)
        return true; /* replaceGTE0: ">=0.0.0" is dropped, it admits every release */
    ec_semver_cmp c = {.op = op, .v = {.major = M, .minor = m, .patch = p}};
    snprintf(c.v.pre, sizeof(c.v.pre), "%s", pre);
    char a[EC_SEMVER_MAX + 64], b[EC_SEMVER_MAX + 64];
    cmp_format(&c, a, sizeof(a));
    for (size_t i = 0; i < s->n; i++) { /* node-semver dedupes by value */
        cmp_format(&s->c[i], b, sizeof(b));
        if (!strcmp(a, b))
            return true;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 2;
        s->c = ec_xrealloc(s->c, s->cap * sizeof(*s->c));
    }
    s->c[s->n++] = c;
    return true;
}

/* --- ranges: the desugaring of one comparator token --- */

/* XRANGEPLAIN: [v=\s]* then M[.m[.p[-pre][+build]]], each part a number or x|X|*. */
typedef struct xr {
    uint64_t n[3];
    bool x[3];
    char pre[EC_SEMVER_MAX + 1];
} xr;

static bool scan_xid(const char **pp, uint64_t *n, bool *x)
{
    char c = **pp;
    if (c == 'x' || c == 'X' || c == '*') {
        (*pp)++;
        *x = true;
        *n = 0;
        return true;
    }
    *x = false;
    return scan_num(pp, n);
}

static bool scan_xrange(const char *p, xr *out)
{
    while (*p == 'v' || *p == '=' || *p == ' ')
        p++;
    out->pre[0] = '\0';
    out->x[1] = out->x[2] = true;
    out->n[1] = out->n[2] = 0;
    if (!scan_xid(&p, &out->n[0], &out->x[0]))
        return false;
    if (*p == '.') {
        p++;
        if (!scan_xid(&p, &out->n[1], &out->x[1]))
            return false;
        if (*p == '.') {
            p++;
            if (!scan_xid(&p, &out->n[2], &out->x[2]) ||
                !scan_qualifiers(&p, out->pre, sizeof(out->pre)))
                return false;
        }
    }
    /* isX is cumulative: an x in one part makes the later parts x too */
    out->x[1] = out->x[1] || out->x[0];
    out->x[2] = out->x[2] || out->x[1];
    return *p == '\0';
}

static bool desugar_caret(semver_set *s, const xr *v)
{
    uint64_t M = v->n[0], m = v->n[1], p = v->n[2];
    if (v->x[0])
        return true; /* any */
    if (v->x[1])
        return set_add(s, EC_SEMVER_GE, M, 0, 0, "") && set_add(s, EC_SEMVER_LT, M + 1, 0, 0, "0");
    if (v->x[2]) {
        if (!set_add(s, EC_SEMVER_GE, M, m, 0, ""))
            return false;
        return M == 0 ? set_add(s, EC_SEMVER_LT, 0, m + 1, 0, "0")
                      : set_add(s, EC_SEMVER_LT, M + 1, 0, 0, "0");
    }
    if (!set_add(s, EC_SEMVER_GE, M, m, p, v->pre))
        return false;
    if (M == 0 && m == 0)
        return set_add(s, EC_SEMVER_LT, 0, 0, p + 1, "0");
    if (M == 0)
        return set_add(s, EC_SEMVER_LT, 0, m + 1, 0, "0");
    return set_add(s, EC_SEMVER_LT, M + 1, 0, 0, "0");
}

static bool desugar_tilde(semver_set *s, const xr *v)
{
    uint64_t M = v->n[0], m = v->n[1], p = v->n[2];
    if (v->x[0])
        return true;
    if (v->x[1])
        return set_add(s, EC_SEMVER_GE, M, 0, 0, "") && set_add(s, EC_SEMVER_LT, M + 1, 0, 0, "0");
    if (!set_add(s, EC_SEMVER_GE, M, m, v->x[2] ? 0 : p, v->x[2] ? "" : v->pre))
        return false;
    return set_add(s, EC_SEMVER_LT, M, m + 1, 0, "0");
}

static bool desugar_xrange(semver_set *s, ec_semver_op op, bool bare, const xr *v)
{
    uint64_t M = v->n[0], m = v->n[1], p = v->n[2];
    if (!v->x[2])
        return set_add(s, op, M, m, p, v->pre);
    if (v->x[0]) {
        if (!bare && (op == EC_SEMVER_GT || op == EC_SEMVER_LT))
            return set_add(s, EC_SEMVER_LT, 0, 0, 0, "0"); /* nothing is allowed */
        return true;                                       /* nothing is forbidden */
    }
    if (bare)
        return v->x[1] ? set_add(s, EC_SEMVER_GE, M, 0, 0, "") &&
                             set_add(s, EC_SEMVER_LT, M + 1, 0, 0, "0")
                       : set_add(s, EC_SEMVER_GE, M, m, 0, "") &&
                             set_add(s, EC_SEMVER_LT, M, m + 1, 0, "0");
    if (v->x[1])
        m = 0;
    p = 0;
    if (op == EC_SEMVER_GT) {
        op = EC_SEMVER_GE;
        if (v->x[1])
            M++;
        else
            m++;
    } else if (op == EC_SEMVER_LE) {
        op = EC_SEMVER_LT;
        if (v->x[1])
            M++;
        else
            m++;
    }
    return set_add(s, op, M, m, p, op == EC_SEMVER_LT ? "0" : "");
}

/* One whitespace-free token: ^X, ~X, ~>X, or [<>]?=? X. */
static bool parse_token(semver_set *s, const char *t)
{
    xr v;
    if (*t == '^')
        return scan_xrange(t + 1, &v) && desugar_caret(s, &v);
    if (*t == '~')
        return scan_xrange(t + 1 + (t[1] == '>'), &v) && desugar_tilde(s, &v);
    ec_semver_op op = EC_SEMVER_EQ;
    bool bare = true;
    if (*t == '<' || *t == '>') {
        bool eq = t[1] == '=';
        op = *t == '<' ? (eq ? EC_SEMVER_LE : EC_SEMVER_LT) : (eq ? EC_SEMVER_GE : EC_SEMVER_GT);
        bare = false;
        t += 1 + eq;
    } else if (*t == '=') {
        t++; /* "=" is the same as no operator */
    }
    return scan_xrange(t, &v) && desugar_xrange(s, op, bare, &v);
}

/* `A - B` (hyphenReplace): A and B are x-ranges. */
static bool parse_hyphen(semver_set *s, const xr *f, const xr *t)
{
    if (!f->x[0] && !set_add(s, EC_SEMVER_GE, f->n[0], f->x[1] ? 0 : f->n[1],
                             f->x[2] ? 0 : f->n[2], f->x[2] ? "" : f->pre))
        return false;
    if (t->x[0])
        return true;
    if (t->x[1])
        return set_add(s, EC_SEMVER_LT, t->n[0] + 1, 0, 0, "0");
    if (t->x[2])
        return set_add(s, EC_SEMVER_LT, t->n[0], t->n[1] + 1, 0, "0");
    return set_add(s, EC_SEMVER_LE, t->n[0], t->n[1], t->n[2], t->pre);
}

static bool try_hyphen(semver_set *s, char *text, bool *ok)
{
    for (char *d = strstr(text, " - "); d; d = strstr(d + 1, " - ")) {
        xr f, t;
        *d = '\0';
        bool match = scan_xrange(text, &f) && scan_xrange(d + 3, &t);
        *d = ' ';
        if (match) {
            *ok = parse_hyphen(s, &f, &t);
            return true;
        }
    }
    return false;
}

/* comparatorTrim/tildeTrim/caretTrim: drop the blanks after an operator, then
 * split on blanks. @text has single blanks only and no outer ones. */
static bool parse_set(semver_set *s, char *text)
{
    bool ok;
    if (try_hyphen(s, text, &ok))
        return ok;
    char *w = text;
    for (const char *r = text; *r;) {
        bool op = *r == '<' || *r == '>' || *r == '=' || *r == '~' || *r == '^';
        *w++ = *r++;
        if (op && *r == ' ' && !(r[1] == '<' || r[1] == '>' || r[1] == '~' || r[1] == '^'))
            r++;
    }
    *w = '\0';
    for (char *tok = text; *tok;) {
        char *end = strchr(tok, ' ');
        if (end)
            *end = '\0';
        if (!parse_token(s, tok))
            return false;
        tok = end ? end + 1 : tok + strlen(tok);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (cmp_is_null_set(&s->c[i])) {
            s->c[0] = s->c[i];
            s->n = 1;
        }
    }
    return true;
}

/* Collapses every run of whitespace to one blank, trims the ends. */
static char *normalize_space(const char *text)
{
    char *out = ec_xmalloc(strlen(text) + 1), *w = out;
    for (const char *p = skip_space(text); *p;) {
        const char *q = skip_space(p);
        if (q != p) {
            if (*q)
                *w++ = ' ';
            p = q;
            continue;
        }
        *w++ = *p++;
    }
    *w = '\0';
    return out;
}

static char *trim_inplace(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* Range constructor's clean-up when there are several sets: drop null sets
 * (unless all are), and a set that matches anything makes the whole range any. */
static void range_simplify(ec_semver_range *r)
{
    if (r->n < 2)
        return;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->sets[i].n == 1 && cmp_is_null_set(&r->sets[i].c[0]))
            free(r->sets[i].c);
        else
            r->sets[k++] = r->sets[i];
    }
    if (!k) {
        r->sets[0] = (semver_set){ec_xcalloc(1, sizeof(ec_semver_cmp)), 1, 1};
        r->sets[0].c[0] = (ec_semver_cmp){.op = EC_SEMVER_LT, .v = {.pre = "0"}};
        k = 1;
    }
    r->n = k;
    for (size_t i = 0; i < r->n; i++) {
        if (r->sets[i].n == 0) {
            for (size_t j = 0; j < r->n; j++)
                free(r->sets[j].c);
            r->sets[0] = (semver_set){0};
            r->n = 1;
            return;
        }
    }
}

int ec_semver_range_parse(ec_semver_range **out, const char *text, ec_err *err)
{
    EC_AUTOFREE char *norm = normalize_space(text);
    size_t nsets = 1;
    for (const char *p = norm; (p = strstr(p, "||")); p += 2)
        nsets++;
    ec_semver_range *r = ec_xcalloc(1, sizeof(*r));
    r->sets = ec_xcalloc(nsets, sizeof(*r->sets));
    char *part = norm;
    for (size_t i = 0; i < nsets; i++) {
        char *bar = strstr(part, "||");
        if (bar)
            *bar = '\0';
        r->n++;
        if (!parse_set(&r->sets[i], trim_inplace(part))) {
            ec_semver_range_free(r);
            return ec_fail(err, EC_EINVAL, "\"%s\" is not a valid semver range", text);
        }
        part = bar ? bar + 2 : part;
    }
    range_simplify(r);
    *out = r;
    return EC_OK;
}

void ec_semver_range_free(ec_semver_range *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->sets[i].c);
    free(r->sets);
    free(r);
}

static bool set_test(const semver_set *s, const ec_semver *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!cmp_test(&s->c[i], v))
            return false;
    if (!*v->pre)
        return true;
    for (size_t i = 0; i < s->n; i++) {
        const ec_semver *a = &s->c[i].v;
        if (*a->pre && a->major == v->major && a->minor == v->minor && a->patch == v->patch)
            return true;
    }
    return false;
}

bool ec_semver_range_test(const ec_semver_range *r, const ec_semver *v)
{
    for (size_t i = 0; i < r->n; i++)
        if (set_test(&r->sets[i], v))
            return true;
    return false;
}

bool ec_semver_range_format(const ec_semver_range *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->sets[i].n; j++) {
            char c[EC_SEMVER_MAX + 64];
            cmp_format(&r->sets[i].c[j], c, sizeof(c));
            int k = snprintf(buf + used, size - used, "%s%s", j ? " " : "", c);
            if (k < 0 || (size_t)k >= size - used)
                return false;
            used += (size_t)k;
        }
        if (i + 1 < r->n) {
            int k = snprintf(buf + used, size - used, "||");
            if (k < 0 || (size_t)k >= size - used)
                return false;
            used += (size_t)k;
        }
    }
    return true;
}

bool ec_semver_satisfies(const char *version, const char *range)
{
    ec_semver v;
    EC_AUTO(ec_semver_range) r = NULL;
    if (ec_semver_parse(&v, version, NULL) < 0 || ec_semver_range_parse(&r, range, NULL) < 0)
        return false;
    return ec_semver_range_test(r, &v);
}

long ec_semver_max_satisfying(const char *const *versions, size_t n, const ec_semver_range *r)
{
    long best = -1;
    ec_semver bv, v;
    for (size_t i = 0; i < n; i++) {
        if (ec_semver_parse(&v, versions[i], NULL) < 0 || !ec_semver_range_test(r, &v))
            continue;
        if (best < 0 || ec_semver_compare(&v, &bv) > 0) {
            best = (long)i;
            bv = v;
        }
    }
    return best;
}
