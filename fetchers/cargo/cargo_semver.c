/* SPDX-License-Identifier: MIT */
/* Versions and requirements as Cargo's semver crate reads them, for choosing the version of
 * the crate a spec names (the closure is resolved by cargo itself: cargo_resolve.c). */
#include "fetchers/cargo/cargo_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool scan_u64(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return false;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    *pp = p;
    return true;
}

/* "-pre" (kept) and "+build" (dropped) after MAJOR.MINOR.PATCH; *pp ends after them. */
static bool scan_pre_build(const char **pp, char pre[128])
{
    const char *p = *pp;
    pre[0] = '\0';
    if (*p == '-') {
        size_t n = strspn(++p, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.");
        if (n == 0 || n >= 128)
            return false;
        memcpy(pre, p, n);
        pre[n] = '\0';
        p += n;
    }
    if (*p == '+') {
        size_t n = strspn(++p, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.");
        if (n == 0)
            return false;
        p += n;
    }
    *pp = p;
    return true;
}

bool cargo_version_parse(cargo_version *v, const char *s)
{
    memset(v, 0, sizeof *v);
    return scan_u64(&s, &v->major) && *s++ == '.' && scan_u64(&s, &v->minor) &&
           *s++ == '.' && scan_u64(&s, &v->patch) && scan_pre_build(&s, v->pre) && !*s;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return n > 0;
}

/* Pre-release identifiers, dot by dot: numbers numerically and below words, words in
 * ASCII order, and a longer list above its prefix. */
static int pre_cmp(const char *a, const char *b)
{
    if (!*a || !*b)
        return !*a && !*b ? 0 : !*a ? 1 : -1; /* a release is above its pre-releases */
    while (*a && *b) {
        size_t na = strcspn(a, "."), nb = strcspn(b, ".");
        bool da = all_digits(a, na), db = all_digits(b, nb);
        int c;
        if (da && db)
            c = na != nb ? (na < nb ? -1 : 1) : memcmp(a, b, na);
        else if (da != db)
            c = da ? -1 : 1;
        else {
            c = memcmp(a, b, na < nb ? na : nb);
            if (c == 0 && na != nb)
                c = na < nb ? -1 : 1;
        }
        if (c)
            return c < 0 ? -1 : 1;
        a += na + (a[na] == '.');
        b += nb + (b[nb] == '.');
    }
    return !*a && !*b ? 0 : !*a ? -1 : 1;
}

int cargo_version_cmp(const cargo_version *a, const cargo_version *b)
{
    if (a->major != b->major)
        return a->major < b->major ? -1 : 1;
    if (a->minor != b->minor)
        return a->minor < b->minor ? -1 : 1;
    if (a->patch != b->patch)
        return a->patch < b->patch ? -1 : 1;
    return pre_cmp(a->pre, b->pre);
}

/* --- requirements --- */

static void skip_spaces(const char **pp)
{
    while (**pp == ' ')
        (*pp)++;
}

static bool scan_op(const char **pp, char *op)
{
    static const struct { const char *s; char op; } ops[] = {
        {">=", 'G'}, {"<=", 'L'}, {">", '>'}, {"<", '<'}, {"=", '='}, {"~", '~'}, {"^", '^'}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(*pp, ops[i].s, strlen(ops[i].s)) == 0) {
            *pp += strlen(ops[i].s);
            *op = ops[i].op;
            return true;
        }
    *op = '^'; /* a bare version in a requirement is a caret one */
    return false;
}

static bool is_wild(char c)
{
    return c == '*' || c == 'x' || c == 'X';
}

/* [op] MAJOR[.MINOR[.PATCH[-pre]]] with wildcards for the missing parts. */
static bool scan_cmp(const char **pp, struct cargo_cmp *c)
{
    const char *p = *pp;
    memset(c, 0, sizeof *c);
    bool has_op = scan_op(&p, &c->op);
    skip_spaces(&p);
    uint64_t *parts[3] = {&c->v.major, &c->v.minor, &c->v.patch};
    bool wild = false;
    for (int i = 0; i < 3; i++) {
        if (i && *p != '.')
            break;
        if (i)
            p++;
        if (is_wild(*p)) {
            wild = true;
            p++;
        } else if (wild || !scan_u64(&p, parts[i]))
            return false;
        else
            c->parts = i + 1;
    }
    if (c->parts == 3 && !scan_pre_build(&p, c->v.pre))
        return false;
    if (wild && !has_op)
        c->op = '*';
    if (c->parts == 0 && c->op != '*')
        return false;
    skip_spaces(&p);
    *pp = p;
    return true;
}

int cargo_req_parse(cargo_req *out, const char *text, ec_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    skip_spaces(&p);
    if (!*p || (p[0] == '*' && !p[1])) {
        out->n = 1;
        out->c[0].op = '*';
        return EC_OK;
    }
    cargo_version exact;
    if (cargo_version_parse(&exact, p)) { /* `cargo install NAME@1.2.3` pins 1.2.3 */
        out->n = 1;
        out->c[0] = (struct cargo_cmp){.op = '=', .parts = 3, .v = exact};
        return EC_OK;
    }
    for (;;) {
        if (out->n == CARGO_REQ_MAX || !scan_cmp(&p, &out->c[out->n]))
            return ec_fail(err, EC_EINVAL, "\"%s\" is not a cargo version requirement", text);
        out->n++;
        if (!*p)
            return EC_OK;
        if (*p++ != ',')
            return ec_fail(err, EC_EINVAL, "\"%s\" is not a cargo version requirement", text);
        skip_spaces(&p);
    }
}

/* MAJOR[.MINOR] as written compared with @v's, the parts not written ignored. */
static int partial_cmp(const struct cargo_cmp *c, const cargo_version *v)
{
    if (c->parts == 3) {
        cargo_version w = c->v;
        return cargo_version_cmp(v, &w);
    }
    if (v->major != c->v.major)
        return v->major < c->v.major ? -1 : 1;
    if (c->parts == 2 && v->minor != c->v.minor)
        return v->minor < c->v.minor ? -1 : 1;
    return 0;
}

static bool cmp_matches(const struct cargo_cmp *c, const cargo_version *v)
{
    int k = partial_cmp(c, v);
    switch (c->op) {
    case '*':
        return c->parts == 0 || k == 0;
    case '=':
        return k == 0;
    case '>':
        return k > 0;
    case 'G':
        return k >= 0;
    case '<':
        return k < 0;
    case 'L':
        return k <= 0;
    case '~':
        return k >= 0 && v->major == c->v.major && (c->parts < 2 || v->minor == c->v.minor);
    default: /* '^': the left-most non-zero part written stays */
        if (k < 0 || v->major != c->v.major)
            return false;
        if (c->v.major > 0 || c->parts == 1)
            return true;
        if (v->minor != c->v.minor)
            return false;
        if (c->v.minor > 0 || c->parts == 2)
            return true;
        return v->patch == c->v.patch;
    }
}

bool cargo_req_matches(const cargo_req *r, const cargo_version *v)
{
    for (int i = 0; i < r->n; i++)
        if (!cmp_matches(&r->c[i], v))
            return false;
    if (!v->pre[0])
        return true;
    for (int i = 0; i < r->n; i++) {
        const struct cargo_cmp *c = &r->c[i];
        if (c->parts == 3 && c->v.pre[0] && c->v.major == v->major &&
            c->v.minor == v->minor && c->v.patch == v->patch)
            return true;
    }
    return false;
}
