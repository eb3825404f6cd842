/* SPDX-License-Identifier: MIT */
/* Private to store/: snapshots of the blobs and layers tables, and removal helpers that
 * verify and gc share. */
#pragma once

#include "store/store_int.h"

typedef struct ec_blob_rec {
    ec_digest d;
    ec_blob_info info;
} ec_blob_rec;

/* A blob that a record of a flagged table references (store.h: EC_TABLE_*). */
typedef struct ec_blob_ref {
    ec_digest blob;    /* first: arrays of refs sort and search like digests */
    ec_digest layer;   /* the record's key when the table is EC_TABLE_LAYER_KEYED */
    const char *table; /* borrowed from the snapshot's @tables */
} ec_blob_ref;

typedef struct ec_snapshot {
    ec_blob_rec *blobs; /* sorted by digest */
    size_t nblobs;
    ec_layer_info *layers; /* sorted by digest */
    size_t nlayers;
    ec_blob_ref *refs; /* from EC_TABLE_REFS_BLOBS tables: kept outright; sorted by blob */
    size_t nrefs;
    ec_blob_ref *owned; /* from tables also EC_TABLE_LAYER_KEYED: kept with the layer */
    size_t nowned;
    char **tables;       /* the flagged tables meta names ("table/<name>"), owned */
    unsigned *flags;     /* parallel to @tables */
    size_t ntables;
} ec_snapshot;

/** Reads blobs, layers, and the records of flagged tables in one read transaction. The
 *  flags come from meta, so tables this process never defined count too. */
int ec_snapshot_take(ec_snapshot *out, ec_store *st, ec_err *err);
void ec_snapshot_fini(ec_snapshot *s);
const ec_blob_rec *ec_snapshot_blob(const ec_snapshot *s, const ec_digest *d);
const ec_layer_info *ec_snapshot_layer(const ec_snapshot *s, const ec_digest *d);
const ec_layer_info *ec_snapshot_layer_by_diff(const ec_snapshot *s, const ec_digest *diff_id);
/** The record that references blob @d outright, or NULL. */
const ec_blob_ref *ec_snapshot_ref(const ec_snapshot *s, const ec_digest *d);
/** The record of a layer-keyed table that references blob @d (its layer), or NULL. */
const ec_blob_ref *ec_snapshot_owner(const ec_snapshot *s, const ec_digest *d);
int ec_digest_cmp(const void *a, const void *b);

/** Deletes index records (layer and/or blob; NULL to skip) in one write transaction, with
 *  the layer's records in @s's EC_TABLE_LAYER_KEYED tables; records already gone are fine. */
int ec_store__forget(ec_store *st, const ec_snapshot *s, const ec_digest *layer,
                     const ec_digest *blob, ec_err *err);
/** Path of a layer's unpacked tree; caller frees. */
char *ec_store__layer_dir(const ec_store *st, const ec_digest *diff_id);
/** True when some process holds a lock on @path, or on "<stem>.lock" beside it where stem
 *  is the name up to ".tmp-" (a live writer's temp file, or a tree being extracted). */
bool ec_store__in_use(const char *path);
/** Creates and flocks "<path>.lock", telling verify and gc that @path and its ".tmp-"
 *  siblings belong to a live process. *@fd_out stays open while the work goes on. */
int ec_store__lock(int *fd_out, const char *path, ec_err *err);
/** Removes the lock file of @path and closes @fd (which may be -1). */
void ec_store__unlock(int fd, const char *path);

typedef int (*ec_dir_fn)(const char *dir, const char *name, void *payload);
/** Calls @fn for each entry of @dir (no . and ..); a missing dir is empty. */
int ec_store__each_entry(const char *dir, ec_dir_fn fn, void *payload, ec_err *err);
