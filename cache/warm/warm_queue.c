/* SPDX-License-Identifier: MIT */
/* The warm-up job queue: one live job per environment, a fixed pool of workers, and every
 * state change written to the WARM table so that a restart resumes unfinished work. */
#include "cache/warm/warm_queue.h"
#include "cache/cache_int.h"
#include "cache/warm/idx_warm.h"
#include "cache/metrics.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONCURRENCY 4

enum job_state { JOB_QUEUED, JOB_RUNNING };

struct job {
    struct job *next;
    char *env_id, *ws;
    enum job_state state;
    bool refresh, again, forgotten, finished;
    int refs;    /* waiters holding the job after it left the list */
    json_t *rec; /* the state object, as persisted */
};

struct ec_warm_queue {
    ec_cache *c;
    ec_warm_fn warm;
    unsigned nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or the queue stops */
    pthread_cond_t done; /* a job finished, or the queue stops */
    struct job *jobs;    /* live jobs (queued or running), oldest first */
    volatile int cancel; /* handed to ec_warm_env: set when stopping */
    unsigned waiters;    /* threads inside ec_warm_queue_wait */
    bool stopping;
};

/* store/util/log.h cannot be included here: its ec_progress() clashes with fetcher.h's
 * struct ec_progress (pulled in through warm.h). Same format as ec_log. */
#define qlog(...) (fputs("envcache: ", stderr), fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

/* --- records --- */

static void stamp(json_t *rec, const char *field)
{
    char now[32];
    ec_cache__rfc3339(now, ec_now());
    json_object_set_new(rec, field, json_string(now));
}

static json_t *new_record(const char *ws, const char *env_id, bool refresh)
{
    json_t *rec = json_pack("{s:s, s:s, s:s, s:b, s:n, s:n, s:n, s:n}", "environment_id",
                            env_id, "workspace", ws, "state", "queued", "refresh", refresh,
                            "error", "result", "started_at", "finished_at");
    stamp(rec, "queued_at");
    return rec;
}

/* Called with q->mu held: records are written in the order their states change, so a
 * slow writer can never put back an older state. Write transactions are short. */
static void persist(ec_warm_queue *q, const char *env_id, const json_t *rec)
{
    ec_err err = {0};
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, ec_cache_store(q->c), 0, &err);
    if (r == EC_OK)
        r = ec_warm_job_put(txn, env_id, rec, &err);
    if (r == EC_OK)
        r = ec_txn_commit(ec_steal(&txn), &err);
    if (r < 0) /* the job still runs; only a restart would lose track of it */
        qlog("warning: warm-up of %s: cannot record its state: %s", env_id, err.msg);
}

static int load_record(json_t **out, ec_warm_queue *q, const char *env_id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, ec_cache_store(q->c), EC_TXN_READ, err);
    if (r < 0)
        return r;
    r = ec_warm_job_get(out, txn, env_id, err);
    if (r == EC_ENOTFOUND)
        return ec_fail(err, EC_ENOTFOUND, "environment %s has no warm-up yet", env_id);
    return r;
}

/* --- the job list (callers hold q->mu) --- */

static struct job *find_live(ec_warm_queue *q, const char *env_id)
{
    for (struct job *j = q->jobs; j; j = j->next)
        if (strcmp(j->env_id, env_id) == 0)
            return j;
    return NULL;
}

static struct job *add_job(ec_warm_queue *q, const char *ws, const char *env_id, bool refresh)
{
    struct job *j = ec_xcalloc(1, sizeof *j), **tail = &q->jobs;
    j->env_id = ec_xstrdup(env_id);
    j->ws = ec_xstrdup(ws);
    j->refresh = refresh;
    j->rec = new_record(ws, env_id, refresh);
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    pthread_cond_signal(&q->work);
    return j;
}

static void unlink_job(ec_warm_queue *q, struct job *j)
{
    for (struct job **p = &q->jobs; *p; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            return;
        }
    }
}

static void free_job(struct job *j)
{
    free(j->env_id);
    free(j->ws);
    json_decref(j->rec);
    free(j);
}

/* Drops one reference; the job is freed once it is finished and nobody waits on it. */
static void release_job(struct job *j)
{
    if (--j->refs == 0 && j->finished)
        free_job(j);
}

/* --- workers --- */

static struct job *next_queued(ec_warm_queue *q)
{
    for (struct job *j = q->jobs; j; j = j->next)
        if (j->state == JOB_QUEUED)
            return j;
    return NULL;
}

static void record_result(struct job *j, int r, json_t *out, const ec_err *err, bool cancelled)
{
    if (cancelled) {
        json_object_set_new(j->rec, "state", json_string("queued"));
        json_object_set_new(j->rec, "started_at", json_null());
        return;
    }
    json_object_set_new(j->rec, "state", json_string(r == EC_OK ? "ready" : "failed"));
    json_object_set(j->rec, "result", out ? out : json_null());
    json_object_set_new(j->rec, "error",
                        r == EC_OK ? json_null()
                                   : json_pack("{s:s, s:s, s:s?}", "code", ec_code_name(r),
                                               "message", err->msg, "detail",
                                               err->detail[0] ? err->detail : NULL));
    stamp(j->rec, "finished_at");
}

/* Called with q->mu held after a run: requeue, or take the job off the list. */
static void finish_job(ec_warm_queue *q, struct job *j, bool cancelled)
{
    if (j->again && !cancelled && !q->stopping) {
        j->again = false;
        j->state = JOB_QUEUED;
        json_object_set_new(j->rec, "state", json_string("queued"));
        stamp(j->rec, "queued_at");
        return;
    }
    unlink_job(q, j);
    j->finished = true;
    pthread_cond_broadcast(&q->done);
}

static void run_job(ec_warm_queue *q, struct job *j)
{
    ec_warm_opts wo = {.ws = j->ws, .env = j->env_id, .refresh = j->refresh,
                       .cancel = &q->cancel};
    json_t *out = NULL;
    ec_err err = {0};
    int r = q->warm(&out, q->c, &wo, &err);
    pthread_mutex_lock(&q->mu);
    bool cancelled = r == EC_EBUSY && q->stopping;
    record_result(j, r, out, &err, cancelled);
    if (!j->forgotten)
        persist(q, j->env_id, j->rec);
    finish_job(q, j, cancelled);
    if (j->finished && j->refs == 0)
        free_job(j);
    pthread_mutex_unlock(&q->mu);
    json_decref(out);
    ec_metrics_inc(EC_M_WARM_JOBS,
                   cancelled ? "result=\"interrupted\""
                   : r == EC_OK ? "result=\"ready\"" : "result=\"failed\"", 1);
}

static void *worker(void *arg)
{
    ec_warm_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stopping) {
        struct job *j = next_queued(q);
        if (!j) {
            pthread_cond_wait(&q->work, &q->mu);
            continue;
        }
        j->state = JOB_RUNNING;
        json_object_set_new(j->rec, "state", json_string("running"));
        stamp(j->rec, "started_at");
        persist(q, j->env_id, j->rec);
        pthread_mutex_unlock(&q->mu);
        run_job(q, j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* --- start and stop --- */

struct resume_ctx {
    ec_warm_queue *q;
    unsigned n;
};

/* Re-queues job records left queued or running. */
static int resume_one(const json_t *rec, void *payload)
{
    struct resume_ctx *rc = payload;
    const char *state = json_string_value(json_object_get(rec, "state"));
    const char *ws = json_string_value(json_object_get(rec, "workspace"));
    const char *id = json_string_value(json_object_get(rec, "environment_id"));
    if (!state || !ws || !id || (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0))
        return 0;
    add_job(rc->q, ws, id, json_is_true(json_object_get(rec, "refresh")));
    rc->n++;
    return 0;
}

static int resume(ec_warm_queue *q, ec_err *err)
{
    struct resume_ctx rc = {q, 0};
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, ec_cache_store(q->c), EC_TXN_READ, err);
    if (r < 0 || (r = ec_warm_job_each(txn, resume_one, &rc, err)) < 0)
        return r;
    if (rc.n)
        qlog("warm-up: resuming %u unfinished job%s", rc.n, rc.n == 1 ? "" : "s");
    return EC_OK;
}

int ec_warm_queue_start(ec_warm_queue **out, ec_cache *c, const ec_warm_queue_opts *opts,
                        ec_err *err)
{
    ec_warm_queue *q = ec_xcalloc(1, sizeof *q);
    q->c = c;
    q->warm = opts && opts->warm ? opts->warm : ec_warm_env;
    q->nthreads = opts && opts->concurrency ? opts->concurrency : DEFAULT_CONCURRENCY;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    int r = resume(q, err);
    q->threads = ec_xcalloc(q->nthreads, sizeof *q->threads);
    for (unsigned i = 0; r == EC_OK && i < q->nthreads; i++) {
        int e = pthread_create(&q->threads[i], NULL, worker, q);
        if (e) {
            q->nthreads = i;
            r = ec_fail_sys(err, e, "cannot start warm-up worker %u", i);
        }
    }
    if (r < 0) {
        ec_warm_queue_stop(q);
        return r;
    }
    *out = q;
    return EC_OK;
}

void ec_warm_queue_shutdown(ec_warm_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool first = !q->stopping;
    q->stopping = true;
    q->cancel = 1;
    pthread_cond_broadcast(&q->work);
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; first && i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
}

void ec_warm_queue_stop(ec_warm_queue *q)
{
    if (!q)
        return;
    ec_warm_queue_shutdown(q);
    pthread_mutex_lock(&q->mu);
    /* Waiters were woken by stopping; the mutex must outlive their last unlock. */
    while (q->waiters)
        pthread_cond_wait(&q->done, &q->mu);
    while (q->jobs) { /* queued jobs stay "queued" in WARM: the next start resumes them */
        struct job *j = q->jobs;
        q->jobs = j->next;
        free_job(j);
    }
    pthread_mutex_unlock(&q->mu);
    free(q->threads);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* --- submit, status, wait --- */

int ec_warm_queue_submit(json_t **job_out, ec_warm_queue *q, const ec_warm_req *req,
                         ec_err *err)
{
    if (!ec_id_valid(req->env_id, "env"))
        return ec_cache__env_not_found(err, req->env_id);
    const char *ws = req->ws ? req->ws : EC_DEFAULT_WORKSPACE;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        return ec_fail(err, EC_EBUSY, "the server is shutting down; warm-ups resume on restart");
    }
    struct job *j = find_live(q, req->env_id);
    bool joined = j != NULL;
    if (!j)
        j = add_job(q, ws, req->env_id, req->refresh);
    else if (j->state == JOB_RUNNING && (req->changed || (req->refresh && !j->refresh)))
        j->again = true, j->refresh |= req->refresh;
    else if (j->state == JOB_QUEUED)
        j->refresh |= req->refresh;
    json_object_set_new(j->rec, "refresh", json_boolean(j->refresh));
    if (!joined)
        persist(q, req->env_id, j->rec);
    json_t *snap = json_deep_copy(j->rec);
    pthread_mutex_unlock(&q->mu);
    json_object_set_new(snap, "joined", json_boolean(joined));
    if (job_out)
        *job_out = snap;
    else
        json_decref(snap);
    return EC_OK;
}

int ec_warm_queue_status(json_t **out, ec_warm_queue *q, const char *env_id, ec_err *err)
{
    pthread_mutex_lock(&q->mu);
    struct job *j = find_live(q, env_id);
    json_t *snap = j ? json_deep_copy(j->rec) : NULL;
    pthread_mutex_unlock(&q->mu);
    if (snap) {
        *out = snap;
        return EC_OK;
    }
    return load_record(out, q, env_id, err);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

int ec_warm_queue_wait(json_t **out, ec_warm_queue *q, const char *env_id, int timeout_ms,
                       ec_err *err)
{
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&q->mu);
    struct job *j = find_live(q, env_id);
    if (!j) {
        pthread_mutex_unlock(&q->mu);
        return out ? ec_warm_queue_status(out, q, env_id, err) : EC_OK;
    }
    j->refs++;
    q->waiters++;
    int e = 0;
    while (!j->finished && !q->stopping && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&q->done, &q->mu, &deadline);
    bool finished = j->finished && !q->stopping;
    json_t *snap = json_deep_copy(j->rec);
    release_job(j);
    q->waiters--;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
    if (!finished) {
        json_decref(snap);
        return ec_fail(err, EC_EBUSY, "environment %s is still warming (%s); try again later",
                       env_id, q->stopping ? "the server is shutting down" : "waited too long");
    }
    if (out)
        *out = snap;
    else
        json_decref(snap);
    return EC_OK;
}

void ec_warm_queue_forget(ec_warm_queue *q, const char *env_id)
{
    pthread_mutex_lock(&q->mu);
    struct job *j = find_live(q, env_id);
    if (j)
        j->forgotten = true, j->again = false;
    if (j && j->state == JOB_QUEUED)
        unlink_job(q, j), j->finished = true, pthread_cond_broadcast(&q->done);
    if (j && j->finished && j->refs == 0)
        free_job(j);
    EC_AUTO(ec_txn) txn = NULL;
    if (ec_txn_begin(&txn, ec_cache_store(q->c), 0, NULL) == EC_OK &&
        ec_warm_job_del(txn, env_id, NULL) == EC_OK)
        ec_txn_commit(ec_steal(&txn), NULL);
    pthread_mutex_unlock(&q->mu);
}
