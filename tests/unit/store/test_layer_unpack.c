/* SPDX-License-Identifier: MIT */
/* Unit tests of layer extraction: hostile archives are refused and leave nothing behind. */
#include "tests/unit/helpers/ec_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
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

/* --- building archives in memory with libarchive's writer --- */

struct tb {
    struct archive *a;
    int fd; /* memfd the archive streams into */
};

static la_ssize_t tb_write(struct archive *a, void *data, const void *buf, size_t n)
{
    (void)a;
    struct tb *t = data;
    assert_int_equal(write(t->fd, buf, n), (ssize_t)n);
    return (la_ssize_t)n;
}

static void tb_begin(struct tb *t, bool zstd)
{
    t->fd = memfd_create("layer.tar", MFD_CLOEXEC);
    assert_true(t->fd >= 0);
    t->a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(t->a), ARCHIVE_OK);
    /* No zero padding after the end: it is not part of a zstd stream. */
    assert_int_equal(archive_write_set_bytes_in_last_block(t->a, 1), ARCHIVE_OK);
    if (zstd)
        assert_int_equal(archive_write_add_filter_zstd(t->a), ARCHIVE_OK);
    assert_int_equal(archive_write_open(t->a, t, NULL, tb_write, NULL), ARCHIVE_OK);
}

static struct archive_entry *tb_entry(const char *path, unsigned type, unsigned perm, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 1000000000, 0);
    return e;
}

static void tb_put(struct tb *t, struct archive_entry *e, const void *data, size_t n)
{
    assert_true(archive_write_header(t->a, e) >= ARCHIVE_WARN);
    if (n)
        assert_int_equal(archive_write_data(t->a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
}

static void tb_file(struct tb *t, const char *path, const char *text, unsigned perm)
{
    tb_put(t, tb_entry(path, AE_IFREG, perm, (int64_t)strlen(text)), text, strlen(text));
}

static void tb_dir(struct tb *t, const char *path, unsigned perm)
{
    tb_put(t, tb_entry(path, AE_IFDIR, perm, 0), NULL, 0);
}

static void tb_symlink(struct tb *t, const char *path, const char *target)
{
    struct archive_entry *e = tb_entry(path, AE_IFLNK, 0777, 0);
    archive_entry_set_symlink(e, target);
    tb_put(t, e, NULL, 0);
}

static void tb_hardlink(struct tb *t, const char *path, const char *target)
{
    struct archive_entry *e = tb_entry(path, AE_IFREG, 0644, 0);
    archive_entry_set_hardlink(e, target);
    tb_put(t, e, NULL, 0);
}

static void tb_zeros(struct tb *t, const char *path, int64_t size)
{
    static char zeros[65536];
    tb_put(t, tb_entry(path, AE_IFREG, 0644, size), NULL, 0);
    for (int64_t left = size; left > 0; left -= (int64_t)sizeof zeros) {
        size_t n = left < (int64_t)sizeof zeros ? (size_t)left : sizeof zeros;
        assert_int_equal(archive_write_data(t->a, zeros, n), (la_ssize_t)n);
    }
}

/* Finishes the archive; returns the fd to read it from. */
static int tb_end(struct tb *t)
{
    assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
    archive_write_free(t->a);
    assert_int_equal(lseek(t->fd, 0, SEEK_SET), 0);
    return t->fd;
}

/* --- running an unpack into a fresh parent directory --- */

struct run {
    char *parent, *dest;
    ec_err err;
    int rc;
};

/* Unpacks the archive on @fd (consumed) into "<new temporary directory>/layer". */
static void run_unpack(struct run *r, int fd, const ec_unpack_limits *lim)
{
    r->parent = ect_tmpdir();
    r->dest = ec_xasprintf("%s/layer", r->parent);
    memset(&r->err, 0, sizeof r->err);
    r->rc = ec_layer_unpack_fd(fd, r->dest, lim, &r->err);
    close(fd);
}

static void run_fini(struct run *r)
{
    free(r->dest);
    ect_rmdir(r->parent);
}

/* The refusal every hostile case must end in: this code, a message naming the entry, and an
 * empty parent directory (no destination, no temporary). */
static void assert_refused(struct run *r, int code, const char *entry)
{
    if (r->rc != code)
        fail_msg("got %s (%s), want %s", ec_code_name(r->rc), r->err.msg, ec_code_name(code));
    assert_int_equal(r->err.code, code);
    if (!strstr(r->err.msg, entry))
        fail_msg("message does not name %s: %s", entry, r->err.msg);
    assert_int_equal(ect_count(r->parent, ""), 0);
    run_fini(r);
}

static void layer_unpack__refuses_absolute_path(void **state)
{
    (void)state;
    struct tb t;
    struct run r;
    tb_begin(&t, false);
    tb_file(&t, "ok", "fine", 0644);
    tb_file(&t, "/etc/evil-envcache", "x", 0644);
    run_unpack(&r, tb_end(&t), NULL);
    assert_refused(&r, EC_EUNSAFE, "/etc/evil-envcache");
    assert_int_not_equal(access("/etc/evil-envcache", F_OK), 0);
}

static void layer_unpack__refuses_dotdot(void **state)
{
    (void)state;
    const char *paths[] = {"../x", "a/../../x", "a/b/../../../x", ".."};
    for (size_t i = 0; i < EC_ARRAY_LEN(paths); i++) {
        struct tb t;
        struct run r;
        tb_begin(&t, false);
        tb_dir(&t, "a/", 0755);
        tb_file(&t, paths[i], "x", 0644);
        run_unpack(&r, tb_end(&t), NULL);
        assert_refused(&r, EC_EUNSAFE, paths[i]);
    }
}

static void layer_unpack__refuses_escaping_symlink(void **state)
{
    (void)state;
    struct tb t;
    struct run r;
    tb_begin(&t, false);
    tb_symlink(&t, "a/b/ok", "../../x");           /* stays at the root: fine */
    tb_symlink(&t, "a/b/up", "../../../etc");      /* one level above the root */
    run_unpack(&r, tb_end(&t), NULL);
    assert_refused(&r, EC_EUNSAFE, "a/b/up");
}

static void layer_unpack__refuses_write_through_symlink(void **state)
{
    (void)state;
    char *outside = ect_tmpdir();
    struct tb t;
    struct run r;
    tb_begin(&t, false);
    tb_symlink(&t, "link", outside); /* absolute targets are allowed ... */
    tb_file(&t, "link/evil", "x", 0644); /* ... but never written through */
    run_unpack(&r, tb_end(&t), NULL);
    assert_refused(&r, EC_EUNSAFE, "link/evil");
    assert_int_equal(ect_count(outside, ""), 0);
    ect_rmdir(outside);
}

static void layer_unpack__refuses_bad_hardlinks(void **state)
{
    (void)state;
    const char *targets[] = {"/etc/passwd", "../x", "missing", "d/../../x", "d"};
    for (size_t i = 0; i < EC_ARRAY_LEN(targets); i++) {
        struct tb t;
        struct run r;
        tb_begin(&t, false);
        tb_file(&t, "x", "x", 0644);
        tb_dir(&t, "d", 0755);
        tb_hardlink(&t, "h", targets[i]);
        run_unpack(&r, tb_end(&t), NULL);
        assert_refused(&r, EC_EUNSAFE, "h");
        assert_int_not_equal(r.rc, EC_OK);
    }
    /* A hard link through a symlinked directory would leave the root too. */
    struct tb t;
    struct run r;
    tb_begin(&t, false);
    tb_symlink(&t, "etc", "/etc");
    tb_hardlink(&t, "pw", "etc/passwd");
    run_unpack(&r, tb_end(&t), NULL);
    assert_refused(&r, EC_EUNSAFE, "pw");
}

static void layer_unpack__refuses_devices(void **state)
{
    (void)state;
    const unsigned types[] = {AE_IFCHR, AE_IFBLK, AE_IFIFO};
    for (size_t i = 0; i < EC_ARRAY_LEN(types); i++) {
        struct tb t;
        struct run r;
        tb_begin(&t, false);
        struct archive_entry *e = tb_entry("dev/node", types[i], 0666, 0);
        archive_entry_set_rdev(e, makedev(1, 3));
        tb_put(&t, e, NULL, 0);
        run_unpack(&r, tb_end(&t), NULL);
        assert_refused(&r, EC_EUNSAFE, "dev/node");
    }
}

static void layer_unpack__refuses_tar_bomb(void **state)
{
    (void)state;
    const ec_unpack_limits lim = {.max_bytes = 1 << 20};
    struct tb t;
    struct run r;
    /* Each file fits, their sum does not. */
    tb_begin(&t, true);
    tb_zeros(&t, "one", 700 << 10);
    tb_zeros(&t, "two", 700 << 10);
    run_unpack(&r, tb_end(&t), &lim);
    assert_refused(&r, EC_ELIMIT, "two");
    /* One file past the per-entry limit, refused from its header. */
    const ec_unpack_limits per = {.max_entry_bytes = 64 << 10};
    tb_begin(&t, true);
    tb_zeros(&t, "big", 65 << 10);
    run_unpack(&r, tb_end(&t), &per);
    assert_refused(&r, EC_ELIMIT, "big");
}

/* --- a hand-made tar, for what libarchive's writer will not produce --- */

static void ustar_header(char h[512], const char *name, char type, unsigned long long size)
{
    unsigned sum = 0;
    memset(h, 0, 512);
    snprintf(h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf(h + 124, 12, "%011llo", size);
    memcpy(h + 136, "00000000000", 12);
    memset(h + 148, ' ', 8);
    h[156] = type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
}

/* Appends one pax record "<len> key=value\n", whose length counts its own digits. */
static size_t pax_record(char *buf, size_t n, size_t cap, const char *kv)
{
    size_t len = strlen(kv) + 3;
    while (snprintf(NULL, 0, "%zu", len) + strlen(kv) + 2 != len)
        len++;
    return n + (size_t)snprintf(buf + n, cap - n, "%zu %s\n", len, kv);
}

/* A GNU sparse (pax 0.1) entry whose header says the file has 10 bytes while its map
 * carries 2 MiB of data: only counting the bytes really written catches it. */
static void layer_unpack__refuses_lying_header(void **state)
{
    (void)state;
    static char zeros[1 << 16];
    char h[512], pax[512] = {0};
    size_t n = 0;
    const ec_unpack_limits lim = {.max_bytes = 1 << 20};
    struct run r;
    int fd = memfd_create("liar.tar", MFD_CLOEXEC);
    n = pax_record(pax, n, sizeof pax, "GNU.sparse.size=10");
    n = pax_record(pax, n, sizeof pax, "GNU.sparse.numblocks=1");
    n = pax_record(pax, n, sizeof pax, "GNU.sparse.map=0,2097152");
    ustar_header(h, "PaxHeader/liar", 'x', n);
    assert_int_equal(write(fd, h, 512), 512);
    assert_int_equal(write(fd, pax, 512), 512);
    ustar_header(h, "liar", '0', 2 << 20);
    assert_int_equal(write(fd, h, 512), 512);
    for (int i = 0; i < 32; i++)
        assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    assert_int_equal(write(fd, zeros, 1024), 1024); /* end of archive */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    run_unpack(&r, fd, &lim);
    assert_non_null(strstr(r.err.msg, "limit of 1048576 bytes")); /* counted, not declared */
    assert_refused(&r, EC_ELIMIT, "liar");
}

static void layer_unpack__refuses_too_many_entries(void **state)
{
    (void)state;
    const ec_unpack_limits lim = {.max_entries = 10};
    struct tb t;
    struct run r;
    char name[16];
    tb_begin(&t, false);
    for (int i = 0; i < 11; i++) {
        snprintf(name, sizeof name, "f%02d", i);
        tb_file(&t, name, "x", 0644);
    }
    run_unpack(&r, tb_end(&t), &lim);
    assert_refused(&r, EC_ELIMIT, "f10");
}

static void layer_unpack__refuses_existing_dest(void **state)
{
    (void)state;
    struct tb t;
    tb_begin(&t, false);
    tb_file(&t, "a", "a", 0644);
    int fd = tb_end(&t);
    char *parent = ect_tmpdir(), *dest = ec_xasprintf("%s/layer", parent);
    ec_err err = {0};
    assert_int_equal(mkdir(dest, 0755), 0);
    assert_int_equal(ec_layer_unpack_fd(fd, dest, NULL, &err), EC_ECONFLICT);
    assert_int_equal(ect_count(parent, ""), 1);
    close(fd);
    free(dest);
    ect_rmdir(parent);
}

static void assert_stat(const char *root, const char *rel, mode_t mode, struct stat *sb)
{
    char *p = ec_xasprintf("%s/%s", root, rel);
    if (lstat(p, sb) != 0)
        fail_msg("%s is missing", p);
    if (sb->st_mode != mode)
        fail_msg("%s has mode %o, want %o", p, sb->st_mode, mode);
    free(p);
}

static void layer_unpack__good_archive_with_whiteouts(void **state)
{
    (void)state;
    struct tb t;
    struct run r;
    struct stat sb;
    char val[4];
    need_root();
    tb_begin(&t, true);
    tb_dir(&t, "./", 0755);
    tb_dir(&t, "./ro/", 0555);
    tb_file(&t, "./ro/file", "data", 0444);
    tb_file(&t, "bin/suid", "s", 04755);
    tb_hardlink(&t, "bin/same", "bin/suid");
    tb_symlink(&t, "bin/rel", "../ro/file");
    tb_file(&t, "d/.wh.gone", "", 0);
    tb_file(&t, "op/.wh..wh..opq", "", 0);
    tb_file(&t, "op/kept", "k", 0600);
    run_unpack(&r, tb_end(&t), NULL);
    if (r.rc != EC_OK)
        fail_msg("unpack: %s", r.err.msg);
    assert_int_equal(ect_count(r.parent, ""), ect_count(r.dest, "") + 1); /* no temp left */
    assert_stat(r.dest, "ro", S_IFDIR | 0555, &sb);
    assert_int_equal(sb.st_mtime, 1000000000);
    assert_stat(r.dest, "ro/file", S_IFREG | 0444, &sb);
    assert_stat(r.dest, "bin/suid", S_IFREG | 04755, &sb);
    ino_t ino = sb.st_ino;
    assert_stat(r.dest, "bin/same", S_IFREG | 04755, &sb);
    assert_int_equal(sb.st_ino, ino);
    assert_int_equal(sb.st_nlink, 2);
    assert_stat(r.dest, "d/gone", S_IFCHR, &sb);
    assert_int_equal(sb.st_rdev, makedev(0, 0));
    assert_int_equal(ect_count(r.dest, "d"), 1);
    assert_int_equal(ect_count(r.dest, "op"), 1);
    char *op = ec_xasprintf("%s/op", r.dest);
    assert_int_equal(lgetxattr(op, "trusted.overlay.opaque", val, sizeof val), 1);
    assert_int_equal(val[0], 'y');
    assert_stat(r.dest, "", S_IFDIR | 0755, &sb);
    free(op);
    run_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_unpack__refuses_absolute_path),
        cmocka_unit_test(layer_unpack__refuses_dotdot),
        cmocka_unit_test(layer_unpack__refuses_escaping_symlink),
        cmocka_unit_test(layer_unpack__refuses_write_through_symlink),
        cmocka_unit_test(layer_unpack__refuses_bad_hardlinks),
        cmocka_unit_test(layer_unpack__refuses_devices),
        cmocka_unit_test(layer_unpack__refuses_tar_bomb),
        cmocka_unit_test(layer_unpack__refuses_lying_header),
        cmocka_unit_test(layer_unpack__refuses_too_many_entries),
        cmocka_unit_test(layer_unpack__refuses_existing_dest),
        cmocka_unit_test(layer_unpack__good_archive_with_whiteouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
