/* SPDX-License-Identifier: MIT */
/* Transactions and key/value access; the only file that handles map resizes. */
#include "store/store_int.h"
#include "store/util/mem.h"

#include <string.h>

/* --- keys past LMDB's key size --- */

/* LMDB refuses keys over its key size (511 bytes; MDB_BAD_VALSIZE), and the upper layers'
 * keys hold user text (names, mirror paths) that may be longer. Such a key is kept as its
 * first KEY_HEAD bytes, a 0xff byte (never part of UTF-8 text, which is what long keys
 * are) and the sha256 of the whole key: lookups stay exact, and a prefix walk with a
 * prefix of at most KEY_HEAD bytes still finds it (it hands the callback the stored key).
 * Keys that fit are stored as they are, so older stores read unchanged. */
#define KEY_MAX 511
#define KEY_HEAD 400

struct fit_key {
    MDB_val v;
    unsigned char buf[KEY_HEAD + 1 + 32];
};

static MDB_val *key_fit(struct fit_key *fk, const void *key, size_t klen)
{
    if (klen <= KEY_MAX) {
        fk->v = (MDB_val){klen, (void *)key};
        return &fk->v;
    }
    ec_digest d;
    ec_sha256_buf(&d, key, klen);
    memcpy(fk->buf, key, KEY_HEAD);
    fk->buf[KEY_HEAD] = 0xff;
    memcpy(fk->buf + KEY_HEAD + 1, d.b, sizeof d.b);
    fk->v = (MDB_val){sizeof fk->buf, fk->buf};
    return &fk->v;
}

static int begin_raw(ec_store *st, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(st->env, NULL, (flags & EC_TXN_READ) ? MDB_RDONLY : 0, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and try once more. */
        pthread_mutex_lock(&st->resize_lock);
        mdb_env_set_mapsize(st->env, 0);
        pthread_mutex_unlock(&st->resize_lock);
        rc = mdb_txn_begin(st->env, NULL, (flags & EC_TXN_READ) ? MDB_RDONLY : 0, txn);
    }
    return rc;
}

/* Begins a txn whose snapshot holds no table this process has not opened (tables.c); after
 * a few tries, one that may read a table made a moment ago by another process as empty. */
static int begin_current(ec_txn *t, ec_store *st, unsigned flags)
{
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&st->tbl_mu);
        t->gen = st->gen; /* before the begin: a handle opened meanwhile must look newer */
        pthread_mutex_unlock(&st->tbl_mu);
        int rc = begin_raw(st, flags, &t->txn);
        if (rc || tries == 3 || ec_store__tables_current(t))
            return rc;
        mdb_txn_abort(t->txn);
        ec_store__tables_scan(st);
    }
}

int ec_txn_begin(ec_txn **out, ec_store *st, unsigned flags, ec_err *err)
{
    ec_txn *t = ec_xcalloc(1, sizeof *t);
    t->st = st;
    t->readonly = flags & EC_TXN_READ;
    if (!t->readonly)
        pthread_mutex_lock(&st->write_mu);
    int rc = begin_current(t, st, flags);
    if (rc) {
        if (!t->readonly)
            pthread_mutex_unlock(&st->write_mu);
        free(t);
        return ec_fail_mdb(err, rc, "cannot begin an index transaction");
    }
    /* Safe to flip: we hold the only write transaction of this process until commit. */
    t->lazy = !t->readonly && (flags & EC_TXN_LAZY);
    if (t->lazy)
        mdb_env_set_flags(st->env, MDB_NOMETASYNC, 1);
    *out = t;
    return EC_OK;
}

/* After LMDB ended @txn: settles its tables and flags, then lets the next writer in. */
static void txn_end(ec_txn *txn, bool committed)
{
    ec_store__tables_txn_end(txn, committed);
    if (txn->lazy)
        mdb_env_set_flags(txn->st->env, MDB_NOMETASYNC, 0);
    if (!txn->readonly)
        pthread_mutex_unlock(&txn->st->write_mu);
    free(txn);
}

int ec_txn_commit(ec_txn *txn, ec_err *err)
{
    int r = EC_OK;
    if (txn->poisoned) {
        mdb_txn_abort(txn->txn);
        r = ec_fail(err, txn->poisoned, "transaction was aborted by an earlier error");
    } else {
        int rc = mdb_txn_commit(txn->txn);
        if (rc)
            r = ec_fail_mdb(err, rc, "cannot commit to the store index");
    }
    txn_end(txn, r == EC_OK);
    return r;
}

void ec_txn_abort(ec_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort(txn->txn);
    txn_end(txn, false);
}

static int txn_fail(ec_txn *txn, ec_err *err, int rc, const char *what)
{
    int r = ec_fail_mdb(err, rc, what);
    if (!txn->readonly && r != EC_ENOTFOUND)
        txn->poisoned = r;
    return r;
}

/* The handle of @t; a table missing from the txn's snapshot reads as empty (EC_ENOTFOUND,
 * no message), and a write makes it. */
static int dbi_of(MDB_dbi *out, ec_txn *txn, const ec_table *t, bool write, ec_err *err)
{
    if (write && txn->poisoned)
        return txn->poisoned;
    if (write && txn->readonly)
        return ec_fail(err, EC_EINVAL, "table %s: a read transaction cannot write", t->name);
    int r = ec_store__dbi(out, txn, t, write, err);
    if (r < 0 && r != EC_ENOTFOUND && !txn->readonly)
        txn->poisoned = r;
    return r;
}

int ec_kv_get(ec_txn *txn, const ec_table *t, const void *key, size_t klen, const void **val,
              size_t *vlen, ec_err *err)
{
    struct fit_key fk;
    MDB_val *k = key_fit(&fk, key, klen), v;
    MDB_dbi dbi;
    int r = dbi_of(&dbi, txn, t, false, err);
    if (r < 0)
        return r;
    int rc = mdb_get(txn->txn, dbi, k, &v);
    if (rc == MDB_NOTFOUND)
        return EC_ENOTFOUND; /* expected: no message, the caller knows what it looked for */
    if (rc)
        return txn_fail(txn, err, rc, "cannot read the store index");
    *val = v.mv_data;
    if (vlen)
        *vlen = v.mv_size;
    return EC_OK;
}

int ec_kv_put(ec_txn *txn, const ec_table *t, const void *key, size_t klen, const void *val,
              size_t vlen, unsigned flags, ec_err *err)
{
    struct fit_key fk;
    MDB_val *k = key_fit(&fk, key, klen), v = {vlen, (void *)val};
    MDB_dbi dbi;
    int r = dbi_of(&dbi, txn, t, true, err);
    if (r < 0)
        return r;
    int rc = mdb_put(txn->txn, dbi, k, &v,
                     (flags & EC_KV_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
    if (rc == MDB_KEYEXIST)
        return EC_ECONFLICT;
    if (rc)
        return txn_fail(txn, err, rc, "cannot write to the store index");
    return EC_OK;
}

int ec_kv_del(ec_txn *txn, const ec_table *t, const void *key, size_t klen, ec_err *err)
{
    if (txn->poisoned)
        return txn->poisoned;
    struct fit_key fk;
    MDB_val *k = key_fit(&fk, key, klen);
    MDB_dbi dbi;
    int r = dbi_of(&dbi, txn, t, false, err); /* nothing to delete in a missing table */
    if (r < 0)
        return r;
    int rc = mdb_del(txn->txn, dbi, k, NULL);
    if (rc == MDB_NOTFOUND)
        return EC_ENOTFOUND;
    if (rc)
        return txn_fail(txn, err, rc, "cannot delete from the store index");
    return EC_OK;
}

static bool has_prefix(const MDB_val *k, const void *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

/* Positions the cursor on the first key to visit. Forward: the first key >= prefix (or
 * > after). Reverse: the last key that starts with prefix (or < after). */
static int cursor_start(MDB_cursor *c, MDB_val *k, MDB_val *v, const void *prefix, size_t plen,
                        bool reverse, const void *after, size_t alen)
{
    int rc;
    if (after) {
        *k = (MDB_val){alen, (void *)after};
        rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
        if (!reverse) {
            if (!rc && k->mv_size == alen && memcmp(k->mv_data, after, alen) == 0)
                rc = mdb_cursor_get(c, k, v, MDB_NEXT);
            return rc;
        }
        return rc == MDB_NOTFOUND ? mdb_cursor_get(c, k, v, MDB_LAST)
                                  : mdb_cursor_get(c, k, v, MDB_PREV);
    }
    if (!reverse) {
        if (!plen)
            return mdb_cursor_get(c, k, v, MDB_FIRST);
        *k = (MDB_val){plen, (void *)prefix};
        return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    }
    /* Reverse from the end of the prefix range: seek past it, then step back. */
    if (!plen)
        return mdb_cursor_get(c, k, v, MDB_LAST);
    EC_AUTOFREE unsigned char *past = ec_xmalloc(plen + 1);
    memcpy(past, prefix, plen);
    past[plen] = 0xff;
    *k = (MDB_val){plen + 1, past};
    rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    return rc == MDB_NOTFOUND ? mdb_cursor_get(c, k, v, MDB_LAST)
                              : mdb_cursor_get(c, k, v, MDB_PREV);
}

int ec_kv_each(ec_txn *txn, const ec_table *t, const void *prefix, size_t plen, bool reverse,
               const void *after, size_t alen, ec_kv_fn fn, void *payload, ec_err *err)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    MDB_dbi dbi;
    int r0 = dbi_of(&dbi, txn, t, false, err);
    if (r0 < 0)
        return r0 == EC_ENOTFOUND ? EC_OK : r0;
    int rc = mdb_cursor_open(txn->txn, dbi, &c);
    if (rc)
        return txn_fail(txn, err, rc, "cannot walk the store index");
    int r = EC_OK;
    struct fit_key fa;
    if (after) { /* a long key is positioned by its stored form */
        MDB_val *av = key_fit(&fa, after, alen);
        after = av->mv_data;
        alen = av->mv_size;
    }
    rc = cursor_start(c, &k, &v, prefix, plen, reverse, after, alen);
    while (!rc) {
        if (plen && !has_prefix(&k, prefix, plen)) {
            /* Reverse walks may start just past the range's end (0xff prefix padding). */
            if (reverse && memcmp(k.mv_data, prefix, k.mv_size < plen ? k.mv_size : plen) > 0) {
                rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
                continue;
            }
            break;
        }
        r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, payload);
        if (r != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (r < 0)
        return r;
    if (rc && rc != MDB_NOTFOUND)
        return txn_fail(txn, err, rc, "cannot walk the store index");
    return EC_OK;
}
