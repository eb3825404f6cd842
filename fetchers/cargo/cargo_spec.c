/* SPDX-License-Identifier: MIT */
/* Syntax of a cargo list entry: crate[@version-or-requirement], as `cargo install` takes it:
 * a bare version is an exact pin, anything with an operator or '*' a requirement. */
#include "fetchers/cargo/cargo_int.h"

#include <ctype.h>
#include <string.h>

#define CARGO_WHAT "cargo crate spec"
#define CARGO_NAME_MAX 64
/* The semver crate refuses requirements with more comparators than this. */
#define CARGO_MAX_COMPARATORS 32

static const char *cargo_name_problem(const char *p, size_t n)
{
    if (n == 0)
        return "missing crate name";
    if (n > CARGO_NAME_MAX)
        return "crate names are at most 64 characters";
    if (!isalpha((unsigned char)p[0]))
        return "crate names start with a letter";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '_' && p[i] != '-')
            return "crate names contain only letters, digits, '_' and '-'";
    return NULL;
}

static void cargo_skip_spaces(const char **pp)
{
    while (**pp == ' ')
        (*pp)++;
}

static bool cargo_is_wildcard(char c)
{
    return c == '*' || c == 'x' || c == 'X';
}

/* A number the semver crate can hold in a u64: no leading zero, at most 19 digits. */
static bool cargo_scan_number(const char **pp)
{
    const char *start = *pp;
    return ec_spec_scan_number(pp, false) && *pp - start <= 19;
}

/* One comparator: [op] MAJOR[.MINOR|.*[.PATCH|.*]][-pre][+build]. A wildcard may
 * replace minor or patch, and nothing numeric may follow one; pre-release and
 * build need all three numbers, as in the semver crate. */
static const char *cargo_scan_comparator(const char **pp)
{
    const char *p = *pp;
    static const char *const ops[] = {">=", "<=", ">", "<", "=", "~", "^"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
            p += strlen(ops[i]);
            break;
        }
    cargo_skip_spaces(&p);
    if (!cargo_scan_number(&p))
        return "expected a major version number (no leading zeros)";
    bool wild = false, full = true;
    for (int part = 1; part < 3; part++) {
        if (*p != '.') {
            full = false;
            break;
        }
        p++;
        if (cargo_is_wildcard(*p)) {
            wild = true;
            p++;
        } else if (wild) {
            return "a number cannot follow a wildcard";
        } else if (!cargo_scan_number(&p)) {
            return "expected a version number (no leading zeros) or '*' after '.'";
        }
    }
    if ((*p == '-' || *p == '+') && (wild || !full))
        return "pre-release and build metadata need a full MAJOR.MINOR.PATCH version";
    if (*p == '-') {
        p++;
        if (!ec_spec_scan_idents(&p, true))
            return "malformed pre-release after '-'";
    }
    if (*p == '+') {
        p++;
        if (!ec_spec_scan_idents(&p, false))
            return "malformed build metadata after '+'";
    }
    cargo_skip_spaces(&p);
    *pp = p;
    return NULL;
}

/* A semver version is also a valid requirement (a caret one), so one grammar
 * covers both: `*` alone, or comparators separated by commas. */
static const char *cargo_requirement_problem(const char *p)
{
    cargo_skip_spaces(&p);
    if (!*p)
        return "missing version after '@'";
    if (*p == '*') {
        p++;
        cargo_skip_spaces(&p);
        return *p ? "nothing may follow a lone '*'" : NULL;
    }
    for (int n = 1;; n++) {
        const char *why = cargo_scan_comparator(&p);
        if (why)
            return why;
        if (!*p)
            return NULL;
        if (*p != ',')
            return "expected ',' between version comparators";
        if (n == CARGO_MAX_COMPARATORS)
            return "too many comparators (at most 32)";
        p++;
        cargo_skip_spaces(&p);
    }
}

/* `cargo install` installs from a registry, a git repository or a path, with features
 * chosen by flags; a spec names a registry crate only, so the other forms are refused by
 * what gives them away rather than by the name rules' vaguer words. */
static const char *cargo_unsupported_form(const char *text)
{
    if (strstr(text, "://") || strncmp(text, "git+", 4) == 0 || strncmp(text, "git@", 4) == 0)
        return "git and URL sources are not supported: give crate[@version] from the registry";
    if (text[0] == '/' || text[0] == '.' || text[0] == '~')
        return "path sources are not supported: give crate[@version] from the registry";
    if (text[0] == '-' || strstr(text, " --") || strchr(text, '['))
        return "flags and features (--features, --git, --path) are not supported: give "
               "crate[@version], which builds the crate's default features";
    return NULL;
}

/* As `cargo install NAME@VER`: a version with no operator and no '*' is an exact pin and
 * must be a whole MAJOR.MINOR.PATCH; "1.2" there is an error, not a range. */
static const char *cargo_bare_problem(const char *req)
{
    while (*req == ' ')
        req++;
    if (strchr("<>=^~", *req) || strchr(req, '*'))
        return NULL;
    const char *p = req;
    for (int part = 0; part < 3; part++) {
        if (part && *p++ != '.')
            return "a bare version is an exact pin and needs all of MAJOR.MINOR.PATCH, as "
                   "in `cargo install` (for a range, add an operator: '^1.2')";
        if (!cargo_scan_number(&p))
            return "a bare version is an exact pin and needs all of MAJOR.MINOR.PATCH, as "
                   "in `cargo install` (for a range, add an operator: '^1.2')";
    }
    return strchr(req, ',') ? "a bare version is an exact pin: a list needs an operator on "
                              "each comparator ('>=1.2.3, <2')"
                            : NULL;
}

int cargo_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, CARGO_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    const char *why = cargo_unsupported_form(text);
    if (why)
        return ec_spec_fail(err, text, CARGO_WHAT, "%s", why);
    size_t nn = strcspn(text, "@");
    why = cargo_name_problem(text, nn);
    if (why)
        return ec_spec_fail(err, text, CARGO_WHAT, "%s", why);
    ec_spec_copy(out->name, text, nn);
    if (text[nn] == '@') {
        const char *req = text + nn + 1;
        if ((why = cargo_requirement_problem(req)) || (why = cargo_bare_problem(req)))
            return ec_spec_fail(err, text, CARGO_WHAT, "%s", why);
        ec_spec_copy(out->constraint, req, strlen(req));
    }
    return EC_OK;
}
