/* SPDX-License-Identifier: MIT */
/* Tests of cache/base_sources.c and the noise table: config parsing, pruning an upper. */
#include "tests/unit/helpers/ec_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/env/base.h"
#include "cache/sandbox/sandbox.h"

static void base_sources__deb822_and_one_line(void **state)
{
    (void)state;
    char *dir = ect_tmpdir(), *url = NULL;
    ect_write(dir, "sources.list.d/a.sources",
              "Types: deb\nURIs: http://mirror.test/debian/\nSuites: bookworm bookworm-updates\n"
              "Components: main\n\nTypes: deb\nURIs: http://sec.test/x\nSuites: bookworm-security\n",
              0644);
    assert_int_equal(ec_apt_sources_mirror(&url, dir, "bookworm", NULL), EC_OK);
    assert_string_equal(url, "http://mirror.test/debian");
    free(url);
    assert_int_equal(ec_apt_sources_mirror(&url, dir, "bookworm-security", NULL), EC_OK);
    assert_string_equal(url, "http://sec.test/x");
    free(url);
    ect_write(dir, "sources.list", "# c\ndeb [arch=amd64] http://one.test/d trixie main\n", 0644);
    assert_int_equal(ec_apt_sources_mirror(&url, dir, "trixie", NULL), EC_OK);
    assert_string_equal(url, "http://one.test/d");
    free(url);
    assert_int_equal(ec_apt_sources_mirror(&url, dir, "sid", NULL), EC_ENOTFOUND);
    ect_rmdir(dir);
}

static bool there(const char *dir, const char *rel)
{
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return lstat(path, &st) == 0;
}

static void sandbox_noise__prunes_caches_keeps_the_rest(void **state)
{
    (void)state;
    char *dir = ect_tmpdir();
    ect_write(dir, "var/cache/apt/pkgcache.bin", "x", 0644);
    ect_write(dir, "var/log/dpkg.log", "x", 0644);
    ect_write(dir, "var/lib/dpkg/status-old", "x", 0644);
    ect_write(dir, "var/lib/dpkg/status", "keep", 0644);
    ect_write(dir, "usr/lib/python3/m/__pycache__/a.pyc", "x", 0644);
    ect_write(dir, "usr/lib/python3/m/a.py", "keep", 0644);
    ect_write(dir, "tmp/junk", "x", 0644);
    ect_write(dir, "root/.npm/_cacache/x", "x", 0644);
    ect_write(dir, "usr/bin/tool", "keep", 0755);
    assert_int_equal(ec_sandbox_prune_noise(dir, NULL), EC_OK);
    assert_false(there(dir, "var/cache/apt"));
    assert_false(there(dir, "var/log"));
    assert_false(there(dir, "var/lib/dpkg/status-old"));
    assert_false(there(dir, "usr/lib/python3/m/__pycache__"));
    assert_false(there(dir, "tmp"));
    assert_false(there(dir, "root/.npm"));
    assert_true(there(dir, "var/lib/dpkg/status"));
    assert_true(there(dir, "usr/lib/python3/m/a.py"));
    assert_true(there(dir, "usr/bin/tool"));
    assert_non_null(ec_sandbox_noise_pattern(0));
    ect_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_sources__deb822_and_one_line),
        cmocka_unit_test(sandbox_noise__prunes_caches_keeps_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
