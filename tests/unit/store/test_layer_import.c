/* SPDX-License-Identifier: MIT */
/* Unit tests of layer import and of unpacking recorded layers on demand. */
#include "tests/unit/helpers/ec_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

/* mknod, chown, setcap and trusted.* attributes need root; the rest of the suite runs. */
static void need_root(void)
{
    if (geteuid() != 0)
        skip();
}

/* Writes "<dir>/<name>" as a tar (zstd-compressed if @zstd) of a small fixed tree whose
 * owners and times are not normalised. */
static char *write_tar(const char *dir, const char *name, bool zstd, const char *extra)
{
    char *path = ec_xasprintf("%s/%s", dir, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (zstd)
        archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    const char *names[] = {"usr/", "usr/bin/tool", "etc/.wh.old", extra};
    for (size_t i = 0; i < EC_ARRAY_LEN(names) && names[i]; i++) {
        struct archive_entry *e = archive_entry_new();
        bool is_dir = names[i][strlen(names[i]) - 1] == '/';
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_mode(e, is_dir ? AE_IFDIR | 0755 : AE_IFREG | 0755);
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 1000);
        archive_entry_set_mtime(e, 1000000000, 5);
        archive_entry_set_size(e, is_dir ? 0 : 4);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (!is_dir)
            assert_int_equal(archive_write_data(a, "data", 4), 4);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static ec_layer_info lookup(ec_store *st, const ec_digest *d)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_layer_info info;
    ec_err err = {0};
    assert_int_equal(ec_txn_begin(&txn, st, EC_TXN_READ, &err), EC_OK);
    if (ec_layer_lookup(&info, txn, d, &err) != EC_OK)
        fail_msg("lookup: %s", err.msg);
    return info;
}

static char *unpacked_dir(ec_store *st, const ec_layer_info *info)
{
    char hex[EC_DIGEST_HEX_LEN], *rel, *path;
    rel = ec_xasprintf("layers/%s", ec_digest_hex(hex, &info->diff_id));
    path = ec_store_path(st, rel);
    free(rel);
    return path;
}

static void layer_import__tarball_is_normalised_and_recorded(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_layer_info a, b;
    ec_err err = {0};
    struct stat sb;
    need_root(); /* the whiteout is a 0:0 character device */
    char *src = ect_tmpdir();
    char *zst = write_tar(src, "layer.tar.zst", true, NULL);
    char *plain = write_tar(src, "layer.tar", false, NULL);

    assert_int_equal(ec_layer_import(&a, fx->st, zst, 0, NULL, NULL, &err), EC_OK);
    ec_layer_info rec = lookup(fx->st, &a.digest);
    assert_true(ec_digest_eq(&rec.diff_id, &a.diff_id));
    assert_int_equal(rec.files, 5); /* etc/ etc/.wh.old usr/ usr/bin/ usr/bin/tool */
    char *dir = unpacked_dir(fx->st, &a);
    char *tool = ec_xasprintf("%s/usr/bin/tool", dir), *old = ec_xasprintf("%s/etc/old", dir);
    assert_int_equal(lstat(tool, &sb), 0);
    assert_int_equal(sb.st_uid, 0);
    assert_int_equal(sb.st_mtime, 0);
    assert_int_equal(lstat(old, &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    assert_int_equal(ect_count(fx->home, "tmp"), 0);

    /* The same tree uncompressed is the same layer; the record keeps its first creation
     * time and gains the new flag. */
    assert_int_equal(ec_layer_import(&b, fx->st, plain, EC_LAYER_BASE, NULL, NULL, &err), EC_OK);
    assert_true(ec_digest_eq(&a.digest, &b.digest));
    rec = lookup(fx->st, &a.digest);
    assert_int_equal(rec.created, a.created);
    assert_int_equal(rec.flags, EC_LAYER_BASE);
    assert_int_equal(ect_count(fx->home, "layers"), ect_count(dir, "") + 1);
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
    free(tool);
    free(old);
    free(dir);
    free(zst);
    free(plain);
    ect_rmdir(src);
}

static void layer_import__directory_is_packed_and_unpacked(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *src = ect_tmpdir();
    ec_layer_info info;
    ec_err err = {0};
    ect_write(src, "usr/lib/x.so", "elf", 0755);
    ect_write(src, "etc/conf", "c", 0600);
    assert_int_equal(ec_layer_import(&info, fx->st, src, EC_LAYER_BASE, NULL, NULL, &err), EC_OK);
    assert_int_equal(lookup(fx->st, &info.digest).flags, EC_LAYER_BASE);
    char *dir = unpacked_dir(fx->st, &info);
    assert_int_equal(ect_count(dir, ""), 5);
    ect_sh("cmp %s/usr/lib/x.so %s/usr/lib/x.so", src, dir);
    free(dir);
    ect_rmdir(src);
}

static void layer_import__refusals_leave_nothing(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *src = ect_tmpdir();
    ec_layer_info info;
    ec_err err = {0};
    ect_write(src, "notes.txt", "this is not a tar archive\n", 0644);
    char *txt = ec_xasprintf("%s/notes.txt", src);
    assert_int_equal(ec_layer_import(&info, fx->st, txt, 0, NULL, NULL, &err), EC_EARCHIVE);
    assert_non_null(strstr(err.msg, "notes.txt"));
    char *bad = write_tar(src, "bad.tar.zst", true, "usr/../../escape");
    ec_err_clear(&err);
    assert_int_equal(ec_layer_import(&info, fx->st, bad, 0, NULL, NULL, &err), EC_EUNSAFE);
    assert_non_null(strstr(err.msg, "usr/../../escape"));
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
    assert_int_equal(ect_count(fx->home, "layers"), 0);
    free(txt);
    free(bad);
    ect_rmdir(src);
}

static void layer_import__corrupt_blob_is_not_unpacked(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *src = ect_tmpdir(), *out = NULL, hex[EC_DIGEST_STR_LEN];
    ec_layer_info info;
    ec_err err = {0};
    ect_write(src, "a/file", "some bytes to compress, some bytes to compress", 0644);
    assert_int_equal(ec_layer_pack_dir(&info, fx->st, src, NULL, &err), EC_OK);
    char *blob = ec_blob_path(fx->st, &info.digest);
    assert_int_equal(chmod(blob, 0644), 0); /* blobs are 0444 */
    int fd = open(blob, O_RDWR | O_CLOEXEC);
    unsigned char c;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, (off_t)info.size / 2), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)info.size / 2), 1);
    close(fd);
    assert_int_equal(ec_layer_ensure_unpacked(&out, fx->st, &info, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, ec_digest_format(hex, &info.digest)));
    assert_null(out);
    assert_int_equal(ect_count(fx->home, "layers"), 0);
    free(blob);
    ect_rmdir(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(layer_import__tarball_is_normalised_and_recorded,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_import__directory_is_packed_and_unpacked,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_import__refusals_leave_nothing, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_import__corrupt_blob_is_not_unpacked,
                                        ect_store_setup, ect_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
