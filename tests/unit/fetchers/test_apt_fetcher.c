/* SPDX-License-Identifier: MIT */
/* The apt fetcher end to end against the fixture archive on loopback: resolve, then the
 * install that downloads while it unpacks. A good package lands; a .deb that differs
 * from its Packages entry fails the install with the download's own error, and nothing
 * of it stays (no blob, an empty staging root). */
#include "tests/unit/fetchers/apt_fixture.h"

#include "fetchers/manager.h"

static const ec_fetcher *apt_ops(void)
{
    return ec_manager_find("apt")->ops;
}

static json_t *resolve(struct afx *f, const char *spec)
{
    const ec_manager *m = ec_manager_find("apt");
    json_t *lock = NULL;
    ec_err err = {0};
    ec_spec parsed;
    assert_int_equal(m->parse(&parsed, spec, NULL), EC_OK);
    ec_resolve_req req = {.specs = &parsed, .texts = &spec, .nspecs = 1,
                          .lowers_root = f->ctx.lowers_root, .platform = "linux/amd64"};
    int r = m->ops->resolve(&f->ctx, &req, &lock, &err);
    if (r)
        print_error("%s\n", err.msg);
    assert_int_equal(r, EC_OK);
    return lock;
}

static void apt_fetcher__install_downloads_while_unpacking(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    json_t *lock = resolve(f, "tiny");
    EC_AUTOFREE char *stage = ec_xasprintf("%s/stage", f->sf->home);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    ec_install_result res = {0};
    ec_err err = {0};
    int r = apt_ops()->install(&f->ctx, lock, stage, &res, &err);
    if (r)
        print_error("%s\n", err.msg);
    assert_int_equal(r, EC_OK);
    EC_AUTOFREE char *status = ec_xasprintf("%s/var/lib/dpkg/status", stage);
    EC_AUTOFREE char *text = NULL;
    size_t len;
    assert_int_equal(ec_read_file(&text, &len, status, 1 << 20, NULL), EC_OK);
    assert_non_null(strstr(text, "Package: tiny"));
    ec_digest d;
    afx_file_digest(&d, "pool/main/t/tiny/tiny_1.0_all.deb");
    assert_true(ec_store_has_blob(f->ctx.store, &d)); /* downloaded by install itself */
    ec_install_result_fini(&res);
    json_decref(lock);
    afx_free(f);
}

static void apt_fetcher__tampered_deb_fails_the_install(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    json_t *lock = resolve(f, "evil");
    EC_AUTOFREE char *stage = ec_xasprintf("%s/stage", f->sf->home);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    ec_install_result res = {0};
    ec_err err = {0};
    assert_int_equal(apt_ops()->install(&f->ctx, lock, stage, &res, &err),
                     EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "evil_1.0_all.deb")); /* the download's error, named */
    ec_digest bad;
    afx_file_digest(&bad, "pool/main/e/evil/evil_1.0_all.deb");
    assert_false(ec_store_has_blob(f->ctx.store, &bad));
    assert_int_equal(ect_count(stage, ""), 0);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_install_result_fini(&res);
    json_decref(lock);
    afx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_fetcher__install_downloads_while_unpacking),
        cmocka_unit_test(apt_fetcher__tampered_deb_fails_the_install),
    };
    return cmocka_run_group_tests(tests, afx_group_setup, afx_group_teardown);
}
