/* SPDX-License-Identifier: MIT */
/* Tests of cache/mount.c: overlay and copy mounts of hand-made layer stacks. */
#include "tests/unit/helpers/ec_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cache/mount/mount.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define NLOWER 3

struct fx {
    char *dir;
    char *lower[NLOWER]; /* stack order: lower[0] is the base */
    char *upper, *work, *target;
    bool caps;           /* setcap worked, so capabilities can be checked */
};

/* --- helpers --- */

static char *path_of(const char *dir, const char *rel)
{
    return ec_xasprintf("%s/%s", dir, rel);
}

/* The contents of dir/rel, or NULL when it does not exist. */
static char *slurp(const char *dir, const char *rel)
{
    char *path = path_of(dir, rel), *text = NULL;
    size_t n;
    ec_read_file(&text, &n, path, 1 << 20, NULL);
    free(path);
    return text;
}

static void assert_text(const char *dir, const char *rel, const char *want)
{
    char *got = slurp(dir, rel);
    if (!got)
        fail_msg("%s/%s is missing", dir, rel);
    if (strcmp(got, want) != 0)
        fail_msg("%s/%s holds \"%s\", want \"%s\"", dir, rel, got, want);
    free(got);
}

static bool exists(const char *dir, const char *rel)
{
    struct stat st;
    char *path = path_of(dir, rel);
    bool r = lstat(path, &st) == 0;
    free(path);
    return r;
}

static struct stat stat_of(const char *dir, const char *rel)
{
    struct stat st;
    char *path = path_of(dir, rel);
    if (lstat(path, &st) < 0)
        fail_msg("cannot stat %s: %s", path, strerror(errno));
    free(path);
    return st;
}

/* The mountinfo line of the mount at @path, or NULL. */
static char *mountinfo_line(const char *path)
{
    char *text = NULL, *save = NULL, *found = NULL;
    assert_int_equal(ec_read_file(&text, NULL, "/proc/self/mountinfo", 1 << 24, NULL), EC_OK);
    char *needle = ec_xasprintf(" %s ", path);
    for (char *line = strtok_r(text, "\n", &save); line && !found;
         line = strtok_r(NULL, "\n", &save))
        if (strstr(line, needle))
            found = ec_xstrdup(line);
    free(needle);
    free(text);
    return found;
}

/* True when /proc/self/mountinfo lists @path (no spaces in test paths) as a mount point. */
static bool in_mountinfo(const char *path)
{
    char *line = mountinfo_line(path);
    free(line);
    return line != NULL;
}

/* Asserts that the mount at @path is ours and its options hold @how ("lowerdir+="). */
static void assert_mounted_with(const char *path, const char *how)
{
    char *line = mountinfo_line(path), copy[4096];
    assert_non_null(line);
    bool ok = strstr(line, " - overlay envcache ") && strstr(line, how);
    snprintf(copy, sizeof copy, "%s", line);
    free(line);
    if (!ok)
        fail_msg("%s is not our overlay mounted with %s: %s", path, how, copy);
}

/* Shows the error's message when a call does not return what it should. */
#define assert_rc(call, want, err)                                                          \
    do {                                                                                    \
        int rc_ = (call);                                                                   \
        if (rc_ != (want))                                                                  \
            fail_msg("%s returned %s, want %s: %s", #call, ec_code_name(rc_),               \
                     ec_code_name(want), (err)->msg);                                       \
    } while (0)

/* Lazily unmounts everything under @dir, deepest first, so no test leaves a mount. */
static void unmount_all_under(const char *dir)
{
    for (int round = 0; round < 64; round++) {
        char *text = NULL, *deepest = NULL, *save = NULL;
        size_t best = 0, len = strlen(dir);
        if (ec_read_file(&text, NULL, "/proc/self/mountinfo", 1 << 24, NULL) != EC_OK)
            return;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char mp[4096];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
                strncmp(mp, dir, len) == 0 && (mp[len] == '/' || !mp[len]) && strlen(mp) > best) {
                free(deepest);
                deepest = ec_xstrdup(mp);
                best = strlen(mp);
            }
        }
        free(text);
        if (!deepest)
            return;
        umount2(deepest, MNT_DETACH);
        free(deepest);
    }
}

/* --- fixtures --- */

/*
 * l0 (base): etc/os, etc/shared, etc/gone, opt/app/old.txt, x/inner, bin/tool (caps),
 *            usr/lib/a == usr/lib/b (hard links), link -> etc/os
 * l1:        etc/shared (wins), etc/gone (whiteout), x (a file replacing the dir), l1only
 * l2 (top):  opt/app (opaque) with new.txt, etc/top
 */
static void build_lowers(struct fx *f)
{
    for (int i = 0; i < NLOWER; i++) {
        char rel[16];
        snprintf(rel, sizeof rel, "l%d", i);
        f->lower[i] = path_of(f->dir, rel);
        assert_int_equal(ec_mkdir_p(f->lower[i], 0755, NULL), EC_OK);
    }
    ect_write(f->lower[0], "etc/os", "base", 0644);
    ect_write(f->lower[0], "etc/shared", "from l0", 0644);
    ect_write(f->lower[0], "etc/gone", "l0 gone", 0644);
    ect_write(f->lower[0], "opt/app/old.txt", "old", 0644);
    ect_write(f->lower[0], "x/inner", "inner", 0644);
    ect_write(f->lower[0], "bin/tool", "#!/bin/sh\n", 0755);
    ect_write(f->lower[0], "usr/lib/a", "linked", 0644);
    ect_sh("ln %s/usr/lib/a %s/usr/lib/b", f->lower[0], f->lower[0]);
    ect_sh("ln -s etc/os %s/link", f->lower[0]);
    char *tool = path_of(f->lower[0], "bin/tool");
    /* setcap is optional: without it the capability checks are skipped. */
    char *cmd = ec_xasprintf("setcap cap_net_raw+ep %s >/dev/null 2>&1", tool);
    f->caps = system(cmd) == 0;
    free(cmd);
    free(tool);

    ect_write(f->lower[1], "etc/shared", "from l1", 0644);
    ect_sh("mknod %s/etc/gone c 0 0", f->lower[1]);
    ect_write(f->lower[1], "x", "file now", 0644);
    ect_write(f->lower[1], "l1only", "l1", 0644);

    ect_write(f->lower[2], "opt/app/new.txt", "new", 0644);
    ect_sh("setfattr -n trusted.overlay.opaque -v y %s/opt/app", f->lower[2]);
    ect_write(f->lower[2], "etc/top", "top", 0644);
}

static struct fx *fx_new(void)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->dir = ect_tmpdir();
    f->upper = path_of(f->dir, "sess/upper");
    f->work = path_of(f->dir, "sess/work");
    f->target = path_of(f->dir, "target");
    assert_int_equal(ec_mkdir_p(f->target, 0755, NULL), EC_OK);
    return f;
}

static int setup(void **state)
{
    struct fx *f = fx_new();
    build_lowers(f);
    *state = f;
    return 0;
}

static int setup_bare(void **state)
{
    *state = fx_new();
    return 0;
}

/* Runs after failed assertions too: no mount may outlive its test. */
static int teardown(void **state)
{
    struct fx *f = *state;
    unmount_all_under(f->dir);
    for (int i = 0; i < NLOWER; i++)
        free(f->lower[i]);
    free(f->upper);
    free(f->work);
    free(f->target);
    ect_rmdir(f->dir);
    free(f);
    return 0;
}

static int mount_fx(struct fx *f, unsigned flags, enum ec_mount_mode *mode, ec_err *err)
{
    return ec_mount_stack(mode, (const char *const *)f->lower, NLOWER, f->upper, f->work,
                          f->target, flags, err);
}

/* The merged view both modes must show. */
static void assert_merged(const struct fx *f)
{
    const char *t = f->target;
    assert_text(t, "etc/os", "base");            /* from the bottom */
    assert_text(t, "etc/shared", "from l1");     /* the higher layer wins */
    assert_text(t, "etc/top", "top");            /* from the top */
    assert_text(t, "l1only", "l1");
    assert_false(exists(t, "etc/gone"));         /* whiteout */
    assert_text(t, "opt/app/new.txt", "new");
    assert_false(exists(t, "opt/app/old.txt"));  /* opaque directory */
    assert_text(t, "x", "file now");             /* a file replaces a directory */
    assert_text(t, "usr/lib/b", "linked");
    struct stat st = stat_of(t, "link");
    assert_true(S_ISLNK(st.st_mode));
    assert_text(t, "link", "base");
    assert_int_equal(stat_of(t, "bin/tool").st_mode & 07777, 0755);
}

static void assert_lowers_untouched(const struct fx *f)
{
    assert_text(f->lower[0], "etc/os", "base");
    assert_text(f->lower[1], "etc/shared", "from l1");
    assert_text(f->lower[0], "usr/lib/a", "linked");
    for (int i = 0; i < NLOWER; i++)
        assert_false(exists(f->lower[i], "written"));
}

/* --- overlay --- */

static void test_mount__overlay_merges_the_stack(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(mount_fx(f, 0, &mode, &err), EC_OK, &err);
    assert_int_equal(mode, EC_MOUNT_OVERLAY);
    assert_string_equal(ec_mount_mode_name(mode), "overlay");
    assert_mounted_with(f->target, "lowerdir+=");
    assert_true(ec_mount_is_mountpoint(f->target));
    assert_merged(f);
    if (f->caps) {
        char *tool = path_of(f->target, "bin/tool");
        assert_true(getxattr(tool, "security.capability", NULL, 0) > 0);
        free(tool);
    }

    ect_write(f->target, "written", "session", 0644);
    ect_write(f->target, "etc/os", "changed", 0644);
    assert_text(f->upper, "written", "session");
    assert_text(f->upper, "etc/os", "changed");
    assert_lowers_untouched(f);

    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    assert_false(in_mountinfo(f->target));
    assert_false(ec_mount_is_mountpoint(f->target));
    assert_int_equal(ect_count(f->target, "."), 0);
}

static void test_mount__legacy_mount_escapes_paths(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};
    char *odd = path_of(f->dir, "we:ird,na\\me");

    ect_sh("mv %s '%s'", f->lower[1], odd);
    free(f->lower[1]);
    f->lower[1] = odd;
    assert_rc(mount_fx(f, EC_MOUNT__LEGACY | EC_MOUNT_VOLATILE, &mode, &err), EC_OK, &err);
    assert_int_equal(mode, EC_MOUNT_OVERLAY);
    assert_mounted_with(f->target, "lowerdir=");
    assert_mounted_with(f->target, "volatile");
    assert_merged(f);
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    assert_false(in_mountinfo(f->target));
}

static void test_mount__no_layers_mounts_an_empty_lower(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(ec_mount_stack(&mode, NULL, 0, f->upper, f->work, f->target, 0, &err), EC_OK,
              &err);
    assert_int_equal(mode, EC_MOUNT_OVERLAY);
    assert_int_equal(ect_count(f->target, "."), 0);
    ect_write(f->target, "written", "session", 0644);
    assert_text(f->upper, "written", "session");
    assert_int_equal(ect_count(f->dir, "sess/empty"), 0);
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
}

static void test_mount__busy_target_is_detached(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(mount_fx(f, EC_MOUNT_VOLATILE, &mode, &err), EC_OK, &err);
    assert_mounted_with(f->target, "volatile");
    char *path = path_of(f->target, "etc/os");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    assert_false(in_mountinfo(f->target));
    char c;
    assert_int_equal(read(fd, &c, 1), 1); /* the open file still works */
    close(fd);
    free(path);
}

static void test_mount__refuses_bad_targets(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    ect_write(f->target, "stray", "x", 0644);
    assert_int_equal(mount_fx(f, 0, &mode, &err), EC_ECONFLICT);
    assert_non_null(strstr(err.msg, "is not empty"));
    ect_sh("rm %s/stray", f->target);

    ec_err_clear(&err);
    char *gone = f->lower[1];
    f->lower[1] = path_of(f->dir, "missing");
    assert_int_equal(mount_fx(f, 0, &mode, &err), EC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "layer 2 of 3"));
    assert_non_null(strstr(err.msg, f->lower[1]));
    free(f->lower[1]);
    f->lower[1] = gone;

    ec_err_clear(&err);
    assert_rc(mount_fx(f, 0, &mode, &err), EC_OK, &err);
    assert_int_equal(mount_fx(f, 0, &mode, &err), EC_EBUSY);
    assert_non_null(strstr(err.msg, "already a mount point"));
    ec_err_clear(&err);
    assert_int_equal(ec_umount_target(f->target, EC_MOUNT_COPY, &err), EC_EBUSY);
    ec_err_clear(&err);
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    assert_int_equal(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_ENOTFOUND);
    assert_non_null(strstr(err.msg, f->target));
}

/* An upper on overlayfs is refused by overlayfs itself, as in a container whose
 * root is an overlay: without ALLOW_COPY that is an error saying what to do, with
 * it a copy. */
static void test_mount__refused_overlay_falls_back_to_copy(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(mount_fx(f, 0, &mode, &err), EC_OK, &err);
    char *upper2 = path_of(f->target, "nested/upper");
    char *work2 = path_of(f->target, "nested/work");
    char *target2 = path_of(f->dir, "target2");
    assert_int_equal(ec_mkdir_p(target2, 0755, NULL), EC_OK);
    const char *const *lowers = (const char *const *)f->lower;

    int r = ec_mount_stack(&mode, lowers, NLOWER, upper2, work2, target2, 0, &err);
    assert_int_equal(r, EC_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "overlayfs refused the mount of"));
    assert_non_null(strstr(err.msg, target2));
    assert_non_null(strstr(err.msg, "pass --copy"));
    assert_false(in_mountinfo(target2));

    ec_err_clear(&err);
    mode = 0;
    r = ec_mount_stack(&mode, lowers, NLOWER, upper2, work2, target2, EC_MOUNT_ALLOW_COPY, &err);
    assert_rc(r, EC_OK, &err);
    assert_int_equal(mode, EC_MOUNT_COPY);
    assert_text(target2, "etc/shared", "from l1");
    assert_false(exists(target2, "etc/gone"));
    assert_rc(ec_umount_target(target2, EC_MOUNT_COPY, &err), EC_OK, &err);
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    free(upper2);
    free(work2);
    free(target2);
}

/* --- copy --- */

static void test_mount__copy_merges_the_stack(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(mount_fx(f, EC_MOUNT_FORCE_COPY, &mode, &err), EC_OK, &err);
    assert_int_equal(mode, EC_MOUNT_COPY);
    assert_string_equal(ec_mount_mode_name(mode), "copy");
    assert_false(in_mountinfo(f->target));
    assert_merged(f);
    assert_false(exists(f->upper, "."));  /* copies use neither upper nor work */
    ect_write(f->target, "written", "session", 0644);
    ect_write(f->target, "etc/os", "changed", 0644);
    ect_write(f->target, "usr/lib/a", "changed", 0644);
    assert_lowers_untouched(f);

    assert_rc(ec_umount_target(f->target, EC_MOUNT_COPY, &err), EC_OK, &err);
    assert_true(exists(f->target, "."));
    assert_int_equal(ect_count(f->target, "."), 0);
}

static void test_mount__copy_never_links_into_a_layer(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};

    assert_rc(mount_fx(f, EC_MOUNT_FORCE_COPY, &mode, &err), EC_OK, &err);
    static const char *const files[] = {"etc/os", "usr/lib/a", "usr/lib/b", "bin/tool"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct stat lo = stat_of(f->lower[0], files[i]), cp = stat_of(f->target, files[i]);
        assert_false(lo.st_dev == cp.st_dev && lo.st_ino == cp.st_ino);
        assert_int_equal(cp.st_mtim.tv_sec, lo.st_mtim.tv_sec);
        assert_int_equal(cp.st_uid, lo.st_uid);
    }
    /* The two names of one inode in a layer stay one inode in the copy. */
    struct stat a = stat_of(f->target, "usr/lib/a"), b = stat_of(f->target, "usr/lib/b");
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_nlink, 2);
    assert_int_equal(stat_of(f->lower[0], "usr/lib/a").st_nlink, 2);
    if (f->caps) {
        char *lo = path_of(f->lower[0], "bin/tool"), *cp = path_of(f->target, "bin/tool");
        char v1[64], v2[64];
        ssize_t n1 = getxattr(lo, "security.capability", v1, sizeof v1);
        ssize_t n2 = getxattr(cp, "security.capability", v2, sizeof v2);
        assert_true(n1 > 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(v1, v2, (size_t)n1);
        free(lo);
        free(cp);
    }
}

/* A copy that runs out of space leaves the target empty and names the file. */
static void test_mount__failed_copy_leaves_nothing(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};
    char *small = path_of(f->dir, "small");

    assert_int_equal(ec_mkdir_p(small, 0755, NULL), EC_OK);
    ect_sh("mount -t tmpfs -o size=256k ect-small %s", small);
    ect_sh("head -c 1048576 /dev/zero > %s/big", f->lower[2]);
    char *target = path_of(small, "t");
    assert_int_equal(ec_mkdir_p(target, 0755, NULL), EC_OK);
    free(f->target);
    f->target = target;

    assert_int_equal(mount_fx(f, EC_MOUNT_FORCE_COPY, &mode, &err), EC_ESYS);
    assert_int_equal(err.sys, ENOSPC);
    assert_non_null(strstr(err.msg, "/big"));
    assert_int_equal(ect_count(target, "."), 0);

    ec_err_clear(&err);
    assert_int_equal(ec_umount_target(small, EC_MOUNT_OVERLAY, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "not an overlay mount"));
    ec_err_clear(&err);
    assert_int_equal(ec_umount_target(f->dir, EC_MOUNT_COPY, &err), EC_EBUSY);
    assert_non_null(strstr(err.msg, "small is mounted inside it"));
    free(small);
}

/* --- deep stacks --- */

/* @n layers whose paths are long enough that a few dozen fill a page of mount
 * options; layer i holds "who" = i, the base also bottom.txt, the top top.txt. */
static char **build_deep(struct fx *f, size_t n)
{
    char **lowers = ec_xcalloc(n, sizeof *lowers);
    for (size_t i = 0; i < n; i++) {
        char rel[128], who[24];
        snprintf(rel, sizeof rel, "deep/a-layer-directory-with-a-rather-long-name-%04zu", i);
        snprintf(who, sizeof who, "%zu", i);
        lowers[i] = path_of(f->dir, rel);
        ect_write(lowers[i], "who", who, 0644);
    }
    ect_write(lowers[0], "bottom.txt", "bottom", 0644);
    ect_write(lowers[n - 1], "top.txt", "top", 0644);
    return lowers;
}

static void free_deep(char **lowers, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lowers[i]);
    free(lowers);
}

static void test_mount__deep_stack_uses_lowerdir_plus(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};
    size_t n = EC_MOUNT_MAX_LOWERS;
    char **lowers = build_deep(f, n);
    const char *const *l = (const char *const *)lowers;

    assert_true(n * strlen(lowers[0]) > 4096);
    assert_rc(ec_mount_stack(&mode, l, n, f->upper, f->work, f->target, 0, &err), EC_OK, &err);
    assert_mounted_with(f->target, "lowerdir+=");
    assert_int_equal(mode, EC_MOUNT_OVERLAY);
    assert_text(f->target, "bottom.txt", "bottom");
    assert_text(f->target, "top.txt", "top");
    assert_text(f->target, "who", "499");
    assert_rc(ec_umount_target(f->target, EC_MOUNT_OVERLAY, &err), EC_OK, &err);
    assert_false(in_mountinfo(f->target));

    /* mount(2) alone cannot take this many: a clear error, or a copy when allowed. */
    assert_int_equal(ec_mount_stack(&mode, l, n, f->upper, f->work, f->target,
                                    EC_MOUNT__LEGACY, &err), EC_ELIMIT);
    assert_non_null(strstr(err.msg, "more than a page"));
    assert_false(in_mountinfo(f->target));
    free_deep(lowers, n);
}

static void test_mount__too_deep_for_overlayfs(void **state)
{
    struct fx *f = *state;
    enum ec_mount_mode mode = 0;
    ec_err err = {0};
    size_t n = EC_MOUNT_MAX_LOWERS + 1;
    char **lowers = build_deep(f, n);
    const char *const *l = (const char *const *)lowers;

    assert_int_equal(ec_mount_stack(&mode, l, n, f->upper, f->work, f->target, 0, &err),
                     EC_ELIMIT);
    assert_non_null(strstr(err.msg, "at most 500 layers"));
    assert_non_null(strstr(err.msg, "--copy"));
    assert_int_equal(ec_mount_stack(&mode, l, n, f->upper, f->work, f->target,
                                    EC_MOUNT_ALLOW_COPY, NULL), EC_OK);
    assert_int_equal(mode, EC_MOUNT_COPY);
    assert_text(f->target, "bottom.txt", "bottom");
    assert_text(f->target, "who", "500");
    assert_rc(ec_umount_target(f->target, EC_MOUNT_COPY, &err), EC_OK, &err);
    free_deep(lowers, n);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_mount: needs root for overlay mounts; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mount__overlay_merges_the_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__legacy_mount_escapes_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__no_layers_mounts_an_empty_lower, setup_bare,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mount__busy_target_is_detached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__refuses_bad_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__refused_overlay_falls_back_to_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mount__copy_merges_the_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__copy_never_links_into_a_layer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mount__failed_copy_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount__deep_stack_uses_lowerdir_plus, setup_bare,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mount__too_deep_for_overlayfs, setup_bare,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
