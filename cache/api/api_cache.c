/* SPDX-License-Identifier: MIT */
/* envcache's own endpoints: an environment's cache state and warm-up, /healthz, /metrics. */
#include "cache/cache_int.h"
#include "cache/metrics.h"
#include "cache/api/server_int.h"
#include "store/util/mem.h"

#include <string.h>

/* A manager's state follows its own WARM record ("<id>/<mgr>", written by the warm-up)
 * when there is one, else the environment's job. */
static json_t *manager_state(ec_txn *txn, const char *id, const char *mgr, const json_t *specs,
                             const char *job_state)
{
    static const struct {
        const char *job, *mgr;
    } map[] = {{"queued", "pending"}, {"running", "building"}, {"ready", "ready"},
               {"failed", "failed"}};
    const char *st = "pending";
    for (size_t i = 0; job_state && i < EC_ARRAY_LEN(map); i++)
        if (strcmp(job_state, map[i].job) == 0)
            st = map[i].mgr;
    json_t *m = json_pack("{s:s, s:O}", "state", st, "packages", specs);
    EC_AUTOFREE char *key = ec_xasprintf("%s/%s", id, mgr);
    json_t *rec = NULL;
    if (txn && ec_cache__json_get(&rec, txn, EC_TBL_WARM, key, NULL) == EC_OK) {
        json_object_update(m, rec); /* lock, layer, sizes, timings, failure: as recorded */
        json_decref(rec);
    }
    return m;
}

static json_t *managers_of(ec_cache *c, const json_t *env, const char *id, const char *job_state)
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
            json_object_set_new(out, name, manager_state(txn, id, name, specs, job_state));
    }
    return out;
}

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
    const char *st = json_string_value(json_object_get(job, "state"));
    json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:O, s:o}", "type", "environment_cache",
                            "environment_id", id, "state", st ? st : "pending", "managers",
                            managers_of(c, env, id, st), "stack", stack, "warm_up", job);
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
    ec_reply_json(rq, 200, job);
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
