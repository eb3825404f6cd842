/* SPDX-License-Identifier: MIT */
/* RubyGems' version, requirement and platform rules (fetchers/gem/gem_version.c) and the
 * compact index info parser (gem_index.c); expectations are what Gem::Version,
 * Gem::Requirement and Gem::Platform answer in Ruby 3.1 / RubyGems 3.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fetchers/gem/gem_int.h"

static int cmp(const char *a, const char *b)
{
    gem_ver x, y;
    assert_true(gem_ver_parse(&x, a, strlen(a)));
    assert_true(gem_ver_parse(&y, b, strlen(b)));
    return gem_ver_cmp(&x, &y);
}

static bool match(const char *req, const char *v)
{
    gem_req r;
    gem_ver x;
    assert_true(gem_req_parse(&r, req, ','));
    assert_true(gem_ver_parse(&x, v, strlen(v)));
    return gem_req_match(&r, &x);
}

static void gem_version__compares_as_gem_version(void **state)
{
    (void)state;
    assert_int_equal(cmp("1.0", "1.0.0"), 0);
    assert_int_equal(cmp("1.0.0.rc1", "1.rc1"), 0);  /* zeros before the letters drop */
    assert_int_equal(cmp("1.0.a", "1.0"), -1);        /* a pre-release is older */
    assert_int_equal(cmp("1.10", "1.9"), 1);
    assert_int_equal(cmp("1.0.0-beta", "1.0.0.pre.beta"), 0); /* '-' reads as .pre. */
    assert_int_equal(cmp("2.1.0.rc1", "2.0.0"), 1);
    assert_int_equal(cmp("1.a", "1.b"), -1);
    assert_int_equal(cmp("6.1.7.10", "6.1.7.9"), 1);
    gem_ver v;
    assert_false(gem_ver_parse(&v, "1..0", 4));
    assert_false(gem_ver_parse(&v, "v1", 2));
    assert_false(gem_ver_parse(&v, "", 0));
}

static void gem_version__requirements_as_gem_requirement(void **state)
{
    (void)state;
    assert_true(match("~> 1.2", "1.9.9"));
    assert_false(match("~> 1.2", "2.0"));
    assert_true(match("~> 1.2.0", "1.2.9"));
    assert_false(match("~> 1.2.0", "1.3.0"));
    assert_true(match("~> 1", "1.5"));
    assert_false(match("~> 1", "2.0"));
    assert_true(match("~> 2.0.a", "2.1"));      /* bump drops the letters, then the last: < 3 */
    assert_false(match("~> 2.0.a", "3.0"));
    assert_true(match(">= 1, < 2", "1.5"));
    assert_false(match(">= 1, < 2", "2.0"));
    assert_true(match("1.2", "1.2.0"));          /* no operator is = */
    assert_true(match("!= 1.2", "1.3"));
    assert_true(match("", "0.0.1"));             /* none: >= 0 */
    gem_req r;
    assert_true(gem_req_parse(&r, ">= 1.1.a", ','));
    assert_true(gem_req_pre(&r));
    assert_false(gem_req_parse(&r, "=> 1", ','));
    assert_true(gem_req_parse(&r, ">= 1.6&< 2", '&'));
    assert_int_equal(r.n, 2);
}

static void gem_version__platforms(void **state)
{
    (void)state;
    assert_true(gem_platform_installable("ruby", "x86_64-linux"));
    assert_true(gem_platform_installable("x86_64-linux", "x86_64-linux"));
    assert_true(gem_platform_installable("x86_64-linux-gnu", "x86_64-linux"));
    assert_false(gem_platform_installable("java", "x86_64-linux"));
    assert_false(gem_platform_installable("x86-mingw32", "x86_64-linux"));
    assert_false(gem_platform_installable("aarch64-linux", "x86_64-linux"));
    assert_true(gem_platform_installable("universal-linux", "x86_64-linux"));
}

static void gem_version__info_lines(void **state)
{
    (void)state;
    static const char info[] =
        "---\n"
        "1.0.0 |checksum:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
        "6.1.7.10 i18n:>= 1.6&< 2,minitest:>= 5.1|checksum:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,ruby:>= 2.5.0\n"
        "1.0.0-x86_64-linux |checksum:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,rubygems:> 1.3.1\n";
    gem_info gi;
    ec_err err = {0};
    assert_int_equal(gem_info_parse(&gi, "x", info, sizeof info - 1, &err), EC_OK);
    assert_int_equal(gi.n, 3);
    assert_string_equal(gi.e[0].platform, "ruby");
    assert_int_equal(gi.e[1].ndeps, 2);
    assert_string_equal(gi.e[1].deps[0].name, "i18n");
    assert_int_equal(gi.e[1].deps[0].req.n, 2);
    gem_ver old;
    assert_true(gem_ver_parse(&old, "2.4", 3));
    assert_false(gem_req_match(&gi.e[1].ruby, &old));
    assert_string_equal(gi.e[2].platform, "x86_64-linux");
    gem_info_free(&gi);
    static const char bad[] = "---\n1.0.0 |sha:abc\n";
    assert_int_equal(gem_info_parse(&gi, "bad", bad, sizeof bad - 1, &err), EC_EFORMAT);
    assert_non_null(strstr(err.msg, "info/bad line 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gem_version__compares_as_gem_version),
        cmocka_unit_test(gem_version__requirements_as_gem_requirement),
        cmocka_unit_test(gem_version__platforms),
        cmocka_unit_test(gem_version__info_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
