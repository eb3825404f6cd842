/* SPDX-License-Identifier: MIT */
/* Private to cache/: the cache struct, the JSON record helpers of the tables' accessors, and
 * the accessors that rooms below their table's room use. */
#pragma once

#include <pthread.h>

#include "cache/cache.h"
#include "fetchers/fetcher.h"
#include "fetchers/http/http.h"
#include "fetchers/manager.h"

struct ec_session_net;

struct ec_cache {
    ec_store *st;
    pthread_mutex_t mu; /* guards the lazily made members below */
    ec_http *http;      /* one connection pool for every fetch of this process */
    void (*http_free)(ec_http *h); /* how to free it (upstream.c makes it) */
    json_t *fetch_memo; /* manager -> {"upstream": url, "config": {…}}, found once */
    ec_mirror_port_fn mirror_port; /* where build steps reach the mirror (or NULL) */
    void *mirror_payload;
    void (*mirror_release)(void *payload);
    /* A session container's network (session/'s session_net.c, set by
     * ec_session_net_attach); NULL: containers get a network namespace of their own with
     * loopback only. Pointers, so that programs that start no container (the start-up
     * hook) link none of it, nor the manager table it reads. */
    int (*net_prepare)(struct ec_session_net *out, ec_cache *c, const char *id,
                       const char *root, const json_t *networking, const json_t *mcp_servers,
                       ec_err *err);
    int (*net_teardown)(ec_cache *c, const char *id, ec_err *err);
    /* Where a session gets a layer this node lacks (oci/'s remote tier, set by
     * ec_oci_attach); NULL: nowhere. A pointer, so that programs that never fetch (the
     * start-up hook) link no registry client. */
    int (*remote_layer)(ec_layer_info *out, ec_cache *c, const ec_digest *digest, ec_err *err);
};

/** The loopback port of a mirror serving this cache, for build steps that fetch through
 *  it (ec_cache_set_mirror). EC_EUNSUPPORTED when nothing serves one. */
int ec_cache__mirror_port(uint16_t *port, ec_cache *c, ec_err *err);

/** The shared HTTP client, made on first use; borrowed for the cache's lifetime. */
int ec_cache__http(ec_http **out, ec_cache *c, ec_err *err);

/* --- records: each table is defined in one idx_<table>.c of the room that owns it, and
 * only that file builds its keys and values; these helpers serve those files alone --- */

/** Reads the JSON value stored under @key in @t. EC_ENOTFOUND if absent. */
int ec_cache__json_get(json_t **out, ec_txn *txn, const ec_table *t, const char *key,
                       ec_err *err);
/** Stores @val (compact, sorted keys) under @key in @t. */
int ec_cache__json_put(ec_txn *txn, const ec_table *t, const char *key, const json_t *val,
                       unsigned flags, ec_err *err);

/** The canonical lock of digest @digest ("sha256:…"); EC_ENOTFOUND (warm/idx_locks.c). */
int ec_cache__lock_get(json_t **out, ec_txn *txn, const char *digest, ec_err *err);

/** Saves canonical lock JSON @lock under its digest, *@out (warm/idx_locks.c), for oci/'s
 *  pull. */
int ec_cache__lock_put(ec_digest *out, ec_txn *txn, const json_t *lock, ec_err *err);
/** A manager's warm state record of an environment (warm/idx_warm.c), for oci/'s push and
 *  pull. EC_ENOTFOUND (no message). */
int ec_cache__warm_state_get(json_t **out, ec_txn *txn, const char *env_id, const char *mgr,
                             ec_err *err);
int ec_cache__warm_state_put(ec_txn *txn, const char *env_id, const char *mgr,
                             const json_t *rec, ec_err *err);

/** The layer recorded for layer key @key, if it and its blob are still in the store
 *  (warm/idx_layer_keys.c; env/'s bootstrap keys its bases there too). */
bool ec_cache__layer_for_key(ec_layer_info *out, ec_store *st, const ec_digest *key);
/** Records @layer as the layer built for @key. */
int ec_cache__layer_key_put(ec_txn *txn, const ec_digest *key, const ec_digest *layer,
                            ec_err *err);

/** Writes environment record @rec of @ws under its id (env/idx_envs.c). */
int ec_cache__env_save(ec_txn *txn, const char *ws, const char *id, const json_t *rec,
                       ec_err *err);

/** Called with each session record (NULL when one is not JSON): 0 goes on, 1 stops. */
typedef int (*ec_session_rec_fn)(const json_t *s, void *payload);
/** Visits every session record of every workspace (session/idx_sessions.c): the index's,
 *  then those still waiting to be indexed (session/session_deferred.c). */
int ec_cache__session_each(ec_cache *c, ec_txn *txn, ec_session_rec_fn fn, void *payload,
                           ec_err *err);
/** RFC 3339 UTC ("2026-03-15T10:00:00Z") of @t into @out. */
void ec_cache__rfc3339(char out[32], int64_t t);
/** The not-found error of the API for environments. */
int ec_cache__env_not_found(ec_err *err, const char *id);
/** The API's error for an archived environment (detail environment_archived); @what says
 *  what is refused. */
int ec_cache__env_archived(ec_err *err, const char *id, const char *what);
/** The API object of environment @id of @ws as compact JSON text (*@n bytes; caller
 *  frees), from a small cache of printed records checked against the record's bytes. */
int ec_cache__env_rendered(char **out, size_t *n, ec_txn *txn, const char *ws, const char *id,
                           ec_err *err);
/** Loads an environment record {"env":…, "stack":[…]} of @ws. */
int ec_cache__env_load(json_t **out, ec_txn *txn, const char *ws, const char *id, ec_err *err);
/** True when some session references environment @id. */
bool ec_cache__env_in_use(ec_cache *c, ec_txn *txn, const char *id);

/** The upstream base URL of @m (no trailing slash), found by its rule (manager.h:
 *  ec_upstream_rule). EC_ENOTFOUND when there is none; the message says what to set. */
int ec_cache__upstream(char **out, ec_cache *c, const ec_manager *m, ec_err *err);

/** The host facts @m's fetcher needs (ec_host_fact), as its fetch ctx "config"; new
 *  reference. */
json_t *ec_cache__fetch_config(ec_cache *c, const ec_manager *m);

/** Fills @ctx for @mgr's fetcher: store, shared HTTP client, upstream and config (both
 *  found once per process and borrowed from @c). */
int ec_cache__fetch_ctx(ec_fetch_ctx *ctx, ec_cache *c, const ec_manager *mgr, ec_err *err);
