/* SPDX-License-Identifier: MIT */
/* The guess of the wheel pip will pick (fetchers/pip/pip_guess.c), which the mirror fetches
 * the metadata of ahead of pip: PEP 440 specifiers on final and post releases, and for a
 * page, the newest version whose file fits the interpreter (tags, Requires-Python, not
 * yanked, no pre-release), the highest tag priority within it, no guess where an sdist is
 * the newest. Expectations are what pip 26 picks for CPython 3.11 on glibc 2.36, x86_64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fetchers/pip/pip_int.h"

static const char probe[] = "{\"version\": \"3.11.2\", \"implementation\": \"cpython\", "
                            "\"machine\": \"x86_64\", \"libc\": \"glibc-2.36\"}";

static void test_spec(void **state)
{
    (void)state;
    static const struct {
        const char *v, *spec;
        bool ok;
    } cases[] = {
        {"2.4.6", ">=1.23.2", true},   {"2.4.6", "<2", false},
        {"2.0", "<2", false},          {"1.9.9", "<2", true},
        {"1.9", "~=1.4", true},        {"2.0", "~=1.4", false},
        {"1.4.5", "~=1.4.2", true},    {"1.5.0", "~=1.4.2", false},
        {"3.1.2", "==3.1.*", true},    {"3.10", "==3.1.*", false},
        {"3.0.1", "!=3.0.*", false},   {"3.1", "!=3.0.*", true},
        {"3.11.2", ">=3.9", true},     {"3.11.2", ">=3.12", false},
        {"3.11.2", ">= 3.8 , < 3.13", true}, {"3.11.2", ">=3.8,<3.11", false},
        {"1.0.post1", "==1.0.post1", true},  {"1.0.post1", ">1.0", true},
        {"1.0", "==1.0.0", true},      {"1!1.0", ">=2.0", true},
        {"2.0", "===2.0", true},       {"2.0.0", "===2.0", false},
        {"2.0", ">=1; nonsense", true}, /* what it cannot read admits */
        {"2.0", NULL, true},           {"2.0", "", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (pip_guess_spec_ok(cases[i].v, cases[i].spec) != cases[i].ok)
            fail_msg("%s against %s: want %s", cases[i].v, cases[i].spec ? cases[i].spec : "(null)",
                     cases[i].ok ? "true" : "false");
}

static json_t *page_of(const char *const *files, const char *const *rp, const bool *yanked,
                       size_t n)
{
    json_t *fs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_pack("{s:s}", "filename", files[i]);
        if (rp && rp[i])
            json_object_set_new(f, "requires-python", json_string(rp[i]));
        if (yanked && yanked[i])
            json_object_set_new(f, "yanked", json_string("broken"));
        json_array_append_new(fs, f);
    }
    return json_pack("{s:o}", "files", fs);
}

static char *guess(const json_t *page, const char *spec)
{
    json_t *pr = json_loads(probe, 0, NULL);
    assert_non_null(pr);
    char *w = pip_guess_wheel(page, pr, spec);
    json_decref(pr);
    return w;
}

static void want(const json_t *page, const char *spec, const char *expect)
{
    char *w = guess(page, spec);
    if (!expect && w)
        fail_msg("under %s: want no guess, got %s", spec ? spec : "no specifier", w);
    if (expect && (!w || strcmp(w, expect) != 0))
        fail_msg("under %s: want %s, got %s", spec ? spec : "no specifier", expect,
                 w ? w : "(none)");
    free(w);
}

static void test_binary(void **state)
{
    (void)state;
    static const char *const files[] = {
        "pkg-1.9-py3-none-any.whl",
        "pkg-2.0.0.tar.gz",
        "pkg-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        "pkg-2.0.0-cp311-cp311-manylinux_2_39_x86_64.whl", /* needs a newer glibc */
        "pkg-2.0.0-cp312-cp312-manylinux_2_28_x86_64.whl",
        "pkg-2.0.0-cp311-cp311-win_amd64.whl",
        "pkg-2.0.0-cp311-cp311-manylinux_2_28_aarch64.whl",
        "pkg-2.0.0-cp311-cp311-musllinux_1_2_x86_64.whl",
        "pkg-2.1.0rc1-cp311-cp311-manylinux_2_28_x86_64.whl", /* a pre-release */
        "pkg-2.1.0.dev3-py3-none-any.whl",
        "pkg-2.2.0-cp311-cp311-manylinux_2_28_x86_64.whl", /* Requires-Python */
        "pkg-2.3.0-cp311-cp311-manylinux_2_28_x86_64.whl", /* yanked */
    };
    static const char *const rp[13] = {[11] = ">=3.12"};
    static const bool yanked[13] = {[12] = true};
    json_t *page = page_of(files, rp, yanked, 13);
    want(page, NULL, "pkg-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl");
    want(page, "<2", "pkg-1.9-py3-none-any.whl");
    want(page, "==1.9", "pkg-1.9-py3-none-any.whl");
    want(page, ">=2.5", NULL);
    json_decref(page);
}

static void test_tags(void **state)
{
    (void)state;
    /* abi3 above a pure wheel; an older cp3Y of abi3 fits; a newer one does not */
    static const char *const a[] = {"lib-1.0-py3-none-any.whl",
                                    "lib-1.0-cp38-abi3-manylinux_2_17_x86_64.whl",
                                    "lib-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"};
    json_t *page = page_of(a, NULL, NULL, 3);
    want(page, NULL, "lib-1.0-cp38-abi3-manylinux_2_17_x86_64.whl");
    json_decref(page);
    /* a pure wheel with two python tags; a build tag */
    static const char *const b[] = {"six-1.17.0-py2.py3-none-any.whl",
                                    "six-1.16.0-1-py2.py3-none-any.whl"};
    page = page_of(b, NULL, NULL, 2);
    want(page, NULL, "six-1.17.0-py2.py3-none-any.whl");
    json_decref(page);
    /* only Python 2 or another machine: nothing fits */
    static const char *const c[] = {"old-1.0-py2-none-any.whl",
                                    "old-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"};
    page = page_of(c, NULL, NULL, 2);
    want(page, NULL, NULL);
    json_decref(page);
}

static void test_sdist_newest(void **state)
{
    (void)state;
    /* pip takes the newest version, here an sdist: it builds the metadata, no guess */
    static const char *const f[] = {"docopt_ng-0.9.0-py3-none-any.whl", "docopt-ng-1.0.0.tar.gz"};
    json_t *page = page_of(f, NULL, NULL, 2);
    want(page, NULL, NULL);
    want(page, "<1", "docopt_ng-0.9.0-py3-none-any.whl");
    json_decref(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_sdist_newest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
