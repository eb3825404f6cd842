/* SPDX-License-Identifier: MIT */
/* Tables by definition: each layer defines its own (ec_table); this file opens them on
 * first use, creates them on first write and records their flags in meta for verify and gc.
 *
 * LMDB's rules for handles shape it: a handle opened in a txn is private to that txn until
 * it commits (an abort closes it); a txn can use only handles that existed when it began;
 * and while one txn of a process has called mdb_dbi_open, no other may until it ends. So:
 * - ec_store_open opens every table on disk. One made later by another process is opened
 *   by a scan in a short read txn of its own, which ec_txn_begin runs (and begins again)
 *   when its snapshot holds more named databases than the last scan saw.
 * - Only a write txn creates a table, inside itself: it holds LMDB's writer lock, so it
 *   could not wait for a txn of its own. It is st->opener until it ends; scans wait for a
 *   later ec_txn_begin meanwhile. LMDB lets the next writer in before the ending txn's
 *   bookkeeping here is done, so st->write_mu (txn.c) holds it back until then.
 * - Each handle carries the generation at which it opened, and a txn uses only handles
 *   at most as new as itself. ec_txn_begin checks that no handle opened while it began,
 *   so a newer handle names a table that the txn's snapshot lacks: it reads as empty. */
#include "store/record.h"
#include "store/store_int.h"
#include "store/util/mem.h"

#include <stdlib.h>
#include <string.h>

const ec_table ec_tbl_meta = {"meta", 0};
const ec_table ec_tbl_layers = {"layers", 0};
const ec_table ec_tbl_blobs = {"blobs", 0};

/* Called with st->tbl_mu held. The slot array may move: callers keep indexes. */
static size_t slot_of(ec_store *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->nslots; i++)
        if (strlen(st->slots[i].name) == len && memcmp(st->slots[i].name, name, len) == 0)
            return i;
    if (st->nslots == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 16;
        st->slots = ec_xrealloc(st->slots, st->cap * sizeof *st->slots);
    }
    st->slots[st->nslots] = (ec_tbl_slot){.name = ec_xstrndup(name, len)};
    return st->nslots++;
}

static size_t disk_count(MDB_txn *txn, MDB_dbi main_dbi)
{
    MDB_stat ms;
    return mdb_stat(txn, main_dbi, &ms) == 0 ? ms.ms_entries : 0;
}

/* Opens, in @txn, each named database not open yet; sets st->ndisk. Keys of the main
 * database that are not databases (none are written) fail to open and are skipped. */
static int open_on_disk(ec_store *st, MDB_txn *txn, uint64_t gen)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, st->main_dbi, &c);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t i = slot_of(st, k.mv_data, k.mv_size); /* before taking st->slots: it moves */
        ec_tbl_slot *s = &st->slots[i];
        if (s->open || mdb_dbi_open(txn, s->name, 0, &s->dbi) != 0)
            continue;
        s->open = true;
        s->gen = gen;
    }
    mdb_cursor_close(c);
    st->ndisk = disk_count(txn, st->main_dbi);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ec_store__tables_open(ec_store *st, MDB_txn *txn, ec_err *err)
{
    static const ec_table *const own[] = {&ec_tbl_meta, &ec_tbl_layers, &ec_tbl_blobs};
    int rc = mdb_dbi_open(txn, NULL, 0, &st->main_dbi);
    for (size_t i = 0; !rc && i < EC_ARRAY_LEN(own); i++) {
        size_t at = slot_of(st, own[i]->name, strlen(own[i]->name));
        ec_tbl_slot *s = &st->slots[at];
        rc = mdb_dbi_open(txn, s->name, MDB_CREATE, &s->dbi);
        s->open = rc == 0;
    }
    if (!rc)
        rc = open_on_disk(st, txn, 0);
    if (rc)
        return ec_fail_mdb(err, rc, "cannot open the store's tables");
    st->meta_dbi = st->slots[0].dbi;
    return EC_OK;
}

bool ec_store__tables_current(ec_txn *txn)
{
    ec_store *st = txn->st;
    pthread_mutex_lock(&st->tbl_mu);
    bool ok = st->gen == txn->gen && disk_count(txn->txn, st->main_dbi) <= st->ndisk;
    pthread_mutex_unlock(&st->tbl_mu);
    return ok;
}

void ec_store__tables_scan(ec_store *st)
{
    MDB_txn *txn = NULL;
    pthread_mutex_lock(&st->tbl_mu);
    if (!st->opener && mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) == 0) {
        uint64_t gen = st->gen + 1;
        open_on_disk(st, txn, gen);
        mdb_txn_commit(txn); /* a read txn's commit keeps the handles it opened */
        for (size_t i = 0; i < st->nslots; i++)
            if (st->slots[i].open && st->slots[i].gen == gen)
                st->gen = gen;
    }
    pthread_mutex_unlock(&st->tbl_mu);
}

/* --- first use in a txn --- */

static bool usable(const ec_tbl_slot *s, const ec_txn *txn)
{
    return s->open && (s->pending ? s->pending == txn : s->gen <= txn->gen);
}

/* Makes the table in @txn (or opens it, had another process just made it). */
static int create(ec_tbl_slot *s, ec_txn *txn, ec_err *err)
{
    ec_store *st = txn->st;
    size_t before = disk_count(txn->txn, st->main_dbi);
    int rc = mdb_dbi_open(txn->txn, s->name, MDB_CREATE, &s->dbi);
    if (rc)
        return ec_fail_mdb(err, rc, s->name);
    s->open = true;
    s->pending = txn;
    s->created = disk_count(txn->txn, st->main_dbi) > before;
    st->opener = txn;
    return EC_OK;
}

static void flags_encode(unsigned char rec[EC_TABLE_REC_LEN], unsigned flags)
{
    rec[0] = EC_TABLE_REC_V1;
    ec_le32_put(rec + 1, flags);
}

/* meta's "table/<name>" says @flags from now on; nothing is written for a table without
 * flags that never had a record (the store's own tables). */
static int record_flags(ec_tbl_slot *s, ec_txn *txn, unsigned flags, ec_err *err)
{
    EC_AUTOFREE char *key = ec_xasprintf(EC_TABLE_KEY_PREFIX "%s", s->name);
    unsigned char rec[EC_TABLE_REC_LEN];
    flags_encode(rec, flags);
    MDB_val k = {strlen(key), key}, v, nv = {sizeof rec, rec};
    int rc = mdb_get(txn->txn, txn->st->meta_dbi, &k, &v);
    if (rc == MDB_NOTFOUND && flags == 0)
        rc = 0;
    else if (rc == MDB_NOTFOUND || (!rc && (v.mv_size != nv.mv_size ||
                                            memcmp(v.mv_data, rec, sizeof rec) != 0)))
        rc = mdb_put(txn->txn, txn->st->meta_dbi, &k, &nv, 0);
    if (rc)
        return ec_fail_mdb(err, rc, "cannot record a table's flags");
    s->recording = txn;
    return EC_OK;
}

static int write_dbi(ec_tbl_slot *s, ec_txn *txn, const ec_table *t, ec_err *err)
{
    int r = EC_OK;
    if (!usable(s, txn)) {
        /* Only a txn that began before it could miss a handle, and no table is made while
         * a write txn runs but by that txn. */
        if (s->open)
            return ec_fail(err, EC_EDB, "table %s was opened after this transaction began",
                           s->name);
        r = create(s, txn, err);
    }
    if (r == EC_OK && !s->recorded && s->recording != txn)
        r = record_flags(s, txn, t->flags, err);
    return r;
}

int ec_store__dbi(MDB_dbi *out, ec_txn *txn, const ec_table *t, bool write, ec_err *err)
{
    ec_store *st = txn->st;
    pthread_mutex_lock(&st->tbl_mu);
    size_t at = slot_of(st, t->name, strlen(t->name));
    ec_tbl_slot *s = &st->slots[at];
    int r = write ? write_dbi(s, txn, t, err) : usable(s, txn) ? EC_OK : EC_ENOTFOUND;
    *out = s->dbi;
    pthread_mutex_unlock(&st->tbl_mu);
    return r;
}

void ec_store__tables_txn_end(ec_txn *txn, bool committed)
{
    ec_store *st = txn->st;
    pthread_mutex_lock(&st->tbl_mu);
    bool opened = st->opener == txn;
    uint64_t gen = st->gen + 1;
    for (size_t i = 0; i < st->nslots; i++) {
        ec_tbl_slot *s = &st->slots[i];
        if (s->recording == txn)
            s->recorded = committed, s->recording = NULL;
        if (s->pending != txn)
            continue;
        s->pending = NULL;
        s->open = committed;
        s->gen = gen;
        st->ndisk += committed && s->created;
    }
    if (opened) {
        st->opener = NULL;
        st->gen = committed ? gen : st->gen;
    }
    pthread_mutex_unlock(&st->tbl_mu);
}

void ec_store__tables_free(ec_store *st)
{
    for (size_t i = 0; i < st->nslots; i++)
        free(st->slots[i].name);
    free(st->slots);
}
