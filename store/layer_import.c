/* SPDX-License-Identifier: MIT */
/* Imports a directory or tarball as a layer, and unpacks recorded layers on demand. */
#include "store/layer_int.h"
#include "store/scan.h"
#include "store/util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

static bool is_dir(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* "<home>/layers/<diff_id hex>"; caller frees. */
static char *layer_dir(const ec_store *st, const ec_digest *diff_id)
{
    char hex[EC_DIGEST_HEX_LEN];
    EC_AUTOFREE char *rel = ec_xasprintf("layers/%s", ec_digest_hex(hex, diff_id));
    return ec_store_path(st, rel);
}

static int ensure_layers_root(const ec_store *st, ec_err *err)
{
    EC_AUTOFREE char *layers = ec_store_path(st, "layers");
    return ec_mkdir_p(layers, 0700, err); /* made private by ec_store_open */
}

/* One short write transaction: a layer seen before keeps its creation time and flags. */
static int record_layer(ec_store *st, ec_layer_info *info, unsigned flags, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_layer_info old;
    ec_err miss = {0};

    int r = ec_txn_begin(&txn, st, 0, err);
    if (r < 0)
        return r;
    info->created = info->last_used = ec_now();
    info->flags = flags;
    r = ec_layer_lookup(&old, txn, &info->digest, &miss);
    if (r == EC_OK) {
        info->created = old.created;
        info->flags |= old.flags;
    } else if (r != EC_ENOTFOUND) {
        if (err && err->code == EC_OK)
            *err = miss;
        return r;
    }
    r = ec_layer_put(txn, info, err);
    if (r < 0)
        return r;
    if (EC_FAULT("layer.record"))
        return ec_fail(err, EC_EDB, "fault injected before recording the layer");
    return ec_txn_commit(ec_steal(&txn), err);
}

/* Moves the tree unpacked for import into layers/<diff_id>/ unless a copy is there. */
static int place_unpacked(ec_store *st, const ec_layer_info *info, const char *tree, ec_err *err)
{
    EC_AUTOFREE char *dest = layer_dir(st, &info->diff_id);
    EC_AUTOFREE char *layers = ec_store_path(st, "layers");
    int r = ensure_layers_root(st, err);
    if (r < 0)
        return r;
    if (EC_FAULT("layer.rename"))
        return ec_fail(err, EC_ESYS, "fault injected before placing the unpacked layer");
    if (renameat2(AT_FDCWD, tree, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            return ec_rm_rf(tree, err);
        return ec_fail_sys(err, errno, "cannot rename %s to %s", tree, dest);
    }
    return ec_fsync_dir(layers, err);
}

static int import_tree(ec_layer_info *out, ec_store *st, int fd, const char *tree,
                       unsigned flags, const ec_pack_opts *opts, const ec_unpack_limits *limits,
                       const struct ec_layer__unpack_opts *uo, ec_err *err);

/* A tar or tar.zst: unpacking it (with the safety checks and limits) normalises it, and the
 * packed result of that tree is the layer. The tree itself becomes the unpacked layer. */
static int import_file(ec_layer_info *out, ec_store *st, const char *path, unsigned flags,
                       const ec_pack_opts *opts, const ec_unpack_limits *limits, ec_err *err)
{
    const struct ec_layer__unpack_opts uo = {.normalise = true};
    char rnd[17];
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", path);
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *tmpdir = ec_store_path(st, "tmp");
    EC_AUTOFREE char *tree = ec_xasprintf("%s/import-%s", tmpdir, rnd);
    int r = ec_mkdir_p(tmpdir, 0700, err);
    if (r < 0)
        return r;
    /* Held until the tree is placed: verify and gc leave a live import's files alone. */
    int lockfd = -1;
    if ((r = ec_store__lock(&lockfd, tree, err)) < 0)
        return r;
    r = import_tree(out, st, fd, tree, flags, opts, limits, &uo, err);
    ec_store__unlock(lockfd, tree);
    return r;
}

static int import_tree(ec_layer_info *out, ec_store *st, int fd, const char *tree,
                       unsigned flags, const ec_pack_opts *opts, const ec_unpack_limits *limits,
                       const struct ec_layer__unpack_opts *uo, ec_err *err)
{
    int r = ec_layer__unpack(fd, tree, limits, uo, err);
    if (r < 0)
        return r;
    r = ec_layer_pack_dir(out, st, tree, opts, err);
    if (r == EC_OK)
        r = record_layer(st, out, flags, err);
    if (r == EC_OK)
        r = place_unpacked(st, out, tree, err);
    if (r < 0)
        goto undo;
    return EC_OK;
undo:
    ec_rm_rf(tree, NULL);
    return r;
}

int ec_layer_import(ec_layer_info *out, ec_store *st, const char *path, unsigned flags,
                    const ec_pack_opts *opts, const ec_unpack_limits *limits, ec_err *err)
{
    struct stat sb;
    ec_layer_info info;
    EC_AUTOFREE char *unpacked = NULL;

    if (!out || !st || !path || !*path)
        return ec_fail(err, EC_EINVAL, "ec_layer_import: missing argument");
    if (stat(path, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot import %s", path);
    if (!S_ISDIR(sb.st_mode)) {
        int r = import_file(&info, st, path, flags, opts, limits, err);
        if (r < 0) {
            ec_err_prefix(err, "%s", path);
            return r;
        }
        *out = info;
        return EC_OK;
    }
    int r = ec_layer_pack_dir(&info, st, path, opts, err);
    if (r == EC_OK)
        r = record_layer(st, &info, flags, err);
    if (r == EC_OK)
        r = ec_layer_ensure_unpacked(&unpacked, st, &info, err);
    if (r < 0)
        return r;
    *out = info;
    return EC_OK;
}

int ec_layer_ensure_unpacked(char **path_out, ec_store *st, const ec_layer_info *layer,
                             ec_err *err)
{
    const struct ec_layer__unpack_opts uo = {.verify = &layer->digest, .exist_ok = true};
    EC_AUTOFD int fd = -1;

    if (!path_out || !st || !layer)
        return ec_fail(err, EC_EINVAL, "ec_layer_ensure_unpacked: missing argument");
    EC_AUTOFREE char *dest = layer_dir(st, &layer->diff_id);
    if (!is_dir(dest)) {
        int lockfd = -1;
        int r = ensure_layers_root(st, err);
        if (r == EC_OK)
            r = ec_store__lock(&lockfd, dest, err);
        if (r == EC_OK)
            r = ec_blob_open(&fd, st, &layer->digest, err);
        if (r == EC_OK)
            r = ec_layer__unpack(fd, dest, NULL, &uo, err);
        ec_store__unlock(lockfd, dest);
        if (r < 0)
            return r;
    }
    *path_out = ec_steal(&dest);
    return EC_OK;
}

/* What packing kept of each entry is what extraction would write: owner 0:0, mtime 0. */
static int normalise_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    static const struct timespec zero[2] = {{0, 0}, {0, 0}};
    if (lchown(path, 0, 0) < 0 && errno != EPERM)
        return -1;
    return utimensat(AT_FDCWD, path, zero, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

int ec_layer_adopt_dir(ec_store *st, const ec_layer_info *layer, const char *dir, ec_err *err)
{
    if (!st || !layer || !dir)
        return ec_fail(err, EC_EINVAL, "ec_layer_adopt_dir: missing argument");
    /* depth first, so a directory's time is set after its entries stop changing it */
    if (nftw(dir, normalise_entry, 64, FTW_PHYS | FTW_DEPTH) != 0)
        return ec_fail_sys(err, errno, "cannot normalise %s", dir);
    EC_AUTOFD int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0755) < 0 || syncfs(fd) < 0) /* durable before it is published */
        return ec_fail_sys(err, errno, "cannot sync %s", dir);
    return place_unpacked(st, layer, dir, err);
}
