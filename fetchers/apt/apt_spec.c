/* SPDX-License-Identifier: MIT */
/* Syntax of an apt list entry: name[:arch][=version] under Debian's name and version rules. */
#include "fetchers/apt/apt_int.h"
#include "fetchers/spec.h"

#include <ctype.h>
#include <string.h>

#define APT_WHAT "apt package"

static bool apt_name_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '+' || c == '-' ||
           c == '.';
}

/* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+ */
static const char *apt_name_problem(const char *p, size_t n)
{
    if (n == 0)
        return "missing package name";
    for (size_t i = 0; i < n; i++) {
        if (isupper((unsigned char)p[i]))
            return "package names are lowercase";
        if (p[i] == '/')
            return "a target release (name/suite) is not supported";
        if (!apt_name_char(p[i]))
            return "package names contain only a-z, 0-9, '+', '-' and '.'";
    }
    if (!isalnum((unsigned char)p[0]))
        return "package names start with a letter or digit";
    if (n < 2)
        return "package names are at least two characters long";
    return NULL;
}

/* Debian architectures are lowercase words joined by '-' (amd64, arm64, hurd-i386,
 * kfreebsd-amd64, all, any); new ports appear, so the pattern is checked, not a list. */
static const char *apt_arch_problem(const char *p, size_t n)
{
    if (n == 0)
        return "missing architecture after ':'";
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) && p[i] != '-')
            return "architectures contain only a-z, 0-9 and '-'";
    if (p[0] == '-' || p[n - 1] == '-')
        return "architectures do not start or end with '-'";
    return NULL;
}

static bool apt_all(const char *p, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && (!p[i] || !strchr(extra, p[i])))
            return false;
    return true;
}

/* deb-version(7): [epoch:]upstream[-revision]. The first ':' ends the epoch and
 * the last '-' starts the revision, as dpkg's parseversion splits them. */
static const char *apt_version_problem(const char *p, size_t n)
{
    const char *colon = memchr(p, ':', n);
    if (n == 0)
        return "missing version after '='";
    if (colon) {
        size_t en = (size_t)(colon - p);
        if (en == 0 || strspn(p, "0123456789") != en)
            return "the epoch before ':' must be a number";
        n -= en + 1;
        p = colon + 1;
    }
    size_t un = n;
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == '-') {
            un = i - 1;
            if (un + 1 == n)
                return "the revision after the last '-' is empty";
            if (!apt_all(p + un + 1, n - un - 1, "+.~"))
                return "revisions contain only letters, digits, '+', '.' and '~'";
            break;
        }
    if (un == 0)
        return "missing upstream version";
    if (!isdigit((unsigned char)p[0]))
        return "the upstream version must start with a digit";
    if (!apt_all(p, un, ".+~-:"))
        return "upstream versions contain only letters, digits, '.', '+', '~', '-' and ':'";
    return NULL;
}

int ec_apt_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, APT_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    size_t nn = strcspn(text, ":=");
    const char *why = apt_name_problem(text, nn);
    if (why)
        return ec_spec_fail(err, text, APT_WHAT, "%s", why);
    ec_spec_copy(out->name, text, nn);

    const char *p = text + nn;
    if (*p == ':') {
        size_t an = strcspn(++p, "=");
        if ((why = apt_arch_problem(p, an)))
            return ec_spec_fail(err, text, APT_WHAT, "%s", why);
        ec_spec_copy(out->qualifier, p, an);
        p += an;
    }
    if (*p == '=') {
        p++;
        if ((why = apt_version_problem(p, strlen(p))))
            return ec_spec_fail(err, text, APT_WHAT, "%s", why);
        ec_spec_copy(out->constraint, p, strlen(p));
    }
    return EC_OK;
}
