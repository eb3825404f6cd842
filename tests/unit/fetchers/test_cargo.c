/* SPDX-License-Identifier: MIT */
/* The cargo fetcher's pure parts: versions and requirements as the semver crate (and so
 * `cargo install NAME@REQ`) reads them, index paths and dl templates as the sparse
 * registry protocol defines them, and the upstream found in cargo's own configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fetchers/cargo/cargo_int.h"
#include "store/util/fs.h"

static bool match(const char *req, const char *v)
{
    cargo_req r;
    cargo_version x;
    ec_err err = {0};
    assert_int_equal(cargo_req_parse(&r, req, &err), EC_OK);
    assert_true(cargo_version_parse(&x, v));
    return cargo_req_matches(&r, &x);
}

static void cargo__requirements(void **state)
{
    (void)state;
    /* a bare version is an exact pin, as in cargo install NAME@1.2.3 */
    assert_true(match("1.2.3", "1.2.3"));
    assert_false(match("1.2.3", "1.2.4"));
    /* caret: compatible updates, 0.x by minor, 0.0.x exact */
    assert_true(match("^1.2", "1.9.0"));
    assert_false(match("^1.2", "2.0.0"));
    assert_false(match("^1.2", "1.1.9"));
    assert_true(match("^0.2.3", "0.2.9"));
    assert_false(match("^0.2.3", "0.3.0"));
    assert_false(match("^0.0.3", "0.0.4"));
    /* tilde: patch updates */
    assert_true(match("~1.2", "1.2.7"));
    assert_false(match("~1.2", "1.3.0"));
    /* ranges and wildcards */
    assert_true(match(">=1, <2", "1.99.0"));
    assert_false(match(">=1, <2", "2.0.0"));
    assert_true(match("1.*", "1.4.0"));
    assert_true(match("", "3.0.0"));
    /* pre-releases only where a comparator names one of the same MAJOR.MINOR.PATCH */
    assert_false(match("", "2.0.0-beta.1"));
    assert_false(match("^1", "1.5.0-rc.1"));
    assert_true(match("^1.5.0-rc.1", "1.5.0-rc.2"));
    assert_false(match("^1.5.0-rc.1", "1.6.0-rc.1"));
    cargo_req r;
    ec_err err = {0};
    assert_int_not_equal(cargo_req_parse(&r, ">=", &err), EC_OK);
}

static void cargo__versions(void **state)
{
    (void)state;
    cargo_version a, b;
    assert_true(cargo_version_parse(&a, "1.0.0-alpha"));
    assert_true(cargo_version_parse(&b, "1.0.0"));
    assert_true(cargo_version_cmp(&a, &b) < 0);
    assert_true(cargo_version_parse(&a, "1.0.0-alpha.10"));
    assert_true(cargo_version_parse(&b, "1.0.0-alpha.9"));
    assert_true(cargo_version_cmp(&a, &b) > 0); /* numeric identifiers compare as numbers */
    assert_true(cargo_version_parse(&a, "0.5.4+5.3.0-patched")); /* build metadata */
    assert_true(cargo_version_parse(&b, "0.5.4"));
    assert_int_equal(cargo_version_cmp(&a, &b), 0);
    assert_false(cargo_version_parse(&a, "1.2"));
    assert_false(cargo_version_parse(&a, "01.2.3"));
}

static void cargo__index_paths_and_dl(void **state)
{
    (void)state;
    const char *cases[][2] = {{"a", "1/a"}, {"ab", "2/ab"}, {"abc", "3/a/abc"},
                              {"Serde", "se/rd/serde"}, {"cargo-edit", "ca/rg/cargo-edit"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *p = cargo_index_path(cases[i][0]);
        assert_string_equal(p, cases[i][1]);
        free(p);
    }
    char *u = cargo_dl_url("https://dl.example/api/v1/crates", "serde", "1.0.0", "ab");
    assert_string_equal(u, "https://dl.example/api/v1/crates/serde/1.0.0/download");
    free(u);
    u = cargo_dl_url("http://m/{prefix}/{lowerprefix}/{crate}-{version}.crate?s={sha256-checksum}",
                     "Serde", "1.0.0", "ab");
    assert_string_equal(u, "http://m/Se/rd/se/rd/Serde-1.0.0.crate?s=ab");
    free(u);
    assert_true(cargo_name_ok("cargo-edit"));
    assert_false(cargo_name_ok("../etc"));
    assert_false(cargo_name_ok("1abc"));
}

static void cargo__upstream_from_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/ec-cargo-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/config.toml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[net]\nretry = 2\n[source.crates-io]\nreplace-with = \"corp\"\n"
          "[source.\"corp\"]\nregistry = \"sparse+https://corp.example/index/\"\n", f);
    fclose(f);
    setenv("CARGO_HOME", dir, 1);
    char *url = cargo_index_configured();
    assert_non_null(url);
    assert_string_equal(url, "https://corp.example/index/");
    free(url);
    /* a git index names no HTTP upstream: not used */
    f = fopen(path, "w");
    fputs("[source.crates-io]\nreplace-with = \"g\"\n[source.g]\nregistry = \"https://git.example/index\"\n", f);
    fclose(f);
    assert_null(cargo_index_configured());
    char *v = cargo_toml_get("[package]\nname = \"x\"\nedition = '2021'\n", "package", "edition");
    assert_string_equal(v, "2021");
    free(v);
    ec_rm_rf(dir, NULL);
    unsetenv("CARGO_HOME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cargo__requirements),
        cmocka_unit_test(cargo__versions),
        cmocka_unit_test(cargo__index_paths_and_dl),
        cmocka_unit_test(cargo__upstream_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
