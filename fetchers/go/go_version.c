/* SPDX-License-Identifier: MIT */
/* Go's version rules (golang.org/x/mod/semver and module): order, pre-releases,
 * pseudo-versions, the case-encoding of paths, and GONOSUMDB-style path globs. */
#include "fetchers/go/go_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include "store/util/mem.h"

typedef struct sv {
    const char *major, *minor, *patch, *pre; /* slices; pre starts after '-' */
    size_t nmajor, nminor, npatch, npre;
    bool short_form;
} sv;

static bool num(const char **p, const char **s, size_t *n)
{
    const char *q = *p;
    if (!isdigit((unsigned char)*q))
        return false;
    while (isdigit((unsigned char)*q))
        q++;
    if (q - *p > 1 && **p == '0')
        return false;
    *s = *p;
    *n = (size_t)(q - *p);
    *p = q;
    return true;
}

/* Identifiers of a pre-release or build: dot-separated, [0-9A-Za-z-], numeric ones
 * without leading zeros (pre-release only). */
static bool idents(const char **p, bool pre)
{
    const char *q = *p;
    for (;;) {
        const char *start = q;
        bool digits = true;
        while (isalnum((unsigned char)*q) || *q == '-') {
            digits &= isdigit((unsigned char)*q) != 0;
            q++;
        }
        if (q == start || (pre && digits && q - start > 1 && *start == '0'))
            return false;
        if (*q != '.')
            break;
        q++;
    }
    *p = q;
    return true;
}

static bool sv_parse(sv *o, const char *v)
{
    memset(o, 0, sizeof *o);
    if (!v || *v != 'v')
        return false;
    const char *p = v + 1;
    if (!num(&p, &o->major, &o->nmajor))
        return false;
    if (!*p) {
        o->short_form = true;
        return true;
    }
    if (*p++ != '.' || !num(&p, &o->minor, &o->nminor))
        return false;
    if (!*p) {
        o->short_form = true;
        return true;
    }
    if (*p++ != '.' || !num(&p, &o->patch, &o->npatch))
        return false;
    if (*p == '-') {
        o->pre = ++p;
        if (!idents(&p, true))
            return false;
        o->npre = (size_t)(p - o->pre);
    }
    if (*p == '+') {
        p++;
        if (!idents(&p, false))
            return false;
    }
    return *p == '\0';
}

bool go_version_valid(const char *v)
{
    sv s;
    return sv_parse(&s, v) && !s.short_form;
}

static int numcmp(const char *a, size_t na, const char *b, size_t nb)
{
    if (na != nb)
        return na < nb ? -1 : 1;
    int c = na ? memcmp(a, b, na) : 0;
    return c < 0 ? -1 : c > 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* SemVer 11: identifiers compared one by one, numbers numerically and below words. */
static int precmp(const char *a, size_t na, const char *b, size_t nb)
{
    if (!na || !nb)
        return na == nb ? 0 : na == 0 ? 1 : -1;
    while (na && nb) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        la = la > na ? na : la;
        lb = lb > nb ? nb : lb;
        bool da = all_digits(a, la), db = all_digits(b, lb);
        int c;
        if (da && db)
            c = numcmp(a, la, b, lb);
        else if (da != db)
            c = da ? -1 : 1;
        else {
            c = memcmp(a, b, la < lb ? la : lb);
            c = c ? (c < 0 ? -1 : 1) : la == lb ? 0 : la < lb ? -1 : 1;
        }
        if (c)
            return c;
        a += la, na -= la, b += lb, nb -= lb;
        if (na && *a == '.')
            a++, na--;
        if (nb && *b == '.')
            b++, nb--;
    }
    return na == nb ? 0 : na ? 1 : -1;
}

int go_vcmp(const char *a, const char *b)
{
    sv x, y;
    bool vx = sv_parse(&x, a), vy = sv_parse(&y, b);
    if (!vx || !vy)
        return vx == vy ? 0 : vx ? 1 : -1;
    int c = numcmp(x.major, x.nmajor, y.major, y.nmajor);
    if (!c)
        c = numcmp(x.minor ? x.minor : "0", x.minor ? x.nminor : 1, y.minor ? y.minor : "0",
                   y.minor ? y.nminor : 1);
    if (!c)
        c = numcmp(x.patch ? x.patch : "0", x.patch ? x.npatch : 1, y.patch ? y.patch : "0",
                   y.patch ? y.npatch : 1);
    return c ? c : precmp(x.pre, x.npre, y.pre, y.npre);
}

bool go_version_prerelease(const char *v)
{
    sv s;
    return sv_parse(&s, v) && s.npre > 0;
}

/* vX.0.0-yyyymmddhhmmss-abcdefabcdef, vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef…, and
 * vX.Y.Z-0.yyyymmddhhmmss-abcdef…: a pre-release ending in a 14-digit time and a
 * 12-hex revision. */
bool go_version_pseudo(const char *v)
{
    sv s;
    if (!sv_parse(&s, v) || s.npre < 27)
        return false;
    const char *rev = s.pre + s.npre - 12, *t = rev - 15;
    if (rev[-1] != '-' || (t > s.pre && t[-1] != '.' && t[-1] != '-'))
        return false;
    for (int i = 0; i < 14; i++)
        if (!isdigit((unsigned char)t[i]))
            return false;
    for (int i = 0; i < 12; i++)
        if (!isxdigit((unsigned char)rev[i]) || isupper((unsigned char)rev[i]))
            return false;
    return true;
}

void go_version_major(char out[16], const char *v)
{
    sv s;
    if (!sv_parse(&s, v) || s.nmajor > 12)
        snprintf(out, 16, "v0");
    else
        snprintf(out, 16, "v%.*s", (int)s.nmajor, s.major);
}

char *go_escape(const char *s)
{
    ec_buf b = EC_BUF_INIT;
    for (; *s; s++) {
        char c[2] = {*s, 0};
        if (isupper((unsigned char)*s)) {
            (void)ec_buf_adds(&b, "!", NULL);
            c[0] = (char)tolower((unsigned char)*s);
        }
        (void)ec_buf_adds(&b, c, NULL);
    }
    return b.p ? ec_buf_steal(&b) : ec_xstrdup("");
}

char *go_unescape(const char *s)
{
    ec_buf b = EC_BUF_INIT;
    for (; *s; s++) {
        char c[2] = {*s, 0};
        if (isupper((unsigned char)*s)) {
            ec_buf_fini(&b);
            return NULL;
        }
        if (*s == '!') {
            if (!islower((unsigned char)s[1])) {
                ec_buf_fini(&b);
                return NULL;
            }
            c[0] = (char)toupper((unsigned char)*++s);
        }
        (void)ec_buf_adds(&b, c, NULL);
    }
    return b.p ? ec_buf_steal(&b) : ec_xstrdup("");
}

/* go's module.MatchPrefixPatterns: each glob matches the path's prefix of as many
 * elements as the glob has. */
bool go_glob_match(const char *globs, const char *path)
{
    if (!globs)
        return false;
    for (const char *g = globs; *g;) {
        size_t n = strcspn(g, ",");
        char glob[512];
        snprintf(glob, sizeof glob, "%.*s", (int)(n < sizeof glob ? n : sizeof glob - 1), g);
        g += n + (g[n] == ',');
        char *t = glob;
        while (*t == ' ')
            t++;
        size_t tl = strlen(t);
        while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '/'))
            t[--tl] = '\0';
        if (!tl)
            continue;
        size_t elems = 1;
        for (char *c = t; *c; c++)
            elems += *c == '/';
        size_t cut = 0, seen = 0;
        while (path[cut] && !(path[cut] == '/' && ++seen == elems))
            cut++;
        if (seen + 1 < elems && !path[cut])
            continue; /* the path has fewer elements than the glob */
        char prefix[1024];
        snprintf(prefix, sizeof prefix, "%.*s", (int)cut, path);
        if (fnmatch(t, prefix, FNM_PATHNAME) == 0)
            return true;
    }
    return false;
}
