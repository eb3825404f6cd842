/* SPDX-License-Identifier: MIT */
/* Syntax of a pip list entry: a PEP 508 requirement without a URL, with PEP 440 versions. */
#include "fetchers/pip/pip_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PIP_WHAT "pip requirement"
/* Parentheses in a marker nest at most this deep; the recursion stays small. */
#define PIP_MARKER_DEPTH 16

/* A recursive-descent scan over one requirement. The first failure is recorded
 * in err; every function returns EC_OK or EC_EINVAL and advances p. */
struct pip_scan {
    const char *text; /* the whole requirement, quoted in messages */
    const char *p;
    ec_err *err;
    int depth;
};

__attribute__((format(printf, 2, 3))) static int pip_fail(struct pip_scan *s, const char *fmt, ...)
{
    char reason[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return ec_spec_fail(s->err, s->text, PIP_WHAT, "%s", reason);
}

static void pip_skip_spaces(struct pip_scan *s)
{
    while (*s->p == ' ')
        s->p++;
}

/* The character at the cursor, printable for messages ("end" at the end). */
static const char *pip_here(const struct pip_scan *s, char buf[8])
{
    if (!*s->p)
        return "the end";
    snprintf(buf, 8, "'%c'", *s->p);
    return buf;
}

/* --- PEP 440 versions (the specifier forms of packaging.specifiers) --- */

enum {
    PIP_V_WILDCARD = 1u << 0, /* "==1.2.*" prefix match: == and != only */
    PIP_V_LOCAL = 1u << 1,    /* "+local" label: == and != only */
    PIP_V_TWO = 1u << 2,      /* at least two release segments: ~= */
};

static bool pip_sep(char c)
{
    return c == '-' || c == '_' || c == '.';
}

static void pip_scan_digits(const char **pp)
{
    while (isdigit((unsigned char)**pp))
        (*pp)++;
}

/* Matches one of @words (longest listed first) case-insensitively. */
static bool pip_scan_keyword(const char **pp, const char *const *words)
{
    for (; *words; words++) {
        size_t n = strlen(*words);
        if (strncasecmp(*pp, *words, n) == 0) {
            *pp += n;
            return true;
        }
    }
    return false;
}

/* [sep] keyword [sep] digits*: the shape of PEP 440's pre, post and dev parts. */
static bool pip_scan_suffix(const char **pp, const char *const *words)
{
    const char *q = *pp;
    if (pip_sep(*q))
        q++;
    if (!pip_scan_keyword(&q, words))
        return false;
    if (pip_sep(*q))
        q++;
    pip_scan_digits(&q);
    *pp = q;
    return true;
}

/* Release segments and the optional wildcard; returns a reason or NULL. */
static const char *pip_scan_release(const char **pp, unsigned flags, bool *wild)
{
    const char *p = *pp;
    int segments = 0;
    if (*p == 'v' || *p == 'V')
        p++;
    const char *epoch = p;
    pip_scan_digits(&epoch);
    if (epoch > p && *epoch == '!')
        p = epoch + 1;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return "expected a PEP 440 version such as 1.2.3";
        pip_scan_digits(&p);
        segments++;
        if (p[0] != '.' || !isdigit((unsigned char)p[1]))
            break;
        p++;
    }
    if ((flags & PIP_V_TWO) && segments < 2)
        return "~= needs a version with at least two parts (~=1.4)";
    *wild = p[0] == '.' && p[1] == '*';
    if (*wild && !(flags & PIP_V_WILDCARD))
        return "a '.*' wildcard is only allowed after == and !=";
    if (*wild)
        p += 2;
    *pp = p;
    return NULL;
}

/* Checks the @n bytes at @v as a PEP 440 version in a specifier; returns a reason or NULL. */
static const char *pip_version_problem(const char *v, size_t n, unsigned flags)
{
    static const char *const pre[] = {"preview", "alpha", "beta", "pre", "rc", "a", "b", "c", NULL};
    static const char *const post[] = {"post", "rev", "r", NULL};
    static const char *const dev[] = {"dev", NULL};
    const char *p = v, *end = v + n;
    bool wild;
    const char *why = pip_scan_release(&p, flags, &wild);
    if (why)
        return why;
    if (!wild) {
        pip_scan_suffix(&p, pre);
        if (p[0] == '-' && isdigit((unsigned char)p[1])) {
            p++; /* "1.0-1" is the post-release 1.0.post1 */
            pip_scan_digits(&p);
        } else {
            pip_scan_suffix(&p, post);
        }
        pip_scan_suffix(&p, dev);
    }
    if (p < end && *p == '+') {
        if (!(flags & PIP_V_LOCAL) || wild)
            return "a local version label (+...) is only allowed after == and !=, without '.*'";
        do {
            p++;
            if (!isalnum((unsigned char)*p))
                return "malformed local version label after '+'";
            while (isalnum((unsigned char)*p))
                p++;
        } while (p < end && pip_sep(*p));
    }
    return p == end ? NULL : "not a valid PEP 440 version";
}

/* --- names, extras, specifiers --- */

static bool pip_name_char(char c)
{
    return isalnum((unsigned char)c) || pip_sep(c);
}

/* PEP 508 identifier: [A-Za-z0-9] ([A-Za-z0-9._-]* [A-Za-z0-9])? */
static int pip_scan_identifier(struct pip_scan *s, const char *what)
{
    const char *start = s->p;
    if (!isalnum((unsigned char)*s->p))
        return pip_fail(s, "expected %s (letters, digits, '.', '_', '-')", what);
    while (pip_name_char(*s->p))
        s->p++;
    if (!isalnum((unsigned char)s->p[-1]))
        return pip_fail(s, "%s \"%.*s\" must end with a letter or digit", what, (int)(s->p - start),
                        start);
    return EC_OK;
}

static int pip_scan_extras(struct pip_scan *s)
{
    s->p++; /* '[' */
    pip_skip_spaces(s);
    while (*s->p != ']') {
        int r = pip_scan_identifier(s, "an extra name");
        if (r < 0)
            return r;
        pip_skip_spaces(s);
        if (*s->p == ',') {
            s->p++;
            pip_skip_spaces(s);
        } else if (*s->p != ']') {
            char here[8];
            return pip_fail(s, "expected ',' or ']' in extras, found %s", pip_here(s, here));
        }
    }
    s->p++;
    return EC_OK;
}

static bool pip_version_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("-_.*+!", c));
}

/* One specifier: operator, then a version as that operator allows it. */
static int pip_scan_specifier(struct pip_scan *s)
{
    static const struct {
        const char *op;
        unsigned flags;
    } ops[] = {
        {"===", 0},
        {"==", PIP_V_WILDCARD | PIP_V_LOCAL},
        {"!=", PIP_V_WILDCARD | PIP_V_LOCAL},
        {"~=", PIP_V_TWO},
        {"<=", 0},
        {">=", 0},
        {"<", 0},
        {">", 0},
    };
    size_t i = 0;
    while (i < sizeof ops / sizeof ops[0] && strncmp(s->p, ops[i].op, strlen(ops[i].op)) != 0)
        i++;
    if (i == sizeof ops / sizeof ops[0]) {
        if (*s->p == '=' || *s->p == '~')
            return pip_fail(s, "'%c' is not an operator (use == or ~=)", *s->p);
        char here[8];
        return pip_fail(s, "expected a version operator (==, !=, <, <=, >, >=, ~=, ===), found %s",
                        pip_here(s, here));
    }
    s->p += strlen(ops[i].op);
    pip_skip_spaces(s);
    const char *v = s->p;
    while (pip_version_char(*s->p))
        s->p++;
    if (s->p == v)
        return pip_fail(s, "missing version after '%s'", ops[i].op);
    const char *why = i == 0 ? NULL : pip_version_problem(v, (size_t)(s->p - v), ops[i].flags);
    if (why)
        return pip_fail(s, "%s: \"%.*s\"", why, (int)(s->p - v), v);
    return EC_OK;
}

/* Comma-separated specifiers, optionally in parentheses. */
static int pip_scan_specifiers(struct pip_scan *s)
{
    bool paren = *s->p == '(';
    if (paren) {
        s->p++;
        pip_skip_spaces(s);
    }
    for (;;) {
        int r = pip_scan_specifier(s);
        if (r < 0)
            return r;
        pip_skip_spaces(s);
        if (*s->p != ',')
            break;
        s->p++;
        pip_skip_spaces(s);
    }
    if (paren) {
        if (*s->p != ')')
            return pip_fail(s, "missing ')' after the version specifiers");
        s->p++;
    }
    return EC_OK;
}

/* --- environment markers --- */

static int pip_marker_or(struct pip_scan *s);

static bool pip_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Consumes the keyword @w when it stands alone at the cursor. */
static bool pip_take_word(struct pip_scan *s, const char *w)
{
    size_t n = strlen(w);
    pip_skip_spaces(s);
    if (strncmp(s->p, w, n) != 0 || pip_word_char(s->p[n]))
        return false;
    s->p += n;
    return true;
}

/* PEP 508's variables, PEP 751's extras and dependency_groups, and the
 * dotted legacy spellings packaging still accepts. */
static bool pip_marker_variable_known(const char *p, size_t n)
{
    /* clang-format off */
    static const char *const vars[] = {
        "python_version", "python_full_version", "os_name", "sys_platform",
        "platform_release", "platform_system", "platform_version", "platform_machine",
        "platform_python_implementation", "implementation_name", "implementation_version",
        "extra", "extras", "dependency_groups", "os.name", "sys.platform",
        "platform.version", "platform.machine", "platform.python_implementation",
        "python_implementation",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strlen(vars[i]) == n && strncmp(vars[i], p, n) == 0)
            return true;
    return false;
}

/* marker_var: a known variable or a quoted string ('...' or "..."). */
static int pip_marker_var(struct pip_scan *s)
{
    pip_skip_spaces(s);
    const char *start = s->p;
    if (*s->p == '"' || *s->p == '\'') {
        const char *close = strchr(s->p + 1, *s->p);
        if (!close)
            return pip_fail(s, "unterminated string in marker");
        s->p = close + 1;
        return EC_OK;
    }
    while (pip_word_char(*s->p))
        s->p++;
    if (s->p == start) {
        char here[8];
        return pip_fail(s, "expected a marker variable or a quoted string, found %s",
                        pip_here(s, here));
    }
    if (!pip_marker_variable_known(start, (size_t)(s->p - start)))
        return pip_fail(s, "unknown marker variable \"%.*s\"", (int)(s->p - start), start);
    return EC_OK;
}

static int pip_marker_op(struct pip_scan *s)
{
    static const char *const ops[] = {"===", "==", "!=", "<=", ">=", "~=", "<", ">"};
    pip_skip_spaces(s);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(s->p, ops[i], strlen(ops[i])) == 0) {
            s->p += strlen(ops[i]);
            return EC_OK;
        }
    if (pip_take_word(s, "in") || (pip_take_word(s, "not") && pip_take_word(s, "in")))
        return EC_OK;
    char here[8];
    return pip_fail(s,
                    "expected a marker operator (==, !=, <, <=, >, >=, ~=, ===, in, not in), "
                    "found %s",
                    pip_here(s, here));
}

/* marker_expr: var op var, or a parenthesised marker. */
static int pip_marker_expr(struct pip_scan *s)
{
    int r;
    pip_skip_spaces(s);
    if (*s->p == '(') {
        if (++s->depth > PIP_MARKER_DEPTH)
            return pip_fail(s, "marker parentheses nest too deep");
        s->p++;
        if ((r = pip_marker_or(s)) < 0)
            return r;
        pip_skip_spaces(s);
        if (*s->p != ')')
            return pip_fail(s, "missing ')' in marker");
        s->p++;
        s->depth--;
        return EC_OK;
    }
    if ((r = pip_marker_var(s)) < 0 || (r = pip_marker_op(s)) < 0)
        return r;
    return pip_marker_var(s);
}

static int pip_marker_and(struct pip_scan *s)
{
    int r = pip_marker_expr(s);
    while (r == EC_OK && pip_take_word(s, "and"))
        r = pip_marker_expr(s);
    return r;
}

static int pip_marker_or(struct pip_scan *s)
{
    int r = pip_marker_and(s);
    while (r == EC_OK && pip_take_word(s, "or"))
        r = pip_marker_and(s);
    return r;
}

/* --- whole requirement --- */

/* Copies [start, end) without surrounding spaces into @dst. */
static void pip_copy_trimmed(char *dst, const char *start, const char *end)
{
    while (start < end && *start == ' ')
        start++;
    while (end > start && end[-1] == ' ')
        end--;
    ec_spec_copy(dst, start, (size_t)(end - start));
}

/* ; marker, to the end of the text. */
static int pip_scan_marker(struct pip_scan *s, ec_spec *out)
{
    const char *start = ++s->p;
    pip_skip_spaces(s);
    if (!*s->p)
        return pip_fail(s, "missing environment marker after ';'");
    int r = pip_marker_or(s);
    if (r < 0)
        return r;
    pip_copy_trimmed(out->marker, start, s->p);
    pip_skip_spaces(s);
    return EC_OK;
}

/* name [extras] [specifiers] [; marker]: the name_req form of PEP 508. The
 * url_req form (name @ url) and pip's own options are refused by name. */
static int pip_scan_requirement(struct pip_scan *s, ec_spec *out)
{
    int r;
    const char *start;

    pip_skip_spaces(s);
    if (*s->p == '-')
        return pip_fail(s, "pip options (-e, -r, --hash, ...) are not supported");
    start = s->p;
    if ((r = pip_scan_identifier(s, "a package name")) < 0)
        return r;
    ec_spec_copy(out->name, start, (size_t)(s->p - start));
    pip_skip_spaces(s);
    if (*s->p == '[') {
        start = s->p + 1;
        if ((r = pip_scan_extras(s)) < 0)
            return r;
        pip_copy_trimmed(out->qualifier, start, s->p - 1);
        pip_skip_spaces(s);
    }
    if (*s->p == '@')
        return pip_fail(s, "URL requirements are not supported");
    if (*s->p && *s->p != ';') {
        start = s->p;
        if ((r = pip_scan_specifiers(s)) < 0)
            return r;
        const char *end = s->p;
        if (*start == '(') {
            start++;
            end--;
        }
        pip_copy_trimmed(out->constraint, start, end);
        pip_skip_spaces(s);
    }
    if (*s->p == ';' && (r = pip_scan_marker(s, out)) < 0)
        return r;
    if (*s->p) {
        char here[8];
        return pip_fail(s, "unexpected %s after the requirement%s", pip_here(s, here),
                        strchr("<>=!~", *s->p) ? " (separate version specifiers with ',')" : "");
    }
    return EC_OK;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncmp(s + n - k, suffix, k) == 0;
}

/* What pip reads as a path: it starts like one, has a slash, or names an archive. */
static bool pip_is_path(const char *text)
{
    size_t n = strcspn(text, ";");
    while (n && text[n - 1] == ' ')
        n--;
    if (memchr(text, '@', n)) /* name @ url: the scanner says so */
        return false;
    return strchr("./~", text[0]) || memchr(text, '/', n) || memchr(text, '\\', n) ||
           has_suffix(text, n, ".whl") || has_suffix(text, n, ".tar.gz") ||
           has_suffix(text, n, ".zip");
}

int pip_spec_parse(ec_spec *out, const char *text, ec_err *err)
{
    int r = ec_spec_check_text(text, PIP_WHAT, err);
    if (r < 0)
        return r;
    memset(out, 0, sizeof *out);

    struct pip_scan s = {.text = text, .p = text, .err = err};
    /* A bare URL (https://…, git+https://…) would otherwise fail as a
     * strange name; say what it is instead. */
    if (memmem(text, strcspn(text, ";"), "://", 3))
        return pip_fail(&s, "URL requirements are not supported");
    /* Likewise a path pip would install from (./pkg, /tmp/x.whl, dist/x.tar.gz). */
    if (pip_is_path(text))
        return pip_fail(&s, "path requirements (a directory or an archive) are not "
                        "supported: name the package, with a version if need be");
    return pip_scan_requirement(&s, out);
}
