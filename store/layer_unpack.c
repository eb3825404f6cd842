/* SPDX-License-Identifier: MIT */
/* Extracts an untrusted tar or tar.zst into a new directory, refusing anything unsafe. */
#include "store/layer_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/util/fault.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/*
 * We extract with our own *at() calls rather than archive_write_disk: every path is
 * resolved component by component from the temporary root with O_NOFOLLOW, so nothing is
 * ever written through a symlink or outside the root, whatever the archive holds; no chdir
 * is needed (threads); and limits count the bytes actually written. Directories are made
 * writable while we fill them and get their modes and times at the end, deepest first.
 */

#define READ_CHUNK (256u * 1024)
#define DEFAULT_MAX_BYTES (64ull << 30)
#define DEFAULT_MAX_ENTRIES 4000000ull
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define XATTR_CAPS "security.capability"
#define XATTR_OPAQUE "trusted.overlay.opaque"

struct dirfix {
    char *path; /* relative to the root, never "" */
    mode_t mode;
    int64_t uid, gid;
    struct timespec mtime;
    size_t seq; /* the last record of a path wins */
};

struct unpack {
    struct archive *ar;
    int fd;           /* input */
    ec_sha256 *hash;  /* with opts->verify */
    char *rbuf;
    int rootfd;       /* the temporary root */
    int pfd;          /* cached parent directory of the last entry */
    char *ppath;      /* its path, NULL when nothing is cached */
    ec_unpack_limits lim;
    uint64_t bytes, entries;
    bool owner;       /* restore uid/gid (root only) */
    bool normalise;
    unsigned strip;
    bool package;
    bool no_sync;
    ec_archive_read_fn read;   /* instead of @fd when set */
    void *read_ud;
    const ec_extract_opts *x;  /* in place, aliases, hooks; NULL for layers */
    bool in_place;
    struct dirfix *dirs;
    size_t ndirs, capdirs;
};

/* --- paths --- */

static bool is_whiteout(const char *name)
{
    return strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0;
}

/* Normalises an archive path ("./a//b/" -> "a/b"); refuses absolute paths, "..", and
 * whiteout names used as directories. @what names the entry in messages. */
static int clean_path(char **out, const char *raw, const char *what, ec_err *err)
{
    if (raw[0] == '/')
        return ec_fail(err, EC_EUNSAFE, "%s: absolute path %s", what, raw);
    EC_AUTOFREE char *res = ec_xmalloc(strlen(raw) + 1);
    size_t n = 0, last = 0;
    for (const char *c = raw; *c; c += strspn(c, "/")) {
        size_t k = strcspn(c, "/");
        if (k == 2 && c[0] == '.' && c[1] == '.')
            return ec_fail(err, EC_EUNSAFE, "%s: \"..\" in path %s", what, raw);
        if (!(k == 1 && c[0] == '.')) {
            if (n)
                res[n++] = '/';
            if (n && is_whiteout(res + last))
                return ec_fail(err, EC_EUNSAFE, "%s: whiteout name used as a directory", what);
            last = n;
            memcpy(res + n, c, k);
            n += k;
            res[n] = '\0';
        }
        c += k;
    }
    res[n] = '\0';
    *out = ec_steal(&res);
    return EC_OK;
}

/* Lexical only: consumers of layers/<diff_id>/ must still resolve paths inside the root
 * (a chain of individually harmless symlinks can climb further at run time). */
bool ec_layer__symlink_escapes(const char *path, const char *target)
{
    if (target[0] == '/')
        return false;
    long depth = 0;
    for (const char *s = path; (s = strchr(s, '/')); s++)
        depth++;
    for (const char *c = target; *c;) {
        size_t k = strcspn(c, "/");
        if (k == 2 && c[0] == '.' && c[1] == '.') {
            if (--depth < 0)
                return true;
        } else if (k > 0 && !(k == 1 && c[0] == '.')) {
            depth++;
        }
        c += k + (c[k] == '/');
    }
    return false;
}

/* Splits "a/b/c" into "a/b" and "c" in place; a top-level name gets the parent "". */
static const char *split_parent(char *path, const char **name)
{
    char *slash = strrchr(path, '/');
    if (!slash) {
        *name = path;
        return "";
    }
    *slash = '\0';
    *name = slash + 1;
    return path;
}

/* --- directories --- */

static void dirfix_add(struct unpack *u, const char *path, mode_t mode, int64_t uid,
                       int64_t gid, struct timespec mtime)
{
    if (u->ndirs == u->capdirs) {
        u->capdirs = u->capdirs ? 2 * u->capdirs : 64;
        u->dirs = ec_xrealloc(u->dirs, u->capdirs * sizeof *u->dirs);
    }
    u->dirs[u->ndirs] = (struct dirfix){ec_xstrdup(path), mode, uid, gid, mtime, u->ndirs};
    u->ndirs++;
}

/* Opens one directory component below @dfd, creating it (0700 until the end) if @create. */
static int open_component(struct unpack *u, int dfd, const char *comp, const char *sofar,
                          bool create, const char *what, ec_err *err)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        int e = errno;
        struct stat sb;
        if (e == ENOENT && !create)
            return ec_fail(err, EC_EUNSAFE, "%s: %s does not exist earlier in the archive",
                           what, sofar);
        if (e == ENOENT) {
            if (mkdirat(dfd, comp, 0700) == 0)
                dirfix_add(u, sofar, 0755, 0, 0, (struct timespec){0, 0});
            else if (errno != EEXIST) /* EEXIST: another thread made it (in place) */
                return ec_fail_sys(err, errno, "%s: cannot create directory %s", what, sofar);
            continue;
        }
        if (fstatat(dfd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
            return ec_fail(err, EC_EUNSAFE, "%s: parent %s is a symlink", what, sofar);
        if (e == ENOTDIR || e == ELOOP)
            return ec_fail(err, EC_EUNSAFE, "%s: parent %s is not a directory", what, sofar);
        return ec_fail_sys(err, e, "%s: cannot open %s", what, sofar);
    }
    return ec_fail(err, EC_ESYS, "%s: %s keeps changing", what, sofar);
}

/* Opens the directory @dir ("" = the root) by walking from the root; *@fd_out is owned. */
static int open_dir(struct unpack *u, const char *dir, bool create, const char *what,
                    int *fd_out, ec_err *err)
{
    EC_AUTOFREE char *sofar = ec_xstrdup(dir);
    EC_AUTOFD int cur = openat(u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return ec_fail_sys(err, errno, "%s: cannot open the root", what);
    for (size_t off = 0; dir[off];) {
        size_t k = strcspn(dir + off, "/");
        char save = sofar[off + k];
        sofar[off + k] = '\0'; /* sofar is now the path up to this component */
        int fd = open_component(u, cur, sofar + off, sofar, create, what, err);
        sofar[off + k] = save;
        if (fd < 0)
            return fd;
        close(cur);
        cur = fd;
        off += k + (save == '/');
    }
    *fd_out = ec_steal_fd(&cur);
    return EC_OK;
}

/* The parent of consecutive entries is usually the same: keep it open. Borrowed fd. */
static int parent_fd(struct unpack *u, const char *dir, const char *what, int *fd_out, ec_err *err)
{
    if (u->ppath && strcmp(u->ppath, dir) == 0) {
        *fd_out = u->pfd;
        return EC_OK;
    }
    free(u->ppath);
    u->ppath = NULL;
    if (u->pfd >= 0)
        close(u->pfd);
    u->pfd = -1;
    int r = open_dir(u, dir, true, what, &u->pfd, err);
    if (r < 0)
        return r;
    u->ppath = ec_xstrdup(dir);
    *fd_out = u->pfd;
    return EC_OK;
}

/* Tar semantics: a later entry replaces an earlier non-directory of the same name. */
static int make_room(int pfd, const char *name, const char *what, ec_err *err)
{
    struct stat sb;
    if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? EC_OK : ec_fail_sys(err, errno, "%s: cannot stat", what);
    if (S_ISDIR(sb.st_mode))
        return ec_fail(err, EC_EUNSAFE, "%s: would replace a directory", what);
    if (unlinkat(pfd, name, 0) < 0)
        return ec_fail_sys(err, errno, "%s: cannot replace", what);
    return EC_OK;
}

/* --- metadata --- */

static struct timespec entry_mtime(const struct unpack *u, struct archive_entry *e)
{
    if (u->normalise || !archive_entry_mtime_is_set(e))
        return (struct timespec){0, 0};
    return (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
}

static int64_t entry_uid(const struct unpack *u, struct archive_entry *e)
{
    return u->normalise ? 0 : archive_entry_uid(e);
}

static int64_t entry_gid(const struct unpack *u, struct archive_entry *e)
{
    return u->normalise ? 0 : archive_entry_gid(e);
}

/* File capabilities are the only extended attribute a layer carries. */
static int set_caps(struct unpack *u, int fd, struct archive_entry *e, const char *what,
                    ec_err *err)
{
    const char *name;
    const void *val;
    size_t len;
    for (int n = archive_entry_xattr_reset(e); n > 0; n--) {
        archive_entry_xattr_next(e, &name, &val, &len);
        if (strcmp(name, XATTR_CAPS) != 0)
            continue;
        if (fsetxattr(fd, XATTR_CAPS, val, len, 0) == 0)
            return EC_OK;
        if (!u->owner && errno == EPERM) { /* unprivileged: as lossy as owners are */
            ec_debug("%s: file capabilities dropped (not root)", what);
            return EC_OK;
        }
        return ec_fail_sys(err, errno, "%s: cannot set %s", what, XATTR_CAPS);
    }
    return EC_OK;
}

/* Package archives get normalised modes: group/other never write, owner always read-write. */
static mode_t entry_perm(const struct unpack *u, struct archive_entry *e)
{
    mode_t m = archive_entry_perm(e) & 07777;
    if (!u->package)
        return m;
    return archive_entry_filetype(e) == AE_IFDIR ? 0755 : (((m | 0666) & ~0022u) | 0600) & 0777;
}

/* Order matters: chown clears setuid bits and capabilities, so mode and caps come after. */
static int set_meta_fd(struct unpack *u, int fd, struct archive_entry *e, const char *what,
                       ec_err *err)
{
    if (u->owner && fchown(fd, (uid_t)entry_uid(u, e), (gid_t)entry_gid(u, e)) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set owner", what);
    if (fchmod(fd, entry_perm(u, e)) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set mode", what);
    int r = set_caps(u, fd, e, what, err);
    if (r < 0)
        return r;
    struct timespec ts[2] = {entry_mtime(u, e), entry_mtime(u, e)};
    if (futimens(fd, ts) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set times", what);
    return EC_OK;
}

static int fix_dir(struct unpack *u, const struct dirfix *d, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = open_dir(u, d->path, false, d->path, &fd, err);
    if (r < 0)
        return r;
    if (u->owner && fchown(fd, (uid_t)d->uid, (gid_t)d->gid) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set owner", d->path);
    if (fchmod(fd, d->mode & 07777) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set mode", d->path);
    struct timespec ts[2] = {d->mtime, d->mtime};
    if (futimens(fd, ts) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set times", d->path);
    return EC_OK;
}

static int dirfix_cmp(const void *pa, const void *pb)
{
    const struct dirfix *a = pa, *b = pb;
    int c = strcmp(b->path, a->path); /* descending: children before their parents */
    if (c)
        return c;
    return a->seq < b->seq ? -1 : 1;
}

static int fix_dirs(struct unpack *u, ec_err *err)
{
    if (u->ndirs)
        qsort(u->dirs, u->ndirs, sizeof *u->dirs, dirfix_cmp);
    for (size_t i = 0; i < u->ndirs; i++) {
        /* Only the last record of a path counts: an earlier one might lock us out of it. */
        if (i + 1 < u->ndirs && strcmp(u->dirs[i].path, u->dirs[i + 1].path) == 0)
            continue;
        int r = fix_dir(u, &u->dirs[i], err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* --- entries --- */

static int check_size(struct unpack *u, int64_t size, const char *what, ec_err *err)
{
    if (size < 0)
        return ec_fail(err, EC_EARCHIVE, "%s: negative size", what);
    if ((uint64_t)size > u->lim.max_entry_bytes)
        return ec_fail(err, EC_ELIMIT, "%s: larger than the limit of %llu bytes per entry", what,
                       (unsigned long long)u->lim.max_entry_bytes);
    if ((uint64_t)size > u->lim.max_bytes - u->bytes)
        return ec_fail(err, EC_ELIMIT, "%s: the archive exceeds the limit of %llu bytes", what,
                       (unsigned long long)u->lim.max_bytes);
    return EC_OK;
}

static int write_all(int fd, const char *p, size_t n, off_t off, const char *what, ec_err *err)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ec_fail_sys(err, errno, "%s: cannot write", what);
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return EC_OK;
}

static int read_failed(struct unpack *u, const char *what, ec_err *err)
{
    return ec_fail(err, EC_EARCHIVE, "%s: %s", what, archive_error_string(u->ar));
}

/* Copies the entry's data, counting what is really written: a header cannot lie its way
 * past the limits, and sparse holes cost nothing. Returns the end offset in *@end. */
static int copy_data(struct unpack *u, int fd, const char *what, int64_t *end, ec_err *err)
{
    uint64_t entry_bytes = 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(u->ar, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            return EC_OK;
        if (r < ARCHIVE_WARN || off < 0)
            return read_failed(u, what, err);
        entry_bytes += len;
        u->bytes += len;
        /* the offset bound keeps a sparse map from making a huge (if hollow) file */
        if (entry_bytes > u->lim.max_entry_bytes ||
            (uint64_t)off + len > u->lim.max_entry_bytes)
            return ec_fail(err, EC_ELIMIT, "%s: larger than the limit of %llu bytes per entry",
                           what, (unsigned long long)u->lim.max_entry_bytes);
        if (u->bytes > u->lim.max_bytes)
            return ec_fail(err, EC_ELIMIT, "%s: the archive exceeds the limit of %llu bytes",
                           what, (unsigned long long)u->lim.max_bytes);
        r = write_all(fd, buf, len, (off_t)off, what, err);
        if (r < 0)
            return r;
        if (off + (int64_t)len > *end)
            *end = off + (int64_t)len;
    }
}

static int unpack_file(struct unpack *u, int pfd, const char *name, struct archive_entry *e,
                       const char *what, ec_err *err)
{
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0, end = 0;
    int r = check_size(u, size, what, err);
    if (r == EC_OK)
        r = make_room(pfd, name, what, err);
    if (r < 0)
        return r;
    EC_AUTOFD int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              0600);
    if (fd < 0)
        return ec_fail_sys(err, errno, "%s: cannot create", what);
    r = copy_data(u, fd, what, &end, err);
    if (r < 0)
        return r;
    if (size > end && ftruncate(fd, size) < 0) /* a sparse file's trailing hole */
        return ec_fail_sys(err, errno, "%s: cannot set size", what);
    return set_meta_fd(u, fd, e, what, err);
}

static int unpack_dir(struct unpack *u, int pfd, const char *path, const char *name,
                      struct archive_entry *e, const char *what, ec_err *err)
{
    struct stat sb;
    if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(sb.st_mode)) {
        int r = make_room(pfd, name, what, err);
        if (r < 0)
            return r;
    }
    if (mkdirat(pfd, name, 0700) < 0) {
        if (errno != EEXIST)
            return ec_fail_sys(err, errno, "%s: cannot create directory", what);
        if (u->in_place) /* made by the base of the tree or another archive: kept as is */
            return EC_OK;
    }
    dirfix_add(u, path, entry_perm(u, e), entry_uid(u, e), entry_gid(u, e),
               entry_mtime(u, e));
    return EC_OK;
}

static int unpack_symlink(struct unpack *u, int pfd, const char *path, const char *name,
                          struct archive_entry *e, const char *what, ec_err *err)
{
    const char *target = archive_entry_symlink(e);
    if (!target || !*target)
        return ec_fail(err, EC_EARCHIVE, "%s: symlink without a target", what);
    if (ec_layer__symlink_escapes(path, target))
        return ec_fail(err, EC_EUNSAFE, "%s: symlink target %s escapes the layer root", what,
                       target);
    int r = make_room(pfd, name, what, err);
    if (r < 0)
        return r;
    if (symlinkat(target, pfd, name) < 0)
        return ec_fail_sys(err, errno, "%s: cannot create symlink", what);
    if (u->owner &&
        fchownat(pfd, name, (uid_t)entry_uid(u, e), (gid_t)entry_gid(u, e),
                 AT_SYMLINK_NOFOLLOW) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set owner", what);
    struct timespec ts[2] = {entry_mtime(u, e), entry_mtime(u, e)};
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return ec_fail_sys(err, errno, "%s: cannot set times", what);
    return EC_OK;
}

/* The target must be a non-directory an earlier entry created inside the root. */
static int unpack_hardlink(struct unpack *u, int pfd, const char *path, const char *name,
                           const char *raw_target, const char *what, ec_err *err)
{
    EC_AUTOFREE char *target = NULL;
    EC_AUTOFD int tfd = -1;
    const char *tname;
    struct stat sb;
    int r = clean_path(&target, raw_target, what, err);
    if (r < 0)
        return r;
    if (!*target || strcmp(target, path) == 0)
        return ec_fail(err, EC_EUNSAFE, "%s: hardlink to itself or to the root", what);
    const char *tdir = split_parent(target, &tname);
    r = open_dir(u, tdir, false, what, &tfd, err);
    if (r < 0)
        return r;
    if (fstatat(tfd, tname, &sb, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(sb.st_mode))
        return ec_fail(err, EC_EUNSAFE,
                       "%s: hardlink target %s is not a file earlier in the archive", what,
                       raw_target);
    r = make_room(pfd, name, what, err);
    if (r < 0)
        return r;
    if (linkat(tfd, tname, pfd, name, 0) < 0) /* 0: a symlink target is linked, not followed */
        return ec_fail_sys(err, errno, "%s: cannot create hardlink", what);
    return EC_OK;
}

/* ".wh.NAME" becomes an overlay whiteout for NAME; ".wh..wh..opq" marks the directory opaque.
 * Those 0:0 character devices are the only device nodes this file ever creates. */
static int unpack_whiteout(struct unpack *u, int pfd, const char *name, const char *what,
                           ec_err *err)
{
    (void)u;
    if (strcmp(name, WH_OPAQUE) == 0) {
        if (fsetxattr(pfd, XATTR_OPAQUE, "y", 1, 0) < 0)
            return ec_fail_sys(err, errno, "%s: cannot set %s", what, XATTR_OPAQUE);
        return EC_OK;
    }
    const char *victim = name + strlen(WH_PREFIX);
    if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0 ||
        is_whiteout(victim))
        return ec_fail(err, EC_EUNSAFE, "%s: not a valid whiteout", what);
    int r = make_room(pfd, victim, what, err);
    if (r < 0)
        return r;
    if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
        return ec_fail_sys(err, errno, "%s: cannot create the overlay whiteout", what);
    return EC_OK;
}

static int unpack_typed(struct unpack *u, int pfd, const char *path, const char *name,
                        struct archive_entry *e, const char *what, ec_err *err)
{
    const char *hardlink = archive_entry_hardlink(e);
    if (hardlink)
        return unpack_hardlink(u, pfd, path, name, hardlink, what, err);
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        return unpack_file(u, pfd, name, e, what, err);
    case AE_IFDIR:
        return unpack_dir(u, pfd, path, name, e, what, err);
    case AE_IFLNK:
        return unpack_symlink(u, pfd, path, name, e, what, err);
    case AE_IFCHR:
    case AE_IFBLK:
        return ec_fail(err, EC_EUNSAFE, "%s: device nodes are not allowed in a layer", what);
    case AE_IFIFO:
        return ec_fail(err, EC_EUNSAFE, "%s: fifos are not allowed in a layer", what);
    default:
        return ec_fail(err, EC_EUNSAFE, "%s: unsupported entry type 0%o", what,
                       (unsigned)archive_entry_filetype(e));
    }
}

/* Drops u->strip leading components in place; false when the entry is not below them. */
static bool strip_path(const struct unpack *u, char *path)
{
    char *p = path;
    for (unsigned i = 0; i < u->strip; i++) {
        char *slash = strchr(p, '/');
        if (!slash)
            return false;
        p = slash + 1;
    }
    memmove(path, p, strlen(p) + 1);
    return true;
}

/* Package archives that ask for it get no links (their managers never extract them),
 * and a file named like a whiteout would turn into one when the staging tree is packed
 * as a layer. */
static bool skip_in_package(struct archive_entry *e, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return archive_entry_hardlink(e) || archive_entry_filetype(e) == AE_IFLNK ||
           is_whiteout(base);
}

/* Rewrites @path below an alias ("lib/x" -> "usr/lib/x"). Returns false for the alias
 * itself, which is already there as a directory through the alias. */
static bool alias_path(const struct unpack *u, char **path)
{
    const ec_extract_opts *x = u->x;
    for (size_t i = 0; x && i < x->naliases; i++) {
        size_t k = strlen(x->alias_from[i]);
        if (strncmp(*path, x->alias_from[i], k) != 0 || ((*path)[k] && (*path)[k] != '/'))
            continue;
        if (!(*path)[k])
            return false;
        char *n = ec_xasprintf("%s%s", x->alias_to[i], *path + k);
        free(*path);
        *path = n;
        return true;
    }
    return true;
}

static unsigned entry_kind(struct archive_entry *e)
{
    if (archive_entry_hardlink(e))
        return S_IFREG;
    switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
        return S_IFDIR;
    case AE_IFLNK:
        return S_IFLNK;
    default:
        return S_IFREG; /* devices and the like are refused when written */
    }
}

/* The hooked path of ec_archive_extract_cb: aliases, whiteout names, on_entry/on_done. */
static int unpack_hooked(struct unpack *u, struct archive_entry *e, char *path,
                         const char *what, ec_err *err)
{
    const ec_extract_opts *x = u->x;
    EC_AUTOFREE char *orig = ec_xstrdup(path), *dest = ec_xstrdup(path),
                     *link = NULL;
    const char *base = strrchr(path, '/');
    if (x->refuse_whiteouts && is_whiteout(base ? base + 1 : path))
        return ec_fail(err, EC_EUNSAFE, "%s: whiteout name in a package", what);
    if (!alias_path(u, &dest)) {
        if (entry_kind(e) == S_IFDIR || entry_kind(e) == S_IFLNK)
            return EC_OK;
        return ec_fail(err, EC_EUNSAFE, "%s: would replace the directory alias %s", what,
                       orig);
    }
    if (archive_entry_hardlink(e)) {
        int r = clean_path(&link, archive_entry_hardlink(e), what, err);
        if (r < 0)
            return r;
        if (!alias_path(u, &link))
            return ec_fail(err, EC_EUNSAFE, "%s: hardlink to a directory alias", what);
    }
    ec_extract_entry xe = {.path = orig, .dest = dest, .type = entry_kind(e),
                           .link = link ? link : archive_entry_symlink(e),
                           .mode = archive_entry_perm(e) & 07777,
                           .uid = archive_entry_uid(e), .gid = archive_entry_gid(e)};
    if (x->on_entry) {
        int r = x->on_entry(&xe, x->payload, err);
        if (r < 0)
            return r;
        if (r == EC_EXTRACT_SKIP)
            return EC_OK;
    }
    EC_AUTOFREE char *dpath = ec_xstrdup(dest);
    const char *name;
    const char *dir = split_parent(dpath, &name);
    int pfd;
    int r = parent_fd(u, dir, what, &pfd, err);
    if (r == EC_OK && link)
        r = unpack_hardlink(u, pfd, dest, name, link, what, err);
    else if (r == EC_OK)
        r = unpack_typed(u, pfd, dest, name, e, what, err);
    if (x->on_done)
        x->on_done(&xe, r == EC_OK, x->payload);
    return r;
}

static int unpack_entry(struct unpack *u, struct archive_entry *e, ec_err *err)
{
    const char *what = archive_entry_pathname(e);
    EC_AUTOFREE char *path = NULL;
    const char *name;
    int pfd;

    if (!what)
        return ec_fail(err, EC_EARCHIVE, "entry %llu: path cannot be decoded",
                       (unsigned long long)u->entries + 1);
    if (++u->entries > u->lim.max_entries)
        return ec_fail(err, EC_ELIMIT, "%s: the archive has more than %llu entries", what,
                       (unsigned long long)u->lim.max_entries);
    int r = clean_path(&path, what, what, err);
    if (r < 0)
        return r;
    if (!strip_path(u, path) || !*path) /* "./": the root gets its mode at the end */
        return EC_OK;
    if (u->package && skip_in_package(e, path))
        return EC_OK;
    if (u->x)
        return unpack_hooked(u, e, path, what, err);
    EC_AUTOFREE char *full = ec_xstrdup(path);
    const char *dir = split_parent(path, &name);
    r = parent_fd(u, dir, what, &pfd, err);
    if (r < 0)
        return r;
    if (is_whiteout(name))
        return unpack_whiteout(u, pfd, name, what, err);
    return unpack_typed(u, pfd, full, name, e, what, err);
}

/* --- reading --- */

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
    struct unpack *u = data;
    if (u->read) {
        errno = 0;
        ssize_t n = u->read(u->read_ud, buf);
        if (n < 0)
            archive_set_error(a, errno ? errno : EIO, "cannot read the archive: %s",
                              strerror(errno ? errno : EIO));
        return n;
    }
    for (;;) {
        ssize_t n = read(u->fd, u->rbuf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            archive_set_error(a, errno, "cannot read the archive: %s", strerror(errno));
            return -1;
        }
        if (u->hash && n > 0)
            ec_sha256_update(u->hash, u->rbuf, (size_t)n);
        *buf = u->rbuf;
        return n;
    }
}

/* Hashes what libarchive left unread (trailing padding, the end of the zstd frame). */
static int drain(struct unpack *u, ec_err *err)
{
    for (;;) {
        ssize_t n = read(u->fd, u->rbuf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ec_fail_sys(err, errno, "cannot read the archive");
        if (n == 0)
            return EC_OK;
        ec_sha256_update(u->hash, u->rbuf, (size_t)n);
    }
}

/* Only built-in decompressors: "filter_all" could run external programs on hostile input. */
static int reader_open(struct unpack *u, ec_err *err)
{
    u->ar = archive_read_new();
    if (!u->ar)
        return ec_fail(err, EC_ENOMEM, "cannot create a tar reader");
    archive_read_support_filter_zstd(u->ar);
    archive_read_support_filter_gzip(u->ar);
    archive_read_support_filter_xz(u->ar);
    archive_read_support_filter_bzip2(u->ar);
    archive_read_support_filter_lzma(u->ar); /* old .debs' data.tar.lzma */
    archive_read_support_format_tar(u->ar); /* ustar, pax and GNU tar */
    archive_read_support_format_gnutar(u->ar);
    if (archive_read_open(u->ar, u, NULL, read_cb, NULL) != ARCHIVE_OK)
        return ec_fail(err, EC_EARCHIVE, "not a tar or tar.zst archive: %s",
                       archive_error_string(u->ar));
    return EC_OK;
}

static int read_entries(struct unpack *u, ec_err *err)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(u->ar, &e);
        if (r == ARCHIVE_EOF)
            return EC_OK;
        if (r < ARCHIVE_WARN) /* WARN: e.g. a name kept as raw bytes; the checks still run */
            return ec_fail(err, EC_EARCHIVE, "after %llu entries: %s",
                           (unsigned long long)u->entries, archive_error_string(u->ar));
        r = unpack_entry(u, e, err);
        if (r < 0)
            return r;
    }
}

/* Extracts into the open empty root and settles directory modes and times. */
static int unpack_run(struct unpack *u, ec_err *err)
{
    locale_t utf8 = ec_layer__utf8_locale();
    if (utf8 == (locale_t)0)
        return ec_fail(err, EC_EUNSUPPORTED, "the C.UTF-8 locale is missing; tar names need it");
    locale_t old = uselocale(utf8);
    int r = reader_open(u, err);
    if (r == EC_OK)
        r = read_entries(u, err);
    uselocale(old);
    if (r == EC_OK)
        r = fix_dirs(u, err);
    if (r == EC_OK && !u->in_place && fchmod(u->rootfd, 0755) < 0)
        r = ec_fail_sys(err, errno, "cannot set the mode of the layer root");
    if (r == EC_OK && !u->no_sync && syncfs(u->rootfd) < 0) /* durable before it is published by rename */
        r = ec_fail_sys(err, errno, "cannot sync the layer");
    return r;
}

static void unpack_fini(struct unpack *u)
{
    if (u->ar)
        archive_read_free(u->ar);
    for (size_t i = 0; i < u->ndirs; i++)
        free(u->dirs[i].path);
    free(u->dirs);
    free(u->ppath);
    free(u->rbuf);
    ec_sha256_free(u->hash);
    if (u->pfd >= 0)
        close(u->pfd);
    if (u->rootfd >= 0)
        close(u->rootfd);
}

static void limits_resolve(ec_unpack_limits *out, const ec_unpack_limits *in)
{
    *out = in ? *in : (ec_unpack_limits){0};
    if (!out->max_bytes)
        out->max_bytes = DEFAULT_MAX_BYTES;
    if (!out->max_entries)
        out->max_entries = DEFAULT_MAX_ENTRIES;
    if (!out->max_entry_bytes || out->max_entry_bytes > out->max_bytes)
        out->max_entry_bytes = out->max_bytes;
}

/* Fills the temporary directory @tmp; with verification the digest decides the outcome. */
static int unpack_into(int fd, const char *tmp, const ec_unpack_limits *limits,
                       const struct ec_layer__unpack_opts *o, ec_err *err)
{
    __attribute__((cleanup(unpack_fini))) struct unpack u = {.fd = fd, .pfd = -1};
    ec_err local = {0};
    limits_resolve(&u.lim, limits);
    u.owner = geteuid() == 0;
    u.normalise = o->normalise;
    u.strip = o->strip;
    u.package = o->package;
    u.no_sync = o->no_sync;
    u.read = o->read;
    u.read_ud = o->read_ud;
    u.x = o->x;
    u.in_place = o->x && o->x->in_place;
    u.hash = o->verify ? ec_sha256_new() : NULL;
    u.rbuf = ec_xmalloc(READ_CHUNK);
    u.rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r = u.rootfd < 0 ? ec_fail_sys(&local, errno, "cannot open %s", tmp)
                         : unpack_run(&u, &local);
    if (o->verify) {
        ec_digest got;
        archive_read_free(ec_steal(&u.ar)); /* nothing may read after the drain */
        int d = drain(&u, err);
        if (d < 0)
            return d;
        ec_sha256_final(ec_steal(&u.hash), &got);
        if (!ec_digest_eq(&got, o->verify)) {
            char hex[EC_DIGEST_STR_LEN];
            return ec_fail(err, EC_EINTEGRITY, "blob %s: content does not match its digest",
                           ec_digest_format(hex, o->verify));
        }
    }
    if (r < 0 && err && err->code == EC_OK)
        *err = local;
    return r;
}

static int publish(const char *tmp, const char *dest, bool sync, ec_err *err)
{
    if (EC_FAULT("layer.unpack")) {
        ec_rm_rf(tmp, NULL);
        return ec_fail(err, EC_ESYS, "fault injected before publishing %s", dest);
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
        int e = errno;
        if (e == EINVAL && rename(tmp, dest) == 0) /* file system without NOREPLACE */
            e = 0;
        if (e == EEXIST || e == ENOTEMPTY) /* another process unpacked it first */
            return ec_rm_rf(tmp, err);
        if (e)
            return ec_fail_sys(err, e, "cannot rename %s to %s", tmp, dest);
    }
    if (!sync)
        return EC_OK;
    EC_AUTOFREE char *parent = ec_xstrdup(dest);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else if (slash)
        slash[1] = '\0';
    return ec_fsync_dir(slash ? parent : ".", err);
}

int ec_layer__unpack(int fd, const char *dest, const ec_unpack_limits *limits,
                     const struct ec_layer__unpack_opts *o, ec_err *err)
{
    static const struct ec_layer__unpack_opts none;
    struct stat sb;
    char rnd[17];

    o = o ? o : &none;
    if ((fd < 0 && !o->read) || !dest || !*dest)
        return ec_fail(err, EC_EINVAL, "ec_layer_unpack_fd: missing argument");
    if (o->x && o->x->in_place) {
        if (lstat(dest, &sb) < 0 || !S_ISDIR(sb.st_mode))
            return ec_fail(err, EC_EINVAL, "%s is not an existing directory", dest);
        return unpack_into(fd, dest, limits, o, err);
    }
    if (lstat(dest, &sb) == 0)
        return o->exist_ok ? EC_OK : ec_fail(err, EC_ECONFLICT, "%s already exists", dest);
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *tmp = ec_xasprintf("%s.tmp-%s", dest, rnd);
    if (mkdir(tmp, 0700) < 0)
        return ec_fail_sys(err, errno, "cannot create %s", tmp);
    int r = unpack_into(fd, tmp, limits, o, err);
    if (r < 0)
        goto undo;
    r = publish(tmp, dest, !o->no_sync, err);
    if (r < 0)
        goto undo;
    return EC_OK;
undo:
    ec_rm_rf(tmp, NULL);
    return r;
}

int ec_layer_unpack_fd(int fd, const char *dest, const ec_unpack_limits *limits, ec_err *err)
{
    return ec_layer__unpack(fd, dest, limits, NULL, err);
}

int ec_archive_extract_fd(int fd, const char *dest, const ec_unpack_limits *limits,
                          const ec_extract_opts *opts, ec_err *err)
{
    struct ec_layer__unpack_opts o = {.strip = opts ? opts->strip_components : 0,
                                      .no_sync = opts && opts->no_sync,
                                      .package = opts && opts->package_modes,
                                      .normalise = true};
    return ec_layer__unpack(fd, dest, limits, &o, err);
}

int ec_archive_extract_cb(ec_archive_read_fn read, void *ud, const char *dest,
                          const ec_unpack_limits *limits, const ec_extract_opts *opts,
                          ec_err *err)
{
    static const ec_extract_opts none;
    opts = opts ? opts : &none;
    if (!read)
        return ec_fail(err, EC_EINVAL, "ec_archive_extract_cb: missing reader");
    struct ec_layer__unpack_opts o = {.strip = opts->strip_components,
                                      .no_sync = opts->no_sync,
                                      .package = opts->package_modes,
                                      .normalise = !opts->keep_owners,
                                      .read = read, .read_ud = ud, .x = opts};
    return ec_layer__unpack(-1, dest, limits, &o, err);
}
