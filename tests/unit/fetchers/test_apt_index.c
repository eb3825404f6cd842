/* SPDX-License-Identifier: MIT */
/* Unit tests of apt_release.c and apt_index.c: a signed archive on loopback, verified,
 * cached, and refused in each way it can be wrong. */
#include "tests/unit/fetchers/apt_fixture.h"

#include "fetchers/apt/apt_pool_int.h"

#include "store/util/log.h"

static ec_digest packages_digest(const char *suite, const char *file)
{
    char rel[256];
    ec_digest d;
    snprintf(rel, sizeof rel, "dists/%s/main/binary-amd64/%s", suite, file);
    afx_file_digest(&d, rel);
    return d;
}

static void apt_index__good_archive_verifies_and_is_stored(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_apt_sources s;
    ec_apt_index *idx = NULL;
    size_t n = 0;
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&s, &f->ctx, &err), EC_OK);
    assert_int_equal(ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err), EC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(idx[0].component, "main");
    assert_ptr_equal(idx[0].source, &s.v[0]);
    assert_non_null(idx[0].release_date);
    ec_digest plain = packages_digest("test", "Packages");
    assert_true(ec_digest_eq(&idx[0].blob, &plain));
    assert_true(ec_store_has_blob(f->ctx.store, &plain));
    ec_digest xz = packages_digest("test", "Packages.xz");
    assert_true(ec_store_has_blob(f->ctx.store, &xz));
    /* fetched by hash, as the Release offers */
    char hex[EC_DIGEST_HEX_LEN], p[256];
    snprintf(p, sizeof p, "/debian/dists/test/main/binary-amd64/by-hash/SHA256/%s",
             ec_digest_hex(hex, &xz));
    assert_int_equal(afx_hits(p), 1);
    /* the Packages text is readable where the index says */
    char *text = NULL;
    size_t len;
    assert_int_equal(ec_read_file(&text, &len, idx[0].path, 1 << 20, &err), EC_OK);
    assert_non_null(strstr(text, "Package: tiny"));
    free(text);
    ec_digest deb;
    assert_int_equal(ec_apt_packages_find(&deb, NULL, idx[0].path,
                                          "pool/main/t/tiny/tiny_1.0_all.deb", &err), EC_OK);
    ec_digest want;
    afx_file_digest(&want, "pool/main/t/tiny/tiny_1.0_all.deb");
    assert_true(ec_digest_eq(&deb, &want));
    assert_int_equal(ec_apt_packages_find(&deb, NULL, idx[0].path, "pool/main/t/tiny/x.deb",
                                          &err), EC_ENOTFOUND);
    ec_apt_indexes_free(idx, n);
    ec_apt_sources_fini(&s);
    afx_free(f);
}

static void apt_index__second_get_within_ttl_makes_no_request(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_apt_sources s;
    ec_apt_index *idx = NULL;
    size_t n = 0;
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&s, &f->ctx, &err), EC_OK);
    assert_int_equal(ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err), EC_OK);
    ec_apt_indexes_free(idx, n);
    uint64_t before = afx_requests(f);
    assert_true(before >= 2);
    assert_int_equal(ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err), EC_OK);
    assert_int_equal(afx_requests(f), before);
    ec_apt_indexes_free(idx, n);

    /* After the TTL: one conditional request for InRelease (304), none for Packages. */
    json_object_set_new(f->config, "release_ttl", json_integer(0));
    sleep(1);
    assert_int_equal(ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err), EC_OK);
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    assert_int_equal(st.requests, before + 1);
    assert_int_equal(st.not_modified, 1);
    ec_apt_indexes_free(idx, n);
    ec_apt_sources_fini(&s);
    afx_free(f);
}

static int index_error(struct afx *f, ec_err *err)
{
    ec_apt_sources s;
    ec_apt_index *idx = NULL;
    size_t n = 0;
    assert_int_equal(ec_apt_sources_load(&s, &f->ctx, err), EC_OK);
    int rc = ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, err);
    assert_null(idx);
    assert_int_equal(n, 0);
    ec_apt_sources_fini(&s);
    return rc;
}

static void apt_index__tampered_packages_refused_and_not_stored(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("tampered", "keyring.gpg");
    ec_err err = {0};
    int blobs = afx_blobs(f);
    assert_int_equal(index_error(f, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "Packages.xz: sha256 mismatch (expected "));
    assert_non_null(strstr(err.msg, f->uri));
    ec_digest bad = packages_digest("tampered", "Packages.xz");
    assert_false(ec_store_has_blob(f->ctx.store, &bad));
    bad = packages_digest("tampered", "Packages");
    assert_false(ec_store_has_blob(f->ctx.store, &bad));
    /* only the verified InRelease was kept */
    assert_int_equal(afx_blobs(f), blobs + 1);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    afx_free(f);
}

/* A Release offering Packages.gz: it is preferred, inflated while it downloads, and the
 * plain index is stored and recorded as the .gz's unpacked form. */
static void apt_index__gz_is_inflated_while_it_downloads(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("gzipped", "keyring.gpg");
    ec_apt_sources s;
    ec_apt_index *idx = NULL;
    size_t n = 0;
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&s, &f->ctx, &err), EC_OK);
    /* the debug log says whether the tee made the text or the fallback had to */
    char logp[] = "/tmp/apt-index-log-XXXXXX";
    int lfd = mkstemp(logp), saved = dup(2);
    assert_true(lfd >= 0 && saved >= 0 && dup2(lfd, 2) == 2);
    ec_log_set_level(EC_LOG_DEBUG);
    int rc = ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err);
    ec_log_set_level(EC_LOG_INFO);
    dup2(saved, 2);
    close(saved);
    close(lfd);
    char *log = NULL;
    assert_int_equal(ec_read_file(&log, NULL, logp, 1 << 20, NULL), EC_OK);
    unlink(logp);
    assert_int_equal(rc, EC_OK);
    assert_non_null(strstr(log, "Packages.gz: fetched and decompressed"));
    assert_null(strstr(log, "not inflated while downloading"));
    free(log);
    assert_int_equal(n, 1);
    ec_digest plain = packages_digest("gzipped", "Packages");
    ec_digest gz = packages_digest("gzipped", "Packages.gz");
    ec_digest xz = packages_digest("gzipped", "Packages.xz");
    assert_true(ec_digest_eq(&idx[0].blob, &plain));
    assert_true(ec_store_has_blob(f->ctx.store, &plain));
    assert_true(ec_store_has_blob(f->ctx.store, &gz));
    assert_false(ec_store_has_blob(f->ctx.store, &xz));
    char hex[EC_DIGEST_HEX_LEN], p[256];
    snprintf(p, sizeof p, "/debian/dists/gzipped/main/binary-amd64/by-hash/SHA256/%s",
             ec_digest_hex(hex, &gz));
    assert_int_equal(afx_hits(p), 1);
    char *text = NULL;
    size_t len;
    assert_int_equal(ec_read_file(&text, &len, idx[0].path, 1 << 20, &err), EC_OK);
    assert_non_null(strstr(text, "Package: tiny"));
    free(text);
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    ec_apt_indexes_free(idx, n);
    ec_apt_sources_fini(&s);
    afx_free(f);
}

/* A .gz that inflates, but not to what the Release vouches for, is refused as tampered
 * and leaves nothing: neither the .gz nor the text the tee inflated on the way. */
static void apt_index__tampered_gz_refused_and_not_stored(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("gztampered", "keyring.gpg");
    ec_err err = {0};
    int blobs = afx_blobs(f);
    assert_int_equal(index_error(f, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "Packages.gz: sha256 mismatch (expected "));
    assert_int_equal(afx_blobs(f), blobs + 1); /* the verified InRelease only */
    assert_int_equal(ect_count(f->sf->home, "tmp"), 0);
    afx_free(f);
}

static json_t *solve_tiny(const ec_apt_index *idx, size_t n, ec_apt_pool *pool)
{
    const char *specs[] = {"tiny"};
    ec_apt_solve_opts o = {.arch = "amd64", .pool = pool};
    json_t *out = NULL;
    ec_err err = {0};
    assert_int_equal(ec_apt_solve_texts(&out, idx, n, specs, 1, &o, &err), EC_OK);
    return out;
}

/* Suite @suite's indexes, the first fed to a pool as it downloads. */
struct fed {
    struct afx *f;
    ec_apt_sources s;
    ec_apt_pool *pool;
    ec_apt_index *idx;
    size_t n;
    int rc;
};

static struct fed fed_get(const char *suite)
{
    struct fed r = {.f = afx_new(suite, "keyring.gpg")};
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&r.s, &r.f->ctx, &err), EC_OK);
    assert_int_equal(ec_apt_pool_new(&r.pool, NULL, &err), EC_OK);
    r.rc = ec_apt_indexes_get(&r.idx, &r.n, &r.f->ctx, &r.s, r.pool, &err);
    return r;
}

static void fed_free(struct fed *r)
{
    ec_apt_pool_free(r->pool);
    ec_apt_indexes_free(r->idx, r->n);
    ec_apt_sources_fini(&r->s);
    afx_free(r->f);
}

/* The first index is parsed into the pool as it inflates: kept once verified, and the
 * solve on it answers as one that parses the stored file. */
static void apt_index__gz_is_parsed_while_it_downloads(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct fed r = fed_get("gzipped");
    assert_int_equal(r.rc, EC_OK);
    ec_apt_pool *pool = r.pool;
    ec_apt_index *idx = r.idx;
    size_t n = r.n;
    assert_true(pool->first_ok);
    assert_true(ec_digest_eq(&pool->first_blob, &idx[0].blob));
    assert_true(pool->first->nsolvables > 0);
    json_t *fed = solve_tiny(idx, n, pool), *parsed = solve_tiny(idx, n, NULL);
    assert_true(json_equal(fed, parsed));
    assert_int_equal(json_array_size(fed), 1);
    json_decref(fed);
    json_decref(parsed);
    fed_free(&r);
}

/* Text that the Release does not vouch for is parsed on the way, then dropped. */
static void apt_index__tampered_gz_is_not_kept_parsed(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct fed r = fed_get("gztampered");
    assert_int_equal(r.rc, EC_EINTEGRITY);
    assert_false(r.pool->first_ok);
    assert_null(r.pool->first);
    assert_int_equal(r.pool->pool->nsolvables, 2); /* the two reserved ones: nothing stayed */
    fed_free(&r);
}

static void apt_index__wrong_keyring_is_a_signature_error(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "other.gpg");
    ec_err err = {0};
    int blobs = afx_blobs(f);
    assert_int_equal(index_error(f, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "/dists/test/InRelease: signature check failed: "));
    assert_non_null(strstr(err.msg, "public key"));
    assert_int_equal(afx_blobs(f), blobs); /* nothing unverified was stored */
    afx_free(f);

    f = afx_new("test", "no-such-keyring.gpg");
    ec_err_clear(&err);
    assert_int_equal(index_error(f, &err), EC_ESYS);
    assert_non_null(strstr(err.msg, "cannot read the keyring"));
    afx_free(f);
}

static void apt_index__expired_release_refused(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("expired", "keyring.gpg");
    ec_err err = {0};
    assert_int_equal(index_error(f, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "Release is expired since "));
    /* check_valid_until: false accepts it */
    json_object_set_new(f->config, "check_valid_until", json_false());
    ec_apt_sources s;
    ec_apt_index *idx = NULL;
    size_t n = 0;
    ec_err_clear(&err);
    assert_int_equal(ec_apt_sources_load(&s, &f->ctx, &err), EC_OK);
    assert_int_equal(ec_apt_indexes_get(&idx, &n, &f->ctx, &s, NULL, &err), EC_OK);
    assert_int_equal(n, 1);
    ec_apt_indexes_free(idx, n);
    ec_apt_sources_fini(&s);
    afx_free(f);
}

static void apt_index__future_date_refused(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("future", "keyring.gpg");
    ec_err err = {0};
    assert_int_equal(index_error(f, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "is in the future"));
    afx_free(f);
}

static void apt_index__missing_suite_is_not_found(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("nosuch", "keyring.gpg");
    ec_err err = {0};
    assert_int_equal(index_error(f, &err), EC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/dists/nosuch/InRelease"));
    afx_free(f);
}

static void apt_release__parse_fields_and_hashes(void **state)
{
    (void)state;
    static const char text[] =
        "Origin: Debian\n"
        "Date: Sat, 07 Apr 2018 14:41:12 UTC\n"
        "Valid-Until: Sat, 14 Apr 2018 14:41:12 UTC\n"
        "Acquire-By-Hash: yes\n"
        "MD5Sum:\n"
        " 0123456789abcdef0123456789abcdef 12 main/binary-amd64/Packages\n"
        "SHA256:\n"
        " 4771fbd62bba4dc202a2c6a93342330cea878d22a63c2ba80bb335368f69efe9   486 "
        "main/binary-amd64/Packages\n"
        " 8b2984651f4d3ff81333540132a13ec73ede9066ae6936ce6c4871bf3d0a3d6f 340 "
        "main/binary-amd64/Packages.xz\n";
    ec_apt_release r = {0};
    ec_err err = {0};
    assert_int_equal(ec_apt_release_parse(&r, text, sizeof text - 1, &err), EC_OK);
    assert_string_equal(r.date, "Sat, 07 Apr 2018 14:41:12 UTC");
    assert_int_equal(r.date_t, 1523112072);
    assert_int_equal(r.valid_until, 1523112072 + 7 * 86400);
    assert_true(r.by_hash);
    assert_int_equal(r.nfiles, 2);
    const ec_apt_relfile *x = ec_apt_release_find(&r, "main/binary-amd64/Packages.xz");
    assert_non_null(x);
    assert_int_equal(x->size, 340);
    assert_null(ec_apt_release_find(&r, "main/binary-i386/Packages"));
    ec_apt_release_fini(&r);

    static const char bad[] = "Date: yesterday\n";
    assert_int_equal(ec_apt_release_parse(&r, bad, sizeof bad - 1, &err), EC_EFORMAT);
    assert_non_null(strstr(err.msg, "not a date"));
    ec_apt_release_fini(&r);
    static const char badsha[] = "Date: Sat, 07 Apr 2018 14:41:12 UTC\nSHA256:\n xyz 1 a\n";
    ec_err_clear(&err);
    assert_int_equal(ec_apt_release_parse(&r, badsha, sizeof badsha - 1, &err), EC_EFORMAT);
    ec_apt_release_fini(&r);
}

/* The bases hook's probe: the InRelease's digest and Date, in one request, unverified. */
static void apt_release__bases_probe_reads_the_archive_state(void **state)
{
    (void)state;
    AFX_SKIP_WITHOUT_TOOLS();
    struct afx *f = afx_new("test", "keyring.gpg");
    ec_digest got, want;
    char date[64];
    ec_err err = {0};
    assert_int_equal(ec_apt_bases.release_probe(&got, date, f->uri, "test", &err), EC_OK);
    afx_file_digest(&want, "dists/test/InRelease");
    assert_true(ec_digest_eq(&got, &want));
    assert_true(date[0] != '\0');
    assert_int_equal(ec_apt_bases.release_probe(&got, date, f->uri, "nosuch", &err),
                     EC_ENOTFOUND);
    afx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_release__parse_fields_and_hashes),
        cmocka_unit_test(apt_index__good_archive_verifies_and_is_stored),
        cmocka_unit_test(apt_index__second_get_within_ttl_makes_no_request),
        cmocka_unit_test(apt_index__tampered_packages_refused_and_not_stored),
        cmocka_unit_test(apt_index__gz_is_inflated_while_it_downloads),
        cmocka_unit_test(apt_index__tampered_gz_refused_and_not_stored),
        cmocka_unit_test(apt_index__gz_is_parsed_while_it_downloads),
        cmocka_unit_test(apt_index__tampered_gz_is_not_kept_parsed),
        cmocka_unit_test(apt_index__wrong_keyring_is_a_signature_error),
        cmocka_unit_test(apt_index__expired_release_refused),
        cmocka_unit_test(apt_index__future_date_refused),
        cmocka_unit_test(apt_index__missing_suite_is_not_found),
        cmocka_unit_test(apt_release__bases_probe_reads_the_archive_state),
    };
    return cmocka_run_group_tests(tests, afx_group_setup, afx_group_teardown);
}
