/* SPDX-License-Identifier: MIT */
/* The wheel pip will most likely pick from a project page, for the Python a resolve runs
 * on: what the mirror fetches the metadata of before pip asks (pip_metadata.c). Only a
 * guess, never a choice: pip still resolves alone, and a wrong guess costs one download
 * that pip did not need. So the rules are pip's in their common cases and skip the rest:
 * final and post releases only (no pre-releases, no dev releases, no local versions), the
 * newest one whose file fits the interpreter's tags and whose Requires-Python admits it,
 * and within that version the file with the highest tag priority (an sdist there means
 * no guess: pip builds its metadata). A specifier this code does not read admits
 * everything. */
#include "fetchers/pip/pip_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define REL_MAX 8

typedef struct pver {
    long epoch;
    long rel[REL_MAX];
    int nrel;
    long post; /* -1: none */
} pver;

/* A final or post release ("1!2.0.3.post1", "v1.0-1"); false for anything else. */
static bool pver_parse(pver *v, const char *s, size_t n)
{
    EC_AUTOFREE char *t = ec_xstrndup(s, n);
    for (char *c = t; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const char *p = t + (t[0] == 'v');
    char *end;
    memset(v, 0, sizeof *v);
    v->post = -1;
    if (!isdigit((unsigned char)*p))
        return false;
    long first = strtol(p, &end, 10);
    if (*end == '!') {
        v->epoch = first;
        p = end + 1;
        if (!isdigit((unsigned char)*p))
            return false;
        first = strtol(p, &end, 10);
    }
    v->rel[v->nrel++] = first;
    p = end;
    while (*p == '.' && isdigit((unsigned char)p[1])) {
        long x = strtol(p + 1, &end, 10);
        if (v->nrel < REL_MAX)
            v->rel[v->nrel++] = x;
        p = end;
    }
    if (!*p)
        return true;
    if (*p == '-' && isdigit((unsigned char)p[1])) /* "1.0-1": a post release */
        return v->post = strtol(p + 1, &end, 10), !*end;
    if (*p == '.' || *p == '_' || *p == '-')
        p++;
    size_t k = strncmp(p, "post", 4) == 0 ? 4 : strncmp(p, "rev", 3) == 0 ? 3 : *p == 'r' ? 1 : 0;
    if (!k)
        return false; /* pre, dev, local or not a version */
    p += k;
    if (*p == '.' || *p == '_' || *p == '-')
        p++;
    v->post = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : 0;
    return isdigit((unsigned char)*p) ? !*end : !*p;
}

static int pver_cmp(const pver *a, const pver *b)
{
    if (a->epoch != b->epoch)
        return a->epoch < b->epoch ? -1 : 1;
    int n = a->nrel > b->nrel ? a->nrel : b->nrel;
    for (int i = 0; i < n; i++) {
        long x = i < a->nrel ? a->rel[i] : 0, y = i < b->nrel ? b->rel[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a->post == b->post ? 0 : a->post < b->post ? -1 : 1;
}

/* "==X.Y.*": @v's release starts with @w's. */
static bool prefix_match(const pver *v, const pver *w)
{
    if (v->epoch != w->epoch)
        return false;
    for (int i = 0; i < w->nrel; i++)
        if ((i < v->nrel ? v->rel[i] : 0) != w->rel[i])
            return false;
    return true;
}

/* One clause ("~=1.4", ">= 2", "!=3.0.*") against @v; true when this code cannot read it. */
static bool clause_ok(const pver *v, const char *vtext, const char *c, size_t n)
{
    while (n && isspace((unsigned char)*c))
        c++, n--;
    while (n && isspace((unsigned char)c[n - 1]))
        n--;
    size_t k = strspn(c, "<>=!~");
    if (k == 0 || k > 3 || k > n)
        return true;
    char op[4] = {0};
    memcpy(op, c, k);
    const char *w = c + k;
    size_t wn = n - k;
    while (wn && isspace((unsigned char)*w))
        w++, wn--;
    if (strcmp(op, "===") == 0)
        return strlen(vtext) == wn && strncmp(vtext, w, wn) == 0;
    bool wild = wn > 2 && strncmp(w + wn - 2, ".*", 2) == 0;
    pver want;
    if (!pver_parse(&want, w, wild ? wn - 2 : wn))
        return true;
    int cmp = pver_cmp(v, &want);
    if (strcmp(op, "==") == 0)
        return wild ? prefix_match(v, &want) : cmp == 0;
    if (strcmp(op, "!=") == 0)
        return wild ? !prefix_match(v, &want) : cmp != 0;
    if (wild)
        return true;
    if (strcmp(op, ">=") == 0)
        return cmp >= 0;
    if (strcmp(op, "<=") == 0)
        return cmp <= 0;
    if (strcmp(op, ">") == 0)
        return cmp > 0;
    if (strcmp(op, "<") == 0)
        return cmp < 0;
    if (strcmp(op, "~=") == 0 && want.nrel >= 2) {
        pver pre = want;
        pre.nrel--;
        return cmp >= 0 && prefix_match(v, &pre);
    }
    return true;
}

bool pip_guess_spec_ok(const char *version, const char *spec)
{
    pver v;
    if (!spec || !*spec)
        return true;
    if (!pver_parse(&v, version, strlen(version)))
        return true;
    for (const char *p = spec; *p;) {
        size_t n = strcspn(p, ",");
        if (!clause_ok(&v, version, p, n))
            return false;
        p += n + (p[n] == ',');
    }
    return true;
}

/* --- wheel tags --- */

typedef struct target {
    long major, minor;
    bool cpython;
    char machine[32];
    long libc_major, libc_minor;
    bool musl;
} target;

static bool target_parse(target *t, const json_t *probe)
{
    const char *v = json_string_value(json_object_get(probe, "version"));
    const char *impl = json_string_value(json_object_get(probe, "implementation"));
    const char *m = json_string_value(json_object_get(probe, "machine"));
    const char *libc = json_string_value(json_object_get(probe, "libc"));
    memset(t, 0, sizeof *t);
    if (!v || !m || sscanf(v, "%ld.%ld", &t->major, &t->minor) != 2)
        return false;
    t->cpython = impl && strcmp(impl, "cpython") == 0;
    snprintf(t->machine, sizeof t->machine, "%s", m);
    if (libc && strncmp(libc, "glibc-", 6) == 0)
        sscanf(libc + 6, "%ld.%ld", &t->libc_major, &t->libc_minor);
    t->musl = libc && strncmp(libc, "musl", 4) == 0;
    return true;
}

/* A platform tag's rank (higher: pip prefers it), or -1 when it does not fit. */
static long plat_rank(const target *t, const char *p, size_t n)
{
    EC_AUTOFREE char *s = ec_xstrndup(p, n);
    if (strcmp(s, "any") == 0)
        return 0;
    size_t ml = strlen(t->machine), sl = strlen(s);
    if (sl <= ml + 1 || s[sl - ml - 1] != '_' || strcmp(s + sl - ml, t->machine) != 0)
        return -1;
    s[sl - ml - 1] = '\0';
    long x = 0, y = 0;
    if (strcmp(s, "linux") == 0)
        return 1;
    if (!t->musl && strcmp(s, "manylinux1") == 0)
        x = 2, y = 5;
    else if (!t->musl && strcmp(s, "manylinux2010") == 0)
        x = 2, y = 12;
    else if (!t->musl && strcmp(s, "manylinux2014") == 0)
        x = 2, y = 17;
    else if (sscanf(s, t->musl ? "musllinux_%ld_%ld" : "manylinux_%ld_%ld", &x, &y) != 2)
        return -1;
    if (t->musl || x > t->libc_major || (x == t->libc_major && y > t->libc_minor))
        return t->musl ? 2 + x * 1000 + y : -1;
    return 2 + x * 1000 + y;
}

/* An interpreter and ABI pair's rank, or -1: packaging.tags' order, coarsely. */
static long interp_rank(const target *t, const char *py, size_t pn, const char *abi,
                        size_t an, bool any)
{
    char me[16];
    snprintf(me, sizeof me, "cp%ld%ld", t->major, t->minor);
    bool cp_me = pn == strlen(me) && strncmp(py, me, pn) == 0;
    if (an == strlen(me) && strncmp(abi, me, an) == 0)
        return t->cpython && cp_me ? 5 : -1;
    if (an == 4 && strncmp(abi, "abi3", 4) == 0) {
        long maj = 0, min = 0;
        EC_AUTOFREE char *s = ec_xstrndup(py, pn);
        if (!t->cpython || sscanf(s, "cp%1ld%ld", &maj, &min) != 2 || maj != t->major ||
            min > t->minor)
            return -1;
        return 4;
    }
    if (an != 4 || strncmp(abi, "none", 4) != 0)
        return -1;
    if (cp_me)
        return t->cpython ? (any ? 2 : 3) : -1;
    EC_AUTOFREE char *s = ec_xstrndup(py, pn);
    long maj = 0, min = -1;
    if (s[0] != 'p' || s[1] != 'y' || !isdigit((unsigned char)s[2]))
        return -1;
    maj = s[2] - '0';
    if (s[3])
        min = strtol(s + 3, NULL, 10);
    if (maj != t->major || min > t->minor)
        return -1;
    return any ? 1 : 2;
}

/* The best rank of any tag a wheel's file name compresses ("cp311-cp311-manylinux_2_17_x86_64
 * .manylinux2014_x86_64"), or -1 when none fits; the version text in *@ver. */
static long wheel_rank(const target *t, const char *fn, char **ver)
{
    EC_AUTOFREE char *s = ec_xstrndup(fn, strlen(fn) - 4);
    char *part[7];
    int n = 0;
    for (char *save = NULL, *p = strtok_r(s, "-", &save); p && n < 7; p = strtok_r(NULL, "-", &save))
        part[n++] = p;
    if (n != 5 && n != 6)
        return -1;
    const char *py = part[n - 3], *abi = part[n - 2], *plat = part[n - 1];
    long best = -1;
    for (const char *a = plat; *a;) {
        size_t an = strcspn(a, ".");
        long pr = plat_rank(t, a, an);
        for (const char *b = py; pr >= 0 && *b;) {
            size_t bn = strcspn(b, ".");
            for (const char *c = abi; *c;) {
                size_t cn = strcspn(c, ".");
                long ir = interp_rank(t, b, bn, c, cn, pr == 0);
                if (ir >= 0 && ir * 100000 + pr > best)
                    best = ir * 100000 + pr;
                c += cn + (c[cn] == '.');
            }
            b += bn + (b[bn] == '.');
        }
        a += an + (a[an] == '.');
    }
    if (best >= 0)
        *ver = ec_xstrdup(part[1]);
    return best;
}

/* An sdist's version: what follows the project's name in "<name>-<version>.tar.gz". */
static char *sdist_version(const char *fn)
{
    size_t n = strlen(fn);
    size_t ext = n > 7 && strcmp(fn + n - 7, ".tar.gz") == 0 ? 7
                 : n > 4 && strcmp(fn + n - 4, ".zip") == 0  ? 4 : 0;
    if (!ext)
        return NULL;
    const char *dash = NULL;
    for (const char *p = fn; p < fn + n - ext; p++)
        if (*p == '-')
            dash = p;
    return dash ? ec_xstrndup(dash + 1, (size_t)(fn + n - ext - dash - 1)) : NULL;
}

char *pip_guess_wheel(const json_t *page, const json_t *probe, const char *spec)
{
    target t;
    if (!target_parse(&t, probe))
        return NULL;
    char pyv[32];
    snprintf(pyv, sizeof pyv, "%s", json_string_value(json_object_get(probe, "version")));
    pver best_v = {0};
    long best_rank = -1;
    char *best = NULL;
    bool have = false;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        json_t *y = json_object_get(f, "yanked");
        if (!fn || (y && !json_is_false(y)) ||
            !pip_guess_spec_ok(pyv, json_string_value(json_object_get(f, "requires-python"))))
            continue;
        EC_AUTOFREE char *ver = NULL;
        size_t n = strlen(fn);
        long rank = n > 4 && strcmp(fn + n - 4, ".whl") == 0 ? wheel_rank(&t, fn, &ver) : -2;
        if (rank == -2) { /* an sdist counts for its version, below every wheel */
            ver = sdist_version(fn);
            rank = ver ? -1 : -2;
        }
        pver v;
        if (!ver || rank < -1 || !pver_parse(&v, ver, strlen(ver)) || !pip_guess_spec_ok(ver, spec))
            continue;
        int c = have ? pver_cmp(&v, &best_v) : 1;
        if (c < 0 || (c == 0 && rank <= best_rank))
            continue;
        have = true;
        best_v = v;
        best_rank = rank;
        free(best);
        best = rank >= 0 ? ec_xstrdup(fn) : NULL;
    }
    return best;
}
