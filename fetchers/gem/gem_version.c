/* SPDX-License-Identifier: MIT */
/* RubyGems' version, requirement and platform rules (Gem::Version, Gem::Requirement,
 * Gem::Platform), as `gem install` applies them. */
#include "fetchers/gem/gem_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Gem::Version::VERSION_PATTERN: [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)? */
static bool ver_pattern(const char *s)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p))
        p++;
    while (*p == '.' && isalnum((unsigned char)p[1]))
        for (p++; isalnum((unsigned char)*p); p++)
            ;
    if (*p == '-' && (isalnum((unsigned char)p[1]) || p[1] == '-'))
        do
            for (p++; isalnum((unsigned char)*p) || *p == '-'; p++)
                ;
        while (*p == '.' && (isalnum((unsigned char)p[1]) || p[1] == '-'));
    return *p == '\0';
}

/* Segments are runs of digits or of letters of the text with '-' read as ".pre."; the
 * release part (before the first letters) and the rest each lose their trailing zeros
 * (Gem::Version#canonical_segments). */
static bool ver_segments(gem_ver *v)
{
    unsigned first_str = 0;
    bool seen_str = false;
    v->n = 0;
    for (const char *p = v->canon; *p;) {
        if (!isalnum((unsigned char)*p)) {
            p++;
            continue;
        }
        if (v->n == GEM_SEG_MAX)
            return false;
        bool str = isalpha((unsigned char)*p);
        const char *q = p;
        uint64_t num = 0;
        while (*q && (str ? isalpha((unsigned char)*q) : isdigit((unsigned char)*q))) {
            if (!str)
                num = num * 10 + (uint64_t)(*q - '0');
            q++;
        }
        v->seg[v->n].str = str;
        v->seg[v->n].num = num;
        v->seg[v->n].off = (uint8_t)(p - v->canon);
        v->seg[v->n].len = (uint8_t)(q - p);
        if (str && !seen_str) {
            seen_str = true;
            first_str = v->n;
        }
        v->n++;
        p = q;
    }
    v->pre = seen_str;
    /* drop zeros: from the end of the string part, then from the end of the release part */
    unsigned rel_end = seen_str ? first_str : v->n;
    while (v->n > rel_end && !v->seg[v->n - 1].str && v->seg[v->n - 1].num == 0)
        v->n--;
    unsigned z = rel_end;
    while (z > 0 && !v->seg[z - 1].str && v->seg[z - 1].num == 0)
        z--;
    if (z < rel_end) {
        memmove(&v->seg[z], &v->seg[rel_end], (v->n - rel_end) * sizeof v->seg[0]);
        v->n -= rel_end - z;
    }
    return true;
}

bool gem_ver_parse(gem_ver *out, const char *s, size_t n)
{
    memset(out, 0, sizeof *out);
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n >= GEM_VER_MAX)
        return false;
    memcpy(out->text, s, n);
    if (!ver_pattern(out->text))
        return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (out->text[i] == '-') {
            if (k + 5 >= GEM_VER_MAX)
                return false;
            memcpy(out->canon + k, ".pre.", 5);
            k += 5;
        } else if (k + 1 < GEM_VER_MAX)
            out->canon[k++] = out->text[i];
        else
            return false;
    }
    return ver_segments(out);
}

int gem_ver_cmp(const gem_ver *a, const gem_ver *b)
{
    unsigned n = a->n > b->n ? a->n : b->n;
    for (unsigned i = 0; i < n; i++) {
        bool as = i < a->n && a->seg[i].str, bs = i < b->n && b->seg[i].str;
        uint64_t an = i < a->n ? a->seg[i].num : 0, bn = i < b->n ? b->seg[i].num : 0;
        if (as && !bs)
            return -1;
        if (!as && bs)
            return 1;
        if (!as) {
            if (an != bn)
                return an < bn ? -1 : 1;
            continue;
        }
        int c = strncmp(a->canon + a->seg[i].off, b->canon + b->seg[i].off,
                        a->seg[i].len < b->seg[i].len ? a->seg[i].len : b->seg[i].len);
        if (c == 0 && a->seg[i].len != b->seg[i].len)
            c = a->seg[i].len < b->seg[i].len ? -1 : 1;
        if (c)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

/* The release and the bump of ~>, computed on the raw segments (Gem::Version#release,
 * #bump): bump drops every letter segment, then the last one if more than one is left,
 * and adds one to the new last. Both as plain versions, compared with gem_ver_cmp. */
static void ver_release(gem_ver *out, const gem_ver *v)
{
    if (!v->pre) {
        *out = *v;
        return;
    }
    char buf[GEM_VER_MAX];
    size_t k = 0;
    for (const char *p = v->canon; *p && !isalpha((unsigned char)*p); p++)
        buf[k++] = *p;
    while (k && buf[k - 1] == '.')
        k--;
    gem_ver_parse(out, buf, k);
}

static void ver_bump(gem_ver *out, const gem_ver *v)
{
    uint64_t nums[GEM_SEG_MAX];
    unsigned n = 0;
    for (const char *p = v->canon; *p && !isalpha((unsigned char)*p);) {
        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        uint64_t x = 0;
        for (; isdigit((unsigned char)*p); p++)
            x = x * 10 + (uint64_t)(*p - '0');
        if (n < GEM_SEG_MAX)
            nums[n++] = x;
    }
    if (n > 1)
        n--;
    if (n == 0)
        nums[n++] = 0;
    nums[n - 1]++;
    char buf[GEM_VER_MAX] = "";
    size_t k = 0;
    for (unsigned i = 0; i < n && k < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%llu", i ? "." : "",
                              (unsigned long long)nums[i]);
    gem_ver_parse(out, buf, strlen(buf));
}

static bool op_match(gem_op op, const gem_ver *v, const gem_ver *r)
{
    int c = gem_ver_cmp(v, r);
    switch (op) {
    case GEM_EQ: return c == 0;
    case GEM_NE: return c != 0;
    case GEM_GT: return c > 0;
    case GEM_LT: return c < 0;
    case GEM_GE: return c >= 0;
    case GEM_LE: return c <= 0;
    case GEM_TILDE: {
        if (c < 0)
            return false;
        gem_ver rel, bump;
        ver_release(&rel, v);
        ver_bump(&bump, r);
        return gem_ver_cmp(&rel, &bump) < 0;
    }
    }
    return false;
}

static bool req_one(gem_req *out, const char *p, size_t n)
{
    static const struct { const char *s; gem_op op; } ops[] = {
        {"~>", GEM_TILDE}, {">=", GEM_GE}, {"<=", GEM_LE}, {"!=", GEM_NE},
        {"=", GEM_EQ}, {">", GEM_GT}, {"<", GEM_LT}};
    while (n && isspace((unsigned char)*p))
        p++, n--;
    gem_op op = GEM_EQ;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t k = strlen(ops[i].s);
        if (n >= k && strncmp(p, ops[i].s, k) == 0) {
            op = ops[i].op;
            p += k;
            n -= k;
            break;
        }
    }
    if (out->n == sizeof out->c / sizeof out->c[0])
        return false;
    out->c[out->n].op = op;
    return gem_ver_parse(&out->c[out->n++].v, p, n);
}

bool gem_req_parse(gem_req *out, const char *s, char sep)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(s), i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    if (i == len)
        return req_one(out, ">= 0", 4);
    for (const char *p = s;;) {
        const char *e = strchr(p, sep);
        if (!req_one(out, p, e ? (size_t)(e - p) : strlen(p)))
            return false;
        if (!e)
            return true;
        p = e + 1;
    }
}

bool gem_req_match(const gem_req *r, const gem_ver *v)
{
    for (unsigned i = 0; i < r->n; i++)
        if (!op_match(r->c[i].op, v, &r->c[i].v))
            return false;
    return true;
}

bool gem_req_pre(const gem_req *r)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->c[i].v.pre)
            return true;
    return false;
}

/* "cpu-os[-version]" as Gem::Platform.new splits it, enough for Linux and the names the
 * registry uses: the os keeps its leading letters ("linux" of "linux-gnu" is os "linux",
 * version "gnu"). */
typedef struct plat { char cpu[32], os[32], ver[32]; } plat;

static void plat_split(plat *p, const char *s)
{
    memset(p, 0, sizeof *p);
    const char *d = strchr(s, '-');
    if (!d) {
        snprintf(p->os, sizeof p->os, "%s", s);
        return;
    }
    snprintf(p->cpu, sizeof p->cpu, "%.*s", (int)(d - s), s);
    const char *os = d + 1, *d2 = strchr(os, '-');
    snprintf(p->os, sizeof p->os, "%.*s", d2 ? (int)(d2 - os) : (int)strlen(os), os);
    if (d2)
        snprintf(p->ver, sizeof p->ver, "%s", d2 + 1);
    if (strcmp(p->cpu, "i486") == 0 || strcmp(p->cpu, "i586") == 0 ||
        strcmp(p->cpu, "i686") == 0)
        snprintf(p->cpu, sizeof p->cpu, "x86");
}

bool gem_platform_installable(const char *gem_platform, const char *local)
{
    if (!gem_platform[0] || strcmp(gem_platform, "ruby") == 0)
        return true;
    plat g, l;
    plat_split(&g, gem_platform);
    plat_split(&l, local);
    bool cpu = !g.cpu[0] || !l.cpu[0] || strcmp(g.cpu, l.cpu) == 0 ||
               strcmp(g.cpu, "universal") == 0 || strcmp(l.cpu, "universal") == 0;
    bool ver = !g.ver[0] || !l.ver[0] || strcmp(g.ver, l.ver) == 0;
    return cpu && strcmp(g.os, l.os) == 0 && ver;
}
