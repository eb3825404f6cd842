/* SPDX-License-Identifier: MIT */
/* Syntax of a gem list entry: gem[:version-or-requirement], RubyGems' name and version rules. */
#include "fetchers/gem/gem_int.h"

#include <ctype.h>
#include <string.h>

#define GEM_WHAT "gem spec"

/* Gem::Specification#validate_name: [A-Za-z0-9._-]+ with at least one letter,
 * not starting with '.', '-' or '_'. */
static const char *gem_name_problem(const char *p, size_t n)
{
    bool letter = false;
    if (n == 0)
        return "missing gem name";
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)p[i]) && (!p[i] || !strchr("._-", p[i])))
            return "gem names contain only letters, digits, '.', '_' and '-'";
        letter = letter || isalpha((unsigned char)p[i]);
    }
    if (!letter)
        return "gem names include at least one letter";
    if (!isalnum((unsigned char)p[0]))
        return "gem names do not start with '.', '_' or '-'";
    return NULL;
}

static void gem_skip_spaces(const char **pp)
{
    while (**pp == ' ')
        (*pp)++;
}

static bool gem_pre_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

/* Gem::Version::VERSION_PATTERN:
 * [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)? */
static bool gem_scan_version(const char **pp)
{
    const char *p = *pp;
    if (!ec_spec_scan_number(&p, true))
        return false;
    while (*p == '.' && isalnum((unsigned char)p[1]))
        for (p++; isalnum((unsigned char)*p); p++)
            ;
    if (*p == '-' && gem_pre_char(p[1])) {
        do {
            for (p++; gem_pre_char(*p); p++)
                ;
        } while (*p == '.' && gem_pre_char(p[1]));
    }
    *pp = p;
    return true;
}

/* Gem::Requirement: [op] version, op one of = != > < >= <= ~>; commas join
 * several, as `gem install -v` splits them. */
static const char *gem_requirement_problem(const char *p)
{
    static const char *const ops[] = {"~>", ">=", "<=", "!=", "=", ">", "<"};
    gem_skip_spaces(&p);
    if (!*p)
        return "missing version after ':'";
    for (;;) {
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
                p += strlen(ops[i]);
                break;
            }
        gem_skip_spaces(&p);
        if (!gem_scan_version(&p))
            return "expected a version such as 7.1.0 (optionally after =, !=, >, <, >=, <=, ~>)";
        if (*p && *p != ' ' && *p != ',')
            return "malformed version (digits, then '.'-separated letters or digits)";
        gem_skip_spaces(&p);
        if (!*p)
            return NULL;
        if (*p != ',')
            return "expected ',' between version requirements";
        p++;
        gem_skip_spaces(&p);
    }
}

static bool gem_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool gem_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* @key ("git:") as a Gemfile option: at the start or after a space or comma, so that
 * "xpath:3.2" or "legit:1.0" (a name, then a version) is not taken for one. */
static bool gem_option(const char *t, const char *key)
{
    for (const char *p = strstr(t, key); p; p = strstr(p + 1, key))
        if (p == t || p[-1] == ' ' || p[-1] == ',')
            return true;
    return false;
}

/* Gemfile's other sources, written as a spec: named, so the user learns that the form is
 * known and not taken, rather than that a name has a bad character. */
static const char *gem_source_problem(const char *t)
{
    if (strstr(t, "://") || gem_starts(t, "git@") || gem_starts(t, "git+") ||
        gem_option(t, "github:") || gem_option(t, "git:") || gem_ends(t, ".git"))
        return "git and URL sources are not supported: gems come from the gem source "
               "(the compact index); give the gem's name and optionally ':' and a version "
               "requirement, as in rack:~> 2.2";
    if (gem_starts(t, "/") || gem_starts(t, "./") || gem_starts(t, "../") ||
        gem_starts(t, "~/") || gem_option(t, "path:") || gem_ends(t, ".gem"))
        return "path sources and local .gem files are not supported: gems come from the "
               "gem source (the compact index); publish the gem there, or serve a source "
               "that has it and set ENVCACHE_GEM_SOURCE";
    return NULL;
}

int gem_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, GEM_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    const char *why = gem_source_problem(text);
    if (why)
        return ec_spec_fail(err, text, GEM_WHAT, "%s", why);
    size_t nn = strcspn(text, ":");
    why = gem_name_problem(text, nn);
    if (why)
        return ec_spec_fail(err, text, GEM_WHAT, "%s", why);
    ec_spec_copy(out->name, text, nn);
    if (text[nn] == ':') {
        const char *req = text + nn + 1;
        if ((why = gem_requirement_problem(req)))
            return ec_spec_fail(err, text, GEM_WHAT, "%s", why);
        ec_spec_copy(out->constraint, req, strlen(req));
    }
    return EC_OK;
}
