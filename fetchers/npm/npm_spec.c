/* SPDX-License-Identifier: MIT */
/* Syntax of an npm list entry: [@scope/]name[@range-or-tag] with node-semver ranges. */
#include "fetchers/npm/npm_int.h"
#include "fetchers/spec.h"

#include <ctype.h>
#include <string.h>

#define NPM_WHAT "npm spec"
#define NPM_NAME_MAX 214
#define NPM_UNSUPPORTED "this kind of spec is not supported (git/url/file/alias specs)"

/* --- names (validate-npm-package-name) --- */

/* What encodeURIComponent leaves alone, minus upper case. The old-package
 * characters ~'!()* are kept: packages that use them still install. */
static bool npm_name_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || (c && strchr("-._~'!()*", c));
}

static const char *npm_part_problem(const char *p, size_t n, const char *what)
{
    if (n == 0)
        return what;
    if (p[0] == '.' || p[0] == '_')
        return "names may not start with '.' or '_'";
    for (size_t i = 0; i < n; i++) {
        if (isupper((unsigned char)p[i]))
            return "names are lowercase";
        if (!npm_name_char(p[i]))
            return "names contain only a-z, 0-9 and -._~'!()*";
    }
    return NULL;
}

static const char *npm_name_problem(const char *p, size_t n)
{
    if (n > NPM_NAME_MAX)
        return "names are at most 214 characters";
    if (p[0] != '@') {
        if ((n == 12 && strncmp(p, "node_modules", n) == 0) ||
            (n == 11 && strncmp(p, "favicon.ico", n) == 0))
            return "this name is reserved";
        return npm_part_problem(p, n, "missing package name");
    }
    const char *slash = memchr(p, '/', n);
    if (!slash)
        return "a scoped name has the form @scope/name";
    size_t sn = (size_t)(slash - p - 1);
    const char *why = npm_part_problem(p + 1, sn, "missing scope after '@'");
    if (why)
        return why;
    return npm_part_problem(slash + 1, n - sn - 2, "missing package name after the scope");
}

/* --- ranges (node-semver, loose mode as npm-package-arg parses them) --- */

static void npm_skip_spaces(const char **pp)
{
    while (**pp == ' ')
        (*pp)++;
}

static bool npm_scan_xr(const char **pp)
{
    if (**pp == 'x' || **pp == 'X' || **pp == '*') {
        (*pp)++;
        return true;
    }
    return ec_spec_scan_number(pp, true);
}

/* partial: [v=]* xr ('.' xr ('.' xr [-pre] [+build])?)?  */
static bool npm_scan_partial(const char **pp)
{
    const char *p = *pp;
    while (*p == 'v' || *p == '=')
        p++;
    if (!npm_scan_xr(&p))
        return false;
    int parts = 1;
    for (; parts < 3 && *p == '.'; parts++) {
        p++;
        if (!npm_scan_xr(&p))
            return false;
    }
    /* A qualifier needs all three parts. */
    if (parts == 3 && !ec_spec_scan_qualifiers(&p, false))
        return false;
    *pp = p;
    return true;
}

/* simple: [op] partial, op one of < <= > >= = ~ ~> ^; spaces may follow an op. */
static bool npm_scan_simple(const char **pp)
{
    static const char *const ops[] = {"<=", ">=", "~>", "<", ">", "=", "~", "^"};
    const char *p = *pp;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
            p += strlen(ops[i]);
            npm_skip_spaces(&p);
            break;
        }
    if (!npm_scan_partial(&p))
        return false;
    *pp = p;
    return true;
}

static bool npm_at_range_end(const char *p)
{
    return !*p || strncmp(p, "||", 2) == 0;
}

/* hyphen: partial ' - ' partial, the whole of one range (node-semver anchors it). */
static bool npm_scan_hyphen(const char **pp)
{
    const char *p = *pp;
    if (!npm_scan_partial(&p) || *p != ' ')
        return false;
    npm_skip_spaces(&p);
    if (p[0] != '-' || p[1] != ' ')
        return false;
    p += 2;
    npm_skip_spaces(&p);
    if (!npm_scan_partial(&p))
        return false;
    npm_skip_spaces(&p);
    if (!npm_at_range_end(p))
        return false;
    *pp = p;
    return true;
}

/* range: a hyphen range, or simples separated by spaces (none means "*").
 * It ends at "||" or the end of the text. */
static bool npm_scan_range(const char **pp)
{
    const char *p = *pp;
    npm_skip_spaces(&p);
    if (npm_scan_hyphen(&p)) {
        *pp = p;
        return true;
    }
    while (!npm_at_range_end(p)) {
        if (!npm_scan_simple(&p))
            return false;
        if (*p && *p != ' ' && !npm_at_range_end(p))
            return false;
        npm_skip_spaces(&p);
    }
    *pp = p;
    return true;
}

static bool npm_range_ok(const char *p)
{
    for (;;) {
        if (!npm_scan_range(&p))
            return false;
        if (!*p)
            return true;
        p += 2; /* "||" */
    }
}

/* A dist-tag: what npm would otherwise read as a tag, kept to names that start
 * with a letter and cannot be mistaken for a malformed version (v1.2.3.4). */
static bool npm_tag_ok(const char *p)
{
    if (!isalpha((unsigned char)p[0]) || (p[0] == 'v' && isdigit((unsigned char)p[1])))
        return false;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
            return false;
    return true;
}

/* --- whole spec --- */

/* Git, URL, tarball, directory and alias specs are valid npm but not something
 * envcache resolves from a registry; they get their own message. */
static bool npm_is_unsupported(const char *text, size_t name_len)
{
    static const char *const tails[] = {".tgz", ".tar.gz", ".tar"};
    const char *version = text[name_len] ? text + name_len + 1 : "";
    size_t n = strlen(text);

    if (memchr(text, ':', name_len) || strpbrk(version, ":/"))
        return true; /* git+https:, github:, file:, npm: aliases, foo@user/repo */
    if (strncmp(text, "./", 2) == 0 || strncmp(text, "../", 3) == 0 || text[0] == '/' ||
        strncmp(text, "~/", 2) == 0)
        return true; /* a directory or tarball on disk */
    if (text[0] != '@' && memchr(text, '/', name_len))
        return true; /* user/repo shorthand */
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t tn = strlen(tails[i]);
        if (name_len == n && n > tn && strcmp(text + n - tn, tails[i]) == 0)
            return true;
    }
    return false;
}

int ec_npm_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, NPM_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    /* The version starts at the first '@' after a scope's leading one. */
    size_t nn = (text[0] == '@' ? 1 : 0) + strcspn(text + (text[0] == '@'), "@");
    if (npm_is_unsupported(text, nn))
        return ec_spec_fail(err, text, NPM_WHAT, NPM_UNSUPPORTED);
    const char *why = npm_name_problem(text, nn);
    if (why)
        return ec_spec_fail(err, text, NPM_WHAT, "%s", why);
    ec_spec_copy(out->name, text, nn);
    if (!text[nn])
        return EC_OK;

    const char *version = text + nn + 1;
    if (!*version)
        return ec_spec_fail(err, text, NPM_WHAT, "missing version, range or tag after '@'");
    if (!npm_range_ok(version) && !npm_tag_ok(version))
        return ec_spec_fail(err, text, NPM_WHAT,
                            "expected a version, a semver range (^1.2, ~1.2.3, >=1 <2, 1.x, "
                            "1 - 2, a || b) or a dist-tag");
    ec_spec_copy(out->constraint, version, strlen(version));
    return EC_OK;
}
