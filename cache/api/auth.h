/* SPDX-License-Identifier: MIT */
/* API keys: each maps to one workspace; only the key's sha256 is stored (the api_keys table).
 * Threads: safe from any thread on a shared ec_cache. */
#pragma once

#include "cache/cache.h"

/** True for 1-64 characters of [A-Za-z0-9._-] (workspaces are key prefixes, so no '/'). */
bool ec_workspace_valid(const char *ws);

/** Makes a new key for @ws and records its hash. *@key_out ("eck_" + 40 base62 characters)
 *  is the only copy of the key; caller frees. EC_EINVAL for a bad workspace name. */
int ec_key_create(char **key_out, ec_cache *c, const char *ws, ec_err *err);

/** The workspace @key belongs to; caller frees *@ws_out. EC_ENOTFOUND for unknown keys. */
int ec_key_lookup(char **ws_out, ec_cache *c, const char *key, ec_err *err);

/* --- the api_keys table (idx_keys.c) --- */

#define EC_WORKSPACE_MAX 64

/** A key's record. Empty strings where the stored record lacks a field. */
typedef struct ec_key_rec {
    char workspace[EC_WORKSPACE_MAX + 1];
    char sha256[EC_DIGEST_HEX_LEN]; /* hex: the record's own copy of its table key */
} ec_key_rec;

/** The keys of @ws (NULL: every workspace) as a JSON array, oldest hash order:
 *  [{"id", "workspace", "created_at"}], where "id" is the first 12 hex digits of the
 *  key's sha256 (never the key). Caller owns the array. */
int ec_key_list(json_t **out, ec_cache *c, const char *ws, ec_err *err);

/** Revokes one key, named by the key itself (eck_…), its sha256 (64 hex) or an id (at
 *  least 8 leading hex digits of the sha256) that matches one key only. A server on the
 *  same store refuses the key (401) from its next request: keys are looked up per
 *  request. *@out (if given) is the revoked key's record. EC_ENOTFOUND when nothing
 *  matches; EC_EINVAL for an ambiguous or malformed id. */
int ec_key_revoke(ec_key_rec *out, ec_cache *c, const char *which, ec_err *err);

/** Records @rec under its sha256: EC_ECONFLICT if that hash is taken. */
int ec_auth__key_put(ec_txn *txn, const ec_key_rec *rec, const char *created_at, ec_err *err);
/** The record stored under @sha256 (hex); EC_ENOTFOUND (no message) when there is none. */
int ec_auth__key_get(ec_key_rec *out, ec_txn *txn, const char *sha256, ec_err *err);
/** Deletes the record under @sha256; EC_ENOTFOUND when there is none. */
int ec_auth__key_del(ec_txn *txn, const char *sha256, ec_err *err);
/** Called per record with its created_at: 0 goes on, 1 stops, negative fails. */
typedef int (*ec_auth_key_fn)(const ec_key_rec *rec, const char *created_at, void *payload);
int ec_auth__key_each(ec_txn *txn, ec_auth_key_fn fn, void *payload, ec_err *err);
