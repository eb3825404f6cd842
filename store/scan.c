/* SPDX-License-Identifier: MIT */
/* Table snapshots and removal helpers shared by verify and gc. */
#include "store/scan.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int ec_digest_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

struct collect {
    ec_snapshot *s;
    size_t cap;
    ec_err *err;
};

static int collect_blob(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct collect *c = payload;
    (void)v;
    (void)vl;
    if (kl != 32)
        return 0;
    if (c->s->nblobs == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->s->blobs = ec_xrealloc(c->s->blobs, c->cap * sizeof *c->s->blobs);
    }
    ec_blob_rec *b = &c->s->blobs[c->s->nblobs++];
    memcpy(b->d.b, k, 32);
    return 0;
}

static int collect_layer(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct collect *c = payload;
    (void)v;
    (void)vl;
    if (kl != 32)
        return 0;
    if (c->s->nlayers == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->s->layers = ec_xrealloc(c->s->layers, c->cap * sizeof *c->s->layers);
    }
    memcpy(c->s->layers[c->s->nlayers++].digest.b, k, 32);
    return 0;
}

static int collect_mirror(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct collect *c = payload;
    (void)k;
    (void)kl;
    if (vl != 32)
        return 0;
    if (c->s->nmirror == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->s->mirror = ec_xrealloc(c->s->mirror, c->cap * sizeof *c->s->mirror);
    }
    memcpy(c->s->mirror[c->s->nmirror++].b, v, 32);
    return 0;
}

static int collect_log(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct collect *c = payload;
    if (kl != 32 || vl != 32)
        return 0;
    if (c->s->nlogs == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->s->logs = ec_xrealloc(c->s->logs, c->cap * sizeof *c->s->logs);
    }
    memcpy(c->s->logs[c->s->nlogs][0].b, v, 32);
    memcpy(c->s->logs[c->s->nlogs][1].b, k, 32);
    c->s->nlogs++;
    return 0;
}

static int fill_records(ec_snapshot *s, ec_txn *txn, ec_err *err)
{
    for (size_t i = 0; i < s->nblobs; i++) {
        int r = ec_blob_lookup(&s->blobs[i].info, txn, &s->blobs[i].d, err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < s->nlayers; i++) {
        ec_digest d = s->layers[i].digest;
        int r = ec_layer_lookup(&s->layers[i], txn, &d, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

int ec_snapshot_take(ec_snapshot *out, ec_store *st, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    memset(out, 0, sizeof *out);
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    struct collect c = {out, 0, err};
    r = ec_kv_each(txn, EC_TBL_BLOBS, NULL, 0, false, NULL, 0, collect_blob, &c, err);
    c.cap = 0;
    if (r == EC_OK)
        r = ec_kv_each(txn, EC_TBL_LAYERS, NULL, 0, false, NULL, 0, collect_layer, &c, err);
    c.cap = 0;
    if (r == EC_OK)
        r = ec_kv_each(txn, EC_TBL_MIRROR, NULL, 0, false, NULL, 0, collect_mirror, &c, err);
    c.cap = 0;
    if (r == EC_OK)
        r = ec_kv_each(txn, EC_TBL_BUILD_LOGS, NULL, 0, false, NULL, 0, collect_log, &c, err);
    if (r == EC_OK)
        r = fill_records(out, txn, err);
    if (r < 0) {
        ec_snapshot_fini(out);
        return r;
    }
    if (out->nmirror)
        qsort(out->mirror, out->nmirror, sizeof *out->mirror, ec_digest_cmp);
    if (out->nlogs) /* the log digest leads each pair */
        qsort(out->logs, out->nlogs, sizeof *out->logs, ec_digest_cmp);
    return EC_OK;
}

void ec_snapshot_fini(ec_snapshot *s)
{
    free(s->blobs);
    free(s->layers);
    free(s->mirror);
    free(s->logs);
    memset(s, 0, sizeof *s);
}

const ec_blob_rec *ec_snapshot_blob(const ec_snapshot *s, const ec_digest *d)
{
    if (!s->nblobs)
        return NULL;
    return bsearch(d, s->blobs, s->nblobs, sizeof *s->blobs, ec_digest_cmp);
}

const ec_layer_info *ec_snapshot_layer(const ec_snapshot *s, const ec_digest *d)
{
    /* digest is the first member, so the layer array is keyed like the blob array. */
    if (!s->nlayers)
        return NULL;
    return bsearch(d, s->layers, s->nlayers, sizeof *s->layers, ec_digest_cmp);
}

const ec_layer_info *ec_snapshot_layer_by_diff(const ec_snapshot *s, const ec_digest *diff_id)
{
    for (size_t i = 0; i < s->nlayers; i++)
        if (ec_digest_eq(&s->layers[i].diff_id, diff_id))
            return &s->layers[i];
    return NULL;
}

const ec_digest *ec_snapshot_log_owner(const ec_snapshot *s, const ec_digest *d)
{
    if (!s->nlogs)
        return NULL;
    const ec_digest(*hit)[2] = bsearch(d, s->logs, s->nlogs, sizeof *s->logs, ec_digest_cmp);
    return hit ? &(*hit)[1] : NULL;
}

bool ec_snapshot_mirror_refs(const ec_snapshot *s, const ec_digest *d)
{
    return s->nmirror &&
           bsearch(d, s->mirror, s->nmirror, sizeof *s->mirror, ec_digest_cmp) != NULL;
}

int ec_store__forget(ec_store *st, const ec_digest *layer, const ec_digest *blob, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r < 0)
        return r;
    if (layer && (r = ec_layer_del(txn, layer, err)) < 0 && r != EC_ENOTFOUND)
        return r;
    if (layer && (r = ec_kv_del(txn, EC_TBL_BUILD_LOGS, layer->b, 32, err)) < 0 &&
        r != EC_ENOTFOUND)
        return r;
    if (blob && (r = ec_kv_del(txn, EC_TBL_BLOBS, blob->b, 32, err)) < 0 && r != EC_ENOTFOUND)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}

char *ec_store__layer_dir(const ec_store *st, const ec_digest *diff_id)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("%s/" EC_DIR_LAYERS "/%s", st->home, ec_digest_hex(hex, diff_id));
}

static bool locked(const char *path)
{
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK;
    flock(fd, LOCK_UN);
    return false;
}

bool ec_store__in_use(const char *path)
{
    if (locked(path))
        return true;
    EC_AUTOFREE char *stem = ec_xstrdup(path);
    char *base = strrchr(stem, '/');
    char *tmp = strstr(base ? base : stem, ".tmp-");
    if (tmp)
        *tmp = '\0';
    size_t n = strlen(stem);
    if (n > 5 && strcmp(stem + n - 5, ".lock") == 0)
        return false; /* a lock file itself: locked() answered */
    EC_AUTOFREE char *lock = ec_xasprintf("%s.lock", stem);
    return locked(lock);
}

int ec_store__lock(int *fd_out, const char *path, ec_err *err)
{
    EC_AUTOFREE char *lock = ec_xasprintf("%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot create %s", lock);
    if (flock(fd, LOCK_EX) < 0) {
        int e = errno;
        close(fd);
        return ec_fail_sys(err, e, "cannot lock %s", lock);
    }
    *fd_out = fd;
    return EC_OK;
}

void ec_store__unlock(int fd, const char *path)
{
    if (fd < 0)
        return;
    EC_AUTOFREE char *lock = ec_xasprintf("%s.lock", path);
    unlink(lock);
    close(fd);
}

int ec_store__each_entry(const char *dir, ec_dir_fn fn, void *payload, ec_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? EC_OK : ec_fail_sys(err, errno, "cannot read %s", dir);
    int r = EC_OK;
    for (struct dirent *de; r == EC_OK && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = fn(dir, de->d_name, payload);
    }
    closedir(d);
    return r;
}
