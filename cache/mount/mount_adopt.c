/* SPDX-License-Identifier: MIT */
/* Putting a mounted stack under a container that is being created.
 *
 * An OCI runtime calls its createRuntime/prestart hooks after it has made the
 * container's mount namespace, bind-mounted the bundle's root file system onto itself and
 * mounted /proc, /dev, /sys and the bundle's mounts inside it, and before pivot_root. A
 * mount made on the root path then would hide those mounts; one made in the host's
 * namespace would be tucked under the runtime's bind by propagation. So the hook, inside
 * the container's mount namespace, mounts the stack elsewhere, moves each mount the
 * runtime made under the root into the stack, then moves the stack (with them) over the
 * root: pivot_root then enters the stack with everything the runtime prepared. */
#include "cache/mount/mount.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] && r[3]) {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 3;
        } else
            *w++ = *r;
    }
    *w = '\0';
}

typedef struct mnt_entry {
    int id, parent;
    char *point;
} mnt_entry;

static size_t read_mounts(mnt_entry **out, ec_err *err)
{
    EC_AUTOFILE FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        ec_fail_sys(err, errno, "cannot read /proc/self/mountinfo");
        return SIZE_MAX;
    }
    size_t n = 0, cap = 64;
    mnt_entry *v = ec_xmalloc(cap * sizeof *v);
    char line[PATH_MAX * 2 + 256], point[PATH_MAX * 2];
    while (fgets(line, sizeof line, f)) {
        int id, parent;
        if (sscanf(line, "%d %d %*s %*s %4095s", &id, &parent, point) != 3)
            continue;
        unescape(point);
        if (n == cap)
            v = ec_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (mnt_entry){id, parent, ec_xstrdup(point)};
    }
    *out = v;
    return n;
}

static void free_mounts(mnt_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].point);
    free(v);
}

/* The mount point @rel of the stack, made like the one it replaces (a directory, or an
 * empty file for a file's bind mount). */
static int make_point(const char *src, const char *dst, ec_err *err)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return ec_fail_sys(err, errno, "cannot stat %s", src);
    if (S_ISDIR(st.st_mode))
        return ec_mkdir_p(dst, 0755, err);
    EC_AUTOFREE char *parent = ec_xstrdup(dst);
    *strrchr(parent, '/') = '\0';
    int r = ec_mkdir_p(parent, 0755, err);
    if (r < 0)
        return r;
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot make mount point %s", dst);
    close(fd);
    return EC_OK;
}

static int move_to(const char *from, const char *to, ec_err *err)
{
    EC_AUTOFD int fd = open(from, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open mount %s", from);
    if (move_mount(fd, "", AT_FDCWD, to, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return ec_fail_sys(err, errno, "cannot move mount %s to %s", from, to);
    return EC_OK;
}

int ec_mount_adopt_root(const char *stack, const char *root, ec_err *err)
{
    mnt_entry *v = NULL;
    size_t n = read_mounts(&v, err);
    if (n == SIZE_MAX)
        return EC_ESYS;
    int top = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].point, root) == 0)
            top = v[i].id; /* the last one listed is on top */
    int r = top < 0 ? ec_fail(err, EC_EINVAL, "%s is not a mount point: is this the "
                                              "container's mount namespace?", root)
                    : EC_OK;
    size_t rootlen = strlen(root);
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        if (v[i].parent != top || strncmp(v[i].point, root, rootlen) != 0 ||
            v[i].point[rootlen] != '/')
            continue;
        EC_AUTOFREE char *dst = ec_xasprintf("%s%s", stack, v[i].point + rootlen);
        r = make_point(v[i].point, dst, err);
        if (r == EC_OK)
            r = move_to(v[i].point, dst, err);
    }
    free_mounts(v, n);
    return r < 0 ? r : move_to(stack, root, err);
}
