/* SPDX-License-Identifier: MIT */
/* node-semver's own fixture cases (range-include, range-exclude, comparisons,
 * range-parse), loose=false and includePrerelease=false, as a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fetchers/npm/semver.h"

struct inc_case {
    const char *range, *version;
    bool in;
};

/* clang-format off */
#define IN(r, v) {r, v, true}
#define OUT(r, v) {r, v, false}
static const struct inc_case inc_cases[] = {
    /* range-include */
    IN("1.0.0 - 2.0.0", "1.2.3"),
    IN("^1.2.3+build", "1.2.3"),
    IN("^1.2.3+build", "1.3.0"),
    IN("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"),
    IN("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2"),
    IN("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"),
    IN("1.2.3+asdf - 2.4.3+asdf", "1.2.3"),
    IN("1.0.0", "1.0.0"),
    IN(">=*", "0.2.4"),
    IN("", "1.0.0"),
    IN("*", "1.2.3"),
    IN(">=1.0.0", "1.0.0"),
    IN(">=1.0.0", "1.0.1"),
    IN(">=1.0.0", "1.1.0"),
    IN(">1.0.0", "1.0.1"),
    IN(">1.0.0", "1.1.0"),
    IN("<=2.0.0", "2.0.0"),
    IN("<=2.0.0", "1.9999.9999"),
    IN("<=2.0.0", "0.2.9"),
    IN("<2.0.0", "1.9999.9999"),
    IN("<2.0.0", "0.2.9"),
    IN(">= 1.0.0", "1.0.0"),
    IN(">=  1.0.0", "1.0.1"),
    IN(">=   1.0.0", "1.1.0"),
    IN("> 1.0.0", "1.0.1"),
    IN(">  1.0.0", "1.1.0"),
    IN("<=   2.0.0", "2.0.0"),
    IN("<= 2.0.0", "1.9999.9999"),
    IN("<=  2.0.0", "0.2.9"),
    IN("<    2.0.0", "1.9999.9999"),
    IN("<\t2.0.0", "0.2.9"),
    IN(">=0.1.97", "v0.1.97"),
    IN(">=0.1.97", "0.1.97"),
    IN("0.1.20 || 1.2.4", "1.2.4"),
    IN(">=0.2.3 || <0.0.1", "0.0.0"),
    IN(">=0.2.3 || <0.0.1", "0.2.3"),
    IN(">=0.2.3 || <0.0.1", "0.2.4"),
    IN("||", "1.3.4"),
    IN("2.x.x", "2.1.3"),
    IN("1.2.x", "1.2.3"),
    IN("1.2.x || 2.x", "2.1.3"),
    IN("1.2.x || 2.x", "1.2.3"),
    IN("x", "1.2.3"),
    IN("2.*.*", "2.1.3"),
    IN("1.2.*", "1.2.3"),
    IN("1.2.* || 2.*", "2.1.3"),
    IN("1.2.* || 2.*", "1.2.3"),
    IN("*", "1.2.3"),
    IN("2", "2.1.2"),
    IN("2.3", "2.3.1"),
    IN("~0.0.1", "0.0.1"),
    IN("~0.0.1", "0.0.2"),
    IN("~x", "0.0.9"),
    IN("~2", "2.0.9"),
    IN("~2.4", "2.4.0"),
    IN("~2.4", "2.4.5"),
    IN("~>3.2.1", "3.2.2"),
    IN("~1", "1.2.3"),
    IN("~>1", "1.2.3"),
    IN("~> 1", "1.2.3"),
    IN("~1.0", "1.0.2"),
    IN("~ 1.0", "1.0.2"),
    IN("~ 1.0.3", "1.0.12"),
    OUT("~ 1.0.3alpha", "1.0.12"), /* only in loose mode */
    IN(">=1", "1.0.0"),
    IN(">= 1", "1.0.0"),
    IN("<1.2", "1.1.1"),
    IN("< 1.2", "1.1.1"),
    IN("~v0.5.4-pre", "0.5.5"),
    IN("~v0.5.4-pre", "0.5.4"),
    IN("=0.7.x", "0.7.2"),
    IN("<=0.7.x", "0.7.2"),
    IN(">=0.7.x", "0.7.2"),
    IN("<=0.7.x", "0.6.2"),
    IN("~1.2.1 >=1.2.3", "1.2.3"),
    IN("~1.2.1 =1.2.3", "1.2.3"),
    IN("~1.2.1 1.2.3", "1.2.3"),
    IN("~1.2.1 >=1.2.3 1.2.3", "1.2.3"),
    IN("~1.2.1 1.2.3 >=1.2.3", "1.2.3"),
    IN(">=1.2.1 1.2.3", "1.2.3"),
    IN("1.2.3 >=1.2.1", "1.2.3"),
    IN(">=1.2.3 >=1.2.1", "1.2.3"),
    IN(">=1.2.1 >=1.2.3", "1.2.3"),
    IN(">=1.2", "1.2.8"),
    IN("^1.2.3", "1.8.1"),
    IN("^0.1.2", "0.1.2"),
    IN("^0.1", "0.1.2"),
    IN("^0.0.1", "0.0.1"),
    IN("^1.2", "1.4.2"),
    IN("^1.2 ^1", "1.4.2"),
    IN("^1.2.3-alpha", "1.2.3-pre"),
    IN("^1.2.0-alpha", "1.2.0-pre"),
    IN("^0.0.1-alpha", "0.0.1-beta"),
    IN("^0.0.1-alpha", "0.0.1"),
    IN("^0.1.1-alpha", "0.1.1-beta"),
    IN("^x", "1.2.3"),
    IN("x - 1.0.0", "0.9.7"),
    IN("x - 1.x", "0.9.7"),
    IN("1.0.0 - x", "1.9.7"),
    IN("1.x - x", "1.9.7"),
    IN("<=7.x", "7.9.9"),
    IN("2.x", "2.0.0"),
    IN("^1.x", "1.9.9"),
    IN("^0.x", "0.9.9"),
    IN("^0.0.x", "0.0.9"),
    IN("^ 1.2", "1.9.0"),
    IN("1.2.3 - 2", "2.9.9"),
    IN("1.2 - 2.3.4", "1.2.0"),
    IN("v1.2.3", "1.2.3"),
    IN("=1.2.3", "1.2.3"),
    IN(">1.2.3-alpha.3", "1.2.3-alpha.7"),
    IN(">=1.2.3-alpha.3", "1.2.3-alpha.3"),
    IN("1.2.3-alpha.10", "1.2.3-alpha.10"),
    IN("^1.2.3-beta.2", "1.2.3-beta.4"),
    IN("^1.2.3-beta.2", "1.2.3"),
    IN("~1.2.3-beta.2", "1.2.3-beta.4"),
    IN("<1.2.3-rc.2", "1.2.3-rc.1"),
    IN(">=1.0.0-rc.1 <2", "1.0.0-rc.2"),
    IN("*", "1.0.0+build"),
    IN("1.2.3 - 2.3.4", "2.3.4"),
    IN("^0.0.3", "0.0.3"),
    IN("^0.2.3", "0.2.9"),
    IN(">1.2.3-alpha.3", "1.2.3-alpha.10"),
    IN(">1.2.3-alpha.9", "1.2.3-alpha.10"),
    IN(">1.2.3-alpha", "1.2.3-alpha.1"),
    IN(">1.2.3-1", "1.2.3-a"),
    IN(">=1.x <3", "2.0.0"),

    /* range-exclude */
    OUT("1.0.0 - 2.0.0", "2.2.3"),
    OUT("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"),
    OUT("1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha"),
    OUT("^1.2.3+build", "2.0.0"),
    OUT("^1.2.3+build", "1.2.0"),
    OUT("^1.2.3", "1.2.3-pre"),
    OUT("^1.2", "1.2.0-pre"),
    OUT(">1.2", "1.3.0-beta"),
    OUT("<=1.2.3", "1.2.3-beta"),
    OUT("^1.2.3", "1.2.3-beta"),
    OUT("=0.7.x", "0.7.0-asdf"),
    OUT(">=0.7.x", "0.7.0-asdf"),
    OUT("<=0.7.x", "0.7.0-asdf"),
    OUT("1", "1.0.0beta"),
    OUT("<1", "1.0.0beta"),
    OUT("< 1", "1.0.0beta"),
    OUT("1.0.0", "1.0.1"),
    OUT(">=1.0.0", "0.0.0"),
    OUT(">=1.0.0", "0.0.1"),
    OUT(">=1.0.0", "0.1.0"),
    OUT(">1.0.0", "0.0.1"),
    OUT(">1.0.0", "0.1.0"),
    OUT("<=2.0.0", "3.0.0"),
    OUT("<=2.0.0", "2.9999.9999"),
    OUT("<=2.0.0", "2.2.9"),
    OUT("<2.0.0", "2.9999.9999"),
    OUT("<2.0.0", "2.2.9"),
    OUT(">=0.1.97", "v0.1.93"),
    OUT(">=0.1.97", "0.1.93"),
    OUT("0.1.20 || 1.2.4", "1.2.3"),
    OUT(">=0.2.3 || <0.0.1", "0.0.3"),
    OUT(">=0.2.3 || <0.0.1", "0.2.2"),
    OUT("2.x.x", "1.1.3"),
    OUT("2.x.x", "3.1.3"),
    OUT("1.2.x", "1.3.3"),
    OUT("1.2.x || 2.x", "3.1.3"),
    OUT("1.2.x || 2.x", "1.1.3"),
    OUT("2.*.*", "1.1.3"),
    OUT("2.*.*", "3.1.3"),
    OUT("1.2.*", "1.3.3"),
    OUT("1.2.* || 2.*", "3.1.3"),
    OUT("1.2.* || 2.*", "1.1.3"),
    OUT("2", "1.1.2"),
    OUT("2.3", "2.4.1"),
    OUT("~0.0.1", "0.1.0-alpha"),
    OUT("~0.0.1", "0.1.0"),
    OUT("~2.4", "2.5.0"),
    OUT("~2.4", "2.3.9"),
    OUT("~>3.2.1", "3.3.2"),
    OUT("~>3.2.1", "3.2.0"),
    OUT("~1", "0.2.3"),
    OUT("~>1", "2.2.3"),
    OUT("~1.0", "1.1.0"),
    OUT("<1", "1.0.0"),
    OUT(">=1.2", "1.1.1"),
    OUT("1", "2.0.0beta"),
    OUT("~v0.5.4-beta", "0.5.4-alpha"),
    OUT("=0.7.x", "0.8.2"),
    OUT(">=0.7.x", "0.6.2"),
    OUT("<0.7.x", "0.7.2"),
    OUT("<1.2.3", "1.2.3-beta"),
    OUT("=1.2.3", "1.2.3-beta"),
    OUT(">1.2", "1.2.8"),
    OUT("^0.0.1", "0.0.2-alpha"),
    OUT("^0.0.1", "0.0.2"),
    OUT("^1.2.3", "2.0.0-alpha"),
    OUT("^1.2.3", "1.2.2"),
    OUT("^1.2", "1.1.9"),
    OUT("*", "v1.2.3-foo"),
    OUT("*", "1.2.3-foo"),
    OUT("", "1.0.0-rc.1"),
    OUT("x", "1.0.0-alpha"),
    OUT("blerg", "1.2.3"),
    OUT("git+https://user:password0123@github.com/foo", "123.0.0"),
    OUT("^1.2.3", "2.0.0-pre"),
    OUT("0.x", "1.0.0"),
    OUT("^0.2.3", "0.3.0"),
    OUT("^0.0.3", "0.0.4"),
    OUT("^0.x", "1.0.0"),
    OUT("^0.0.x", "0.1.0"),
    OUT("^1.x", "2.0.0"),
    OUT("~1.2.3", "1.3.0"),
    OUT(">1.2.3-alpha.3", "3.4.5-alpha.9"),
    OUT("1.2.3 - 2.3.4", "2.3.5"),
    OUT("1.2.3 - 2.3", "2.4.0"),
    OUT("1.2.3 - 2.3", "2.4.0-0"),
    OUT(">=1.0.0 <2.0.0", "2.0.0-0"),
    OUT("^1.0.0", "1.5.0-beta"),
    OUT(">1.2.3-alpha.10", "1.2.3-alpha.9"),
    OUT("<1.2.3-alpha", "1.2.3-alpha"),
    OUT(">=1.2.3 <1.2.3", "1.2.3"),
    OUT("<=7.x", "8.0.0"),
    OUT("^1.2.3-beta.2", "1.2.4-beta.2"),
    OUT("1.2.3 | 2.0.0", "1.2.3"),
    OUT(">=1.0.0 ||| 2.0.0", "1.0.0" ),
    OUT("01.2.3", "1.2.3"),
    OUT("1.2.3-01", "1.2.3-01"),
    OUT(">*", "1.0.0"),
    OUT("<*", "1.0.0"),
    OUT("<0.0.0-0", "0.0.0"),
};
/* clang-format on */

static void semver__range_include_exclude(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(inc_cases) / sizeof(inc_cases[0]); i++) {
        const struct inc_case *c = &inc_cases[i];
        if (ec_semver_satisfies(c->version, c->range) != c->in) {
            print_error("satisfies(\"%s\", \"%s\") should be %s\n", c->version, c->range,
                        c->in ? "true" : "false");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

struct cmp_case {
    const char *a, *b;
};
/* each pair: a > b (node-semver's comparisons fixture) */
static const struct cmp_case cmp_cases[] = {
    {"0.0.0", "0.0.0-foo"},
    {"0.0.1", "0.0.0"},
    {"1.0.0", "0.9.9"},
    {"0.10.0", "0.9.0"},
    {"0.99.0", "0.10.0"},
    {"2.0.0", "1.2.3"},
    {"v0.0.0", "0.0.0-foo"},
    {"v0.0.1", "0.0.0"},
    {"v1.0.0", "0.9.9"},
    {"v0.10.0", "0.9.0"},
    {"v0.99.0", "0.10.0"},
    {"v2.0.0", "1.2.3"},
    {"1.2.3", "1.2.3-asdf"},
    {"1.2.3", "1.2.3-4"},
    {"1.2.3", "1.2.3-4-foo"},
    {"1.2.3-5-foo", "1.2.3-5"},
    {"1.2.3-5", "1.2.3-4"},
    {"1.2.3-5-foo", "1.2.3-5-Foo"},
    {"3.0.0", "2.7.2+asdf"},
    {"1.2.3-a.10", "1.2.3-a.5"},
    {"1.2.3-a.b", "1.2.3-a.5"},
    {"1.2.3-a.b", "1.2.3-a"},
    {"1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100"},
    {"1.2.3-r2", "1.2.3-r100"},
    {"1.2.3-r100", "1.2.3-R2"},
    {"1.0.0", "1.0.0-rc.1"},
    {"1.0.0-rc.1", "1.0.0-beta.11"},
    {"1.0.0-beta.11", "1.0.0-beta.2"},
    {"1.0.0-beta.2", "1.0.0-beta"},
    {"1.0.0-beta", "1.0.0-alpha.beta"},
    {"1.0.0-alpha.beta", "1.0.0-alpha.1"},
    {"1.0.0-alpha.1", "1.0.0-alpha"},
    {"1.2.3-alpha.10", "1.2.3-alpha.9"},
    {"10.0.0", "9.99.99"},
};

static void semver__comparisons(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
        ec_semver a, b;
        ec_err err = {0};
        assert_int_equal(ec_semver_parse(&a, cmp_cases[i].a, &err), EC_OK);
        assert_int_equal(ec_semver_parse(&b, cmp_cases[i].b, &err), EC_OK);
        if (ec_semver_compare(&a, &b) != 1 || ec_semver_compare(&b, &a) != -1 ||
            ec_semver_compare(&a, &a) != 0)
            fail_msg("%s > %s does not hold", cmp_cases[i].a, cmp_cases[i].b);
    }
}

struct parse_case {
    const char *range, *want; /* want NULL: invalid */
};
/* node-semver's range-parse fixture: `new Range(r).range` */
static const struct parse_case parse_cases[] = {
    {"1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"},
    {"1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"},
    {"1 - 2", ">=1.0.0 <3.0.0-0"},
    {"1.0 - 2.0", ">=1.0.0 <2.1.0-0"},
    {"1.0.0", "1.0.0"},
    {">=*", ""},
    {"", ""},
    {"*", ""},
    {">=1.0.0", ">=1.0.0"},
    {">1.0.0", ">1.0.0"},
    {"<=2.0.0", "<=2.0.0"},
    {"1", ">=1.0.0 <2.0.0-0"},
    {"<2.0.0", "<2.0.0"},
    {">= 1.0.0", ">=1.0.0"},
    {">=  1.0.0", ">=1.0.0"},
    {"> 1.0.0", ">1.0.0"},
    {"<=   2.0.0", "<=2.0.0"},
    {"<    2.0.0", "<2.0.0"},
    {">=0.1.97", ">=0.1.97"},
    {"0.1.20 || 1.2.4", "0.1.20||1.2.4"},
    {">=0.2.3 || <0.0.1", ">=0.2.3||<0.0.1"},
    {"||", ""},
    {"2.x.x", ">=2.0.0 <3.0.0-0"},
    {"1.2.x", ">=1.2.0 <1.3.0-0"},
    {"1.2.x || 2.x", ">=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0"},
    {"x", ""},
    {"2.*.*", ">=2.0.0 <3.0.0-0"},
    {"2", ">=2.0.0 <3.0.0-0"},
    {"2.3", ">=2.3.0 <2.4.0-0"},
    {"~2.4", ">=2.4.0 <2.5.0-0"},
    {"~>3.2.1", ">=3.2.1 <3.3.0-0"},
    {"~1", ">=1.0.0 <2.0.0-0"},
    {"~>1", ">=1.0.0 <2.0.0-0"},
    {"~> 1", ">=1.0.0 <2.0.0-0"},
    {"~1.0", ">=1.0.0 <1.1.0-0"},
    {"~ 1.0", ">=1.0.0 <1.1.0-0"},
    {"^0", "<1.0.0-0"},
    {"^ 1", ">=1.0.0 <2.0.0-0"},
    {"^0.1", ">=0.1.0 <0.2.0-0"},
    {"^1.0", ">=1.0.0 <2.0.0-0"},
    {"^1.2", ">=1.2.0 <2.0.0-0"},
    {"^0.0.1", ">=0.0.1 <0.0.2-0"},
    {"^0.0.1-beta", ">=0.0.1-beta <0.0.2-0"},
    {"^0.1.2", ">=0.1.2 <0.2.0-0"},
    {"^1.2.3", ">=1.2.3 <2.0.0-0"},
    {"^1.2.3-beta.4", ">=1.2.3-beta.4 <2.0.0-0"},
    {"<1", "<1.0.0-0"},
    {"< 1", "<1.0.0-0"},
    {">=1", ">=1.0.0"},
    {">= 1", ">=1.0.0"},
    {"<1.2", "<1.2.0-0"},
    {"< 1.2", "<1.2.0-0"},
    {"1", ">=1.0.0 <2.0.0-0"},
    {">01.02.03", NULL},
    {"~1.2.3beta", NULL},
    {">X", "<0.0.0-0"},
    {"<X", "<0.0.0-0"},
    {"<x <* || >* 2.x", "<0.0.0-0"},
    {">x 2.x || * || <x", ""},
    {">=09090", NULL},
    {">=09090-0", NULL},
    {"^1.2.3+build", ">=1.2.3 <2.0.0-0"},
    {"1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"},
    {"1.2 - 2.3.4", ">=1.2.0 <=2.3.4"},
    {"x - 1.x", "<2.0.0-0"},
    {"<=0.7.x", "<0.8.0-0"},
    {">0.7.x", ">=0.8.0"},
    {">0.x", ">=1.0.0"},
    {"=0.7.x", ">=0.7.0 <0.8.0-0"},
    {"~1.2.1 >=1.2.3", ">=1.2.1 <1.3.0-0 >=1.2.3"},
    {">=1.2.1 1.2.3", ">=1.2.1 1.2.3"},
    {">=1.0.0 >=1.0.0", ">=1.0.0"},
    {"^1.x", ">=1.0.0 <2.0.0-0"},
    {"^0.x", "<1.0.0-0"},
    {"^0.0.x", "<0.1.0-0"},
    {"~v0.5.4-pre", ">=0.5.4-pre <0.6.0-0"},
    {"  >=1.2.3   <2  ", ">=1.2.3 <2.0.0-0"},
    {"v1.2.3", "1.2.3"},
    {"=1.2.3", "1.2.3"},
    {">1.2.3 <", NULL},
    {"1.2.3 | 2", NULL},
    {"blerg", NULL},
    {"1.2.3.4", NULL},
    {"9007199254740992", NULL},
    {"latest", NULL},
};

static void semver__range_parse(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        ec_semver_range *r = NULL;
        ec_err err = {0};
        char got[1024];
        int rc = ec_semver_range_parse(&r, c->range, &err);
        if (!c->want) {
            if (rc != EC_EINVAL || !strstr(err.msg, "not a valid semver range")) {
                print_error("\"%s\" should be invalid\n", c->range);
                failures++;
            }
        } else if (rc != EC_OK) {
            print_error("\"%s\": %s\n", c->range, err.msg);
            failures++;
        } else if (!ec_semver_range_format(r, got, sizeof(got)) || strcmp(got, c->want)) {
            print_error("\"%s\" -> \"%s\", want \"%s\"\n", c->range, got, c->want);
            failures++;
        }
        ec_semver_range_free(r);
    }
    assert_int_equal(failures, 0);
}

static void semver__versions(void **state)
{
    (void)state;
    static const char *const good[] = {"1.2.3", "v1.2.3", " 1.2.3 ", "1.2.3-0", "1.2.3-a.0.b",
                                       "1.2.3+build.01", "0.0.0", "9007199254740991.0.0"};
    static const char *const bad[] = {"1.2", "1.2.3.4", "01.2.3", "1.2.3-01", "=1.2.3", "a.b.c",
                                      "1.2.3-", "1.2.3+", "9007199254740992.0.0", ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!ec_semver_valid(good[i]))
            fail_msg("\"%s\" should be valid", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ec_semver_valid(bad[i]))
            fail_msg("\"%s\" should be invalid", bad[i]);
}

static void semver__max_satisfying(void **state)
{
    (void)state;
    static const char *const vs[] = {"1.2.3", "1.2.4", "1.3.0-beta", "2.0.0", "bogus", "1.9.9"};
    ec_semver_range *r = NULL;
    assert_int_equal(ec_semver_range_parse(&r, "^1.2", NULL), EC_OK);
    assert_int_equal(ec_semver_max_satisfying(vs, 6, r), 5);
    ec_semver_range_free(r);
    assert_int_equal(ec_semver_range_parse(&r, ">=3", NULL), EC_OK);
    assert_int_equal(ec_semver_max_satisfying(vs, 6, r), -1);
    ec_semver_range_free(r);
    assert_int_equal(ec_semver_range_parse(&r, "~1.3.0-beta", NULL), EC_OK);
    assert_int_equal(ec_semver_max_satisfying(vs, 6, r), 2);
    ec_semver_range_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(semver__range_include_exclude),
        cmocka_unit_test(semver__comparisons),
        cmocka_unit_test(semver__range_parse),
        cmocka_unit_test(semver__versions),
        cmocka_unit_test(semver__max_satisfying),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
