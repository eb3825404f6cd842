/* SPDX-License-Identifier: MIT */
/* Private to cache/env/: what env.c, env_write.c and env_base.c share. */
#pragma once

#include "cache/cache.h"

/** The record's "base" value for @b: {"mode": …} plus "digest" when explicit. */
json_t *ec_env__base_json(const ec_env_base_choice *b);
/** The stack a new environment is recorded with: [digest] for an explicit base (checked
 *  to be a recorded layer: EC_ENOTFOUND), else [] (the base is chosen at warm-up). */
int ec_env__initial_stack(json_t **out, ec_cache *c, const ec_env_base_choice *b, ec_err *err);

/** Writes environment record @rec of @ws under its id, in @txn. */
int ec_env__save(ec_txn *txn, const char *ws, const char *id, json_t *rec, ec_err *err);
