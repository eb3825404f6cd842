/* SPDX-License-Identifier: MIT */
/* The warm table's records (idx_warm.c), for the rooms that read what warm-ups wrote:
 * an environment's job record (the queue's) and one state record per manager (warm.c's). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cache/cache.h"

/** The job record of environment @env_id. EC_ENOTFOUND (no message) when there is none. */
int ec_warm_job_get(json_t **out, ec_txn *txn, const char *env_id, ec_err *err);
int ec_warm_job_put(ec_txn *txn, const char *env_id, const json_t *rec, ec_err *err);
/** EC_ENOTFOUND when there is none. The managers' state records stay. */
int ec_warm_job_del(ec_txn *txn, const char *env_id, ec_err *err);

/** Called with each job record (NULL when one is not JSON): 0 goes on, 1 stops. */
typedef int (*ec_warm_job_fn)(const json_t *rec, void *payload);
int ec_warm_job_each(ec_txn *txn, ec_warm_job_fn fn, void *payload, ec_err *err);

/** The state record of manager @mgr in environment @env_id ("building", "ready" with its
 *  lock and layer, or "failed" with an error). EC_ENOTFOUND (no message) when none. */
int ec_warm_state_get(json_t **out, ec_txn *txn, const char *env_id, const char *mgr,
                      ec_err *err);
int ec_warm_state_put(ec_txn *txn, const char *env_id, const char *mgr, const json_t *rec,
                      ec_err *err);
