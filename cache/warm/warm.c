/* SPDX-License-Identifier: MIT */
/* ec_warm_env: every manager of an environment through its fetcher, in stack order, then
 * the environment's stack recorded so sessions mount it. */
#include "cache/metrics.h"
#include "cache/warm/warm_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

static void mgr_fini(ec_warm_mgr *m)
{
    free((char *)m->ctx.base_root);
    json_decref(m->lock);
    json_decref(m->notes);
}

/* Manager state in the WARM table ("<env id>/<manager>"), read by `/cache`. */
static json_t *mgr_state(const ec_warm_mgr *m, const char *state, const ec_err *err)
{
    char lock[EC_DIGEST_STR_LEN], layer[EC_DIGEST_STR_LEN], now[32];
    ec_cache__rfc3339(now, ec_now());
    json_t *j = json_pack("{s:s, s:s, s:s}", "manager", m->f ? m->f->name : "?", "state",
                          state, "updated_at", now);
    if (strcmp(state, "ready") == 0) {
        json_object_set_new(j, "lock", json_string(ec_digest_format(lock, &m->lock_digest)));
        json_object_set_new(j, "layer", json_string(ec_digest_format(layer,
                                                                     &m->layer.digest)));
        json_object_set_new(j, "size", json_integer((json_int_t)m->layer.size));
        json_object_set_new(j, "packages",
                            json_integer((json_int_t)json_array_size(
                                json_object_get(m->lock, "packages"))));
        json_object_set_new(j, "reused", json_boolean(m->reused));
        json_object_set_new(j, "build_ms", json_integer(m->build_us / 1000));
        if (m->notes)
            json_object_set(j, "notes", m->notes);
    }
    if (err && err->code)
        json_object_set_new(j, "error", json_pack("{s:s, s:s}", "type",
                                                  ec_code_name(err->code), "message",
                                                  err->msg));
    return j;
}

static void save_state(ec_cache *c, const char *env_id, const char *mgr, json_t *state)
{
    EC_AUTOFREE char *key = ec_xasprintf("%s/%s", env_id, mgr);
    EC_AUTO(ec_txn) txn = NULL;
    if (ec_txn_begin(&txn, c->st, 0, NULL) == EC_OK &&
        ec_cache__json_put(txn, EC_TBL_WARM, key, state, 0, NULL) == EC_OK)
        ec_txn_commit(ec_steal(&txn), NULL);
    json_decref(state);
}

static int save_stack(ec_cache *c, const char *ws, const char *id, json_t *stack, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    EC_AUTOFREE char *key = ec_cache__wskey(ws, id);
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r == EC_OK)
        r = ec_cache__env_load(&rec, txn, ws, id, err);
    if (r == EC_OK) {
        json_object_set(rec, "stack", stack);
        r = ec_cache__json_put(txn, EC_TBL_ENVS, key, rec, 0, err);
    }
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

/* The base layers the stack starts with (set at create); managers' layers follow. */
static int base_of(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err)
{
    EC_AUTO(json_t) old = NULL;
    int r = ec_env_stack(&old, c, ws, id, err);
    if (r < 0)
        return r;
    *out = json_array();
    EC_AUTO(ec_txn) txn = NULL;
    if ((r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err)) < 0)
        return r;
    for (size_t i = 0; i < json_array_size(old); i++) {
        ec_digest d;
        ec_layer_info l;
        json_t *s = json_array_get(old, i);
        if (ec_digest_parse(&d, json_string_value(s), NULL) < 0 ||
            ec_layer_lookup(&l, txn, &d, NULL) < 0 || !(l.flags & EC_LAYER_BASE))
            break;
        json_array_append(*out, s);
    }
    return EC_OK;
}

/* The unpacked base the fetchers read (dpkg status, sources), when the stack has one. */
static int base_root(const char **out, ec_cache *c, const json_t *stack, ec_err *err)
{
    ec_digest d;
    ec_layer_info l;
    EC_AUTO(ec_txn) txn = NULL;
    *out = NULL;
    if (!json_array_size(stack) ||
        ec_digest_parse(&d, json_string_value(json_array_get(stack, 0)), NULL) < 0)
        return EC_OK;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_layer_lookup(&l, txn, &d, err);
    ec_txn_abort(ec_steal(&txn));
    if (r < 0 || !(l.flags & EC_LAYER_BASE))
        return r < 0 ? r : EC_OK;
    char *dir = NULL;
    r = ec_layer_ensure_unpacked(&dir, c->st, &l, err);
    *out = dir;
    return r;
}

static int mgr_init(ec_warm_mgr *m, ec_cache *c, const char *mgr, json_t *specs,
                    const ec_warm_opts *o, ec_err *err)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->specs = specs;
    m->f = ec_fetcher_find(mgr);
    if (!m->f)
        return ec_fail(err, EC_EUNSUPPORTED, "%s packages cannot be installed yet: this "
                       "envcache has no %s fetcher", mgr, mgr);
    int r = ec_cache__fetch_ctx(&m->ctx, c, mgr, err);
    m->ctx.progress = o->progress;
    m->ctx.progress_ud = o->progress_ud;
    return r;
}

static json_t *mgr_summary(const ec_warm_mgr *m)
{
    char lock[EC_DIGEST_STR_LEN], layer[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:b, s:b, s:I, s:I}", "lock",
                     ec_digest_format(lock, &m->lock_digest), "layer",
                     ec_digest_format(layer, &m->layer.digest), "reused", m->reused,
                     "resolved", m->resolved, "packages",
                     (json_int_t)json_array_size(json_object_get(m->lock, "packages")),
                     "size", (json_int_t)m->layer.size);
}

/* Layer builds and their durations for /metrics. */
static void count_build(const ec_warm_mgr *m, const char *mgr, int r)
{
    char labels[96];
    snprintf(labels, sizeof labels, "manager=\"%s\",result=\"%s\"", mgr,
             r < 0 ? "failed" : m->reused ? "reused" : "built");
    ec_metrics_inc(EC_M_LAYER_BUILDS, labels, 1);
    if (r == EC_OK && !m->reused) {
        snprintf(labels, sizeof labels, "manager=\"%s\"", mgr);
        ec_metrics_observe(EC_M_LAYER_BUILD_SECONDS, labels, (double)m->build_us / 1e6);
    }
}

static int warm_one(ec_cache *c, const char *id, const char *mgr, json_t *specs,
                    const ec_warm_opts *o, json_t *stack, json_t *managers, ec_err *err)
{
    ec_warm_mgr m;
    int r = mgr_init(&m, c, mgr, specs, o, err);
    if (r == EC_OK)
        r = base_root(&m.ctx.base_root, c, stack, err);
    if (r == EC_OK && m.f->runs_code && !m.ctx.base_root) /* dpkg and its scripts need one */
        r = ec_fail(err, EC_EINVAL, "%s packages need a base (a Debian root file system) "
                    "to install on: give the environment one with `envcache env create "
                    "--base DIGEST` or set `envcache base default DIGEST` (see `envcache "
                    "base bootstrap`)", mgr);
    save_state(c, id, mgr, mgr_state(&m, "building", NULL));
    if (r == EC_OK)
        r = ec_warm__manager(&m, stack, o->refresh, err);
    save_state(c, id, mgr, mgr_state(&m, r == EC_OK ? "ready" : "failed", err));
    count_build(&m, mgr, r);
    if (r == EC_OK) {
        char s[EC_DIGEST_STR_LEN];
        json_array_append_new(stack, json_string(ec_digest_format(s, &m.layer.digest)));
        json_object_set_new(managers, mgr, mgr_summary(&m));
    } else
        ec_err_prefix(err, "%s", mgr);
    mgr_fini(&m);
    return r;
}

int ec_warm_env(json_t **out, ec_cache *c, const ec_warm_opts *o, ec_err *err)
{
    const char *ws = o->ws ? o->ws : EC_DEFAULT_WORKSPACE;
    EC_AUTOFREE char *id = NULL;
    EC_AUTO(json_t) env = NULL;
    int r = ec_env_resolve_id(&id, c, ws, o->env, err);
    if (r == EC_OK)
        r = ec_env_get(&env, c, ws, id, err);
    if (r < 0)
        return r;
    if (!json_is_null(json_object_get(env, "archived_at")))
        return ec_cache__env_archived(err, id, "it cannot be warmed");
    json_t *packages = json_object_get(json_object_get(env, "config"), "packages");
    EC_AUTO(json_t) stack = NULL;
    if ((r = base_of(&stack, c, ws, id, err)) < 0)
        return r;
    EC_AUTO(json_t) managers = json_object();
    ec_http_stats before = {0}, after = {0};
    ec_http *http = NULL;
    if (ec_cache__http(&http, c, NULL) == EC_OK)
        ec_http_stats_get(http, &before);
    for (size_t i = 0; r == EC_OK && i < EC_SPEC_MANAGER_COUNT; i++) {
        const char *mgr = ec_spec_managers[i];
        json_t *specs = json_object_get(packages, mgr);
        if (o->cancel && *o->cancel)
            return ec_fail(err, EC_EBUSY, "the warm-up of %s was cancelled", id);
        if (json_array_size(specs))
            r = warm_one(c, id, mgr, specs, o, stack, managers, err);
    }
    if (r == EC_OK)
        r = save_stack(c, ws, id, stack, err);
    if (http)
        ec_http_stats_get(http, &after);
    if (r == EC_OK && out) /* requests of this process while we ran: tests count them */
        *out = json_pack("{s:s, s:O, s:O, s:I}", "env", id, "stack", stack, "managers",
                         managers, "upstream_requests",
                         (json_int_t)(after.requests - before.requests));
    return r;
}

int ec_env_lock(json_t **out, ec_cache *c, const char *ws, const char *env,
                const char *manager, ec_err *err)
{
    ws = ws ? ws : EC_DEFAULT_WORKSPACE;
    EC_AUTOFREE char *id = NULL;
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) state = NULL;
    int r = ec_env_resolve_id(&id, c, ws, env, err);
    if (r == EC_OK)
        r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *skey = ec_xasprintf("%s/%s", id, manager);
    const char *lock = NULL;
    if (ec_cache__json_get(&state, txn, EC_TBL_WARM, skey, NULL) == EC_OK)
        lock = json_string_value(json_object_get(state, "lock"));
    if (!lock)
        return ec_fail(err, EC_ENOTFOUND, "environment %s has no %s lock yet: run `envcache "
                       "warm %s` first", env, manager, env);
    EC_AUTOFREE char *lkey = ec_xasprintf("lock/%s", lock);
    r = ec_cache__json_get(out, txn, EC_TBL_LOCKS, lkey, err);
    return r == EC_ENOTFOUND ? ec_fail(err, r, "lock %s of %s is missing from the index",
                                       lock, env)
                             : r;
}
