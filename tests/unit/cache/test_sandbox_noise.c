/* SPDX-License-Identifier: MIT */
/* Tests of cache/sandbox/sandbox_noise.c: the generic list and every manager's, pruned
 * from an upper. */
#include "tests/unit/helpers/ec_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/sandbox/sandbox.h"
#include "fetchers/manager.h"

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

/* What an install asks to keep (ec_install_result.keep) stays, whole directories only;
 * noise elsewhere still goes. */
static void sandbox_noise__keeping_leaves_those_directories(void **state)
{
    (void)state;
    char *dir = ect_tmpdir();
    ect_write(dir, "usr/local/lib/py/site/m/__pycache__/a.pyc", "keep", 0644);
    ect_write(dir, "usr/local/lib/py/site-other/__pycache__/b.pyc", "x", 0644);
    ect_write(dir, "usr/lib/python3/m/__pycache__/a.pyc", "x", 0644);
    ect_write(dir, "root/.npm/_cacache/x", "x", 0644);
    const char *const keep[] = {"usr/local/lib/py/site", NULL};
    assert_int_equal(ec_sandbox_prune_noise_keeping(dir, keep, NULL), EC_OK);
    assert_true(there(dir, "usr/local/lib/py/site/m/__pycache__/a.pyc"));
    assert_false(there(dir, "usr/local/lib/py/site-other/__pycache__"));
    assert_false(there(dir, "usr/lib/python3/m/__pycache__"));
    assert_false(there(dir, "root/.npm"));
    assert_int_equal(ec_sandbox_prune_noise(dir, NULL), EC_OK);
    assert_false(there(dir, "usr/local/lib/py/site/m/__pycache__"));
    ect_rmdir(dir);
}

/* The patterns list the generic ones first, then every manager's, then end. */
static void sandbox_noise__patterns_generic_then_managers(void **state)
{
    (void)state;
    size_t n, count = 0, want = 0;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; m[i]->noise && m[i]->noise[j]; j++)
            want++;
        for (size_t j = 0; m[i]->noise_names && m[i]->noise_names[j]; j++)
            want++;
    }
    assert_string_equal(ec_sandbox_noise_pattern(0), "tmp");
    while (ec_sandbox_noise_pattern(count))
        count++;
    assert_true(want > 0);
    assert_true(count > want);
    assert_null(ec_sandbox_noise_pattern(count + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sandbox_noise__prunes_caches_keeps_the_rest),
        cmocka_unit_test(sandbox_noise__keeping_leaves_those_directories),
        cmocka_unit_test(sandbox_noise__patterns_generic_then_managers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
