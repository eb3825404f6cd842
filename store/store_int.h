/* SPDX-License-Identifier: MIT */
/* Private to store/: the store and transaction structs, and MDB translation. */
#pragma once

#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/store.h"

/* One table this process has met (tables.c). */
typedef struct ec_tbl_slot {
    char *name;
    MDB_dbi dbi;
    bool open;         /* @dbi is valid in transactions begun after @gen */
    uint64_t gen;      /* st->gen when it was opened */
    ec_txn *pending;   /* the write txn that opened it, until that txn ends */
    bool created;      /* @pending made the database (it was not on disk) */
    bool recorded;     /* meta's "table/<name>" matches this process's definition */
    ec_txn *recording; /* the write txn that wrote that record, until it ends */
} ec_tbl_slot;

struct ec_store {
    char *home;
    gid_t group;                 /* $ENVCACHE_GROUP, or (gid_t)-1: see modes.c */
    MDB_env *env;
    MDB_dbi main_dbi;            /* LMDB's unnamed database: one key per named one */
    MDB_dbi meta_dbi;            /* opened at ec_store_open, like every table there */
    pthread_mutex_t resize_lock; /* one map resize at a time within this process */
    /* Held by this process's write txn from before it begins until after it ends. LMDB
     * releases its writer lock inside commit and abort, before this process's table
     * bookkeeping (tables.c) and flags are settled; the next writer must not begin
     * until they are. */
    pthread_mutex_t write_mu;
    pthread_mutex_t tbl_mu;      /* guards the members below */
    ec_tbl_slot *slots;
    size_t nslots, cap;
    size_t ndisk;    /* named databases seen on disk at the last scan */
    uint64_t gen;    /* counts openings, so a txn uses only handles older than itself */
    ec_txn *opener;  /* the write txn that called mdb_dbi_open, until it ends */
};

struct ec_txn {
    ec_store *st;
    MDB_txn *txn;
    bool readonly;
    bool lazy; /* EC_TXN_LAZY: this commit skips the meta page's sync */
    int poisoned; /* the first failure's code: only abort is legal afterwards */
    uint64_t gen; /* st->gen when it began: newer handles are not valid in it */
};

/** Translates an MDB error (the one place that does). */
int ec_fail_mdb(ec_err *err, int rc, const char *what);
/* --- tables (tables.c) --- */

/** Opens every named database on disk in @txn (ec_store_open's, which commits before any
 *  other txn begins), creating the store's own tables. */
int ec_store__tables_open(ec_store *st, MDB_txn *txn, ec_err *err);
/** After mdb_txn_begin: false when the txn's snapshot holds a table this process has not
 *  opened (another process made it); the caller then ends the txn, calls
 *  ec_store__tables_scan and begins again. */
bool ec_store__tables_current(ec_txn *txn);
/** Opens, in a read txn of its own, the named databases made since the last scan. */
void ec_store__tables_scan(ec_store *st);
/** The handle of @t in @txn. EC_ENOTFOUND (no message) when the table does not exist in
 *  the txn's snapshot and @write is false; with @write it is created in @txn, and its
 *  flags are recorded in meta. */
int ec_store__dbi(MDB_dbi *out, ec_txn *txn, const ec_table *t, bool write, ec_err *err);
/** Called as @txn ends: handles it opened become everyone's (@committed) or are gone. */
void ec_store__tables_txn_end(ec_txn *txn, bool committed);
void ec_store__tables_free(ec_store *st);
/** The 5-byte value of meta's "table/<name>": a version byte, then the flags (le32). */
#define EC_TABLE_REC_LEN 5
#define EC_TABLE_REC_V1 1
#define EC_TABLE_KEY_PREFIX "table/"
/** Records a blob in the index after its file was renamed into place. */
int ec_store__record_blob(ec_store *st, const ec_digest *d, uint64_t size, ec_err *err);

/* Sub-directories of the home, created at open. */
/* --- modes (modes.c) --- */

typedef enum ec_store_mode_kind {
    EC_MODE_DIR,   /* the home and the store's own directories */
    EC_MODE_BLOB,  /* blob files, read-only */
    EC_MODE_INDEX, /* the LMDB files: the owner's alone */
} ec_store_mode_kind;

/** Reads $ENVCACHE_GROUP into st->group; EC_EINVAL for a group that does not exist. */
int ec_store__group_from_env(ec_store *st, ec_err *err);
/** The mode a path of @kind has under the store's policy. */
unsigned ec_store__mode(const ec_store *st, ec_store_mode_kind kind);
/** Sets @path's mode (and group) to the policy's, whatever the umask. */
int ec_store__mode_set(const ec_store *st, const char *path, ec_store_mode_kind kind,
                       ec_err *err);
/** mkdir with the policy's mode; an existing directory is left as it is (verify reports). */
int ec_store__mkdir_private(const ec_store *st, const char *path, ec_err *err);
/** Whether @sb grants more than the policy for @kind. */
bool ec_store__mode_loose(const ec_store *st, const struct stat *sb, ec_store_mode_kind kind);

#define EC_DIR_BLOBS "blobs/sha256"
#define EC_DIR_TMP "tmp"
#define EC_DIR_LAYERS "layers"
#define EC_DIR_SESSIONS "sessions"
