/* SPDX-License-Identifier: MIT */
/* Unit tests of the blob write protocol. */
#include "tests/unit/helpers/ec_test.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/mem.h"

static void blob__commit_records_and_places(void **state)
{
    struct ect_store_fixture *fx = *state;
    EC_AUTO(ec_blob_writer) w = NULL;
    ec_err err = {0};
    ec_digest got, want;
    ec_sha256_buf(&want, "hello", 5);
    assert_int_equal(ec_blob_writer_new(&w, fx->st, &err), EC_OK);
    assert_int_equal(ec_blob_writer_write(w, "hel", 3, &err), EC_OK);
    assert_int_equal(ec_blob_writer_write(w, "lo", 2, &err), EC_OK);
    assert_int_equal(ec_blob_writer_commit(ec_steal(&w), &want, &got, &err), EC_OK);
    assert_true(ec_digest_eq(&got, &want));
    assert_true(ec_store_has_blob(fx->st, &want));
    char *path = ec_blob_path(fx->st, &want);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0400); /* read-only and private (modes.c) */
    free(path);
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
}

static void blob__commit_rejects_wrong_digest(void **state)
{
    struct ect_store_fixture *fx = *state;
    EC_AUTO(ec_blob_writer) w = NULL;
    ec_err err = {0};
    ec_digest other;
    ec_sha256_buf(&other, "other", 5);
    assert_int_equal(ec_blob_writer_new(&w, fx->st, &err), EC_OK);
    assert_int_equal(ec_blob_writer_write(w, "abc", 3, &err), EC_OK);
    assert_int_equal(ec_blob_writer_commit(ec_steal(&w), &other, NULL, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "nothing was stored"));
    assert_false(ec_store_has_blob(fx->st, &other));
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
}

static void blob__cancel_leaves_nothing(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_blob_writer *w = NULL;
    assert_int_equal(ec_blob_writer_new(&w, fx->st, NULL), EC_OK);
    assert_int_equal(ec_blob_writer_write(w, "abc", 3, NULL), EC_OK);
    assert_int_equal(ect_count(fx->home, "tmp"), 1);
    ec_blob_writer_cancel(w);
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
}

static void blob__copy_verified_detects_tampering(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_digest d;
    char *src = ec_xasprintf("%s/src", fx->home);
    ect_write(fx->home, "src", "payload bytes", 0644);
    assert_int_equal(ec_blob_put_file(&d, fx->st, src, NULL, &err), EC_OK);
    int out = open("/dev/null", O_WRONLY);
    assert_int_equal(ec_blob_copy_verified(fx->st, &d, out, &err), EC_OK);
    /* Flip a byte of the stored blob: it must never be served again. */
    char *path = ec_blob_path(fx->st, &d);
    chmod(path, 0644);
    int fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, "X", 1, 0), 1);
    close(fd);
    assert_int_equal(ec_blob_copy_verified(fx->st, &d, out, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "corrupt"));
    close(out);
    free(path);
    free(src);
}

static void digest__parse_and_format_round_trip(void **state)
{
    (void)state;
    ec_digest d, e;
    ec_err err = {0};
    char s[EC_DIGEST_STR_LEN];
    ec_sha256_buf(&d, "", 0);
    ec_digest_format(s, &d);
    assert_string_equal(s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(ec_digest_parse(&e, s, &err), EC_OK);
    assert_true(ec_digest_eq(&d, &e));
    assert_int_equal(ec_digest_parse(&e, s + 7, &err), EC_OK);
    assert_int_equal(ec_digest_parse(&e, "sha256:abc", &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "sha256:abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(blob__commit_records_and_places, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(blob__commit_rejects_wrong_digest, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(blob__cancel_leaves_nothing, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(blob__copy_verified_detects_tampering, ect_store_setup, ect_store_teardown),
        cmocka_unit_test(digest__parse_and_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
