/* SPDX-License-Identifier: MIT */
/* Private to store/: the store and transaction structs, and MDB translation. */
#pragma once

#include <lmdb.h>
#include <pthread.h>

#include "store/store.h"

struct ec_store {
    char *home;
    MDB_env *env;
    MDB_dbi dbi[EC_TBL__COUNT];
    pthread_mutex_t resize_lock; /* one map resize at a time within this process */
};

struct ec_txn {
    ec_store *st;
    MDB_txn *txn;
    bool readonly;
    bool lazy; /* EC_TXN_LAZY: this commit skips the meta page's sync */
    int poisoned; /* the first failure's code: only abort is legal afterwards */
};

/** Translates an MDB error (the one place that does). */
int ec_fail_mdb(ec_err *err, int rc, const char *what);
/** The LMDB handle of a table. */
MDB_dbi ec_store__dbi(const ec_store *st, enum ec_table t);
/** Records a blob in the index after its file was renamed into place. */
int ec_store__record_blob(ec_store *st, const ec_digest *d, uint64_t size, ec_err *err);

/* Sub-directories of the home, created at open. */
#define EC_DIR_BLOBS "blobs/sha256"
#define EC_DIR_TMP "tmp"
#define EC_DIR_LAYERS "layers"
#define EC_DIR_SESSIONS "sessions"
