/* SPDX-License-Identifier: MIT */
/* `envcache verify`: re-hash every blob and cross-check the index against the disk. */
#include "store/scan.h"
#include "store/store_int.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct verify {
    ec_store *st;
    ec_snapshot snap;
    bool repair;
    ec_finding_fn fn;
    void *payload;
    ec_verify_stats *stats;
    ec_err *err;
};

static void report(struct verify *v, const char *kind, const char *object, const char *reason,
                   uint64_t bytes, bool problem, bool removed)
{
    ec_finding f = {kind, object, reason, bytes, problem, removed};
    if (problem)
        v->stats->problems++;
    else
        v->stats->leftovers++;
    if (removed)
        v->stats->removed++;
    if (v->fn)
        v->fn(&f, v->payload);
}

/* Rehashes one indexed blob; a wrong or missing file is a problem. */
static int check_blob(struct verify *v, const ec_blob_rec *b)
{
    char name[EC_DIGEST_STR_LEN + 8];
    EC_AUTOFREE char *path = ec_blob_path(v->st, &b->d);
    snprintf(name, sizeof name, "blob ");
    ec_digest_format(name + 5, &b->d);
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bool rm = v->repair && ec_store__forget(v->st, &v->snap, NULL, &b->d, v->err) == EC_OK;
        report(v, "missing", name, "indexed but its file is gone", 0, true, rm);
        return EC_OK;
    }
    ec_digest got;
    uint64_t size;
    int r = ec_sha256_fd(&got, &size, fd, v->err);
    if (r < 0)
        return r;
    v->stats->blobs++;
    v->stats->bytes += size;
    if (ec_digest_eq(&got, &b->d) && size == b->info.size)
        return EC_OK;
    bool rm = false;
    if (v->repair) {
        rm = ec_store__forget(v->st, &v->snap, NULL, &b->d, v->err) == EC_OK && unlink(path) == 0;
    }
    report(v, "corrupt", name,
           size != b->info.size ? "its size differs from the index" : "its bytes do not match its name",
           size, true, rm);
    return EC_OK;
}

/* --- modes --- */

/* A path that grants more than the store's policy (modes.c) is a problem: another local
 * user may read what it holds. Repair sets the policy's mode. */
static void check_mode(struct verify *v, const char *path, ec_store_mode_kind kind)
{
    struct stat sb;
    if (lstat(path, &sb) < 0 || S_ISLNK(sb.st_mode))
        return;
    if (!ec_store__mode_loose(v->st, &sb, kind))
        return;
    char reason[160];
    snprintf(reason, sizeof reason, "mode %04o is looser than the store's %04o",
             (unsigned)(sb.st_mode & 07777), ec_store__mode(v->st, kind));
    bool fixed = v->repair && ec_store__mode_set(v->st, path, kind, NULL) == EC_OK;
    v->stats->problems++;
    if (fixed)
        v->stats->removed++;
    if (v->fn) {
        ec_finding f = {"mode", path, reason, 0, true, fixed};
        v->fn(&f, v->payload);
    }
}

static void check_store_modes(struct verify *v)
{
    static const struct {
        const char *rel;
        ec_store_mode_kind kind;
    } paths[] = {{"", EC_MODE_DIR},           {"index", EC_MODE_DIR},
                 {"index/data.mdb", EC_MODE_INDEX}, {"index/lock.mdb", EC_MODE_INDEX},
                 {"blobs", EC_MODE_DIR},      {EC_DIR_BLOBS, EC_MODE_DIR},
                 {EC_DIR_TMP, EC_MODE_DIR},   {EC_DIR_LAYERS, EC_MODE_DIR},
                 {EC_DIR_SESSIONS, EC_MODE_DIR}};
    for (size_t i = 0; i < EC_ARRAY_LEN(paths); i++) {
        EC_AUTOFREE char *p = ec_store_path(v->st, paths[i].rel);
        check_mode(v, p, paths[i].kind);
    }
}

/* The snapshot may predate a write that finished meanwhile: ask the index again. */
static bool blob_indexed_now(ec_store *st, const ec_digest *d)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_blob_info info;
    return ec_txn_begin(&txn, st, EC_TXN_READ, NULL) == EC_OK &&
           ec_blob_lookup(&info, txn, d, NULL) == EC_OK;
}

/* A file under blobs/ the index does not know: intact ones are leftovers of a write that
 * was interrupted between rename and record; anything else is a problem. */
static int check_blob_file(const char *dir, const char *name, void *payload)
{
    struct verify *v = payload;
    ec_digest d;
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
    bool named = ec_digest_parse(&d, name, NULL) == EC_OK;
    if (named && (ec_snapshot_blob(&v->snap, &d) || blob_indexed_now(v->st, &d))) {
        check_mode(v, path, EC_MODE_BLOB);
        return EC_OK;
    }
    ec_digest got;
    uint64_t size = 0;
    bool intact = false;
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ec_sha256_fd(&got, &size, fd, NULL) == EC_OK)
        intact = named && ec_digest_eq(&got, &d);
    bool rm = v->repair && unlink(path) == 0;
    report(v, "orphan", path,
           intact ? "intact blob missing from the index (an interrupted write)"
                  : "file under blobs/ whose bytes do not match its name",
           size, !intact, rm);
    return EC_OK;
}

static int check_blob_fanout(const char *dir, const char *name, void *payload)
{
    EC_AUTOFREE char *sub = ec_xasprintf("%s/%s", dir, name);
    struct verify *v = payload;
    check_mode(v, sub, EC_MODE_DIR);
    return ec_store__each_entry(sub, check_blob_file, payload, v->err);
}

static int check_layer(struct verify *v, const ec_layer_info *l)
{
    char name[EC_DIGEST_STR_LEN + 8];
    snprintf(name, sizeof name, "layer ");
    ec_digest_format(name + 6, &l->digest);
    v->stats->layers++;
    const ec_blob_rec *b = ec_snapshot_blob(&v->snap, &l->digest);
    EC_AUTOFREE char *path = ec_blob_path(v->st, &l->digest);
    struct stat sb;
    if (b && stat(path, &sb) == 0)
        return EC_OK;
    bool rm = false;
    if (v->repair) {
        EC_AUTOFREE char *dir = ec_store__layer_dir(v->st, &l->diff_id);
        rm = ec_store__forget(v->st, &v->snap, &l->digest, NULL, v->err) == EC_OK &&
             ec_rm_rf(dir, NULL) == EC_OK;
    }
    report(v, "broken", name, "its blob is not in the store", 0, true, rm);
    return EC_OK;
}

static int check_layer_dir(const char *dir, const char *name, void *payload)
{
    struct verify *v = payload;
    ec_digest d;
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
    if (ec_digest_parse(&d, name, NULL) == EC_OK && ec_snapshot_layer_by_diff(&v->snap, &d))
        return EC_OK;
    if (ec_store__in_use(path))
        return EC_OK;
    bool rm = v->repair && ec_rm_rf(path, NULL) == EC_OK;
    report(v, strstr(name, ".tmp-") ? "stale" : "orphan", path,
           strstr(name, ".tmp-") ? "partial extraction left by an interrupted process"
                                 : "unpacked tree of a layer the index does not know",
           0, false, rm);
    return EC_OK;
}

static int check_tmp(const char *dir, const char *name, void *payload)
{
    struct verify *v = payload;
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
    if (ec_store__in_use(path))
        return EC_OK; /* a live writer */
    bool rm = v->repair && ec_rm_rf(path, NULL) == EC_OK;
    report(v, "stale", path, "temporary file left by an interrupted process", 0, false, rm);
    return EC_OK;
}

int ec_store_verify(ec_verify_stats *out, ec_store *st, bool repair, ec_finding_fn fn,
                    void *payload, ec_err *err)
{
    struct verify v = {.st = st, .repair = repair, .fn = fn, .payload = payload, .err = err};
    memset(out, 0, sizeof *out);
    v.stats = out;
    int r = ec_snapshot_take(&v.snap, st, err);
    if (r < 0)
        return r;
    check_store_modes(&v);
    for (size_t i = 0; r == EC_OK && i < v.snap.nblobs; i++) {
        ec_progress(false, "verify: blob %zu of %zu", i + 1, v.snap.nblobs);
        r = check_blob(&v, &v.snap.blobs[i]);
    }
    for (size_t i = 0; r == EC_OK && i < v.snap.nlayers; i++)
        r = check_layer(&v, &v.snap.layers[i]);
    EC_AUTOFREE char *blobs = ec_store_path(st, EC_DIR_BLOBS);
    EC_AUTOFREE char *layers = ec_store_path(st, EC_DIR_LAYERS);
    EC_AUTOFREE char *tmp = ec_store_path(st, EC_DIR_TMP);
    if (r == EC_OK)
        r = ec_store__each_entry(blobs, check_blob_fanout, &v, err);
    if (r == EC_OK)
        r = ec_store__each_entry(layers, check_layer_dir, &v, err);
    if (r == EC_OK)
        r = ec_store__each_entry(tmp, check_tmp, &v, err);
    ec_snapshot_fini(&v.snap);
    return r;
}
