/* SPDX-License-Identifier: MIT */
/* The npm install step on real tarballs in a real store: npm's global layout, bins,
 * modes, what is skipped, and SRI parsing. */
#include "tests/unit/helpers/ec_test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/npm/npm_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* Packs "<dir>/src/<name>/" as a gzipped tarball with a top directory "package/" (or
 * @top), stores it, and returns the blob's "sha256:…" string. */
static char *make_tgz(ec_store *st, const char *dir, const char *name, const char *top)
{
    char *tgz = ec_xasprintf("%s/%s.tgz", dir, name);
    ect_sh("cd '%s/src' && rm -rf '%s.top' && mkdir '%s.top' && cp -a '%s' '%s.top/%s' && "
           "tar -C '%s.top' -czf '%s' '%s'",
           dir, name, name, name, name, top, name, tgz, top);
    ec_digest d;
    ec_err err = {0};
    assert_int_equal(ec_blob_put_file(&d, st, tgz, NULL, &err), EC_OK);
    free(tgz);
    char s[EC_DIGEST_STR_LEN];
    return ec_xstrdup(ec_digest_format(s, &d));
}

static json_t *pkg(const char *path, const char *name, const char *sha, bool scripts)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "path", path, "name", name, "version",
                     "1.0.0", "url", "http://127.0.0.1:9/x.tgz", "sha256", sha, "scripts",
                     scripts);
}

static bool is_link_to(const char *path, const char *want)
{
    char buf[512];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

static void test_layout(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir();
    ect_write(dir, "src/tool/package.json",
              "{\"name\":\"tool\",\"bin\":{\"tool\":\"./bin/cli.js\",\"../evil\":\"x\","
              "\"esc\":\"../../etc/passwd\"}}", 0600);
    ect_write(dir, "src/tool/bin/cli.js", "#!/usr/bin/env node\n", 0600);
    ect_write(dir, "src/tool/.wh.sneaky", "x", 0644);
    ect_sh("ln -s /etc/passwd '%s/src/tool/link'", dir);
    ect_write(dir, "src/dep/package.json", "{\"name\":\"@sc/dep\",\"bin\":\"main.js\"}", 0644);
    ect_write(dir, "src/dep/main.js", "x", 0664);
    char *t1 = make_tgz(f->st, dir, "tool", "package");
    char *t2 = make_tgz(f->st, dir, "dep", "odd-top");
    json_t *lock = json_pack("{s:s, s:[o, o]}", "manager", "npm", "packages",
                             pkg("node_modules/tool/node_modules/@sc/dep", "@sc/dep", t2, false),
                             pkg("node_modules/tool", "tool", t1, true));
    char *stage = ec_xasprintf("%s/stage", dir);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    ec_fetch_ctx ctx = {.store = f->st};
    ec_install_result res = {0};
    ec_err err = {0};
    int r = ec_npm_install(&ctx, lock, stage, &res, &err);
    if (r)
        print_error("%s\n", err.msg);
    assert_int_equal(r, EC_OK);

    char *lib = ec_xasprintf("%s/usr/local/lib/node_modules", stage);
    char *p = ec_xasprintf("%s/tool/bin/cli.js", lib);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0755); /* 0600 → at least 0644, +x as a bin */
    free(p);
    p = ec_xasprintf("%s/tool/node_modules/@sc/dep/main.js", lib);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0755); /* group write dropped, +x as a bin */
    free(p);
    p = ec_xasprintf("%s/tool/link", lib); /* npm drops links */
    assert_int_equal(lstat(p, &sb), -1);
    free(p);
    p = ec_xasprintf("%s/tool/.wh.sneaky", lib); /* would be a whiteout in the layer */
    assert_int_equal(lstat(p, &sb), -1);
    free(p);
    p = ec_xasprintf("%s/usr/local/bin/tool", stage);
    assert_true(is_link_to(p, "../lib/node_modules/tool/bin/cli.js"));
    free(p);
    p = ec_xasprintf("%s/usr/local/bin/esc", stage); /* escaping target skipped */
    assert_int_equal(lstat(p, &sb), -1);
    free(p);
    p = ec_xasprintf("%s/tool/node_modules/.bin/dep", lib);
    assert_true(is_link_to(p, "../@sc/dep/main.js"));
    free(p);
    assert_int_equal(ect_count(stage, "usr/local/bin"), 1);
    /* the package with scripts is named, not silently skipped */
    assert_int_equal(res.nnotes, 1);
    assert_int_equal(res.notes[0].kind, EC_NOTE_SCRIPTS_NOT_RUN);
    assert_string_equal(res.notes[0].package, "tool");
    ec_install_result_fini(&res);
    json_decref(lock);
    free(lib);
    free(stage);
    free(t1);
    free(t2);
    ect_rmdir(dir);
}

static void test_unfetched_is_an_error(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir();
    json_t *lock = json_pack("{s:[{s:s, s:s, s:s}]}", "packages", "path", "node_modules/a",
                             "name", "a", "version", "1.0.0");
    ec_fetch_ctx ctx = {.store = f->st};
    ec_install_result res = {0};
    ec_err err = {0};
    assert_int_equal(ec_npm_install(&ctx, lock, dir, &res, &err), EC_EFORMAT);
    assert_non_null(strstr(err.msg, "node_modules/a"));
    ec_install_result_fini(&res);
    json_decref(lock);
    ect_rmdir(dir);
}

static void test_integrity(void **state)
{
    (void)state;
    ec_http_hash algo;
    unsigned char want[64];
    ec_err err = {0};
    /* sha512 of "" in SRI form; the strongest of several wins */
    const char *sri = "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk= "
                      "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY"
                      "7kxvUdBeoGlODJ6+SfaPg==";
    assert_int_equal(ec_npm_integrity_parse(sri, NULL, &algo, want, &err), EC_OK);
    assert_int_equal(algo, EC_HTTP_HASH_SHA512);
    assert_int_equal(want[0], 0xcf);
    assert_int_equal(ec_npm_integrity_parse(NULL, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                            &algo, want, &err),
                     EC_OK);
    assert_int_equal(algo, EC_HTTP_HASH_SHA1);
    assert_int_equal(want[19], 0x09);
    assert_int_equal(ec_npm_integrity_parse("md5-abc", "nothex", &algo, want, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "no usable integrity"));
    ec_err_clear(&err);
    assert_int_equal(ec_npm_integrity_parse("sha512-short", NULL, &algo, want, &err),
                     EC_EINVAL);
}

static void test_meta_url(void **state)
{
    (void)state;
    char *u = ec_npm_meta_url("http://r.test/npm/", "@types/node");
    assert_string_equal(u, "http://r.test/npm/@types%2fnode");
    free(u);
    u = ec_npm_meta_url("http://r.test", "express");
    assert_string_equal(u, "http://r.test/express");
    free(u);
    assert_string_equal(ec_npm_url_file("http://r.test/@a/b/-/b-1.0.0.tgz"), "b-1.0.0.tgz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_unfetched_is_an_error, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test(test_integrity),
        cmocka_unit_test(test_meta_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
