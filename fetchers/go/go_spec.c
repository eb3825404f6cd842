/* SPDX-License-Identifier: MIT */
/* Syntax of a go list entry: module/path[/cmd][@version], as `go install` takes it. */
#include "fetchers/go/go_int.h"

#include <ctype.h>
#include <string.h>


/* Characters of an import path element (golang.org/x/mod/module: letters,
 * digits, "-._~", and '+' which import paths allow beyond module paths). */
static bool go_path_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("-._~+", c));
}

/* The first element names a host: lowercase letters, digits, '-' and '.',
 * with at least one dot and no leading '-'. */
static const char *go_host_problem(const char *p, size_t n)
{
    if (!memchr(p, '.', n))
        return "the first path element must be a host name with a dot (example.com/...)";
    if (p[0] == '-')
        return "the host name may not start with '-'";
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) && p[i] != '-' &&
            p[i] != '.')
            return "the host name contains only lowercase letters, digits, '-' and '.'";
    return NULL;
}

static const char *go_path_problem(const char *p, size_t n)
{
    if (n == 0)
        return "missing module path";
    if (p[0] == '/' || p[n - 1] == '/')
        return "the module path may not start or end with '/'";
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && p[i] != '/') {
            if (!go_path_char(p[i]))
                return "path elements contain only letters, digits and '-', '.', '_', '~', '+'";
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return "the module path may not contain '//'";
        if (p[start] == '.' || p[i - 1] == '.')
            return "path elements may not start or end with '.' (no '.' or '..')";
        if (start == 0) {
            const char *why = go_host_problem(p, len);
            if (why)
                return why;
        }
        start = i + 1;
    }
    return NULL;
}

/* A revision name the proxy may resolve (a branch, a tag, a commit hash): go's
 * revision syntax, loosely; resolve says when no proxy resolves it. */
static bool go_is_revision(const char *p)
{
    size_t n = strlen(p);
    if (!n || n > 128 || p[0] == '-' || strstr(p, ".."))
        return false;
    for (const char *c = p; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("-._/", *c))
            return false;
    return true;
}

/* A version prefix "v1" or "v1.2". */
static bool go_is_prefix(const char *p)
{
    if (p[0] != 'v' || !isdigit((unsigned char)p[1]))
        return false;
    p++;
    for (int part = 0; part < 2; part++) {
        if (p[0] == '0' && isdigit((unsigned char)p[1]))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (!*p)
            return true;
        if (*p != '.' || part == 1 || !isdigit((unsigned char)p[1]))
            return false;
        p++;
    }
    return false;
}

static bool go_is_semver(const char *p)
{
    if (*p != 'v')
        return false;
    p++;
    return ec_spec_scan_semver(&p, false) && !*p;
}

/* go install's queries: latest, upgrade, patch; a full version (pseudo-versions and
 * +incompatible included); a prefix (v1, v1.2); <, <=, >, >= a version; a revision
 * (commit hash, branch, tag) that the proxy resolves. "none" removes and names nothing. */
static const char *go_version_problem(const char *p)
{
    if (!*p)
        return "missing version after '@'";
    if (!strcmp(p, "latest") || !strcmp(p, "upgrade") || !strcmp(p, "patch"))
        return NULL;
    if (!strcmp(p, "none"))
        return "@none removes a module; go install cannot install it";
    if (*p == '<' || *p == '>') {
        const char *v = p + 1 + (p[1] == '=');
        return go_is_semver(v) || go_is_prefix(v)
                   ? NULL : "a comparison needs a version: <v1.2.3, <=v1.2, >v1, >=v1.2.3";
    }
    if (*p == 'v' && isdigit((unsigned char)p[1]))
        return go_is_semver(p) || go_is_prefix(p)
                   ? NULL : "malformed version: expected vMAJOR[.MINOR[.PATCH[-pre][+build]]] "
                            "without leading zeros";
    if (go_is_revision(p))
        return NULL;
    return "the version must be latest, upgrade, patch, a version (v1.2.3, a pseudo-version), "
           "a prefix (v1, v1.2), a comparison (<v1.2.3) or a revision";
}

int go_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, GO_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    if (text[0] == '.' || text[0] == '/')
        return ec_spec_fail(err, text, GO_WHAT, "local paths are not supported: name a "
                            "package by its import path, as go install PKG@VERSION does");
    size_t pn = strcspn(text, "@");
    const char *why = go_path_problem(text, pn);
    if (why)
        return ec_spec_fail(err, text, GO_WHAT, "%s", why);
    ec_spec_copy(out->name, text, pn);
    if (text[pn] != '@')
        return ec_spec_fail(err, text, GO_WHAT, "a version is required, as go install needs "
                            "one outside a module: write %s@latest or %s@vX.Y.Z", text, text);
    {
        const char *version = text + pn + 1;
        if ((why = go_version_problem(version)))
            return ec_spec_fail(err, text, GO_WHAT, "%s", why);
        ec_spec_copy(out->constraint, version, strlen(version));
    }
    return EC_OK;
}
