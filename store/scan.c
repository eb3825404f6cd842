/* SPDX-License-Identifier: MIT */
/* Table snapshots and removal helpers shared by verify and gc. */
#include "store/record.h"
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

/* --- flagged tables --- */

static int collect_table(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    ec_snapshot *s = payload;
    size_t plen = strlen(EC_TABLE_KEY_PREFIX);
    if (kl <= plen || vl != EC_TABLE_REC_LEN || ((const unsigned char *)v)[0] != EC_TABLE_REC_V1)
        return 0; /* a newer record layout: its flags are not known here */
    unsigned flags = ec_le32_get((const unsigned char *)v + 1);
    if (!(flags & (EC_TABLE_REFS_BLOBS | EC_TABLE_LAYER_KEYED)))
        return 0;
    s->tables = ec_xrealloc(s->tables, (s->ntables + 1) * sizeof *s->tables);
    s->flags = ec_xrealloc(s->flags, (s->ntables + 1) * sizeof *s->flags);
    s->tables[s->ntables] = ec_xstrndup((const char *)k + plen, kl - plen);
    s->flags[s->ntables++] = flags;
    return 0;
}

struct collect_refs {
    ec_snapshot *s;
    const char *table;
    bool layer_keyed;
    size_t cap_refs, cap_owned;
};

static void push_ref(ec_blob_ref **arr, size_t *n, size_t *cap, const ec_blob_ref *r)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *arr = ec_xrealloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = *r;
}

/* The value is the blob's raw digest (32 bytes); in a layer-keyed table the key is the
 * layer's (32 bytes). Records of other lengths reference nothing. */
static int collect_ref(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct collect_refs *c = payload;
    ec_blob_ref r = {.table = c->table};
    if (vl != 32 || (c->layer_keyed && kl != 32))
        return 0;
    memcpy(r.blob.b, v, 32);
    if (!c->layer_keyed)
        push_ref(&c->s->refs, &c->s->nrefs, &c->cap_refs, &r);
    else {
        memcpy(r.layer.b, k, 32);
        push_ref(&c->s->owned, &c->s->nowned, &c->cap_owned, &r);
    }
    return 0;
}

/* Which tables have flags is meta's to say, not this process's definitions: gc may run
 * in a process that never used them. */
static int collect_flagged(ec_snapshot *s, ec_txn *txn, ec_err *err)
{
    int r = ec_kv_each(txn, &ec_tbl_meta, EC_TABLE_KEY_PREFIX, strlen(EC_TABLE_KEY_PREFIX),
                       false, NULL, 0, collect_table, s, err);
    struct collect_refs c = {s};
    for (size_t i = 0; r == EC_OK && i < s->ntables; i++) {
        if (!(s->flags[i] & EC_TABLE_REFS_BLOBS))
            continue;
        ec_table t = {s->tables[i], s->flags[i]}; /* the definition, as meta has it */
        c.table = t.name;
        c.layer_keyed = t.flags & EC_TABLE_LAYER_KEYED;
        r = ec_kv_each(txn, &t, NULL, 0, false, NULL, 0, collect_ref, &c, err);
    }
    return r;
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
    r = ec_kv_each(txn, &ec_tbl_blobs, NULL, 0, false, NULL, 0, collect_blob, &c, err);
    c.cap = 0;
    if (r == EC_OK)
        r = ec_kv_each(txn, &ec_tbl_layers, NULL, 0, false, NULL, 0, collect_layer, &c, err);
    if (r == EC_OK)
        r = collect_flagged(out, txn, err);
    if (r == EC_OK)
        r = fill_records(out, txn, err);
    if (r < 0) {
        ec_snapshot_fini(out);
        return r;
    }
    if (out->nrefs)
        qsort(out->refs, out->nrefs, sizeof *out->refs, ec_digest_cmp);
    if (out->nowned)
        qsort(out->owned, out->nowned, sizeof *out->owned, ec_digest_cmp);
    return EC_OK;
}

void ec_snapshot_fini(ec_snapshot *s)
{
    free(s->blobs);
    free(s->layers);
    free(s->refs);
    free(s->owned);
    for (size_t i = 0; i < s->ntables; i++)
        free(s->tables[i]);
    free(s->tables);
    free(s->flags);
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

static const ec_blob_ref *find_ref(const ec_blob_ref *arr, size_t n, const ec_digest *d)
{
    return n ? bsearch(d, arr, n, sizeof *arr, ec_digest_cmp) : NULL;
}

const ec_blob_ref *ec_snapshot_ref(const ec_snapshot *s, const ec_digest *d)
{
    return find_ref(s->refs, s->nrefs, d);
}

const ec_blob_ref *ec_snapshot_owner(const ec_snapshot *s, const ec_digest *d)
{
    return find_ref(s->owned, s->nowned, d);
}

/* The layer's records in layer-keyed tables go with it. */
static int forget_layer(ec_txn *txn, const ec_snapshot *s, const ec_digest *layer, ec_err *err)
{
    int r = ec_layer_del(txn, layer, err);
    for (size_t i = 0; (r == EC_OK || r == EC_ENOTFOUND) && i < s->ntables; i++) {
        ec_table t = {s->tables[i], s->flags[i]};
        r = t.flags & EC_TABLE_LAYER_KEYED ? ec_kv_del(txn, &t, layer->b, 32, err) : EC_OK;
    }
    return r == EC_ENOTFOUND ? EC_OK : r;
}

int ec_store__forget(ec_store *st, const ec_snapshot *s, const ec_digest *layer,
                     const ec_digest *blob, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r < 0)
        return r;
    if (layer && (r = forget_layer(txn, s, layer, err)) < 0)
        return r;
    if (blob && (r = ec_kv_del(txn, &ec_tbl_blobs, blob->b, 32, err)) < 0 && r != EC_ENOTFOUND)
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
