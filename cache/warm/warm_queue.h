/* SPDX-License-Identifier: MIT */
/* The warm-up job queue: environments warmed in the background, a few at once.
 *
 * One job per environment: submitting an environment whose job is queued or running joins
 * that job instead of starting another one. Layers and artifacts are shared below this
 * level: ec_warm_env is single-flight per layer key, so two environments whose locks are
 * equal build their layer once even when their jobs run at the same time.
 *
 * Each job's state is persisted in the WARM table under the key "<env id>" (no '/'; the
 * per-manager records of warm.c live under "<env id>/<manager>"):
 *   {"environment_id", "workspace", "state": "queued"|"running"|"ready"|"failed",
 *    "refresh", "error": {"code", "message"}|null, "result": <ec_warm_env's out>|null,
 *    "queued_at", "started_at", "finished_at"}
 * Starting a queue re-queues every job left queued or running (a crash, a SIGTERM), so
 * warm-ups resume after a restart. Stopping cancels running warm-ups at their next safe
 * point and leaves them queued for the next start.
 *
 * Threads: every function is safe from any thread; the warm function runs on the queue's
 * own worker threads.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cache/cache.h"
#include "cache/warm/warm.h"

/** The warm function's shape (ec_warm_env's); tests inject fakes through it. */
typedef int (*ec_warm_fn)(json_t **out, ec_cache *c, const ec_warm_opts *opts, ec_err *err);

typedef struct ec_warm_queue ec_warm_queue;

typedef struct ec_warm_queue_opts {
    unsigned concurrency; /* jobs running at once; 0 = 4 */
    ec_warm_fn warm;      /* NULL = ec_warm_env */
} ec_warm_queue_opts;

/** What one submission asks for. */
typedef struct ec_warm_req {
    const char *ws;     /* workspace; NULL = default */
    const char *env_id; /* an env_… id */
    bool refresh;       /* re-resolve unpinned packages */
    bool changed;       /* the environment changed: a job already running warms the old
                           config, so run once more after it instead of joining it */
} ec_warm_req;

/** Starts the workers and re-queues unfinished jobs found in the WARM table.
 *  @c is borrowed and must outlive the queue. */
int ec_warm_queue_start(ec_warm_queue **out, ec_cache *c, const ec_warm_queue_opts *opts,
                        ec_err *err);
/** Stops taking jobs, cancels running warm-ups (they stay queued in WARM) and joins the
 *  workers; waiters are woken with EC_EBUSY. The queue still answers status calls, and
 *  submit and wait fail with EC_EBUSY. Idempotent. */
void ec_warm_queue_shutdown(ec_warm_queue *q);
/** Shuts down (if not yet) and frees @q once no thread waits on it. NULL is fine. */
void ec_warm_queue_stop(ec_warm_queue *q);

/** Queues a warm-up, or joins the environment's queued or running job. *@job_out (may be
 *  NULL) is the job's state object with "joined": true when an existing job was joined. */
int ec_warm_queue_submit(json_t **job_out, ec_warm_queue *q, const ec_warm_req *req,
                         ec_err *err);

/** The job's state: the live job if there is one, else the last one recorded in WARM.
 *  EC_ENOTFOUND when the environment was never warmed. */
int ec_warm_queue_status(json_t **out, ec_warm_queue *q, const char *env_id, ec_err *err);

/** Waits until the environment has no queued or running job, at most @timeout_ms
 *  (EC_EBUSY naming the environment when it runs out, or when the queue stops).
 *  *@out (may be NULL) is the final state object. EC_ENOTFOUND if never warmed. */
int ec_warm_queue_wait(json_t **out, ec_warm_queue *q, const char *env_id, int timeout_ms,
                       ec_err *err);

/** Forgets an environment's warm-up record (its environment was deleted). A running job
 *  finishes but is not recorded. */
void ec_warm_queue_forget(ec_warm_queue *q, const char *env_id);
