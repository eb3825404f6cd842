/* SPDX-License-Identifier: MIT */
/* Syntax of a go list entry: module/path[/cmd][@version], as `go install` takes it. */
#include "fetchers/go/go_int.h"

#include <ctype.h>
#include <string.h>

#define GO_WHAT "go module spec"
#define GO_HASH_MIN 7
#define GO_HASH_MAX 40

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

static bool go_is_hash(const char *p)
{
    size_t n = strlen(p);
    return n >= GO_HASH_MIN && n <= GO_HASH_MAX && strspn(p, "0123456789abcdefABCDEF") == n;
}

/* Accepted: "latest"; v-prefixed SemVer, which covers pseudo-versions
 * (v0.0.0-20240101120000-abcdef123456) and +incompatible; a commit hash.
 * Other go queries (v1.2 prefixes, <v1.2, upgrade, branch names) are not
 * accepted, so that a spec names one reproducible version or latest. */
static const char *go_version_problem(const char *p)
{
    if (!*p)
        return "missing version after '@'";
    if (strcmp(p, "latest") == 0 || go_is_hash(p))
        return NULL;
    if (*p == 'v') {
        p++;
        if (ec_spec_scan_semver(&p, false) && !*p)
            return NULL;
        return "malformed version: expected vMAJOR.MINOR.PATCH[-pre][+build] without leading zeros";
    }
    return "the version must be latest, vMAJOR.MINOR.PATCH (or a pseudo-version) or a commit hash";
}

int go_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, GO_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    size_t pn = strcspn(text, "@");
    const char *why = go_path_problem(text, pn);
    if (why)
        return ec_spec_fail(err, text, GO_WHAT, "%s", why);
    ec_spec_copy(out->name, text, pn);
    if (text[pn] == '@') {
        const char *version = text + pn + 1;
        if ((why = go_version_problem(version)))
            return ec_spec_fail(err, text, GO_WHAT, "%s", why);
        ec_spec_copy(out->constraint, version, strlen(version));
    }
    return EC_OK;
}
