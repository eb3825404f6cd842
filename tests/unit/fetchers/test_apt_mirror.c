/* SPDX-License-Identifier: MIT */
/* Unit tests of apt_mirror.c: ec_apt_serve with fake mirror requests against the signed
 * fixture archive on loopback. */
#include "tests/unit/fetchers/apt_fixture.h"

static int serve(struct afx *f, const char *path, ec_mirror_resp *resp, ec_err *err)
{
    ec_mirror_req req = {.method = "GET", .path = path,
                         .base_url = "http://127.0.0.1:1/mirror/apt"};
    ec_mirror_resp_init(resp);
    return ec_apt_serve(&f->ctx, &req, resp, err);
}

/* The response's file, read whole. */
static char *resp_bytes(ec_mirror_resp *resp, size_t *len)
{
    assert_true(resp->fd >= 0);
    char *b = ec_xmalloc(resp->length + 1);
    assert_int_equal(pread(resp->fd, b, resp->length, (off_t)resp->offset),
                     (ssize_t)resp->length);
    b[resp->length] = '\0';
    *len = resp->length;
    return b;
}

static void assert_same_as(ec_mirror_resp *resp, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fx/archive/%s", afx_archive_dir, rel);
    char *want = NULL;
    size_t wlen, glen;
    ec_err err = {0};
    assert_int_equal(ec_read_file(&want, &wlen, path, 1 << 24, &err), EC_OK);
    char *got = resp_bytes(resp, &glen);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, wlen);
    free(got);
    free(want);
}

static void apt_mirror__release_files_byte_for_byte(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_mirror_resp r;
    ec_err err = {0};
    static const char *const files[] = {"InRelease", "Release", "Release.gpg"};
    for (size_t i = 0; i < 3; i++) {
        char p[128], rel[128];
        snprintf(p, sizeof p, "debian/dists/test/%s", files[i]);
        snprintf(rel, sizeof rel, "dists/test/%s", files[i]);
        assert_int_equal(serve(f, p, &r, &err), EC_OK);
        assert_int_equal(r.status, 200);
        assert_true(r.from_upstream);
        assert_same_as(&r, rel);
        ec_mirror_resp_fini(&r);
    }
    /* within the TTL: from the store */
    uint64_t before = afx_requests(f);
    assert_int_equal(serve(f, "debian/dists/test/InRelease", &r, &err), EC_OK);
    assert_int_equal(r.status, 200);
    assert_false(r.from_upstream);
    assert_int_equal(afx_requests(f), before);
    ec_mirror_resp_fini(&r);
    /* a suite whose Date is in the future is not served */
    assert_int_equal(serve(f, "debian/dists/future/InRelease", &r, &err), EC_EINTEGRITY);
    ec_mirror_resp_fini(&r);
    afx_free(f);
}

static void apt_mirror__indexes_by_name_and_by_hash(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_mirror_resp r;
    ec_err err = {0};
    assert_int_equal(serve(f, "debian/dists/test/main/binary-amd64/Packages.xz", &r, &err),
                     EC_OK);
    assert_int_equal(r.status, 200);
    assert_same_as(&r, "dists/test/main/binary-amd64/Packages.xz");
    ec_mirror_resp_fini(&r);

    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN], p[320], rel[256];
    afx_file_digest(&d, "dists/test/main/binary-amd64/Packages");
    snprintf(rel, sizeof rel, "dists/test/main/binary-amd64/by-hash/SHA256/%s",
             ec_digest_hex(hex, &d));
    snprintf(p, sizeof p, "debian/%s", rel);
    assert_int_equal(serve(f, p, &r, &err), EC_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.from_upstream);
    assert_same_as(&r, rel);
    ec_mirror_resp_fini(&r);
    uint64_t before = afx_requests(f);
    assert_int_equal(serve(f, p, &r, &err), EC_OK); /* immutable: from the store */
    assert_false(r.from_upstream);
    assert_int_equal(afx_requests(f), before);
    ec_mirror_resp_fini(&r);

    /* a by-hash name upstream does not have */
    snprintf(p, sizeof p, "debian/dists/test/main/binary-amd64/by-hash/SHA256/%064d", 7);
    assert_int_equal(serve(f, p, &r, &err), EC_OK);
    assert_int_equal(r.status, 404);
    ec_mirror_resp_fini(&r);
    afx_free(f);
}

static void apt_mirror__pool_pull_through_then_hit(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_mirror_resp r;
    ec_err err = {0};
    const char *deb = "pool/main/t/tiny/tiny_1.0_all.deb";
    assert_int_equal(serve(f, "debian/pool/main/t/tiny/tiny_1.0_all.deb", &r, &err), EC_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.from_upstream);
    assert_string_equal(r.content_type, "application/vnd.debian.binary-package");
    assert_same_as(&r, deb);
    ec_mirror_resp_fini(&r);
    ec_digest d, want;
    afx_file_digest(&want, deb);
    assert_int_equal(ec_apt_pool_lookup(&d, f->ctx.store, "debian", deb, &err), EC_OK);
    assert_true(ec_digest_eq(&d, &want));

    uint64_t before = afx_requests(f);
    assert_int_equal(serve(f, "debian/pool/main/t/tiny/tiny_1.0_all.deb", &r, &err), EC_OK);
    assert_int_equal(r.status, 200);
    assert_false(r.from_upstream);
    assert_int_equal(afx_requests(f), before);
    ec_mirror_resp_fini(&r);
    afx_free(f);
}

static void apt_mirror__tampered_deb_refused_and_not_stored(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_mirror_resp r;
    ec_err err = {0};
    const char *deb = "pool/main/e/evil/evil_1.0_all.deb";
    assert_int_equal(serve(f, "debian/pool/main/e/evil/evil_1.0_all.deb", &r, &err),
                     EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "sha256 mismatch (expected "));
    assert_non_null(strstr(err.msg, "evil_1.0_all.deb"));
    ec_mirror_resp_fini(&r);
    ec_digest bad, d;
    afx_file_digest(&bad, deb);
    assert_false(ec_store_has_blob(f->ctx.store, &bad));
    assert_int_equal(ec_apt_pool_lookup(&d, f->ctx.store, "debian", deb, NULL), EC_ENOTFOUND);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    afx_free(f);
}

static void apt_mirror__unknown_paths_are_404(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    static const char *const paths[] = {
        "", "debian", "debian/", "nope/dists/test/InRelease", "debian/other/x",
        "debian/dists/test/main/binary-amd64/Nope", "debian/../etc/passwd",
        "debian/pool/main/../../../x", "debian/pool/main/n/nope/nope_1.0_all.deb",
        "debian/dists/nosuch/InRelease", "debian/dists/test/main/binary-amd64/by-hash/SHA256/zz",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        ec_mirror_resp r;
        ec_err err = {0};
        assert_int_equal(serve(f, paths[i], &r, &err), EC_OK);
        if (r.status != 404)
            fail_msg("%s: status %d", paths[i], r.status);
        ec_mirror_resp_fini(&r);
    }
    afx_free(f);
}

struct racer {
    struct afx *f;
    int rc, status;
};

static void *race(void *ud)
{
    struct racer *r = ud;
    ec_mirror_resp resp;
    ec_err err = {0};
    r->rc = serve(r->f, "debian/pool/main/t/tiny/tiny_1.0_all.deb", &resp, &err);
    r->status = resp.status;
    ec_mirror_resp_fini(&resp);
    return NULL;
}

static void apt_mirror__concurrent_misses_download_once(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    int before = afx_hits("/debian/pool/main/t/tiny/tiny_1.0_all.deb");
    pthread_t t[6];
    struct racer rs[6];
    for (int i = 0; i < 6; i++) {
        rs[i] = (struct racer){.f = f};
        assert_int_equal(pthread_create(&t[i], NULL, race, &rs[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(rs[i].rc, EC_OK);
        assert_int_equal(rs[i].status, 200);
    }
    assert_int_equal(afx_hits("/debian/pool/main/t/tiny/tiny_1.0_all.deb"), before + 1);
    afx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_mirror__release_files_byte_for_byte),
        cmocka_unit_test(apt_mirror__indexes_by_name_and_by_hash),
        cmocka_unit_test(apt_mirror__pool_pull_through_then_hit),
        cmocka_unit_test(apt_mirror__tampered_deb_refused_and_not_stored),
        cmocka_unit_test(apt_mirror__unknown_paths_are_404),
        cmocka_unit_test(apt_mirror__concurrent_misses_download_once),
    };
    return cmocka_run_group_tests(tests, afx_group_setup, afx_group_teardown);
}
