/* SPDX-License-Identifier: MIT */
/* A module's version list (the proxy's @v/list answer, outside input) and the queries
 * that pick from it: latest, a prefix, a comparison, with retractions skipped. */
#include "fetchers/go/go_vlist.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

void go_vlist_free(go_vlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int vcmp_p(const void *a, const void *b)
{
    return go_vcmp(*(char *const *)a, *(char *const *)b);
}

void go_vlist_parse(go_vlist *out, char *text)
{
    memset(out, 0, sizeof *out);
    for (char *save = NULL, *t = text ? strtok_r(text, " \r\n\t", &save) : NULL; t;
         t = strtok_r(NULL, " \r\n\t", &save)) {
        if (!go_version_valid(t) || go_version_pseudo(t))
            continue;
        out->v = ec_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = ec_xstrdup(t);
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, vcmp_p);
}

/* "v1" or "v1.2": the highest version with that prefix. */
static bool prefix_query(const char *q)
{
    if (q[0] != 'v' || !q[1])
        return false;
    int dots = 0;
    for (const char *c = q + 1; *c; c++) {
        if (*c == '.' && (c[-1] == '.' || c == q + 1 || !c[1] || ++dots > 1))
            return false;
        if (*c != '.' && (*c < '0' || *c > '9'))
            return false;
    }
    return true;
}

go_qkind go_query_kind(const char *q, const char **arg)
{
    *arg = q;
    if (!strcmp(q, "latest") || !strcmp(q, "upgrade") || !strcmp(q, "patch"))
        return GO_Q_LATEST; /* nothing is selected before an install: all three mean latest */
    if (go_version_valid(q))
        return GO_Q_EXACT;
    if (q[0] == '<' || q[0] == '>') {
        bool eq = q[1] == '=';
        *arg = q + 1 + eq;
        return q[0] == '<' ? (eq ? GO_Q_LE : GO_Q_LT) : (eq ? GO_Q_GE : GO_Q_GT);
    }
    if (prefix_query(q))
        return GO_Q_PREFIX;
    return GO_Q_REV;
}

static bool prefix_match(const char *v, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(v, prefix, n) == 0 && (v[n] == '.' || v[n] == '-' || v[n] == '+' || !v[n]);
}

static bool allowed(go_qkind k, const char *arg, const char *v)
{
    switch (k) {
    case GO_Q_PREFIX: return prefix_match(v, arg);
    case GO_Q_LT: return go_vcmp(v, arg) < 0;
    case GO_Q_LE: return go_vcmp(v, arg) <= 0;
    case GO_Q_GT: return go_vcmp(v, arg) > 0;
    case GO_Q_GE: return go_vcmp(v, arg) >= 0;
    default: return true;
    }
}

const char *go_vlist_pick(const go_vlist *l, go_qkind k, const char *arg,
                          const go_modfile *retr)
{
    bool lowest = k == GO_Q_GT || k == GO_Q_GE;
    for (int pre = 0; pre < 2; pre++) {
        for (size_t j = 0; j < l->n; j++) {
            const char *v = l->v[lowest ? j : l->n - 1 - j];
            if (go_version_prerelease(v) != (pre == 1) || !allowed(k, arg, v))
                continue;
            if (retr && go_modfile_retracted(retr, v))
                continue;
            return v;
        }
    }
    return NULL;
}
