/* SPDX-License-Identifier: MIT */
/* OCI: environments as images on any distribution registry (push, pull), a registry as the
 * store's shared tier (layer keys and locks found there before building), and OCI image
 * layout / docker-archive export.
 * Threads: every call opens its own registry client; calls may run in parallel. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"

/** What a push or pull did: requests sent, blobs moved, blobs the registry or store had. */
typedef struct ec_oci_stats {
    uint64_t requests;
    uint64_t blobs_sent, blobs_mounted, blobs_present, bytes_sent;
    uint64_t blobs_got, bytes_got;
} ec_oci_stats;

/** Pushes environment @env (id or name of @ws) to @ref ("host:port/name:tag"): its layers as
 *  tar+zstd blobs, its stack as an image manifest, and an artifact per manager (lock and
 *  build record) plus one for the environment's record, attached as referrers.
 *  *@out: {"reference", "digest", "layers", stats}. EC_ECONFLICT when it was never warmed. */
int ec_oci_push(json_t **out, ec_cache *c, const char *ws, const char *env, const char *ref,
                ec_err *err);

typedef struct ec_oci_pull_opts {
    const char *name; /* the environment's name here; NULL = the pushed one */
} ec_oci_pull_opts;
/** Pulls @ref into @ws: layers (verified), locks, the environment with its stack ready to
 *  mount. An environment of that name with another config is EC_ECONFLICT. *@out: {"id",
 *  "name", "digest", "layers", stats}. */
int ec_oci_pull(json_t **out, ec_cache *c, const char *ws, const char *ref,
                const ec_oci_pull_opts *opts, ec_err *err);

/* --- the remote tier --- */

typedef struct ec_oci_remote {
    char *url;  /* "[http[s]://]host:port/name": the repository that holds layer keys */
    bool push;  /* layers built here are pushed there */
} ec_oci_remote;
/** The store's remote: $ENVCACHE_REMOTE (and $ENVCACHE_REMOTE_PUSH=0|1), else `remote set`.
 *  EC_ENOTFOUND (no message) when there is none. */
int ec_oci_remote_get(ec_oci_remote *out, ec_cache *c, ec_err *err);
void ec_oci_remote_fini(ec_oci_remote *r);
/** Records the remote (@url NULL removes it). EC_EINVAL names a bad URL. */
int ec_oci_remote_set(ec_cache *c, const char *url, bool push, ec_err *err);

/** Lets sessions of @c pull the layers this node lacks from the remote (ec_oci_tier_layer).
 *  Threads: call before sharing @c. */
void ec_oci_attach(ec_cache *c);
/** Looks up layer key @key on the remote; when there, pulls the layer (verified) and records
 *  it for @key. EC_ENOTFOUND (no message) when there is no remote or no such key; other
 *  errors mean the remote failed (the caller builds instead). */
int ec_oci_tier_layer_for_key(ec_layer_info *out, ec_cache *c, const ec_digest *key,
                              ec_err *err);
/** Pulls layer @digest from the remote into the store (a session on a node that lacks it).
 *  EC_ENOTFOUND (no message) when there is no remote or it lacks the layer. */
int ec_oci_tier_layer(ec_layer_info *out, ec_cache *c, const ec_digest *digest, ec_err *err);
/** Publishes @layer for @key (and under its digest) when the remote is set to push, and
 *  the layers beneath it (@lowers, by digest) unless the remote has them: a session on
 *  another node then finds its whole stack there. */
int ec_oci_tier_publish(ec_cache *c, const ec_digest *key, const ec_layer_info *layer,
                        const ec_digest *lowers, size_t nlowers, ec_err *err);
/** The lock resolved for specs digest @specs, from the remote; new reference.
 *  EC_ENOTFOUND (no message) when none. */
int ec_oci_tier_lock_get(json_t **out, ec_cache *c, const ec_digest *specs, ec_err *err);
/** Publishes @lock for @specs when the remote is set to push. */
int ec_oci_tier_lock_put(ec_cache *c, const ec_digest *specs, const json_t *lock, ec_err *err);

/* --- export --- */

typedef enum ec_oci_export_kind { EC_OCI_LAYOUT, EC_OCI_DOCKER_ARCHIVE } ec_oci_export_kind;
/** Writes environment @env's stack as an OCI image layout directory (@path must not exist or
 *  be empty) or a docker-archive tar file, tagged @tag (NULL = "latest"). Layers are gzip
 *  re-compressions of the tar+zstd blobs when @gzip (tools that cannot read zstd), else the
 *  blobs as they are. *@out: {"path", "manifest", "layers"}. */
int ec_oci_export(json_t **out, ec_cache *c, const char *ws, const char *env,
                  ec_oci_export_kind kind, const char *path, const char *tag, bool gzip,
                  ec_err *err);
