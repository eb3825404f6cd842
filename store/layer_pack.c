/* SPDX-License-Identifier: MIT */
/* Packs a directory into a deterministic tar, compressed with zstd, streamed into a blob. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getCParams and the parameters fixed below */

#include "store/layer_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zstd.h>

#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/*
 * Algorithm: walk the tree (never following symlinks) into a flat list of entries, sort it
 * bytewise by path, group hard links by (dev, ino), then write one tar entry per list item
 * with every varying attribute fixed (owner 0, mtime 0, no names, no atime/ctime). The tar
 * bytes go through sha256 (diff_id) and a zstd stream whose parameters are all pinned, into
 * a blob writer. Only paths live in memory; file data streams in 1 MiB chunks.
 */

#define PACK_CHUNK (1u << 20)
#define PACK_QUIET_US (2 * 1000000) /* packs shorter than this print no progress */
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define XATTR_CAPS "security.capability"
#define XATTR_OPAQUE "trusted.overlay.opaque"

enum pent_kind { PE_DIR, PE_REG, PE_LNK, PE_WHITEOUT, PE_OPAQUE };

struct pent {
    char *path;     /* relative: no "./", no trailing '/' */
    char *target;   /* symlink target, else NULL */
    uint64_t dev, ino;
    size_t link_to; /* first path of its hard-link group, or SIZE_MAX */
    mode_t mode;
    bool multi;     /* a regular file with st_nlink > 1 */
    enum pent_kind kind;
};

struct pack {
    struct pent *v;
    size_t n, cap;
    int rootfd;
    const char *dir;
    char *chunk;
    /* the tar sink: hash, compress, store */
    ec_sha256 *tar_hash;
    uint64_t tar_size;
    ZSTD_CCtx *z;
    void *zout;
    size_t zout_cap;
    ec_blob_writer *w;
    ec_err *err;
    int sink_rc; /* first failure inside the libarchive callback */
    /* progress */
    int64_t t0;
    uint64_t done_files, done_bytes;
    bool shown;
};

/* --- the C.UTF-8 locale shared with layer_unpack.c --- */

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t ec_layer__utf8_locale(void)
{
    pthread_once(&utf8_once, utf8_locale_init);
    return utf8_locale;
}

/* --- walking the source tree --- */

static void pack_fini(struct pack *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].target);
    }
    free(p->v);
    free(p->chunk);
    free(p->zout);
    ZSTD_freeCCtx(p->z);
    ec_sha256_free(p->tar_hash);
    ec_blob_writer_cancel(p->w);
}

/* Appends an entry; takes @path. */
static struct pent *pack_add(struct pack *p, char *path, enum pent_kind kind, const struct stat *sb)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->v = ec_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    struct pent *e = &p->v[p->n++];
    *e = (struct pent){.path = path, .kind = kind, .link_to = SIZE_MAX};
    if (sb) {
        e->dev = sb->st_dev;
        e->ino = sb->st_ino;
        e->mode = sb->st_mode;
        e->multi = S_ISREG(sb->st_mode) && sb->st_nlink > 1;
    }
    return e;
}

static char *path_join(const char *prefix, const char *name)
{
    return prefix ? ec_xasprintf("%s/%s", prefix, name) : ec_xstrdup(name);
}

/* Adds "DIR/.wh..wh..opq" when the directory is an overlay opaque directory. */
static int walk_opaque(struct pack *p, int fd, const char *prefix, ec_err *err)
{
    char val[8];
    ssize_t n = fgetxattr(fd, XATTR_OPAQUE, val, sizeof val);
    if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
        return EC_OK;
    if (n < 0)
        return ec_fail_sys(err, errno, "%s/%s: cannot read %s", p->dir, prefix ? prefix : ".",
                           XATTR_OPAQUE);
    if (n == 1 && val[0] == 'y')
        pack_add(p, path_join(prefix, WH_OPAQUE), PE_OPAQUE, NULL);
    return EC_OK;
}

static int walk_dir(struct pack *p, int fd, const char *prefix, ec_err *err);

static int walk_subdir(struct pack *p, int dfd, const char *name, const char *path, ec_err *err)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s/%s", p->dir, path);
    int r = walk_opaque(p, fd, path, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    return walk_dir(p, fd, path, err);
}

static int walk_symlink(struct pack *p, int dfd, const char *name, char *path,
                        const struct stat *sb, ec_err *err)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(dfd, name, target, sizeof target);
    if (n < 0 || (size_t)n >= sizeof target) {
        int e = n < 0 ? errno : ENAMETOOLONG;
        ec_fail_sys(err, e, "cannot read symlink %s/%s", p->dir, path);
        free(path);
        return EC_ESYS;
    }
    target[n] = '\0';
    if (ec_layer__symlink_escapes(path, target)) {
        ec_fail(err, EC_EUNSAFE, "%s/%s: symlink target %s escapes the layer root", p->dir,
                path, target);
        free(path);
        return EC_EUNSAFE;
    }
    pack_add(p, path, PE_LNK, sb)->target = ec_xstrdup(target);
    return EC_OK;
}

static int walk_one(struct pack *p, int dfd, const char *prefix, const char *name, ec_err *err)
{
    struct stat sb;
    EC_AUTOFREE char *path = path_join(prefix, name);
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return ec_fail_sys(err, errno, "cannot stat %s/%s", p->dir, path);
    /* A real .wh.* name would read as a whiteout to every consumer of the layer. */
    if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
        return ec_fail(err, EC_EUNSAFE, "%s/%s: names starting with %s are reserved for "
                       "whiteouts", p->dir, path, WH_PREFIX);
    if (S_ISDIR(sb.st_mode)) {
        pack_add(p, ec_xstrdup(path), PE_DIR, &sb);
        return walk_subdir(p, dfd, name, path, err);
    }
    if (S_ISREG(sb.st_mode)) {
        pack_add(p, ec_steal(&path), PE_REG, &sb);
        return EC_OK;
    }
    if (S_ISLNK(sb.st_mode))
        return walk_symlink(p, dfd, name, ec_steal(&path), &sb, err);
    if (S_ISCHR(sb.st_mode) && sb.st_rdev == 0) { /* overlay whiteout */
        char *wh = prefix ? ec_xasprintf("%s/" WH_PREFIX "%s", prefix, name)
                          : ec_xasprintf(WH_PREFIX "%s", name);
        pack_add(p, wh, PE_WHITEOUT, NULL);
        return EC_OK;
    }
    return ec_fail(err, EC_EUNSAFE, "%s/%s: device nodes, fifos and sockets cannot be packed",
                   p->dir, path);
}

/* Walks the directory open on @fd (consumed); @prefix is its path, NULL for the root. */
static int walk_dir(struct pack *p, int fd, const char *prefix, ec_err *err)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return ec_fail_sys(err, e, "cannot read %s/%s", p->dir, prefix ? prefix : ".");
    }
    int r = EC_OK;
    errno = 0;
    for (struct dirent *de; r == EC_OK && (de = readdir(d)); errno = 0) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = walk_one(p, dirfd(d), prefix, de->d_name, err);
    }
    if (r == EC_OK && errno != 0)
        r = ec_fail_sys(err, errno, "cannot read %s/%s", p->dir, prefix ? prefix : ".");
    closedir(d);
    return r;
}

static int pent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pent *)a)->path, ((const struct pent *)b)->path);
}

struct link_key {
    uint64_t dev, ino;
    size_t i;
};

static int link_key_cmp(const void *pa, const void *pb)
{
    const struct link_key *a = pa, *b = pb;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* After sorting: the first path of each (dev, ino) group stays a file, the rest link to it. */
static void link_groups(struct pack *p)
{
    size_t m = 0;
    for (size_t i = 0; i < p->n; i++)
        m += p->v[i].multi;
    if (m < 2)
        return;
    EC_AUTOFREE struct link_key *k = ec_xcalloc(m, sizeof *k);
    m = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].multi)
            k[m++] = (struct link_key){p->v[i].dev, p->v[i].ino, i};
    if (m)
        qsort(k, m, sizeof *k, link_key_cmp);
    for (size_t j = 1; j < m; j++) {
        if (k[j].dev != k[j - 1].dev || k[j].ino != k[j - 1].ino)
            continue;
        size_t first = p->v[k[j - 1].i].link_to;
        p->v[k[j].i].link_to = first != SIZE_MAX ? first : k[j - 1].i;
    }
}

static int pack_walk(struct pack *p, ec_err *err)
{
    int r = walk_opaque(p, p->rootfd, NULL, err);
    if (r < 0)
        return r;
    int fd = openat(p->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", p->dir);
    r = walk_dir(p, fd, NULL, err);
    if (r < 0)
        return r;
    if (p->n)
        qsort(p->v, p->n, sizeof *p->v, pent_cmp);
    link_groups(p);
    return EC_OK;
}

/* --- the tar sink: sha256 of the tar, zstd, blob writer --- */

static int sink_write(struct pack *p, const void *buf, size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {buf, n, 0};
    if (n) {
        ec_sha256_update(p->tar_hash, buf, n);
        p->tar_size += n;
    }
    for (;;) {
        ZSTD_outBuffer out = {p->zout, p->zout_cap, 0};
        size_t rest = ZSTD_compressStream2(p->z, &out, &in, mode);
        if (ZSTD_isError(rest))
            return ec_fail(p->err, EC_EARCHIVE, "%s: zstd: %s", p->dir, ZSTD_getErrorName(rest));
        if (out.pos) {
            int r = ec_blob_writer_write(p->w, p->zout, out.pos, p->err);
            if (r < 0)
                return r;
        }
        if (mode == ZSTD_e_end ? rest == 0 : in.pos == in.size)
            return EC_OK;
    }
}

static la_ssize_t sink_cb(struct archive *a, void *data, const void *buf, size_t n)
{
    struct pack *p = data;
    if (p->sink_rc == EC_OK)
        p->sink_rc = sink_write(p, buf, n, ZSTD_e_continue);
    if (p->sink_rc < 0) {
        archive_set_error(a, EIO, "layer blob write failed");
        return -1;
    }
    return (la_ssize_t)n;
}

/* Every parameter that could differ between hosts or library defaults is pinned here, so
 * the blob depends only on the tar, the level and the zstd version. */
static int zstd_setup(struct pack *p, int level, int threads, ec_err *err)
{
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0);
    const struct {
        ZSTD_cParameter k;
        int v;
    } set[] = {
        {ZSTD_c_compressionLevel, level}, {ZSTD_c_windowLog, (int)cp.windowLog},
        {ZSTD_c_chainLog, (int)cp.chainLog}, {ZSTD_c_hashLog, (int)cp.hashLog},
        {ZSTD_c_searchLog, (int)cp.searchLog}, {ZSTD_c_minMatch, (int)cp.minMatch},
        {ZSTD_c_targetLength, (int)cp.targetLength}, {ZSTD_c_strategy, (int)cp.strategy},
        {ZSTD_c_checksumFlag, 1}, {ZSTD_c_contentSizeFlag, 1}, {ZSTD_c_dictIDFlag, 0},
        /* workers >= 1 always: the multi-threaded format does not depend on their count */
        {ZSTD_c_nbWorkers, threads}, {ZSTD_c_jobSize, 0}, {ZSTD_c_overlapLog, 0},
        {ZSTD_c_rsyncable, 0}, {ZSTD_c_enableLongDistanceMatching, ZSTD_ps_disable},
        /* "auto" would choose by the CPU's SIMD support */
        {ZSTD_c_useRowMatchFinder, ZSTD_ps_enable}, {ZSTD_c_useBlockSplitter, ZSTD_ps_disable},
        {ZSTD_c_literalCompressionMode, ZSTD_ps_auto},
    };
    p->z = ZSTD_createCCtx();
    if (!p->z)
        return ec_fail(err, EC_ENOMEM, "%s: cannot create a zstd context", p->dir);
    for (size_t i = 0; i < EC_ARRAY_LEN(set); i++) {
        size_t rc = ZSTD_CCtx_setParameter(p->z, set[i].k, set[i].v);
        if (ZSTD_isError(rc) && set[i].k == ZSTD_c_nbWorkers)
            return ec_fail(err, EC_EUNSUPPORTED, "libzstd without multi-threading cannot pack "
                           "layers deterministically: %s", ZSTD_getErrorName(rc));
        if (ZSTD_isError(rc))
            return ec_fail(err, EC_EUNSUPPORTED, "zstd parameter %d=%d: %s", (int)set[i].k,
                           set[i].v, ZSTD_getErrorName(rc));
    }
    p->zout_cap = ZSTD_CStreamOutSize();
    p->zout = ec_xmalloc(p->zout_cap);
    return EC_OK;
}

/* --- writing the entries --- */

static const char *human_size(char buf[32], uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < EC_ARRAY_LEN(units)) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static void pack_progress(struct pack *p, bool final)
{
    char sz[32];
    if (!final && !p->shown && ec_mono_us() - p->t0 < PACK_QUIET_US)
        return;
    if (final && !p->shown)
        return;
    p->shown = true;
    ec_progress(final, "packing: %llu files, %s", (unsigned long long)p->done_files,
                human_size(sz, p->done_bytes));
}

static int archive_failed(struct pack *p, struct archive *a, const char *path, ec_err *err)
{
    if (p->sink_rc < 0)
        return p->sink_rc;
    return ec_fail(err, EC_EARCHIVE, "%s: cannot write tar entry: %s", path,
                   archive_error_string(a));
}

/* Opens a regular file found by the walk, making sure it is still that file. */
static int open_reg(struct pack *p, const struct pent *e, int *fd_out, struct stat *sb, ec_err *err)
{
    EC_AUTOFD int fd = openat(p->rootfd, e->path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s/%s", p->dir, e->path);
    if (fstat(fd, sb) < 0)
        return ec_fail_sys(err, errno, "cannot stat %s/%s", p->dir, e->path);
    if (!S_ISREG(sb->st_mode) || sb->st_dev != e->dev || sb->st_ino != e->ino)
        return ec_fail(err, EC_ECONFLICT, "%s/%s changed while packing", p->dir, e->path);
    *fd_out = ec_steal_fd(&fd);
    return EC_OK;
}

static int add_caps(struct pack *p, struct archive_entry *ae, int fd, const char *path, ec_err *err)
{
    char val[256];
    ssize_t n = fgetxattr(fd, XATTR_CAPS, val, sizeof val);
    if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
        return EC_OK;
    if (n < 0)
        return ec_fail_sys(err, errno, "%s/%s: cannot read %s", p->dir, path, XATTR_CAPS);
    archive_entry_xattr_add_entry(ae, XATTR_CAPS, val, (size_t)n);
    return EC_OK;
}

static int copy_data(struct pack *p, struct archive *a, int fd, const char *path, uint64_t size,
                     ec_err *err)
{
    while (size > 0) {
        size_t want = size < PACK_CHUNK ? (size_t)size : PACK_CHUNK;
        ssize_t n = read(fd, p->chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ec_fail_sys(err, errno, "cannot read %s/%s", p->dir, path);
        if (n == 0)
            return ec_fail(err, EC_ECONFLICT, "%s/%s changed while packing", p->dir, path);
        if (archive_write_data(a, p->chunk, (size_t)n) != n)
            return archive_failed(p, a, path, err);
        size -= (uint64_t)n;
        p->done_bytes += (uint64_t)n;
        pack_progress(p, false);
    }
    return EC_OK;
}

static int write_reg(struct pack *p, struct archive *a, struct archive_entry *ae,
                     const struct pent *e, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    struct stat sb;
    int r = open_reg(p, e, &fd, &sb, err);
    if (r < 0)
        return r;
    r = add_caps(p, ae, fd, e->path, err);
    if (r < 0)
        return r;
    archive_entry_set_mode(ae, S_IFREG | (sb.st_mode & 07777));
    archive_entry_set_size(ae, sb.st_size);
    if (archive_write_header(a, ae) < ARCHIVE_WARN)
        return archive_failed(p, a, e->path, err);
    return copy_data(p, a, fd, e->path, (uint64_t)sb.st_size, err);
}

static int write_entry(struct pack *p, struct archive *a, struct archive_entry *ae,
                       const struct pent *e, ec_err *err)
{
    archive_entry_clear(ae);
    archive_entry_set_pathname(ae, e->path); /* directories get their '/' from libarchive */
    archive_entry_set_uid(ae, 0);
    archive_entry_set_gid(ae, 0);
    archive_entry_set_mtime(ae, 0, 0);
    archive_entry_set_size(ae, 0);
    switch (e->kind) {
    case PE_REG:
        if (e->link_to == SIZE_MAX)
            return write_reg(p, a, ae, e, err);
        archive_entry_set_mode(ae, S_IFREG | (e->mode & 07777));
        archive_entry_set_hardlink(ae, p->v[e->link_to].path);
        break;
    case PE_DIR:
        archive_entry_set_mode(ae, S_IFDIR | (e->mode & 07777));
        break;
    case PE_LNK:
        archive_entry_set_mode(ae, S_IFLNK | 0777);
        archive_entry_set_symlink(ae, e->target);
        break;
    case PE_WHITEOUT:
    case PE_OPAQUE:
        archive_entry_set_mode(ae, S_IFREG | 0); /* fixed, as Docker writes them */
        break;
    }
    /* ARCHIVE_WARN: a name that is not UTF-8 was stored as raw bytes (hdrcharset=BINARY). */
    if (archive_write_header(a, ae) < ARCHIVE_WARN)
        return archive_failed(p, a, e->path, err);
    return EC_OK;
}

static int write_entries(struct pack *p, struct archive *a, ec_err *err)
{
    struct archive_entry *ae = archive_entry_new();
    if (!ae)
        return ec_fail(err, EC_ENOMEM, "%s: cannot allocate a tar entry", p->dir);
    int r = EC_OK;
    for (size_t i = 0; r == EC_OK && i < p->n; i++) {
        r = write_entry(p, a, ae, &p->v[i], err);
        p->done_files++;
        pack_progress(p, false);
    }
    archive_entry_free(ae);
    return r;
}

static int tar_writer_open(struct archive **out, struct pack *p, ec_err *err)
{
    struct archive *a = archive_write_new();
    if (!a)
        return ec_fail(err, EC_ENOMEM, "%s: cannot create a tar writer", p->dir);
    /* Fixed blocking: 10 KiB writes, and no padding of the last block past the trailer. */
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, p, NULL, sink_cb, NULL) != ARCHIVE_OK) {
        ec_fail(err, EC_EARCHIVE, "%s: cannot start the tar writer: %s", p->dir,
                archive_error_string(a));
        archive_write_free(a);
        return EC_EARCHIVE;
    }
    *out = a;
    return EC_OK;
}

/* Writes the tar through the sink; on failure nothing more reaches the blob writer. */
static int pack_stream(struct pack *p, ec_err *err)
{
    struct archive *a = NULL;
    locale_t utf8 = ec_layer__utf8_locale();
    if (utf8 == (locale_t)0)
        return ec_fail(err, EC_EUNSUPPORTED, "the C.UTF-8 locale is missing; tar names need it");
    locale_t old = uselocale(utf8);
    int r = tar_writer_open(&a, p, err);
    if (r == EC_OK)
        r = write_entries(p, a, err);
    if (r == EC_OK && archive_write_close(a) != ARCHIVE_OK)
        r = archive_failed(p, a, "(end of archive)", err);
    if (a && r < 0)
        archive_write_fail(a); /* so that free does not write the trailer */
    if (a)
        archive_write_free(a);
    uselocale(old);
    if (r < 0)
        return r;
    return sink_write(p, NULL, 0, ZSTD_e_end);
}

/* --- the entry point --- */

static int env_level(int *level, ec_err *err)
{
    const char *s = getenv("ENVCACHE_PACK_LEVEL");
    *level = EC_PACK_LEVEL;
    if (!s || !*s)
        return EC_OK;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > ZSTD_maxCLevel())
        return ec_fail(err, EC_EINVAL, "ENVCACHE_PACK_LEVEL=%s is not a zstd level (1..%d)",
                       s, ZSTD_maxCLevel());
    *level = (int)v;
    return EC_OK;
}

static int resolve_opts(int *level, int *threads, const ec_pack_opts *opts, ec_err *err)
{
    *level = opts ? opts->level : 0;
    *threads = opts ? opts->threads : 0;
    if (*level == 0 && env_level(level, err) < 0)
        return EC_EINVAL;
    if (*level < 1 || *level > ZSTD_maxCLevel())
        return ec_fail(err, EC_EINVAL, "zstd level %d is outside 1..%d", *level,
                       ZSTD_maxCLevel());
    if (*threads < 0)
        return ec_fail(err, EC_EINVAL, "thread count %d is negative", *threads);
    if (*threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        *threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    }
    return EC_OK;
}

static int pack_begin(struct pack *p, ec_store *st, int level, int threads, ec_err *err)
{
    p->tar_hash = ec_sha256_new();
    p->chunk = ec_xmalloc(PACK_CHUNK);
    p->t0 = ec_mono_us();
    int r = zstd_setup(p, level, threads, err);
    if (r < 0)
        return r;
    return ec_blob_writer_new(&p->w, st, err);
}

int ec_layer_pack_dir(ec_layer_info *out, ec_store *st, const char *dir,
                      const ec_pack_opts *opts, ec_err *err)
{
    __attribute__((cleanup(pack_fini))) struct pack p = {.dir = dir, .err = err};
    EC_AUTOFD int rootfd = -1;
    int level, threads, r;

    if (!out || !st || !dir || !*dir)
        return ec_fail(err, EC_EINVAL, "ec_layer_pack_dir: missing argument");
    r = resolve_opts(&level, &threads, opts, err);
    if (r < 0)
        return r;
    rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return ec_fail_sys(err, errno, "cannot open directory %s", dir);
    p.rootfd = rootfd;
    r = pack_walk(&p, err);
    if (r == EC_OK)
        r = pack_begin(&p, st, level, threads, err);
    if (r == EC_OK)
        r = pack_stream(&p, err);
    if (r < 0)
        return r;
    pack_progress(&p, true);

    ec_layer_info info = {.size = ec_blob_writer_size(p.w), .tar_size = p.tar_size,
                          .files = p.n, .created = ec_now()};
    info.last_used = info.created;
    ec_sha256_final(ec_steal(&p.tar_hash), &info.diff_id);
    r = ec_blob_writer_commit(ec_steal(&p.w), NULL, &info.digest, err);
    if (r < 0)
        return r;
    *out = info;
    return EC_OK;
}
