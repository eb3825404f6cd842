/* SPDX-License-Identifier: MIT */
/* ec_apt_solve against the hand-written indexes and dpkg status in tests/fixtures/apt/solve/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/mem.h"

static char *fx_dir;
static char *fx_amd64, *fx_i386, *fx_status;
static ec_apt_source fx_src = {.uri = "http://archive.invalid/debian", .suite = "test",
                               .name = "debian"};
static ec_apt_index fx_idx[2];

static int fx_setup(void **state)
{
    (void)state;
    char *src = ec_xstrdup(__FILE__);
    fx_dir = ec_xasprintf("%s/../../fixtures/apt/solve", dirname(src));
    free(src);
    fx_amd64 = ec_xasprintf("%s/Packages.amd64", fx_dir);
    fx_i386 = ec_xasprintf("%s/Packages.i386", fx_dir);
    fx_status = ec_xasprintf("%s/status", fx_dir);
    fx_idx[0] = (ec_apt_index){.source = &fx_src, .component = "main", .path = fx_amd64};
    fx_idx[1] = (ec_apt_index){.source = &fx_src, .component = "main", .path = fx_i386};
    return 0;
}

static int fx_teardown(void **state)
{
    (void)state;
    free(fx_dir);
    free(fx_amd64);
    free(fx_i386);
    free(fx_status);
    return 0;
}

/* Solves and renders the result as "name=version:arch ..." (sorted as returned), or
 * "ERR <code>: <message>". */
static char *solve(size_t nidx, bool status, bool recommends, const char *spec)
{
    ec_apt_solve_opts o = {.arch = "amd64", .status = status ? fx_status : NULL,
                           .recommends = recommends};
    const char *specs[1] = {spec};
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_apt_solve_texts(&out, fx_idx, nidx, specs, 1, &o, &err);
    if (r < 0) {
        assert_null(out);
        return ec_xasprintf("ERR %s: %s", ec_code_name(r), err.msg);
    }
    char *s = ec_xstrdup("");
    size_t i;
    json_t *p;
    json_array_foreach(out, i, p)
    {
        char *n = ec_xasprintf("%s%s%s=%s:%s", s, i ? " " : "",
                               json_string_value(json_object_get(p, "name")),
                               json_string_value(json_object_get(p, "version")),
                               json_string_value(json_object_get(p, "arch")));
        free(s);
        s = n;
    }
    json_decref(out);
    return s;
}

#define EXPECT(want, ...)                                                                     \
    do {                                                                                      \
        char *got_ = solve(__VA_ARGS__);                                                      \
        if (strcmp(got_, want))                                                               \
            print_error("want: %s\n got: %s\n", want, got_);                                  \
        assert_string_equal(got_, want);                                                      \
        free(got_);                                                                           \
    } while (0)

#define EXPECT_ERR(code, substr, ...)                                                         \
    do {                                                                                      \
        char *got_ = solve(__VA_ARGS__);                                                      \
        if (strncmp(got_, "ERR " code ":", strlen("ERR " code ":")) || !strstr(got_, substr)) \
            print_error("want ERR %s containing '%s'\n got: %s\n", code, substr, got_);       \
        assert_non_null(strstr(got_, substr));                                                \
        assert_int_equal(strncmp(got_, "ERR " code ":", strlen("ERR " code ":")), 0);         \
        free(got_);                                                                           \
    } while (0)

static void apt_solve__closure_highest_versions(void **state)
{
    (void)state;
    EXPECT("app=1.0-1:amd64 liba=1.1-1:amd64 libb=2.0-1:amd64 libc6=2.36-9:amd64", 1, false,
           false, "app");
}

static void apt_solve__installed_deps_skipped(void **state)
{
    (void)state;
    /* libc6 is in the base; libb's purged and aa-second's config-files stanzas do not count */
    EXPECT("app=1.0-1:amd64 liba=1.1-1:amd64 libb=2.0-1:amd64", 1, true, false, "app");
    EXPECT("", 1, true, false, "libc6");
}

static void apt_solve__first_alternative(void **state)
{
    (void)state;
    EXPECT("tool=1.0:amd64 zz-first=1.0:amd64", 1, false, false, "tool");
    /* an alternative nothing provides is skipped, as apt does */
    EXPECT("pick=1.0:amd64 zz-first=1.0:amd64", 1, false, false, "pick");
}

static void apt_solve__virtual_one_provider(void **state)
{
    (void)state;
    EXPECT("mawk-ish=1.0:amd64", 1, false, false, "awk-ish");
    EXPECT("mawk-ish=1.0:amd64 useawk=1.0:amd64", 1, false, false, "useawk");
}

static void apt_solve__virtual_several_providers(void **state)
{
    (void)state;
    EXPECT_ERR("invalid",
               "mail-transport-agent is a virtual package provided by mta-one, mta-two: pick one",
               1, false, false, "mail-transport-agent");
    /* as a dependency, one provider is chosen */
    char *got = solve(1, false, false, "usemta");
    assert_true(!strcmp(got, "mta-one=1.0:amd64 usemta=1.0:amd64") ||
                !strcmp(got, "mta-two=1.0:amd64 usemta=1.0:amd64"));
    free(got);
}

static void apt_solve__real_package_before_provider(void **state)
{
    (void)state;
    EXPECT("libreal=1.0:amd64 realdep=1.0:amd64", 1, false, false, "realdep");
}

static void apt_solve__pre_depends(void **state)
{
    (void)state;
    EXPECT("early=1.0:amd64 predep=1.0:amd64", 1, false, false, "early");
}

static void apt_solve__conflicts_and_breaks_pick_another(void **state)
{
    (void)state;
    /* vi-a conflicts with base-thing (installed), ed-x breaks it: the second ones win */
    EXPECT("editor=1.0:amd64 vi-b=1.0:amd64", 1, true, false, "editor");
    EXPECT("ed-y=1.0:amd64 newer-breaks=1.0:amd64", 1, true, false, "newer-breaks");
    /* without the base the first alternatives are fine */
    EXPECT("editor=1.0:amd64 vi-a=1.0:amd64", 1, false, false, "editor");
    /* asked for by name, a conflict with the base is an error naming the problem */
    EXPECT_ERR("conflict", "base-thing", 1, true, false, "vi-a");
}

static void apt_solve__multiarch_foreign(void **state)
{
    (void)state;
    /* helper is Multi-Arch: foreign, so the amd64 one serves the i386 plugin; libc6 is
     * Multi-Arch: same, so plugin needs libc6:i386 beside the installed libc6:amd64 */
    EXPECT("helper=3.0:amd64 libc6=2.36-9:i386 plugin=1.0:i386", 2, true, false, "plugin:i386");
    EXPECT("helper=3.0:amd64 libc6=2.36-9:i386 plugin=1.0:i386", 2, true, false, "plugin");
    /* notforeign exists only for amd64 and is not Multi-Arch: foreign */
    EXPECT_ERR("conflict", "notforeign", 2, true, false, "badplugin:i386");
}

static void apt_solve__arch_all(void **state)
{
    (void)state;
    EXPECT("app=1.0-1:amd64 docs=1.0:all liba=1.1-1:amd64 libb=2.0-1:amd64", 1, true, false,
           "docs");
}

static void apt_solve__recommends(void **state)
{
    (void)state;
    EXPECT("rec=1.0:amd64", 1, false, false, "rec");
    EXPECT("liked=1.0:amd64 rec=1.0:amd64", 1, false, true, "rec");
}

static void apt_solve__version_pin(void **state)
{
    (void)state;
    EXPECT("liba=1.0-1:amd64", 1, true, false, "liba=1.0-1");
    EXPECT("liba=1.0-1:amd64", 1, true, false, "liba:amd64=1.0-1");
    EXPECT_ERR("not_found", "version 9.9 of liba is not available (available: 1.0-1:amd64, 1.1-1:amd64)",
               1, true, false, "liba=9.9");
    /* app needs liba >= 1.0, so pinning liba 1.0-1 together with app works */
}

static void apt_solve__unknown_package(void **state)
{
    (void)state;
    EXPECT_ERR("not_found", "no package named nosuch in http://archive.invalid/debian test/main",
               1, true, false, "nosuch");
    EXPECT_ERR("invalid", "not a valid apt package", 1, true, false, "Bad_Name");
}

static void apt_solve__upgrade_of_base_noted(void **state)
{
    (void)state;
    ec_apt_solve_opts o = {.arch = "amd64", .status = fx_status};
    const char *specs[] = {"upgrader"};
    json_t *out = NULL;
    ec_err err = {0};
    assert_int_equal(ec_apt_solve_texts(&out, fx_idx, 1, specs, 1, &o, &err), EC_OK);
    assert_int_equal(json_array_size(out), 2);
    json_t *bl = json_array_get(out, 0);
    assert_string_equal(json_string_value(json_object_get(bl, "name")), "base-lib");
    assert_string_equal(json_string_value(json_object_get(bl, "version")), "2.0");
    assert_string_equal(json_string_value(json_object_get(bl, "upgrades")), "1.0");
    json_decref(out);
}

static void apt_solve__lock_fields(void **state)
{
    (void)state;
    ec_apt_solve_opts o = {.arch = "amd64"};
    const char *specs[] = {"docs", "libc6"};
    json_t *out = NULL;
    ec_err err = {0};
    assert_int_equal(ec_apt_solve_texts(&out, fx_idx, 1, specs, 2, &o, &err), EC_OK);
    json_t *d = json_array_get(out, 1);
    assert_string_equal(json_string_value(json_object_get(d, "name")), "docs");
    assert_string_equal(json_string_value(json_object_get(d, "arch")), "all");
    assert_string_equal(json_string_value(json_object_get(d, "filename")),
                        "pool/main/d/docs_1.0_all.deb");
    assert_string_equal(json_string_value(json_object_get(d, "url")),
                        "http://archive.invalid/debian/pool/main/d/docs_1.0_all.deb");
    assert_string_equal(json_string_value(json_object_get(d, "sha256")),
                        "0000000000000000000000000000000000000000000000000000000000000003");
    assert_int_equal(json_integer_value(json_object_get(d, "size")), 400);
    assert_false(json_is_true(json_object_get(d, "essential")));
    assert_string_equal(json_string_value(json_object_get(d, "multi_arch")), "no");
    assert_string_equal(json_string_value(json_object_get(d, "source")), "debian");
    json_t *c = json_array_get(out, 4);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "libc6");
    assert_string_equal(json_string_value(json_object_get(c, "multi_arch")), "same");
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_solve__closure_highest_versions),
        cmocka_unit_test(apt_solve__installed_deps_skipped),
        cmocka_unit_test(apt_solve__first_alternative),
        cmocka_unit_test(apt_solve__virtual_one_provider),
        cmocka_unit_test(apt_solve__virtual_several_providers),
        cmocka_unit_test(apt_solve__real_package_before_provider),
        cmocka_unit_test(apt_solve__pre_depends),
        cmocka_unit_test(apt_solve__conflicts_and_breaks_pick_another),
        cmocka_unit_test(apt_solve__multiarch_foreign),
        cmocka_unit_test(apt_solve__arch_all),
        cmocka_unit_test(apt_solve__recommends),
        cmocka_unit_test(apt_solve__version_pin),
        cmocka_unit_test(apt_solve__unknown_package),
        cmocka_unit_test(apt_solve__upgrade_of_base_noted),
        cmocka_unit_test(apt_solve__lock_fields),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
