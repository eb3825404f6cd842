/* SPDX-License-Identifier: MIT */
/* Private to cache/env/: what env.c, env_write.c and env_base.c share. */
#pragma once

#include "cache/cache.h"

/** The record's "base" value for @b: {"mode": …} plus "digest" when explicit. */
json_t *ec_env__base_json(const ec_env_base_choice *b);
/** The stack a new environment is recorded with: [digest] for an explicit base (checked
 *  to be a recorded layer: EC_ENOTFOUND), else [] (the base is chosen at warm-up). */
int ec_env__initial_stack(json_t **out, ec_cache *c, const ec_env_base_choice *b, ec_err *err);

/* --- the environments and env_names tables (idx_envs.c; ec_cache__env_load and
 * ec_cache__env_save, which warm/ uses too, are in cache_int.h) --- */

/** Called with each environment record (NULL when one is not JSON): 0 goes on, 1 stops,
 *  a negative ec_code fails the walk. */
typedef int (*ec_env_rec_fn)(const json_t *rec, void *payload);
/** Visits the records of workspace @ws newest first, after environment @after_id when not
 *  NULL; with @ws NULL, every workspace's records in key order. */
int ec_env__each(ec_txn *txn, const char *ws, const char *after_id, ec_env_rec_fn fn,
                 void *payload, ec_err *err);
/** Deletes environment @id and its name @name; EC_ENOTFOUND when the record is absent. */
int ec_env__del(ec_txn *txn, const char *ws, const char *id, const char *name, ec_err *err);
/** Takes @name for @id in @ws: EC_ECONFLICT when the name is taken. */
int ec_env__name_put(ec_txn *txn, const char *ws, const char *name, const char *id,
                     ec_err *err);
/** EC_ENOTFOUND when nothing has the name. */
int ec_env__name_del(ec_txn *txn, const char *ws, const char *name, ec_err *err);
/** The id of the environment named @name in @ws; EC_ENOTFOUND (no message). */
int ec_env__name_lookup(char **id_out, ec_txn *txn, const char *ws, const char *name,
                        ec_err *err);

/** Begins a change of environment @id of @ws: a write txn and its record (both owned by
 *  the caller). EC_EARCHIVED (detail environment_archived) for an archived one. */
int ec_env__change_begin(ec_txn **txn_out, json_t **rec_out, ec_cache *c, const char *ws,
                         const char *id, ec_err *err);
