/* SPDX-License-Identifier: MIT */
/* The store's one face: home directory, LMDB index, content-addressed blobs, layers.
 *
 * Caveats (read before use):
 * - Values returned by ec_kv_get are borrowed from LMDB: they live until the next write
 *   in the same transaction or the end of the transaction. Copy before committing.
 * - Write transactions are short and one at a time per store (LMDB's single writer,
 *   across processes too). Never hold one across network, build or extraction work.
 * - After a failure a transaction is poisoned: only ec_txn_abort is legal.
 * Threads: an ec_store may be shared between threads; an ec_txn may not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/util/auto.h"
#include "store/util/err.h"

typedef struct ec_store ec_store;
typedef struct ec_txn ec_txn;

/* --- digests --- */

typedef struct ec_digest {
    unsigned char b[32]; /* raw sha256 */
} ec_digest;

#define EC_DIGEST_STR_LEN 72 /* "sha256:" + 64 hex + NUL, rounded */
#define EC_DIGEST_HEX_LEN 65

/** Parses "sha256:<64 hex>" or bare 64 hex. EC_EINVAL names the text on failure. */
int ec_digest_parse(ec_digest *out, const char *text, ec_err *err);
/** Writes "sha256:<hex>" into @out. Returns @out. */
char *ec_digest_format(char out[EC_DIGEST_STR_LEN], const ec_digest *d);
/** Writes the bare 64-char hex into @out. Returns @out. */
char *ec_digest_hex(char out[EC_DIGEST_HEX_LEN], const ec_digest *d);
bool ec_digest_eq(const ec_digest *a, const ec_digest *b);
bool ec_digest_is_zero(const ec_digest *d);

/** Streaming SHA-256 (OpenSSL EVP underneath). */
typedef struct ec_sha256 ec_sha256;
ec_sha256 *ec_sha256_new(void);
void ec_sha256_update(ec_sha256 *h, const void *p, size_t n);
/** Writes the digest and frees @h (consumes @h). */
void ec_sha256_final(ec_sha256 *h, ec_digest *out);
void ec_sha256_free(ec_sha256 *h);
EC_DEFINE_AUTO(ec_sha256, ec_sha256_free)
/** One-shot digest of a buffer. */
void ec_sha256_buf(ec_digest *out, const void *p, size_t n);
/** Digest of a whole file descriptor from its current offset; counts bytes into @size_out. */
int ec_sha256_fd(ec_digest *out, uint64_t *size_out, int fd, ec_err *err);

/* --- the store --- */

/** The store's home: @flag if given, else $ENVCACHE_HOME, else /var/lib/envcache. */
const char *ec_store_default_home(const char *flag);

/** Opens (creating if needed) the store at @home: directories, LMDB environment with the
 *  tables that exist, schema check and migration. EC_ESCHEMA when the store was written by a newer envcache. */
int ec_store_open(ec_store **out, const char *home, ec_err *err);
void ec_store_close(ec_store *st);
EC_DEFINE_AUTO(ec_store, ec_store_close)
/** The absolute home directory; borrowed for the store's lifetime. */
const char *ec_store_home(const ec_store *st);
/** A new string "<home>/<rel>"; caller frees. */
char *ec_store_path(const ec_store *st, const char *rel);
/** The schema version this binary writes. */
/* 2: tables' flags live in meta under "table/<name>" (migration from 1 in store.c). */
#define EC_SCHEMA_VERSION 2u

/* --- transactions --- */

/* EC_TXN_LAZY: the commit syncs the data pages but not LMDB's meta page, so a system
 * crash may undo this (last) transaction but never corrupts the index; for records that
 * mean nothing after a reboot (sessions: their mounts are gone too). */
enum { EC_TXN_READ = 1u << 0, EC_TXN_LAZY = 1u << 1 };
int ec_txn_begin(ec_txn **out, ec_store *st, unsigned flags, ec_err *err);
/** Commits; consumes @txn even on failure. */
int ec_txn_commit(ec_txn *txn, ec_err *err);
/** Aborts; consumes @txn; NULL is fine. */
void ec_txn_abort(ec_txn *txn);
EC_DEFINE_AUTO(ec_txn, ec_txn_abort)

/* --- key/value tables (opaque bytes; callers own the encoding) --- */

/* A table is a named LMDB database. Its owner defines it once, where it is used (a static
 * const beside its accessors), and passes it by pointer; the store declares only its own.
 * The store opens a table on first use: one that does not exist yet reads as empty and is
 * created by its first write, which also records @flags in the meta table under
 * "table/<name>", so that verify and gc in any process honour them. One definition per
 * name; the name is the database's on disk and never changes. */
typedef struct ec_table {
    const char *name; /* the LMDB database name */
    unsigned flags;   /* EC_TABLE_*: what verify and gc must know of its records */
} ec_table;

enum {
    /* A value of exactly 32 bytes is the raw sha256 of a blob that gc keeps; values of any
     * other length reference nothing. */
    EC_TABLE_REFS_BLOBS = 1u << 0,
    /* A key of exactly 32 bytes is the raw digest of a layer: gc deletes the record with the
     * layer, and with EC_TABLE_REFS_BLOBS keeps the value's blob only while the layer stays. */
    EC_TABLE_LAYER_KEYED = 1u << 1,
};

/* The store's own tables. Meta holds "schema" and "table/<name>"; an upper layer may keep
 * a store-wide setting there under a key of its own, built in one accessor. */
extern const ec_table ec_tbl_meta;
extern const ec_table ec_tbl_layers; /* layer digest -> ec_layer_info record */
extern const ec_table ec_tbl_blobs;  /* blob digest -> ec_blob_info record */

enum { EC_KV_NOOVERWRITE = 1u << 0 };

/** Looks up @key. EC_ENOTFOUND if absent. *@val is borrowed (see Caveats). */
int ec_kv_get(ec_txn *txn, const ec_table *t, const void *key, size_t klen, const void **val,
              size_t *vlen, ec_err *err);
/** Stores @key -> @val; the table's first write creates it. With EC_KV_NOOVERWRITE,
 *  EC_ECONFLICT if the key exists. */
int ec_kv_put(ec_txn *txn, const ec_table *t, const void *key, size_t klen, const void *val,
              size_t vlen, unsigned flags, ec_err *err);
/** Deletes @key. EC_ENOTFOUND if absent. */
int ec_kv_del(ec_txn *txn, const ec_table *t, const void *key, size_t klen, ec_err *err);

/** Called for each pair: return 0 to go on, 1 to stop, or a negative ec_code to fail. */
typedef int (*ec_kv_fn)(const void *key, size_t klen, const void *val, size_t vlen,
                        void *payload);
/** Visits the keys that start with @prefix (NULL/0 = all), in key order or reversed.
 *  With @after, starts strictly after that key (in the walking direction).
 *  Keys over 511 bytes (LMDB's key size) are stored as their first 400 bytes, 0xff and
 *  their sha256: get, put and del take them whole, a walk finds them by a prefix of at
 *  most 400 bytes and hands @fn that stored form. */
int ec_kv_each(ec_txn *txn, const ec_table *t, const void *prefix, size_t plen, bool reverse,
               const void *after, size_t alen, ec_kv_fn fn, void *payload, ec_err *err);

/* --- blobs --- */

typedef struct ec_blob_info {
    uint64_t size;
    int64_t created;   /* seconds since the epoch */
    int64_t last_used; /* seconds since the epoch */
} ec_blob_info;

typedef struct ec_blob_writer ec_blob_writer;
/** Opens an O_EXCL temporary file under tmp/ (flock'ed while alive). */
int ec_blob_writer_new(ec_blob_writer **out, ec_store *st, ec_err *err);
/** Appends and hashes; errors are sticky. */
int ec_blob_writer_write(ec_blob_writer *w, const void *p, size_t n, ec_err *err);
/** Bytes written so far. */
uint64_t ec_blob_writer_size(const ec_blob_writer *w);
/** fsync, compare with @want (NULL = accept), rename into blobs/sha256/xx/…, fsync the
 *  directory, then record the blob in LMDB. Consumes @w. EC_EINTEGRITY on mismatch, and
 *  nothing is left behind. */
int ec_blob_writer_commit(ec_blob_writer *w, const ec_digest *want, ec_digest *got_out,
                          ec_err *err);
/** Discards the temporary file; consumes @w; NULL is fine. */
void ec_blob_writer_cancel(ec_blob_writer *w);
EC_DEFINE_AUTO(ec_blob_writer, ec_blob_writer_cancel)

/** Copies the file at @path into the store; *@out is its digest. */
int ec_blob_put_file(ec_digest *out, ec_store *st, const char *path, const ec_digest *want,
                     ec_err *err);
/** Stores @n bytes at @p (NULL with 0 is an empty blob); *@out is their digest. */
int ec_blob_put_buf(ec_digest *out, ec_store *st, const void *p, size_t n, ec_err *err);
/** Path of the blob's file (it may not exist); caller frees. */
char *ec_blob_path(const ec_store *st, const ec_digest *d);
/** True when the index records the blob and its file exists. */
bool ec_store_has_blob(ec_store *st, const ec_digest *d);
int ec_blob_lookup(ec_blob_info *out, ec_txn *txn, const ec_digest *d, ec_err *err);
/** Opens the blob for reading (O_CLOEXEC). EC_ENOTFOUND if missing. Reads must still be
 *  verified: use ec_blob_copy_verified to hand bytes on. */
int ec_blob_open(int *fd_out, ec_store *st, const ec_digest *d, ec_err *err);
/** Copies the blob to @out_fd while hashing; EC_EINTEGRITY (naming the blob) when the bytes
 *  do not match its name, in which case the caller must discard what was written. */
int ec_blob_copy_verified(ec_store *st, const ec_digest *d, int out_fd, ec_err *err);

/* --- layers --- */

enum { EC_LAYER_BASE = 1u << 0 };

typedef struct ec_layer_info {
    ec_digest digest;     /* sha256 of the compressed blob */
    ec_digest diff_id;    /* sha256 of the uncompressed tar */
    uint64_t size;        /* compressed bytes */
    uint64_t tar_size;    /* uncompressed tar bytes */
    uint64_t files;       /* tar entries */
    int64_t created;      /* seconds since the epoch */
    int64_t last_used;    /* seconds since the epoch */
    uint32_t flags;       /* EC_LAYER_* */
} ec_layer_info;

int ec_layer_lookup(ec_layer_info *out, ec_txn *txn, const ec_digest *digest, ec_err *err);
int ec_layer_put(ec_txn *txn, const ec_layer_info *info, ec_err *err);
int ec_layer_del(ec_txn *txn, const ec_digest *digest, ec_err *err);
/** Sets last_used to now (its own short write transaction), unless it is within the last
 *  minute already. */
int ec_layer_touch(ec_store *st, const ec_digest *digest, ec_err *err);
/** Finds the layer whose digest starts with @prefix ("sha256:ab12…" or "ab12…", at least
 *  12 hex); EC_ENOTFOUND, or EC_EINVAL when ambiguous. */
int ec_layer_resolve(ec_layer_info *out, ec_store *st, const char *prefix, ec_err *err);

typedef struct ec_pack_opts {
    int threads; /* zstd workers; 0 = number of CPUs. Output never depends on it. */
    int level;   /* zstd level; 0 = $ENVCACHE_PACK_LEVEL, else EC_PACK_LEVEL */
} ec_pack_opts;
/* A layer's tree stays unpacked in the store and is mounted from there; its blob is the
 * copy for export, verification and re-extraction. Level 1 packs an ffmpeg layer (460 MB
 * of files, 2 CPUs) in 1.4 s where level 3 takes 2.2 s, for 12% more blob bytes, 3% of
 * what the layer takes on disk with its tree. The same tree gives the same blob only at
 * the same level: stores that share layers should agree on it. */
#define EC_PACK_LEVEL 1

typedef struct ec_unpack_limits {
    uint64_t max_bytes;       /* total regular-file bytes; 0 = default (64 GiB) */
    uint64_t max_entries;     /* entries; 0 = default (4 million) */
    uint64_t max_entry_bytes; /* one file; 0 = max_bytes */
} ec_unpack_limits;

/** Packs the tree at @dir as a deterministic tar, zstd-compressed, into a new blob.
 *  Overlay whiteouts in @dir (0:0 char devices, trusted.overlay.opaque) become OCI
 *  whiteouts. Fills @out's digest, diff_id, sizes and files; records only the blob. */
int ec_layer_pack_dir(ec_layer_info *out, ec_store *st, const char *dir,
                      const ec_pack_opts *opts, ec_err *err);

/** Extracts the tar or tar.zst on @fd into the new directory @dest (which must not exist),
 *  through a temporary sibling directory renamed into place. Refuses absolute paths, "..",
 *  links that escape, device nodes and anything past @limits (EC_EUNSAFE / EC_ELIMIT,
 *  naming the entry), leaving nothing behind. OCI whiteouts become overlay whiteouts. */
int ec_layer_unpack_fd(int fd, const char *dest, const ec_unpack_limits *limits, ec_err *err);

/** One entry of a package archive as ec_archive_extract_cb's hooks see it. Strings are
 *  borrowed for the hook's duration. */
typedef struct ec_extract_entry {
    const char *path;  /* clean and relative, as the archive names it: "lib/udev/x" */
    const char *dest;  /* where it is written, after the aliases: "usr/lib/udev/x" */
    unsigned type;     /* S_IFREG, S_IFDIR or S_IFLNK; a hard link is S_IFREG with @link */
    const char *link;  /* the symlink target or the hard link's (clean) target, else NULL */
    unsigned mode;     /* permission bits as the archive has them (07777) */
    int64_t uid, gid;  /* as the archive has them */
} ec_extract_entry;

/** Before an entry is written: EC_OK writes it, EC_EXTRACT_SKIP skips it, a negative code
 *  fails the extraction (the hook writes the message). */
#define EC_EXTRACT_SKIP 1
typedef int (*ec_extract_entry_fn)(const ec_extract_entry *e, void *payload, ec_err *err);
/** After an entry that ec_extract_entry_fn let through was written (@ok) or failed. */
typedef void (*ec_extract_done_fn)(const ec_extract_entry *e, bool ok, void *payload);

/** Options for extracting a package archive (not a layer) into a staging tree. */
typedef struct ec_extract_opts {
    unsigned strip_components; /* leading path components dropped ("package/") */
    bool no_sync;              /* the tree is packed later; skip syncfs/fsync */
    bool package_modes;        /* a package archive's rules (the caller's manager wants
                                  them): links and whiteout names skipped, files at least
                                  0644 (no group/other write), directories 0755 */
    /* In place: @dest is an existing directory that several archives fill (one after
     * another or from several threads at once). Directories already there are kept as
     * they are; every entry is still written by an O_NOFOLLOW *at() walk, so nothing is
     * written through a symlink an earlier archive made. A later non-directory replaces
     * an earlier one (decide with @on_entry). On failure what was written stays: the
     * caller discards @dest. */
    bool in_place;
    bool keep_owners;          /* owners (as root), modes with setuid bits, and mtimes from
                                  the archive, rather than 0:0 and mtime 0 */
    bool refuse_whiteouts;     /* a name like an OCI whiteout is EC_EUNSAFE, not converted */
    /* Directory aliases, as a merged-/usr base has them ("lib" -> "usr/lib"): an entry at
     * or below alias_from[i] is written below alias_to[i]; an entry that is exactly the
     * alias (the directory or a symlink) is skipped. Clean relative paths. */
    const char *const *alias_from;
    const char *const *alias_to;
    size_t naliases;
    ec_extract_entry_fn on_entry; /* or NULL */
    ec_extract_done_fn on_done;   /* or NULL */
    void *payload;
} ec_extract_opts;

/** Extracts the (compressed) tar on @fd into the new directory @dest with
 *  ec_layer_unpack_fd's safety rules, owners 0:0 and mtime 0. Whiteout names are
 *  refused unless package_modes skips them. */
int ec_archive_extract_fd(int fd, const char *dest, const ec_unpack_limits *limits,
                          const ec_extract_opts *opts, ec_err *err);

/** Gives the next bytes of an archive: their count with *@buf borrowed until the next call,
 *  0 at the end, or -1 with errno set. */
typedef ssize_t (*ec_archive_read_fn)(void *ud, const void **buf);

/** ec_archive_extract_fd reading through @read (an archive member, a pipe…): tar, tar.gz,
 *  .xz, .zst, .bz2, .lzma or plain. With @opts->in_place it merges into the existing
 *  directory @dest. EC_EUNSAFE / EC_ELIMIT / EC_EARCHIVE name the entry.
 *  Threads: safe to run on one @dest from several threads with in_place (directories are
 *  created race-free; conflicting non-directories must be serialised by the hooks). */
int ec_archive_extract_cb(ec_archive_read_fn read, void *ud, const char *dest,
                          const ec_unpack_limits *limits, const ec_extract_opts *opts,
                          ec_err *err);

/** Imports a directory, tar or tar.zst at @path as a layer: normalises it, stores the blob,
 *  records the layer (with @flags) and leaves it unpacked under layers/<diff_id>/. */
int ec_layer_import(ec_layer_info *out, ec_store *st, const char *path, unsigned flags,
                    const ec_pack_opts *opts, const ec_unpack_limits *limits, ec_err *err);

/** Makes the tree @dir that was just packed into @layer its unpacked copy: owners 0:0 and
 *  mtimes 0 as extraction would write them, synced, renamed to layers/<diff_id>/ (or
 *  removed when a copy is there). Saves extracting the blob again at the first mount. The
 *  tree must hold nothing the layer format drops (xattrs other than capabilities). */
int ec_layer_adopt_dir(ec_store *st, const ec_layer_info *layer, const char *dir, ec_err *err);

/** layers/<diff_id>/ when @layer is unpacked there (caller frees), else NULL. */
char *ec_layer_unpacked_path(ec_store *st, const ec_layer_info *layer);
/** Makes sure layers/<diff_id>/ exists (unpacking the verified blob if needed) and returns
 *  its path; caller frees. */
int ec_layer_ensure_unpacked(char **path_out, ec_store *st, const ec_layer_info *layer,
                             ec_err *err);

/* --- verify and garbage collection --- */

/** One thing verify or gc found or did. Strings are borrowed for the callback's duration. */
typedef struct ec_finding {
    const char *kind;   /* corrupt, missing, orphan, stale, broken, unreferenced, evicted */
    const char *object; /* "blob sha256:…", "layer sha256:…", a path */
    const char *reason; /* one sentence for people */
    uint64_t bytes;     /* what removing it frees (0 if unknown) */
    bool problem;       /* the index and the disk disagree, or bytes are wrong */
    bool removed;       /* it was removed (repair / gc without dry-run) */
} ec_finding;
typedef void (*ec_finding_fn)(const ec_finding *f, void *payload);

typedef struct ec_verify_stats {
    uint64_t blobs, layers, bytes; /* what was checked */
    uint64_t problems;             /* findings with problem set */
    uint64_t leftovers;            /* intact but unreferenced things from interrupted work */
    uint64_t removed;
} ec_verify_stats;

/** Re-hashes every blob, cross-checks the blobs and layers tables against blobs/, layers/
 *  and tmp/. With @repair, removes broken entries and leftovers (never a live writer's temp
 *  file). Locking: runs beside other processes; a write racing it may show as a leftover. */
int ec_store_verify(ec_verify_stats *out, ec_store *st, bool repair, ec_finding_fn fn,
                    void *payload, ec_err *err);

typedef struct ec_store_gc_opts {
    const ec_digest *roots; /* referenced (environments' stacks): swept never, evicted last */
    size_t nroots;
    const ec_digest *pins; /* in use (live sessions, builds): never removed */
    size_t npins;
    bool dry_run;
    uint64_t max_size; /* bytes of blobs + unpacked layers to stay under; 0 = no budget */
    int64_t grace;     /* seconds: unreferenced things younger than this stay */
} ec_store_gc_opts;

typedef struct ec_gc_stats {
    uint64_t size_before, size_after, removed;
} ec_gc_stats;

/** Sweeps what no root or pin references and is older than the grace period (layers with
 *  their blobs, unpacked trees and build logs, loose blobs, stale temporaries), then, while the store
 *  is over the budget, evicts the least recently used layers that are not pinned and were
 *  not used within the grace period, referenced ones included: they can be rebuilt. */
int ec_store_gc(ec_gc_stats *out, ec_store *st, const ec_store_gc_opts *opts, ec_finding_fn fn,
                void *payload, ec_err *err);

/** Total bytes of blobs plus unpacked layers (blob sizes and tar sizes from the index). */
int ec_store_size(uint64_t *out, ec_store *st, ec_err *err);
