/* SPDX-License-Identifier: MIT */
/* Mounting a layer stack: overlayfs by the new mount API or mount(2), else a copy. */
#include "cache/mount/mount.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/magic.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* <linux/fs.h> would pull in <linux/mount.h>, which clashes with glibc 2.36's <sys/mount.h>. */
#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

/* Each level of a copied tree holds two descriptors; stay far below RLIMIT_NOFILE. */
#define CP_MAX_DEPTH 256

EC_DEFINE_AUTO(DIR, closedir)

const char *ec_mount_mode_name(enum ec_mount_mode m)
{
    switch (m) {
    case EC_MOUNT_OVERLAY:
        return "overlay";
    case EC_MOUNT_COPY:
        return "copy";
    }
    return "unknown";
}

/* --- errors --- */

/* Like ec_fail_sys, but with a code other than EC_ESYS; @sys still lands in err->sys. */
static int fail_errno(ec_err *err, int code, int sys, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_errno(ec_err *err, int code, int sys, const char *fmt, ...)
{
    bool first = err && err->code == EC_OK;
    va_list ap;
    va_start(ap, fmt);
    ec_failv(err, code, fmt, ap);
    va_end(ap);
    if (first)
        err->sys = sys;
    return code;
}

/* Hands a failure recorded in a scratch record to the caller's, keeping the first. */
static int err_take(ec_err *err, const ec_err *from)
{
    if (err && err->code == EC_OK)
        *err = *from;
    return from->code;
}

/* --- mount table --- */

/* /proc/self/mountinfo writes space, tab, newline and backslash as \ooo. */
static void mountinfo_unescape(char *s)
{
    char *d = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
}

/* True when a mount point is @canon itself, or with @below one strictly under it;
 * the first such mount point is copied into @found. */
static bool mountinfo_find(const char *canon, bool below, char *found, size_t n)
{
    EC_AUTOFILE FILE *f = fopen("/proc/self/mountinfo", "re");
    EC_AUTOFREE char *line = NULL;
    size_t cap = 0, len = strlen(canon);
    if (!f)
        return false;
    while (getline(&line, &cap, f) > 0) {
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 0; field && i < 4; i++)
            field = strtok_r(NULL, " ", &save);
        if (!field)
            continue;
        mountinfo_unescape(field);
        bool hit = below ? strncmp(field, canon, len) == 0 &&
                               (field[len] == '/' || (len == 1 && field[1])) :
                           strcmp(field, canon) == 0;
        if (hit) {
            if (found)
                snprintf(found, n, "%s", field);
            return true;
        }
    }
    return false;
}

bool ec_mount_is_mountpoint(const char *path)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) == 0 &&
        (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    EC_AUTOFREE char *canon = realpath(path, NULL);
    return canon && mountinfo_find(canon, false, NULL, 0);
}

/* --- checks --- */

static int check_dir(const char *path, const char *what, ec_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return fail_errno(err, EC_ENOTFOUND, ENOENT, "%s %s does not exist", what, path);
        return ec_fail_sys(err, errno, "cannot stat %s %s", what, path);
    }
    if (!S_ISDIR(st.st_mode))
        return ec_fail(err, EC_EINVAL, "%s %s is not a directory", what, path);
    return EC_OK;
}

static int check_empty(const char *path, const char *what, ec_err *err)
{
    EC_AUTO(DIR) d = opendir(path);
    if (!d)
        return ec_fail_sys(err, errno, "cannot read %s %s", what, path);
    for (struct dirent *de; (de = readdir(d));) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            return ec_fail(err, EC_ECONFLICT, "%s %s is not empty (it holds %s); use an empty "
                           "directory", what, path, de->d_name);
    }
    return EC_OK;
}

static int check_target(const char *target, ec_err *err)
{
    int r = check_dir(target, "target", err);
    if (r < 0)
        return r;
    if (ec_mount_is_mountpoint(target))
        return ec_fail(err, EC_EBUSY, "target %s is already a mount point; unmount it first",
                       target);
    return check_empty(target, "target", err);
}

static int check_lowers(const char *const *lowers, size_t n, ec_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = check_dir(lowers[i], "layer directory", err);
        if (r < 0) {
            ec_err_prefix(err, "layer %zu of %zu", i + 1, n);
            return r;
        }
    }
    return EC_OK;
}

/* Removes everything inside @dir and keeps @dir. */
static int clear_dir(const char *dir, ec_err *err)
{
    EC_AUTO(DIR) d = opendir(dir);
    if (!d)
        return ec_fail_sys(err, errno, "cannot read %s", dir);
    for (struct dirent *de; (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, de->d_name);
        int r = ec_rm_rf(path, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* --- overlayfs --- */

struct ovl_req {
    const char *const *lowers; /* stack order, the base first */
    size_t n;
    const char *empty; /* the one lower when n == 0 */
    const char *upper, *work, *target;
    unsigned flags;
};

/* overlayfs takes the top-most lower first. */
static const char *ovl_lower(const struct ovl_req *r, size_t k)
{
    return r->n ? r->lowers[r->n - 1 - k] : r->empty;
}

static size_t ovl_count(const struct ovl_req *r)
{
    return r->n ? r->n : 1;
}

/* The session's upper must stay a plain tree the prebuild sandbox can turn into a
 * layer: no metacopy stubs or redirects pointing into the lowers. index=off keeps
 * no file handles of the lowers and no in-use lock on the upper. */
static const char *const ovl_options[][2] = {
    {"index", "off"},
    {"redirect_dir", "off"},
    {"metacopy", "off"},
};

/* Errors with which overlayfs says "not here" rather than "not this input". */
static bool ovl_is_refusal(int e)
{
    return e == EPERM || e == EACCES || e == ENODEV || e == EINVAL || e == EOPNOTSUPP ||
           e == ENOSYS;
}

/* What to do about a refusal, for messages that are not followed by a copy. */
static const char *ovl_advice(const ec_err *why)
{
    if (why->code == EC_ELIMIT)
        return "flatten the stack or pass --copy";
    if (why->sys == EPERM || why->sys == EACCES)
        return "run as root or pass --copy";
    if (why->sys == ENODEV)
        return "load it with modprobe overlay or pass --copy";
    return "keep upper and work on one file system that is not overlayfs, or pass --copy";
}

/* Records the failure of a step; a refusal gets EC_EUNSUPPORTED so a copy may follow.
 * @klog is the kernel's own explanation, when the new mount API gave one. */
static int ovl_fail(ec_err *err, int e, const char *klog, const char *target)
{
    const char *sep = klog && *klog ? ": " : "";
    if (!klog)
        klog = "";
    if (e == ENODEV)
        return fail_errno(err, EC_EUNSUPPORTED, e, "this kernel has no overlayfs to mount %s "
                          "(%s)", target, strerror(e));
    if (ovl_is_refusal(e))
        return fail_errno(err, EC_EUNSUPPORTED, e, "overlayfs refused the mount of %s (%s%s%s)",
                          target, strerror(e), sep, klog);
    return fail_errno(err, EC_ESYS, e, "cannot mount overlayfs at %s%s%s: %s", target, sep,
                      klog, strerror(e));
}

/* The fs context queues the kernel's messages ("e overlay: ..."); keep the first error. */
static void fs_log_error(int fsfd, char *out, size_t n)
{
    char line[512];
    ssize_t r;
    out[0] = '\0';
    while ((r = read(fsfd, line, sizeof line - 1)) > 0) {
        line[r] = '\0';
        line[strcspn(line, "\n")] = '\0';
        if (!out[0] && line[0] == 'e' && line[1] == ' ') {
            size_t m = strnlen(line + 2, n - 1); /* the kernel's message, cut to fit */
            memcpy(out, line + 2, m);
            out[m] = '\0';
        }
    }
}

/* fsconfig copies at most 255 bytes of a string; longer paths go as O_PATH
 * descriptors (Linux 6.13+). Returns -1 with errno set on failure. */
static int ovl_set_path(int fsfd, const char *key, const char *path)
{
    if (strlen(path) < 256)
        return fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0);
    EC_AUTOFD int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd);
}

static int ovl_configure(int fs, const struct ovl_req *r, bool *legacy_out, ec_err *err)
{
    char klog[256];
    for (size_t k = 0; k < ovl_count(r); k++) {
        if (ovl_set_path(fs, "lowerdir+", ovl_lower(r, k)) == 0)
            continue;
        int e = errno;
        fs_log_error(fs, klog, sizeof klog);
        /* Before Linux 6.8 the key itself is unknown: mount(2) may still do. */
        if (k == 0 && e == EINVAL && (!klog[0] || strstr(klog, "nknown parameter"))) {
            *legacy_out = true;
            return EC_EUNSUPPORTED;
        }
        return ovl_fail(err, e, klog, r->target);
    }
    int rc = ovl_set_path(fs, "upperdir", r->upper);
    if (rc == 0)
        rc = ovl_set_path(fs, "workdir", r->work);
    for (size_t i = 0; rc == 0 && i < EC_ARRAY_LEN(ovl_options); i++)
        rc = fsconfig(fs, FSCONFIG_SET_STRING, ovl_options[i][0], ovl_options[i][1], 0);
    if (rc == 0 && (r->flags & EC_MOUNT_VOLATILE))
        rc = fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
    if (rc == 0)
        rc = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    if (rc == 0)
        return EC_OK;
    int e = errno;
    fs_log_error(fs, klog, sizeof klog);
    return ovl_fail(err, e, klog, r->target);
}

/* A detached overlay in *@mnt_out. Sets *legacy_out, leaving @err alone, when this kernel
 * lacks the new mount API or lowerdir+, so that mount(2) should be tried instead. */
static int ovl_make_fsapi(int *mnt_out, bool *legacy_out, const struct ovl_req *r, ec_err *err)
{
    EC_AUTOFD int fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
        if (errno == ENODEV)
            return ovl_fail(err, ENODEV, NULL, r->target);
        /* ENOSYS, or a seccomp filter that may still let mount(2) through. */
        *legacy_out = true;
        return EC_EUNSUPPORTED;
    }
    /* The source names us in /proc/self/mountinfo. */
    if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "envcache", 0) < 0)
        return ovl_fail(err, errno, NULL, r->target);
    int rc = ovl_configure(fs, r, legacy_out, err);
    if (rc < 0)
        return rc;
    int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0)
        return ovl_fail(err, errno, NULL, r->target);
    *mnt_out = mnt;
    return EC_OK;
}

/* Appends @path escaped as overlayfs's option parser wants: it splits options on
 * ',' and lowerdir on ':', and takes '\' as the escape for both. */
static int opt_add_path(ec_buf *b, const char *path)
{
    for (const char *p = path; *p; p++) {
        int r = EC_OK;
        if (*p == '\\' || *p == ':' || *p == ',')
            r = ec_buf_add(b, "\\", 1, NULL);
        if (r == EC_OK)
            r = ec_buf_add(b, p, 1, NULL);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int ovl_legacy_options(ec_buf *b, const struct ovl_req *r)
{
    int rc = ec_buf_adds(b, "lowerdir=", NULL);
    for (size_t k = 0; rc == EC_OK && k < ovl_count(r); k++) {
        if (k)
            rc = ec_buf_add(b, ":", 1, NULL);
        if (rc == EC_OK)
            rc = opt_add_path(b, ovl_lower(r, k));
    }
    if (rc == EC_OK)
        rc = ec_buf_adds(b, ",upperdir=", NULL);
    if (rc == EC_OK)
        rc = opt_add_path(b, r->upper);
    if (rc == EC_OK)
        rc = ec_buf_adds(b, ",workdir=", NULL);
    if (rc == EC_OK)
        rc = opt_add_path(b, r->work);
    for (size_t i = 0; rc == EC_OK && i < EC_ARRAY_LEN(ovl_options); i++)
        rc = ec_buf_addf(b, NULL, ",%s=%s", ovl_options[i][0], ovl_options[i][1]);
    if (rc == EC_OK && (r->flags & EC_MOUNT_VOLATILE))
        rc = ec_buf_adds(b, ",volatile", NULL);
    return rc;
}

/* mount(2) copies one page of options, which bounds the stack's depth. */
static int ovl_make_legacy(char **opts_out, const struct ovl_req *r, ec_err *err)
{
    long page = sysconf(_SC_PAGESIZE);
    ec_buf opts = {NULL, 0, 0, (size_t)(page > 0 ? page : 4096) - 1};
    if (ovl_legacy_options(&opts, r) < 0) {
        ec_buf_fini(&opts);
        return ec_fail(err, EC_ELIMIT, "the %zu layers of %s need more than a page of mount "
                       "options, and this kernel lacks overlayfs's lowerdir+ (Linux 6.8)",
                       r->n, r->target);
    }
    *opts_out = ec_buf_steal(&opts); /* ec_buf keeps a NUL after its bytes */
    return EC_OK;
}

/* With no layer at all, overlayfs still wants one lower: an empty directory. */
static int ovl_empty_lower(char **out, const char *work, ec_err *err)
{
    EC_AUTOFREE char *copy = ec_xstrdup(work);
    EC_AUTOFREE char *empty = ec_xasprintf("%s/empty", dirname(copy));
    int r = ec_mkdir_p(empty, 0755, err);
    if (r == EC_OK)
        r = check_empty(empty, "empty lower directory", err);
    if (r < 0)
        return r;
    *out = ec_steal(&empty);
    return EC_OK;
}

/* Everything but the attach: checks, upper and work, and the detached mount or the
 * options. Allocates; runs where allocating is safe. */
static int ovl_prepare(ec_mount_prepared *p, const struct ovl_req *r, ec_err *err)
{
    if (r->n > EC_MOUNT_MAX_LOWERS)
        return ec_fail(err, EC_ELIMIT, "overlayfs stacks at most %d layers, and %s would "
                       "need %zu", EC_MOUNT_MAX_LOWERS, r->target, r->n);
    int rc = ec_mkdir_p(r->upper, 0755, err);
    if (rc == EC_OK)
        rc = ec_mkdir_p(r->work, 0755, err);
    if (rc < 0)
        return rc;
    bool legacy = r->flags & EC_MOUNT__LEGACY;
    if (!legacy) {
        rc = ovl_make_fsapi(&p->fd, &legacy, r, err);
        if (!legacy)
            return rc;
    }
    return ovl_make_legacy(&p->opts, r, err);
}

int ec_mount_overlay_attach(const ec_mount_prepared *p, const char *target, ec_err *err)
{
    if (p->fd >= 0) {
        if (move_mount(p->fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return fail_errno(err, EC_ESYS, errno, "cannot attach the overlay at %s: %s",
                              target, strerror(errno));
        return EC_OK;
    }
    if (!p->opts)
        return ec_fail(err, EC_EINVAL, "no overlay was prepared for %s", target);
    if (mount("envcache", target, "overlay", 0, p->opts) < 0)
        return ovl_fail(err, errno, NULL, target);
    return EC_OK;
}

void ec_mount_prepared_fini(ec_mount_prepared *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    free(p->opts);
    free(p->empty);
    p->opts = p->empty = NULL;
}

int ec_mount_overlay_prepare(ec_mount_prepared *out, const char *const *lowers, size_t n,
                             const char *upper, const char *work, const char *target,
                             unsigned flags, ec_err *err)
{
    *out = (ec_mount_prepared){.fd = -1};
    int r = check_target(target, err);
    if (r == EC_OK)
        r = check_lowers(lowers, n, err);
    if (r == EC_OK && n == 0)
        r = ovl_empty_lower(&out->empty, work, err);
    if (r == EC_OK) {
        struct ovl_req req = {lowers, n, out->empty, upper, work, target, flags};
        r = ovl_prepare(out, &req, err);
    }
    if (r < 0)
        ec_mount_prepared_fini(out);
    return r;
}

/* The mount's descriptor is closed before anyone can unmount it (else EBUSY). */
static int ovl_mount(const struct ovl_req *r, ec_err *err)
{
    ec_mount_prepared p = {.fd = -1};
    int rc = ovl_prepare(&p, r, err);
    if (rc == EC_OK)
        rc = ec_mount_overlay_attach(&p, r->target, err);
    p.empty = NULL; /* the caller's */
    ec_mount_prepared_fini(&p);
    return rc;
}

/* --- copy --- */

struct cp_link {
    dev_t dev;
    ino_t ino;
    char *rel; /* where the first name of this inode was copied, below the target */
};

struct cp_ctx {
    const char *lower;  /* root of the layer being copied, for messages */
    const char *target; /* for messages and removals */
    int root_fd;        /* the target, for linkat() between copies */
    char rel[PATH_MAX]; /* the entry being copied, relative to both roots */
    size_t rel_len;
    int depth;
    bool try_clone, try_cfr; /* cleared when the file system says it cannot */
    bool privileged;         /* euid 0: owners and capabilities must be kept */
    void *links;             /* tsearch tree of struct cp_link, for the current layer */
};

static int cp_link_cmp(const void *a, const void *b)
{
    const struct cp_link *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void cp_link_free(void *p)
{
    struct cp_link *l = p;
    free(l->rel);
    free(l);
}

static void cp_links_reset(struct cp_ctx *c)
{
    if (c->links)
        tdestroy(c->links, cp_link_free);
    c->links = NULL;
}

static int cp_push(struct cp_ctx *c, const char *name, size_t *saved, ec_err *err)
{
    size_t len = strlen(name);
    if (c->rel_len + 1 + len >= sizeof c->rel)
        return ec_fail(err, EC_ELIMIT, "%s/%s/%s: path longer than %d bytes", c->lower, c->rel,
                       name, PATH_MAX);
    *saved = c->rel_len;
    if (c->rel_len)
        c->rel[c->rel_len++] = '/';
    memcpy(c->rel + c->rel_len, name, len + 1);
    c->rel_len += len;
    return EC_OK;
}

static void cp_pop(struct cp_ctx *c, size_t saved)
{
    c->rel_len = saved;
    c->rel[saved] = '\0';
}

/* Removes what lower layers put at the current path (a whiteout, a replacement). */
static int cp_remove(struct cp_ctx *c, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", c->target, c->rel);
    return ec_rm_rf(path, err);
}

static int cp_fail(struct cp_ctx *c, const char *what, ec_err *err)
{
    return ec_fail_sys(err, errno, "cannot %s %s/%s (copying %s/%s)", what, c->target, c->rel,
                       c->lower, c->rel);
}

/* An unprivileged copy cannot give files to root or set capabilities; as with tar,
 * the files then belong to the caller. */
static bool cp_tolerable(const struct cp_ctx *c, int e)
{
    return !c->privileged && (e == EPERM || e == EINVAL);
}

static int cp_caps(struct cp_ctx *c, int in, int out, ec_err *err)
{
    char v[256];
    ssize_t n = fgetxattr(in, "security.capability", v, sizeof v);
    if (n < 0)
        return errno == ENODATA || errno == EOPNOTSUPP ? EC_OK : cp_fail(c, "read caps of", err);
    if (fsetxattr(out, "security.capability", v, (size_t)n, 0) < 0 && !cp_tolerable(c, errno))
        return cp_fail(c, "set caps on", err);
    return EC_OK;
}

/* Owner first: chown clears setuid bits and capabilities, which come after it. */
static int cp_meta_fd(struct cp_ctx *c, int in, int out, const struct stat *st, ec_err *err)
{
    if (fchown(out, st->st_uid, st->st_gid) < 0 && !cp_tolerable(c, errno))
        return cp_fail(c, "set the owner of", err);
    if (fchmod(out, st->st_mode & 07777) < 0)
        return cp_fail(c, "set the mode of", err);
    if (in >= 0) {
        int r = cp_caps(c, in, out, err);
        if (r < 0)
            return r;
    }
    const struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (futimens(out, ts) < 0)
        return cp_fail(c, "set the times of", err);
    return EC_OK;
}

/* For entries without a descriptor of their own (symlinks, fifos, sockets, devices). */
static int cp_meta_at(struct cp_ctx *c, int dfd, const char *name, const struct stat *st,
                      ec_err *err)
{
    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
        !cp_tolerable(c, errno))
        return cp_fail(c, "set the owner of", err);
    if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
        return cp_fail(c, "set the mode of", err);
    const struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return cp_fail(c, "set the times of", err);
    return EC_OK;
}

static bool cp_cannot(int e)
{
    return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS;
}

/* Reflink shares the blocks until one side writes; copy_file_range copies in the
 * kernel; read/write works everywhere. */
static int cp_data(struct cp_ctx *c, int in, int out, off_t size, ec_err *err)
{
    if (size == 0)
        return EC_OK;
    if (c->try_clone) {
        if (ioctl(out, FICLONE, in) == 0)
            return EC_OK;
        if (!cp_cannot(errno))
            return cp_fail(c, "clone", err);
        c->try_clone = false;
    }
    off_t done = 0;
    while (c->try_cfr && done < size) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
        if (n == 0)
            return EC_OK; /* the lower file shrank: what is there is copied */
        if (n > 0) {
            done += n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (done > 0 || !cp_cannot(errno))
            return cp_fail(c, "write", err);
        c->try_cfr = false;
    }
    char buf[128 * 1024];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cp_fail(c, "read the lower file for", err);
        if (n == 0)
            return EC_OK;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return cp_fail(c, "write", err);
            off += w;
        }
    }
}

/* Links the copy of an inode seen earlier in this layer; *done stays false when
 * there is none or linking fails, and the file is then copied again. */
static int cp_link_known(struct cp_ctx *c, int dfd, const char *name, const struct stat *st,
                         bool *done, ec_err *err)
{
    struct cp_link key = {st->st_dev, st->st_ino, NULL};
    void *hit = tfind(&key, &c->links, cp_link_cmp);
    *done = false;
    if (!hit)
        return EC_OK;
    const struct cp_link *l = *(struct cp_link **)hit;
    int rc = linkat(c->root_fd, l->rel, dfd, name, 0);
    if (rc < 0 && errno == EEXIST) {
        int r = cp_remove(c, err);
        if (r < 0)
            return r;
        rc = linkat(c->root_fd, l->rel, dfd, name, 0);
    }
    *done = rc == 0;
    return EC_OK;
}

static void cp_link_remember(struct cp_ctx *c, const struct stat *st)
{
    struct cp_link *l = ec_xmalloc(sizeof *l);
    *l = (struct cp_link){st->st_dev, st->st_ino, ec_xstrdup(c->rel)};
    void *slot = tsearch(l, &c->links, cp_link_cmp);
    if (!slot || *(struct cp_link **)slot != l)
        cp_link_free(l); /* no memory, or known: the next name gets a copy of its own */
}

static int cp_file(struct cp_ctx *c, int sfd, int dfd, const char *name, const struct stat *st,
                   ec_err *err)
{
    int r;
    if (st->st_nlink > 1) {
        bool done;
        r = cp_link_known(c, dfd, name, st, &done, err);
        if (r < 0 || done)
            return r;
    }
    EC_AUTOFD int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return ec_fail_sys(err, errno, "cannot open %s/%s", c->lower, c->rel);
    const int oflags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    EC_AUTOFD int out = openat(dfd, name, oflags, 0600);
    if (out < 0 && errno == EEXIST) {
        r = cp_remove(c, err);
        if (r < 0)
            return r;
        out = openat(dfd, name, oflags, 0600);
    }
    if (out < 0)
        return cp_fail(c, "create", err);
    r = cp_data(c, in, out, st->st_size, err);
    if (r == EC_OK)
        r = cp_meta_fd(c, in, out, st, err);
    if (r == EC_OK && st->st_nlink > 1)
        cp_link_remember(c, st);
    return r;
}

static int cp_symlink(struct cp_ctx *c, int sfd, int dfd, const char *name,
                      const struct stat *st, ec_err *err)
{
    char to[PATH_MAX];
    ssize_t n = readlinkat(sfd, name, to, sizeof to);
    if (n < 0)
        return ec_fail_sys(err, errno, "cannot read the symlink %s/%s", c->lower, c->rel);
    if ((size_t)n >= sizeof to)
        return ec_fail(err, EC_ELIMIT, "symlink %s/%s: target longer than %d bytes", c->lower,
                       c->rel, PATH_MAX);
    to[n] = '\0';
    int rc = symlinkat(to, dfd, name);
    if (rc < 0 && errno == EEXIST) {
        int r = cp_remove(c, err);
        if (r < 0)
            return r;
        rc = symlinkat(to, dfd, name);
    }
    if (rc < 0)
        return cp_fail(c, "create the symlink", err);
    return cp_meta_at(c, dfd, name, st, err);
}

/* Fifos, sockets and device nodes other than whiteouts. */
static int cp_node(struct cp_ctx *c, int dfd, const char *name, const struct stat *st,
                   ec_err *err)
{
    int rc = mknodat(dfd, name, st->st_mode & (S_IFMT | 0600), st->st_rdev);
    if (rc < 0 && errno == EEXIST) {
        int r = cp_remove(c, err);
        if (r < 0)
            return r;
        rc = mknodat(dfd, name, st->st_mode & (S_IFMT | 0600), st->st_rdev);
    }
    if (rc < 0)
        return cp_fail(c, "create the node", err);
    return cp_meta_at(c, dfd, name, st, err);
}

/* overlayfs marks an opaque directory with trusted.overlay.opaque=y, or with
 * user.overlay.opaque=y where the layers were made without privileges. */
static bool cp_is_opaque(int fd)
{
    static const char *const names[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
    for (size_t i = 0; i < EC_ARRAY_LEN(names); i++) {
        char v[2];
        if (fgetxattr(fd, names[i], v, sizeof v) == 1 && v[0] == 'y')
            return true;
    }
    return false;
}

static int cp_tree(struct cp_ctx *c, DIR *src, int dst, ec_err *err);

/* A directory merges into the one below it unless it is opaque or replaces a
 * non-directory. Its attributes are set last, after its entries changed it. */
static int cp_dir(struct cp_ctx *c, int sfd, int dfd, const char *name, const struct stat *st,
                  ec_err *err)
{
    if (c->depth >= CP_MAX_DEPTH)
        return ec_fail(err, EC_ELIMIT, "%s/%s: more than %d levels of directories", c->lower,
                       c->rel, CP_MAX_DEPTH);
    int fd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s/%s", c->lower, c->rel);
    EC_AUTO(DIR) src = fdopendir(fd);
    if (!src) {
        close(fd);
        return ec_fail_sys(err, errno, "cannot read %s/%s", c->lower, c->rel);
    }
    struct stat cur;
    bool merge = fstatat(dfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0;
    if (merge && (!S_ISDIR(cur.st_mode) || cp_is_opaque(fd))) {
        int r = cp_remove(c, err);
        if (r < 0)
            return r;
        merge = false;
    }
    if (!merge && mkdirat(dfd, name, 0700) < 0)
        return cp_fail(c, "create the directory", err);
    EC_AUTOFD int dst = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst < 0)
        return cp_fail(c, "open", err);
    /* A lower layer's 0555 directory must take this layer's entries. */
    if (merge && !c->privileged && fchmod(dst, 0700) < 0)
        return cp_fail(c, "set the mode of", err);
    c->depth++;
    int r = cp_tree(c, src, dst, err);
    c->depth--;
    if (r < 0)
        return r;
    return cp_meta_fd(c, -1, dst, st, err);
}

static int cp_entry(struct cp_ctx *c, int sfd, int dfd, const char *name, ec_err *err)
{
    struct stat st;
    if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return ec_fail_sys(err, errno, "cannot stat %s/%s", c->lower, c->rel);
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
        return cp_remove(c, err); /* a whiteout hides the name from the layers below */
    if (S_ISDIR(st.st_mode))
        return cp_dir(c, sfd, dfd, name, &st, err);
    if (S_ISREG(st.st_mode))
        return cp_file(c, sfd, dfd, name, &st, err);
    if (S_ISLNK(st.st_mode))
        return cp_symlink(c, sfd, dfd, name, &st, err);
    return cp_node(c, dfd, name, &st, err);
}

static int cp_tree(struct cp_ctx *c, DIR *src, int dst, ec_err *err)
{
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(src);
        if (!de) {
            if (errno)
                return ec_fail_sys(err, errno, "cannot read %s/%s", c->lower, c->rel);
            return EC_OK;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t saved = c->rel_len; /* unchanged if the push fails */
        int r = cp_push(c, de->d_name, &saved, err);
        if (r == EC_OK)
            r = cp_entry(c, dirfd(src), dst, de->d_name, err);
        cp_pop(c, saved);
        if (r < 0)
            return r;
    }
}

static int cp_layer(struct cp_ctx *c, const char *lower, ec_err *err)
{
    c->lower = lower;
    cp_pop(c, 0);
    int fd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open layer directory %s", lower);
    EC_AUTO(DIR) src = fdopendir(fd);
    if (!src) {
        close(fd);
        return ec_fail_sys(err, errno, "cannot read layer directory %s", lower);
    }
    /* Hard links pair up within one layer only. */
    cp_links_reset(c);
    return cp_tree(c, src, c->root_fd, err);
}

static int cp_stack(const char *const *lowers, size_t n, const char *target, ec_err *err)
{
    EC_AUTOFD int root = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return ec_fail_sys(err, errno, "cannot open target %s", target);
    struct cp_ctx c = {.target = target, .root_fd = root, .try_clone = true,
                       .try_cfr = true, .privileged = geteuid() == 0};
    int r = EC_OK;
    for (size_t i = 0; i < n; i++) {
        r = cp_layer(&c, lowers[i], err);
        if (r < 0)
            goto undo;
    }
    cp_links_reset(&c);
    return EC_OK;

undo:
    cp_links_reset(&c);
    clear_dir(target, NULL); /* a failed copy leaves nothing behind */
    return r;
}

/* --- entry points --- */

int ec_mount_stack(enum ec_mount_mode *mode_out, const char *const *lowers, size_t n,
                   const char *upper, const char *work, const char *target, unsigned flags,
                   ec_err *err)
{
    assert(mode_out && target && (n == 0 || lowers));
    assert((flags & EC_MOUNT_FORCE_COPY) || (upper && work));
    int r = check_target(target, err);
    if (r == EC_OK)
        r = check_lowers(lowers, n, err);
    if (r < 0)
        return r;
    if (!(flags & EC_MOUNT_FORCE_COPY)) {
        ec_err why = {0};
        EC_AUTOFREE char *empty = NULL;
        if (n == 0)
            r = ovl_empty_lower(&empty, work, &why);
        if (r == EC_OK) {
            struct ovl_req req = {lowers, n, empty, upper, work, target, flags};
            r = ovl_mount(&req, &why);
        }
        if (r == EC_OK) {
            *mode_out = EC_MOUNT_OVERLAY;
            return EC_OK;
        }
        bool refused = r == EC_EUNSUPPORTED || r == EC_ELIMIT;
        if (!refused || !(flags & EC_MOUNT_ALLOW_COPY)) {
            if (refused) {
                size_t len = strlen(why.msg);
                snprintf(why.msg + len, sizeof why.msg - len, "; %s", ovl_advice(&why));
            }
            return err_take(err, &why);
        }
        ec_info("copying the layers into %s, because %s", target, why.msg);
    }
    r = cp_stack(lowers, n, target, err);
    if (r < 0)
        return r;
    *mode_out = EC_MOUNT_COPY;
    return EC_OK;
}

static int umount_overlay(const char *target, ec_err *err)
{
    struct statfs sf;
    if (statfs(target, &sf) < 0)
        return fail_errno(err, errno == ENOENT ? EC_ENOTFOUND : EC_ESYS, errno,
                          "cannot unmount %s: %s", target, strerror(errno));
    if (!ec_mount_is_mountpoint(target))
        return ec_fail(err, EC_ENOTFOUND, "cannot unmount %s: nothing is mounted there", target);
    if (sf.f_type != OVERLAYFS_SUPER_MAGIC)
        return ec_fail(err, EC_EINVAL, "%s is not an overlay mount; refusing to unmount it",
                       target);
    if (umount2(target, UMOUNT_NOFOLLOW) == 0)
        return EC_OK;
    if (errno == EPERM)
        return fail_errno(err, EC_ESYS, EPERM, "cannot unmount %s (%s); run as root", target,
                          strerror(EPERM));
    if (errno != EBUSY)
        return ec_fail_sys(err, errno, "cannot unmount %s", target);
    if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
        return ec_fail_sys(err, errno, "cannot detach %s", target);
    ec_warn("%s is busy (open files, a working directory or mounts inside it): detached it, "
            "and it goes away when its last user leaves", target);
    return EC_OK;
}

/* The copy is removed in place, so nothing may be mounted in it: ec_rm_rf would
 * walk into that file system. */
static int umount_copy(const char *target, ec_err *err)
{
    EC_AUTOFREE char *canon = realpath(target, NULL);
    char below[PATH_MAX];
    if (!canon)
        return fail_errno(err, errno == ENOENT ? EC_ENOTFOUND : EC_ESYS, errno,
                          "cannot remove the copy at %s: %s", target, strerror(errno));
    if (ec_mount_is_mountpoint(canon))
        return ec_fail(err, EC_EBUSY, "%s is a mount point, not a copy; unmount it instead",
                       target);
    if (mountinfo_find(canon, true, below, sizeof below))
        return ec_fail(err, EC_EBUSY, "cannot remove the copy at %s: %s is mounted inside it; "
                       "unmount that first", target, below);
    return clear_dir(canon, err);
}

int ec_umount_target(const char *target, enum ec_mount_mode mode, ec_err *err)
{
    assert(target);
    switch (mode) {
    case EC_MOUNT_OVERLAY:
        return umount_overlay(target, err);
    case EC_MOUNT_COPY:
        return umount_copy(target, err);
    }
    return ec_fail(err, EC_EINVAL, "cannot unmount %s: unknown mount mode %d", target, (int)mode);
}
