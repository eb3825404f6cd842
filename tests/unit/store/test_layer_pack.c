/* SPDX-License-Identifier: MIT */
/* Unit tests of layer packing: determinism, the golden digest, and round trips. */
#include "tests/unit/helpers/ec_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

/* mknod, chown, setcap and trusted.* attributes need root; the rest of the suite runs. */
static void need_root(void)
{
    if (geteuid() != 0)
        skip();
}

/* The tree every determinism test packs; @reverse creates it in the opposite order. */
static void make_tree(const char *d, bool reverse)
{
    static const char *const steps[] = {
        "mkdir -p bin etc/ssl data empty ro a",
        "printf 'tool' > bin/tool && chmod 0755 bin/tool",
        "printf 'suid' > bin/suid && chmod 04755 bin/suid",
        "printf 'ping' > bin/ping && chmod 0755 bin/ping && setcap cap_net_raw+ep bin/ping",
        "printf 'secret' > etc/secret && chmod 0600 etc/secret",
        "printf 'conf' > etc/ssl/conf && chmod 0644 etc/ssl/conf",
        "printf 'shared' > data/one && chmod 0640 data/one && ln data/one data/two",
        "ln -s tool bin/link && ln -s /etc/passwd abs",
        "printf 'x' > a-b && printf 'y' > a/b && chmod 0644 a-b a/b",
        "printf 'ro' > ro/file && chmod 0444 ro/file",
        "chmod 0700 empty && chmod 0755 bin etc etc/ssl data a && chmod 0555 ro",
    };
    size_t n = EC_ARRAY_LEN(steps);
    /* Directories first either way; the rest in either order. */
    ect_sh("set -e; cd %s; %s", d, steps[0]);
    for (size_t i = 1; i < n - 1; i++)
        ect_sh("set -e; umask 022; cd %s; %s", d, steps[reverse ? n - 1 - i : i]);
    ect_sh("set -e; cd %s; %s", d, steps[n - 1]);
}

static ec_layer_info pack(ec_store *st, const char *dir, int threads)
{
    ec_layer_info info;
    ec_err err = {0};
    ec_pack_opts opts = {.threads = threads};
    int r = ec_layer_pack_dir(&info, st, dir, &opts, &err);
    if (r != EC_OK)
        fail_msg("pack %s: %s", dir, err.msg);
    return info;
}

static void assert_same_layer(const ec_layer_info *a, const ec_layer_info *b)
{
    char x[EC_DIGEST_STR_LEN], y[EC_DIGEST_STR_LEN];
    if (!ec_digest_eq(&a->diff_id, &b->diff_id))
        fail_msg("diff_id %s != %s", ec_digest_format(x, &a->diff_id),
                 ec_digest_format(y, &b->diff_id));
    if (!ec_digest_eq(&a->digest, &b->digest))
        fail_msg("digest %s != %s", ec_digest_format(x, &a->digest),
                 ec_digest_format(y, &b->digest));
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->tar_size, b->tar_size);
    assert_int_equal(a->files, b->files);
}

static void layer_pack__same_tree_same_digest(void **state)
{
    struct ect_store_fixture *fx = *state;
    need_root();
    char *t1 = ect_tmpdir(), *t2 = ect_tmpdir();
    make_tree(t1, false);
    make_tree(t2, true);
    /* Everything the tar must ignore differs in t2: times, owners, creation order. */
    ect_sh("cd %s && find . -exec touch -h -d '2001-02-03 04:05:06' {} +", t2);
    ect_sh("cd %s && find . -exec chown -h 1234:5678 {} + && chmod 04755 bin/suid &&"
           " setcap cap_net_raw+ep bin/ping", t2);
    ec_layer_info a = pack(fx->st, t1, 1);
    ec_layer_info b = pack(fx->st, t2, 2);
    ec_layer_info c = pack(fx->st, t1, 4);
    assert_same_layer(&a, &b);
    assert_same_layer(&a, &c);
    assert_true(ec_store_has_blob(fx->st, &a.digest));
    assert_int_equal(a.files, 19); /* 7 dirs + 12 files, links and symlinks */
    assert_true(a.tar_size > a.size);
    assert_int_equal(ect_count(fx->home, "tmp"), 0);
    ect_rmdir(t1);
    ect_rmdir(t2);
}

/* Lists the blob's tar entries as "path type mode uid mtime [link]" lines. */
static char *list_blob(ec_store *st, const ec_digest *d)
{
    char *path = ec_blob_path(st, d);
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t cap = 1 << 16, n = 0;
    char *out = ec_xcalloc(1, cap);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *l = archive_entry_hardlink(e) ? archive_entry_hardlink(e)
                                                  : archive_entry_symlink(e);
        n += (size_t)snprintf(out + n, cap - n, "%s %o %lld %lld %s\n", archive_entry_pathname(e),
                              (unsigned)archive_entry_mode(e), (long long)archive_entry_uid(e),
                              (long long)archive_entry_mtime(e), l ? l : "-");
        assert_true(n < cap);
    }
    archive_read_free(a);
    free(path);
    return out;
}

static void layer_pack__tar_is_sorted_and_normalised(void **state)
{
    struct ect_store_fixture *fx = *state;
    need_root();
    char *t = ect_tmpdir();
    make_tree(t, false);
    ect_sh("chown -R 1000:1000 %s/etc", t);
    ec_layer_info info = pack(fx->st, t, 0);
    char *list = list_blob(fx->st, &info.digest);
    /* Bytewise order of the full paths: '-' < '/' puts "a-b" between "a" and "a/b". */
    static const char *const order[] = {
        "a/", "a-b", "a/b", "abs", "bin/", "bin/link", "bin/ping", "bin/suid", "bin/tool",
        "data/", "data/one", "data/two", "empty/", "etc/", "etc/secret", "etc/ssl/",
        "etc/ssl/conf", "ro/", "ro/file"};
    const char *line = list;
    for (size_t i = 0; i < EC_ARRAY_LEN(order); i++) {
        size_t k = strlen(order[i]);
        if (strncmp(line, order[i], k) != 0 || line[k] != ' ')
            fail_msg("entry %zu should be %s in:\n%s", i, order[i], list);
        line = strchr(line, '\n') + 1;
    }
    assert_string_equal(line, "");
    assert_non_null(strstr(list, "\ndata/two 640 0 0 data/one\n"));
    assert_non_null(strstr(list, "\nbin/suid 104755 0 0 -\n"));
    assert_non_null(strstr(list, "\netc/secret 100600 0 0 -\n"));
    assert_non_null(strstr(list, "\nabs 120777 0 0 /etc/passwd\n"));
    assert_non_null(strstr(list, "\nempty/ 40700 0 0 -\n"));
    free(list);
    ect_rmdir(t);
}

static void assert_mode(const char *root, const char *rel, unsigned mode)
{
    char *p = ec_xasprintf("%s/%s", root, rel);
    struct stat sb;
    if (lstat(p, &sb) != 0)
        fail_msg("%s is missing", p);
    if ((sb.st_mode & 07777) != mode)
        fail_msg("%s has mode %o, want %o", p, sb.st_mode & 07777, mode);
    assert_int_equal(sb.st_uid, 0);
    assert_int_equal(sb.st_mtime, 0);
    free(p);
}

static ino_t ino_of(const char *root, const char *rel)
{
    char *p = ec_xasprintf("%s/%s", root, rel);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    free(p);
    return sb.st_ino;
}

static ssize_t caps_of(const char *root, const char *rel, char *buf, size_t n)
{
    char *p = ec_xasprintf("%s/%s", root, rel);
    ssize_t r = lgetxattr(p, "security.capability", buf, n);
    free(p);
    return r;
}

static void layer_pack__round_trip_keeps_attributes(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *out = NULL, target[64] = {0}, c1[64], c2[64];
    ec_err err = {0};
    need_root();
    char *t = ect_tmpdir();
    make_tree(t, false);
    ec_layer_info info = pack(fx->st, t, 2);
    assert_int_equal(ec_layer_ensure_unpacked(&out, fx->st, &info, &err), EC_OK);
    assert_mode(out, "bin/suid", 04755);
    assert_mode(out, "etc/secret", 0600);
    assert_mode(out, "ro", 0555);
    assert_mode(out, "ro/file", 0444);
    assert_mode(out, "empty", 0700);
    assert_int_equal(ect_count(out, "empty"), 0);
    assert_int_equal(ino_of(out, "data/one"), ino_of(out, "data/two"));
    char *link = ec_xasprintf("%s/bin/link", out);
    assert_int_equal(readlink(link, target, sizeof target - 1), 4);
    assert_string_equal(target, "tool");
    ssize_t n1 = caps_of(t, "bin/ping", c1, sizeof c1), n2 = caps_of(out, "bin/ping", c2, sizeof c2);
    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(c1, c2, (size_t)n1);
    ect_sh("getcap %s/bin/ping | grep -q cap_net_raw", out);
    /* A second call finds the directory and does not unpack again. */
    char *again = NULL;
    assert_int_equal(ec_layer_ensure_unpacked(&again, fx->st, &info, &err), EC_OK);
    assert_string_equal(out, again);
    /* Packing the unpacked tree gives the same layer back. */
    ec_layer_info back = pack(fx->st, out, 1);
    assert_same_layer(&info, &back);
    free(link);
    free(again);
    free(out);
    ect_rmdir(t);
}

static void layer_pack__whiteouts_round_trip(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *out = NULL, val[8];
    ec_err err = {0};
    need_root();
    char *t = ect_tmpdir();
    ect_write(t, "d/keep", "k", 0644);
    ect_write(t, "op/new", "n", 0644);
    ect_sh("mknod %s/d/gone c 0 0", t);
    char *op = ec_xasprintf("%s/op", t);
    assert_int_equal(setxattr(op, "trusted.overlay.opaque", "y", 1, 0), 0);
    ec_layer_info info = pack(fx->st, t, 1);
    char *list = list_blob(fx->st, &info.digest);
    assert_non_null(strstr(list, "d/.wh.gone 100000 0 0 -\n"));
    assert_non_null(strstr(list, "op/.wh..wh..opq 100000 0 0 -\n"));
    assert_true(strstr(list, "op/.wh..wh..opq") < strstr(list, "op/new"));
    assert_int_equal(ec_layer_ensure_unpacked(&out, fx->st, &info, &err), EC_OK);
    char *gone = ec_xasprintf("%s/d/gone", out), *wh = ec_xasprintf("%s/d/.wh.gone", out);
    char *op2 = ec_xasprintf("%s/op", out);
    struct stat sb;
    assert_int_equal(lstat(gone, &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    assert_int_equal(sb.st_rdev, makedev(0, 0));
    assert_int_not_equal(lstat(wh, &sb), 0);
    assert_int_equal(lgetxattr(op2, "trusted.overlay.opaque", val, sizeof val), 1);
    assert_int_equal(val[0], 'y');
    assert_int_equal(ect_count(out, "op"), 1);
    free(gone);
    free(wh);
    free(op2);
    free(op);
    free(list);
    free(out);
    ect_rmdir(t);
}

static void layer_pack__refuses_special_files(void **state)
{
    struct ect_store_fixture *fx = *state;
    static const char *const cases[][2] = {
        {"mkfifo", "sub/pipe"},
        {"mknod", "sub/null"},
        {"touch", "sub/.wh.fake"},
        {"ln -s ../../etc", "sub/up"}, /* unpack would refuse it: so does pack */
    };
    need_root();
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        char *t = ect_tmpdir();
        ec_layer_info info;
        ec_err err = {0};
        ect_write(t, "sub/ok", "ok", 0644);
        ect_sh("%s %s/%s %s", cases[i][0], t, cases[i][1], i == 1 ? "c 1 3" : "");
        assert_int_equal(ec_layer_pack_dir(&info, fx->st, t, NULL, &err), EC_EUNSAFE);
        if (!strstr(err.msg, cases[i][1]))
            fail_msg("message does not name %s: %s", cases[i][1], err.msg);
        assert_int_equal(ect_count(fx->home, "tmp"), 0);
        ect_rmdir(t);
    }
}

/* --- the golden digest (tests/fixtures/layers/) --- */

/* A tree with no root-only features, so its digest can be checked anywhere. */
static void make_small_tree(const char *d)
{
    ect_sh("set -e; umask 022; cd %s; mkdir -p usr/bin usr/share/doc/pkg empty"
           " deep/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb;"
           " printf '#!/bin/sh\\necho hi\\n' > usr/bin/hi; chmod 0755 usr/bin/hi;"
           " printf 'suid' > usr/bin/su; chmod 04755 usr/bin/su;"
           " printf 'copyright\\n' > usr/share/doc/pkg/copyright;"
           " ln usr/share/doc/pkg/copyright usr/share/doc/pkg/COPYING;"
           " ln -s hi usr/bin/hello; ln -s /usr/bin/hi usr/bin/abs;"
           " printf 'caf\\303\\251' > usr/share/doc/pkg/caf\\303\\251.txt;"
           " printf 'raw' > usr/share/doc/pkg/raw\\377name;"
           " printf 'deep' > deep/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/file-with-a-long-name-to-need-pax-path-records;"
           " head -c 300000 /dev/zero | tr '\\0' 'z' > usr/share/doc/pkg/big;"
           " chmod 0700 empty; chmod 0644 usr/share/doc/pkg/*",
           d);
}

static char *golden_path(void)
{
    /* __FILE__ is absolute under CMake: tests/unit/store/test_layer_pack.c */
    char *p = ec_xstrdup(__FILE__);
    char *cut = strstr(p, "/unit/store/");
    assert_non_null(cut);
    *cut = '\0';
    char *out = ec_xasprintf("%s/fixtures/layers/small-tree.sha256", p);
    free(p);
    return out;
}

static void layer_pack__golden_small_tree(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *t = ect_tmpdir(), *path = golden_path(), *text = NULL, line[256];
    char digest[EC_DIGEST_HEX_LEN], diff_id[EC_DIGEST_HEX_LEN];
    char want_digest[EC_DIGEST_HEX_LEN] = "", want_diff[EC_DIGEST_HEX_LEN] = "";
    ec_err err = {0};
    make_small_tree(t);
    ec_layer_info info = pack(fx->st, t, 1);
    ec_digest_hex(digest, &info.digest);
    ec_digest_hex(diff_id, &info.diff_id);
    assert_int_equal(ec_read_file(&text, NULL, path, 4096, &err), EC_OK);
    for (char *s = text, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        if (!nl)
            nl = s + strlen(s) - 1;
        snprintf(line, sizeof line, "%.*s", (int)(nl - s), s);
        if (strstr(line, "  digest") == line + 64)
            memcpy(want_digest, line, 64);
        if (strstr(line, "  diff_id") == line + 64)
            memcpy(want_diff, line, 64);
    }
    if (strcmp(want_diff, diff_id) != 0 || strcmp(want_digest, digest) != 0)
        fail_msg("small tree changed; if intended (see tests/fixtures/layers/README.md) put\n"
                 "%s  digest\n%s  diff_id\ninto %s",
                 digest, diff_id, path);
    free(text);
    free(path);
    ect_rmdir(t);
}

/* $ENVCACHE_PACK_LEVEL picks the level: the same tree and the same tar, another blob
 * (level 3 gives the digest the golden file had before level 1 became the default); a
 * value that is not a level is refused by name. */
static void layer_pack__level_from_the_environment(void **state)
{
    struct ect_store_fixture *fx = *state;
    char *t = ect_tmpdir();
    make_small_tree(t);
    ec_layer_info one = pack(fx->st, t, 1);
    setenv("ENVCACHE_PACK_LEVEL", "3", 1);
    ec_layer_info three = pack(fx->st, t, 1);
    char hex[EC_DIGEST_HEX_LEN];
    assert_string_equal(ec_digest_hex(hex, &three.digest),
                        "24b3585647399448dbb6f52c3ad716e573aef5b7b284730543647b71e7be77b7");
    assert_true(ec_digest_eq(&one.diff_id, &three.diff_id));
    assert_false(ec_digest_eq(&one.digest, &three.digest));
    assert_true(three.size < one.size);
    setenv("ENVCACHE_PACK_LEVEL", "fast", 1);
    ec_layer_info info;
    ec_err err = {0};
    assert_int_equal(ec_layer_pack_dir(&info, fx->st, t, NULL, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "ENVCACHE_PACK_LEVEL=fast is not a zstd level"));
    unsetenv("ENVCACHE_PACK_LEVEL");
    ect_rmdir(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(layer_pack__same_tree_same_digest, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__tar_is_sorted_and_normalised,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__round_trip_keeps_attributes,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__whiteouts_round_trip, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__refuses_special_files, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__golden_small_tree, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(layer_pack__level_from_the_environment,
                                        ect_store_setup, ect_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
