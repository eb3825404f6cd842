/* SPDX-License-Identifier: MIT */
/* envcache's own endpoints: an environment's cache state and warm-up, /healthz, /metrics. */
#include "cache/cache_int.h"
#include "cache/metrics.h"
#include "cache/warm/idx_warm.h"
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <string.h>

/* --- states --- */

/* API.md lists four states; the job queue and the warm-up records also say queued and
 * running. Anything else (a state a newer envcache wrote) reads as not built yet. */
static const char *api_state(const char *internal)
{
    static const struct {
        const char *internal, *api;
    } map[] = {{"queued", "pending"},   {"pending", "pending"}, {"running", "building"},
               {"building", "building"}, {"ready", "ready"},     {"failed", "failed"}};
    for (size_t i = 0; internal && i < EC_ARRAY_LEN(map); i++)
        if (strcmp(internal, map[i].internal) == 0)
            return map[i].api;
    return "pending";
}

/* Rewrites the job object's own state in API.md's terms, so that no answer of this file
 * shows a state the contract does not list. */
static json_t *api_job(json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "state"));
    if (st)
        json_object_set_new(job, "state", json_string(api_state(st)));
    return job;
}

/* A manager record written before the latest warm-up started (or, while it waits, before
 * it was queued) belongs to an earlier warm-up: an older config, or a run cut short. */
static bool record_current(const json_t *rec, const json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "state"));
    const char *since = json_string_value(
        json_object_get(job, st && strcmp(st, "queued") == 0 ? "queued_at" : "started_at"));
    const char *at = json_string_value(json_object_get(rec, "updated_at"));
    return !since || (at && strcmp(at, since) >= 0);
}

/* --- managers --- */

/* The lock's packages as API.md promises them: each name with its exact version. */
static json_t *resolved_packages(ec_txn *txn, const json_t *rec)
{
    json_t *out = json_array();
    const char *digest = json_string_value(json_object_get(rec, "lock"));
    EC_AUTO(json_t) lock = NULL;
    if (!digest || ec_cache__lock_get(&lock, txn, digest, NULL) < 0)
        return out;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(lock, "packages"), i, p)
        json_array_append_new(out, json_pack("{s:O?, s:O?}", "name", json_object_get(p, "name"),
                                             "version", json_object_get(p, "version")));
    return out;
}

/* A manager's state, lock, layer, timings and failure come from its own state record
 * (written by the warm-up) when that record is current; without one the manager is still
 * to be built. */
static json_t *manager_state(ec_txn *txn, const char *id, const char *mgr, json_t *specs,
                             const json_t *job)
{
    EC_AUTO(json_t) rec = NULL;
    if (txn && ec_warm_state_get(&rec, txn, id, mgr, NULL) == EC_OK &&
        !record_current(rec, job))
        json_decref(ec_steal(&rec));
    json_t *m = json_object();
    if (rec)
        json_object_update(m, rec); /* lock, layer, size, timings, failure: as recorded */
    const char *st = json_string_value(json_object_get(rec, "state"));
    json_object_set_new(m, "state", json_string(api_state(st)));
    json_object_set(m, "specs", specs);
    json_object_set_new(m, "packages", resolved_packages(txn, rec));
    return m;
}

static json_t *managers_of(ec_cache *c, const json_t *env, const char *id, const json_t *job)
{
    json_t *pk = json_object_get(json_object_get(env, "config"), "packages");
    json_t *out = json_object();
    EC_AUTO(ec_txn) txn = NULL;
    ec_txn_begin(&txn, ec_cache_store(c), EC_TXN_READ, NULL);
    size_t n;
    const ec_manager *const *managers = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        const char *name = managers[i]->name;
        json_t *specs = json_object_get(pk, name);
        if (json_array_size(specs) > 0)
            json_object_set_new(out, name, manager_state(txn, id, name, specs, job));
    }
    return out;
}

/* --- handlers --- */

void ec_api_cache_get(ec_req *rq, const char *id)
{
    ec_cache *c = rq->srv->c;
    EC_AUTO(json_t) env = NULL;
    EC_AUTO(json_t) stack = NULL;
    json_t *job = NULL;
    ec_err err = {0};
    if (ec_env_get(&env, c, rq->ws, id, &err) < 0 || ec_env_stack(&stack, c, rq->ws, id, &err) < 0)
        return ec_reply_err(rq, &err);
    if (ec_warm_queue_status(&job, rq->srv->wq, id, NULL) < 0)
        job = json_null();
    json_t *managers_out = managers_of(c, env, id, job); /* before api_job: reads raw states */
    const char *st = api_state(json_string_value(json_object_get(job, "state")));
    json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:O, s:o}", "type", "environment_cache",
                            "environment_id", id, "state", st, "managers", managers_out,
                            "stack", stack, "warm_up", api_job(job));
    ec_reply_json(rq, 200, out);
}

void ec_api_cache_warm(ec_req *rq, const char *id)
{
    EC_AUTO(json_t) env = NULL;
    ec_err err = {0};
    if (ec_env_get(&env, rq->srv->c, rq->ws, id, &err) < 0)
        return ec_reply_err(rq, &err);
    if (!json_is_null(json_object_get(env, "archived_at"))) {
        ec_cache__env_archived(&err, id, "it is read-only and no session may use it");
        return ec_reply_err(rq, &err);
    }
    const char *refresh = ec_req_query(rq, "refresh");
    if (refresh && strcmp(refresh, "true") != 0 && strcmp(refresh, "false") != 0)
        return ec_reply_fail(rq, 400, "refresh: must be true or false, got \"%s\"", refresh);
    ec_warm_req wr = {.ws = rq->ws, .env_id = id, .refresh = refresh && !strcmp(refresh, "true")};
    json_t *job = NULL;
    if (ec_warm_queue_submit(&job, rq->srv->wq, &wr, &err) < 0)
        return ec_reply_fail(rq, 503, "%s", err.msg);
    ec_reply_json(rq, 200, api_job(job));
}

void ec_api_healthz(ec_req *rq)
{
    ec_reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}

void ec_api_metrics(ec_req *rq)
{
    uint64_t size = 0;
    ec_buf b = EC_BUF_INIT;
    ec_err err = {0};
    /* The store's size is read at scrape time from the index (sizes, not a disk walk). */
    if (ec_store_size(&size, ec_cache_store(rq->srv->c), NULL) == EC_OK)
        ec_metric_set(ec_metrics_get(EC_M_STORE_BYTES, NULL, EC_METRIC_GAUGE), size);
    /* Everything this process fetched upstream (warm-ups and mirror misses) goes through
     * the one shared client, whose counters are the truth. */
    ec_http *http = NULL;
    if (ec_cache__http(&http, rq->srv->c, NULL) == EC_OK) {
        ec_http_stats hs;
        ec_http_stats_get(http, &hs);
        ec_metric_set(ec_metrics_get(EC_M_BYTES_UPSTREAM, NULL, EC_METRIC_COUNTER), hs.bytes);
        ec_metric_set(ec_metrics_get(EC_M_UPSTREAM_REQUESTS, NULL, EC_METRIC_COUNTER),
                      hs.requests);
    }
    b.max = 16u << 20;
    if (ec_metrics_render(&b, &err) < 0) {
        ec_buf_fini(&b);
        return ec_reply_err(rq, &err);
    }
    ec_reply_text(rq, 200, "text/plain; version=0.0.4; charset=utf-8", ec_buf_str(&b), b.n);
    ec_buf_fini(&b);
}
