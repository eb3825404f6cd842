/* SPDX-License-Identifier: MIT */
/* Private to cache/session/: what session.c asks before it mounts an environment. */
#pragma once

#include "cache/cache_int.h"

/* --- the sessions table (idx_sessions.c; ec_cache__session_each is in cache_int.h) --- */

/** Stores session record @s under @id; with EC_KV_NOOVERWRITE, EC_ECONFLICT if it exists. */
int ec_session__put(ec_txn *txn, const char *id, const json_t *s, unsigned flags, ec_err *err);
/** Session @id's record as stored (borrowed for the txn); EC_ENOTFOUND when none. */
int ec_session__get_raw(ec_txn *txn, const char *id, const void **val, ec_err *err);
/** Session @id's record, parsed; EC_ENOTFOUND (no message) when none. */
int ec_session__get(json_t **out, ec_txn *txn, const char *id, ec_err *err);
/** EC_ENOTFOUND when there is none. */
int ec_session__del(ec_txn *txn, const char *id, ec_err *err);
/** The id of the session whose target is the absolute path @target (*@id_out, caller
 *  frees), or EC_ENOTFOUND. *@indexed is false when the store's sessions are not indexed
 *  by target yet (made before the index, no session written since): scan them instead. */
int ec_session__by_target(char **id_out, bool *indexed, ec_txn *txn, const char *target,
                          ec_err *err);

/** EC_OK when every manager with packages in environment @env's config (the API object)
 *  has a ready warm-up; an environment with no packages is ready. Otherwise EC_ECONFLICT
 *  with detail "environment_not_ready" and a message naming each manager that is not
 *  ready and why. The message speaks to API clients too, so it names no CLI command:
 *  the CLI adds its own hint (see the detail). */
int ec_session__env_ready(ec_cache *c, const json_t *env, ec_err *err);

/* The file in a session's directory that names the mount namespace it was mounted in, and
 * on its second line its target (for a session whose maker died before its record: its
 * mount is found and taken down all the same). One file: each new file on the hook's path
 * is an inode to allocate. */
#define EC_SESSION_MOUNT_NS "mount_ns"

/** The mount mode recorded in session @s; 0 while it is still being mounted ("pending"). */
enum ec_mount_mode ec_session__mode(const json_t *s);
/** Removes session @id's directory (its upper, its writes), then its record. */
int ec_session__forget(ec_cache *c, const char *id, ec_err *err);
/** The inode of this process's mount namespace (/proc/self/ns/mnt); 0 if unknown. */
uint64_t ec_session__mount_ns(void);
/** Forgets the session that holds @target if its mount is gone, so a new one may use it. */
void ec_session__reap_target(ec_cache *c, const char *target);

/** Writes `<@sdir>/bundle/config.json` for session @id with root @root; *@path_out is the
 *  bundle directory (caller frees). */
int ec_session__bundle_write(char **path_out, const char *sdir, const char *id,
                             const char *root, const ec_bundle_opts *o, ec_err *err);

/** Stops and deletes the container @id if the OCI runtime has one (errors ignored). */
void ec_session__runtime_delete(const char *id);

/** Removes session @id's directory (a session that was never recorded). */
void ec_session__discard_dir(ec_cache *c, const char *id);
/** A directory under sessions/ whose session was never recorded is a session being made,
 *  or one whose maker died between its mount and its record: after EC_SESSION_ORPHAN_AGE
 *  seconds ($ENVCACHE_SESSION_ORPHAN_AGE overrides it) it is unmounted (when mounted in
 *  this mount namespace) and removed. */
void ec_session__reap_orphan(ec_cache *c, const char *id);
#define EC_SESSION_ORPHAN_AGE 60

/* --- records that wait to be indexed (session_deferred.c) --- */

/** Writes session @id's record as a file, with no sync (readers see it at once). */
int ec_session__deferred_put(ec_cache *c, const char *id, const json_t *s, ec_err *err);
/** Removes session @id's record file, if any. */
void ec_session__deferred_drop(ec_cache *c, const char *id);
/** Whether session @id has a record file. */
bool ec_session__deferred_has(ec_cache *c, const char *id);
/** Calls @fn for each record file whose session @txn's index does not hold; stops when it
 *  returns nonzero (returned). */
int ec_session__deferred_each(ec_cache *c, ec_txn *txn, ec_session_rec_fn fn, void *payload);
/** How many record files wait (as ec_session__deferred_each visits). */
size_t ec_session__deferred_count(ec_cache *c, ec_txn *txn);
/** In write txn @txn: indexes every record file the index lacks (and touches its layers'
 *  last use). The files stay: only forgetting a session removes its file. */
int ec_session__deferred_adopt(ec_cache *c, ec_txn *txn, ec_err *err);
/** Record files the index lacks beyond this many are adopted by the next session made (one
 *  sync), so that readers, who parse those, stay fast. */
#define EC_SESSION_DEFERRED_MAX 32

/** Locks @target against other makers of sessions (across processes); returns the lock's
 *  descriptor for ec_session__target_unlock. */
int ec_session__target_lock(ec_cache *c, const char *target, ec_err *err);
void ec_session__target_unlock(int fd);

/* --- a session container's network (session_net.c) --- */

/** What a bundle gets from the session's network: the namespace to join, files to bind
 *  read-only over the root's, variables for the process. */
typedef struct ec_session_net {
    char *netns;
    ec_bundle_bind *binds;
    size_t nbinds;
    char **env; /* NULL-terminated; NULL = none */
} ec_session_net;

void ec_session__net_free(ec_session_net *sn);
