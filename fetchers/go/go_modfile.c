/* SPDX-License-Identifier: MIT */
/* The part of go.mod that selection reads: module, go, toolchain, require, retract, and
 * whether replace or exclude appear (go refuses them in the module `go install` builds). */
#include "fetchers/go/go_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define GO_MAXTOK 8

/* One line's tokens: words, quoted strings (unquoted), and '[' ']' ',' '(' ')' as their
 * own; a comment ends the line. @line is rewritten in place into @space (2x its size),
 * where every delimiter gets spaces around it. */
static size_t tokenize(const char *line, char *space, char *tok[GO_MAXTOK])
{
    char *w = space;
    for (const char *p = line; *p && !(p[0] == '/' && p[1] == '/'); p++) {
        if (*p == '"' || *p == '`') { /* a quoted word: copied up to its end, unquoted */
            char q = *p++;
            *w++ = ' ';
            while (*p && *p != q)
                *w++ = *p++;
            *w++ = ' ';
            if (!*p)
                break;
            continue;
        }
        if (strchr("[],()", *p)) {
            *w++ = ' ';
            *w++ = *p;
            *w++ = ' ';
        } else
            *w++ = *p;
    }
    *w = '\0';
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(space, " \t\r", &save); t && n < GO_MAXTOK;
         t = strtok_r(NULL, " \t\r", &save))
        tok[n++] = t;
    return n;
}

static void add_req(go_modfile *m, const char *path, const char *version)
{
    m->reqs = ec_xrealloc(m->reqs, (m->nreqs + 1) * sizeof *m->reqs);
    m->reqs[m->nreqs++] = (go_req){ec_xstrdup(path), ec_xstrdup(version)};
}

static void add_retract(go_modfile *m, const char *lo, const char *hi)
{
    m->retracts = ec_xrealloc(m->retracts, (m->nretracts + 1) * sizeof *m->retracts);
    m->retracts[m->nretracts++] = (go_retract){ec_xstrdup(lo), ec_xstrdup(hi)};
}

/* One directive's arguments (after the verb, or a line of its block). */
static int directive(go_modfile *m, const char *verb, char **a, size_t n, const char *what,
                     size_t lineno, ec_err *err)
{
    if (strcmp(verb, "module") == 0 && n >= 1) {
        free(m->module);
        m->module = ec_xstrdup(a[0]);
    } else if (strcmp(verb, "go") == 0 && n >= 1)
        snprintf(m->go, sizeof m->go, "%s", a[0]);
    else if (strcmp(verb, "toolchain") == 0 && n >= 1)
        snprintf(m->toolchain, sizeof m->toolchain, "%s", a[0]);
    else if (strcmp(verb, "require") == 0) {
        if (n < 2 || !go_version_valid(a[1]))
            return ec_fail(err, EC_EFORMAT, "%s: line %zu: require needs a module path and a "
                           "canonical version", what, lineno);
        add_req(m, a[0], a[1]);
    } else if (strcmp(verb, "retract") == 0) {
        if (n >= 5 && strcmp(a[0], "[") == 0 && strcmp(a[2], ",") == 0)
            add_retract(m, a[1], a[3]);
        else if (n >= 1 && strcmp(a[0], "[") != 0)
            add_retract(m, a[0], a[0]);
        else
            return ec_fail(err, EC_EFORMAT, "%s: line %zu: retract takes a version or "
                           "[low, high]", what, lineno);
    } else if (strcmp(verb, "replace") == 0)
        m->nreplace++;
    else if (strcmp(verb, "exclude") == 0)
        m->nexclude++;
    return EC_OK;
}

int go_modfile_parse(go_modfile *out, const char *text, size_t n, const char *what,
                     ec_err *err)
{
    memset(out, 0, sizeof *out);
    char *copy = ec_xstrndup(text, n);
    char block[16] = "";
    size_t lineno = 0;
    int r = EC_OK;
    for (char *line = copy, *next; line && r == EC_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *tok[GO_MAXTOK];
        EC_AUTOFREE char *space = ec_xmalloc(3 * strlen(line) + 1);
        size_t nt = tokenize(line, space, tok);
        if (!nt)
            continue;
        if (*block) {
            if (strcmp(tok[0], ")") == 0)
                block[0] = '\0';
            else
                r = directive(out, block, tok, nt, what, lineno, err);
            continue;
        }
        if (nt == 2 && strcmp(tok[1], "(") == 0) {
            snprintf(block, sizeof block, "%s", tok[0]);
            continue;
        }
        r = directive(out, tok[0], tok + 1, nt - 1, what, lineno, err);
    }
    free(copy);
    if (r == EC_OK && !out->module)
        r = ec_fail(err, EC_EFORMAT, "%s has no module line", what);
    if (r < 0)
        go_modfile_fini(out);
    return r;
}

void go_modfile_fini(go_modfile *m)
{
    for (size_t i = 0; i < m->nreqs; i++) {
        free(m->reqs[i].path);
        free(m->reqs[i].version);
    }
    for (size_t i = 0; i < m->nretracts; i++) {
        free(m->retracts[i].lo);
        free(m->retracts[i].hi);
    }
    free(m->reqs);
    free(m->retracts);
    free(m->module);
    memset(m, 0, sizeof *m);
}

bool go_modfile_retracted(const go_modfile *m, const char *version)
{
    for (size_t i = 0; i < m->nretracts; i++)
        if (go_vcmp(m->retracts[i].lo, version) <= 0 && go_vcmp(version, m->retracts[i].hi) <= 0)
            return true;
    return false;
}
