/* SPDX-License-Identifier: MIT */
/* ec_warm_env: every manager of an environment through its fetcher, in stack order, then
 * the environment's stack recorded so sessions mount it. */
#include "cache/env/base.h"
#include "cache/metrics.h"
#include "cache/sandbox/sandbox.h"
#include "cache/warm/idx_warm.h"
#include "cache/warm/warm_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

static void mgr_fini(ec_warm_mgr *m)
{
    ec_warm__lowers_close(&m->lowers);
    free(m->probe);
    free(m->parsed);
    free(m->texts);
    json_decref(m->lock);
    json_decref(m->notes);
}

/* Manager state in the WARM table ("<env id>/<manager>"), read by `/cache`. */
static json_t *mgr_state(const ec_manager *mgr, const ec_warm_mgr *m, const char *state,
                         const ec_err *err)
{
    char lock[EC_DIGEST_STR_LEN], layer[EC_DIGEST_STR_LEN], now[32];
    ec_cache__rfc3339(now, ec_now());
    json_t *j = json_pack("{s:s, s:s, s:s}", "manager", mgr->name, "state", state,
                          "updated_at", now);
    if (strcmp(state, "ready") == 0) {
        /* which base the layer was built on: the default base may change later */
        json_object_set_new(j, "base", m->lowers.n ? json_string(ec_digest_format(
                                                         layer, &m->lowers.digests[0]))
                                                   : json_null());
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
    EC_AUTO(ec_txn) txn = NULL;
    if (ec_txn_begin(&txn, c->st, 0, NULL) == EC_OK &&
        ec_warm_state_put(txn, env_id, mgr, state, NULL) == EC_OK)
        ec_txn_commit(ec_steal(&txn), NULL);
    json_decref(state);
}

static int save_stack(ec_cache *c, const char *ws, const char *id, json_t *stack, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r == EC_OK)
        r = ec_cache__env_load(&rec, txn, ws, id, err);
    if (r == EC_OK) {
        json_object_set(rec, "stack", stack);
        r = ec_cache__env_save(txn, ws, id, rec, err);
    }
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

/* The stack starts with the base the environment chooses now (an explicit one, or the
 * store's default at this warm-up, not at create time); managers' layers follow. */
static bool needs_base(const json_t *packages)
{
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++)
        if ((m[i]->flags & EC_MANAGER_NEEDS_BASE) &&
            json_array_size(json_object_get(packages, m[i]->name)))
            return true;
    return false;
}

static int base_of(json_t **out, ec_cache *c, const char *ws, const char *id,
                   const json_t *packages, bool quiet, ec_err *err)
{
    ec_digest d;
    bool has = false;
    int r = ec_env_base(&d, &has, c, ws, id, err);
    ec_env_base_choice choice = {0};
    if (r == EC_OK && !has && needs_base(packages) &&
        (r = ec_env_base_choice_lookup(&choice, c, ws, id, err)) == EC_OK &&
        choice.mode == EC_ENV_BASE_DEFAULT) {
        /* The first need of a base in this store: the default is made now. Not allowed
         * to: the manager's own error says what it lacks. */
        r = ec_base_default_ensure(&d, c, quiet, err);
        has = r == EC_OK;
        if (r == EC_ENOTFOUND) {
            ec_err_clear(err);
            r = EC_OK;
        }
    }
    if (r < 0)
        return r;
    *out = json_array();
    char s[EC_DIGEST_STR_LEN];
    if (has)
        json_array_append_new(*out, json_string(ec_digest_format(s, &d)));
    return EC_OK;
}

/* Each spec parsed once, by its manager: the resolution gets them typed. */
static int parse_specs(ec_warm_mgr *m, ec_err *err)
{
    m->nspecs = json_array_size(m->specs);
    m->parsed = ec_xcalloc(m->nspecs ? m->nspecs : 1, sizeof *m->parsed);
    m->texts = ec_xcalloc(m->nspecs ? m->nspecs : 1, sizeof *m->texts);
    for (size_t i = 0; i < m->nspecs; i++) {
        m->texts[i] = json_string_value(json_array_get(m->specs, i));
        int r = m->texts[i] ? m->mgr->parse(&m->parsed[i], m->texts[i], err)
                            : ec_fail(err, EC_EINVAL, "spec %zu is not a string", i + 1);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int mgr_init(ec_warm_mgr *m, ec_cache *c, const ec_manager *mgr, json_t *specs,
                    const ec_warm_opts *o, ec_err *err)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->mgr = mgr;
    m->specs = specs;
    if (!ec_manager_installs(mgr))
        return ec_fail(err, EC_EUNSUPPORTED, "%s packages cannot be installed yet: this "
                       "envcache has no %s fetcher", mgr->name, mgr->name);
    int r = parse_specs(m, err);
    if (r == EC_OK)
        r = ec_cache__fetch_ctx(&m->ctx, c, mgr, err);
    m->ctx.progress = o->progress;
    m->ctx.progress_ud = o->progress_ud;
    return r;
}

/* What the layers beneath are, as the manager asks (its interpreter, its toolchain). */
static int mgr_probe(ec_warm_mgr *m, ec_err *err)
{
    int r = ec_sandbox_probe(&m->probe, m->c, m->lowers.digests, m->lowers.n, m->mgr->probe,
                             err);
    if (r == EC_EBUILD)
        ec_err_prefix(err, "%s needs %s beneath its layer", m->mgr->name,
                      m->mgr->base_needs ? m->mgr->base_needs : "a toolchain");
    return r;
}

/* A resolver that asks the real client (ec_fetch_ctx.sandbox_query): once, over the
 * layers beneath, reaching the mirror. */
#define QUERY_MAX_OUT (32u << 20)
#define QUERY_TIMEOUT_MS (30 * 60 * 1000)

static int mgr_query(void *ud, char **out, const char *const *argv, const char *const *env,
                     ec_err *err)
{
    ec_warm_mgr *m = ud;
    uint16_t port = 0;
    int r = ec_cache__mirror_port(&port, m->c, err);
    const ec_sandbox_query_opts o = {.argv = argv, .env = env, .mirror_port = port,
                                     .max_out = QUERY_MAX_OUT,
                                     .timeout_ms = QUERY_TIMEOUT_MS};
    return r == EC_OK ? ec_sandbox_query(out, m->c, m->lowers.digests, m->lowers.n, &o, err)
                      : r;
}

/* The layers beneath, as the manager needs them: a manager that reads or installs onto
 * them gets one merged tree; the others the base alone (where scripts would run). */
static int mgr_lowers(ec_warm_mgr *m, const json_t *stack, ec_err *err)
{
    unsigned f = m->mgr->flags;
    bool merged = f & (EC_MANAGER_RESOLVES_ON_LOWERS | EC_MANAGER_NEEDS_BASE);
    m->lower_stack = stack;
    int r = ec_warm__lowers_open(&m->lowers, m->c->st, stack, merged, err);
    if (r == EC_OK)
        m->ctx.lowers_root = m->lowers.root;
    if (r == EC_OK && m->lowers.n) {
        m->ctx.sandbox_query = mgr_query;
        m->ctx.sandbox_ud = m;
    }
    if (r == EC_OK && (f & EC_MANAGER_NEEDS_BASE) && !m->lowers.root)
        r = ec_fail(err, EC_EINVAL, "%s packages need a base (%s) to install on: give the "
                    "environment one, or set the store's default base", m->mgr->name,
                    m->mgr->base_needs ? m->mgr->base_needs : "a root file system");
    if (r == EC_OK && m->mgr->probe && m->lowers.n)
        r = mgr_probe(m, err);
    return r;
}

static json_t *mgr_summary(const ec_warm_mgr *m)
{
    char lock[EC_DIGEST_STR_LEN], layer[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I}", "state", "ready", "lock",
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

/* One warm-up of one environment: the stack so far and what each manager came to. */
typedef struct warm_run {
    ec_cache *c;
    const ec_warm_opts *o;
    const char *id;
    json_t *stack;    /* the base, then each manager's layer */
    json_t *managers; /* name -> summary, or {"state":"failed","error":{…}} */
    json_t *failed;   /* names of the managers that failed, in order */
    ec_err first;     /* the first failure's error, for the return */
} warm_run;

static void run_failed(warm_run *w, const ec_manager *mgr, const ec_err *e)
{
    json_object_set_new(w->managers, mgr->name,
                        json_pack("{s:s, s:{s:s, s:s}}", "state", "failed", "error", "type",
                                  ec_code_name(e->code), "message", e->msg));
    json_array_append_new(w->failed, json_string(mgr->name));
    if (!w->first.code)
        w->first = *e;
}

/* A manager whose layer depends on the ones beneath is not built on a stack that lacks
 * a failed one: its layer would be keyed on (and resolved against) the wrong lowers. */
static bool blocked_by_failure(const warm_run *w, const ec_manager *mgr, ec_err *err)
{
    if (!json_array_size(w->failed) ||
        !(mgr->flags & (EC_MANAGER_RESOLVES_ON_LOWERS | EC_MANAGER_RUNS_CODE)))
        return false;
    ec_fail(err, EC_EBUILD, "%s was not built: it builds on the layers beneath, and %s "
            "failed", mgr->name, json_string_value(json_array_get(w->failed, 0)));
    return true;
}

/* The result of a lock-only manager: its lock, in full, and no layer. */
static json_t *lock_summary(const ec_warm_mgr *m)
{
    char lock[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:b, s:I, s:O}", "state", "locked", "lock",
                     ec_digest_format(lock, &m->lock_digest), "resolved", m->resolved,
                     "packages",
                     (json_int_t)json_array_size(json_object_get(m->lock, "packages")),
                     "lock_json", m->lock);
}

/* With @lock_only, the manager stops at its lock and leaves its recorded state alone:
 * no layer was made, so the environment's records must not change. */
static void warm_one(warm_run *w, const ec_manager *mgr, json_t *specs, bool lock_only)
{
    ec_warm_mgr m;
    ec_err err = {0};
    int r = blocked_by_failure(w, mgr, &err) ? EC_EBUILD : EC_OK;
    if (r == EC_OK)
        r = mgr_init(&m, w->c, mgr, specs, w->o, &err);
    else
        memset(&m, 0, sizeof m);
    m.lock_only = lock_only;
    if (r == EC_OK)
        r = mgr_lowers(&m, w->stack, &err);
    if (!lock_only)
        save_state(w->c, w->id, mgr->name, mgr_state(mgr, &m, "building", NULL));
    if (r == EC_OK)
        r = ec_warm__manager(&m, w->o->refresh, &err);
    if (r < 0 && strncmp(err.msg, mgr->name, strlen(mgr->name)) != 0)
        ec_err_prefix(&err, "%s", mgr->name); /* every failure names its manager */
    if (lock_only && r == EC_OK) {
        json_object_set_new(w->managers, mgr->name, lock_summary(&m));
        mgr_fini(&m);
        return;
    }
    if (!lock_only)
        save_state(w->c, w->id, mgr->name,
                   mgr_state(mgr, &m, r == EC_OK ? "ready" : "failed", &err));
    count_build(&m, mgr->name, r);
    if (r == EC_OK) {
        char s[EC_DIGEST_STR_LEN];
        json_array_append_new(w->stack, json_string(ec_digest_format(s, &m.layer.digest)));
        json_object_set_new(w->managers, mgr->name, mgr_summary(&m));
    } else
        run_failed(w, mgr, &err);
    mgr_fini(&m);
}

/* Every manager with packages, in stack order; a failure does not stop the others. */
static int warm_all(warm_run *w, const json_t *packages, ec_err *err)
{
    size_t n, top = 0;
    const ec_manager *const *mgrs = ec_managers(&n);
    for (size_t i = 0; i < n; i++)
        if (json_array_size(json_object_get(packages, mgrs[i]->name)))
            top = i;
    for (size_t i = 0; i < n; i++) {
        json_t *specs = json_object_get(packages, mgrs[i]->name);
        if (w->o->cancel && *w->o->cancel)
            return ec_fail(err, EC_EBUSY, "the warm-up of %s was cancelled", w->id);
        if (json_array_size(specs))
            warm_one(w, mgrs[i], specs, w->o->lock_only && i == top);
    }
    size_t nf = json_array_size(w->failed);
    if (nf == 0)
        return EC_OK;
    if (nf == 1) {
        *err = w->first;
        return err->code;
    }
    return ec_fail(err, w->first.code, "%zu package managers failed; the first: %s", nf,
                   w->first.msg);
}

static json_t *run_result(const warm_run *w, const json_t *base, int64_t upstream_requests)
{
    return json_pack("{s:s, s:O, s:O, s:O, s:O, s:I}", "env", w->id, "base", base, "stack",
                     w->stack, "managers", w->managers, "failed", w->failed,
                     "upstream_requests", (json_int_t)upstream_requests);
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
    warm_run w = {.c = c, .o = o, .id = id, .managers = json_object(), .failed = json_array()};
    if ((r = base_of(&w.stack, c, ws, id, packages, false, err)) < 0) {
        json_decref(w.managers);
        json_decref(w.failed);
        return r;
    }
    ec_http_stats before = {0}, after = {0};
    ec_http *http = NULL;
    if (ec_cache__http(&http, c, NULL) == EC_OK)
        ec_http_stats_get(http, &before);
    EC_AUTO(json_t) base = json_array_size(w.stack) ? json_incref(json_array_get(w.stack, 0))
                                                    : json_null();
    r = warm_all(&w, packages, err);
    if (r == EC_OK && !o->lock_only) /* a failed warm-up keeps the stack that last worked */
        r = save_stack(c, ws, id, w.stack, err);
    if (http)
        ec_http_stats_get(http, &after);
    if (out && r != EC_EBUSY) /* requests of this process while we ran: tests count them */
        *out = run_result(&w, base, (int64_t)(after.requests - before.requests));
    json_decref(w.stack);
    json_decref(w.managers);
    json_decref(w.failed);
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
    const char *lock = NULL;
    if (ec_warm_state_get(&state, txn, id, manager, NULL) == EC_OK)
        lock = json_string_value(json_object_get(state, "lock"));
    if (!lock)
        return ec_fail(err, EC_ENOTFOUND, "environment %s has no %s lock yet: run `envcache "
                       "warm %s` first", env, manager, env);
    r = ec_cache__lock_get(out, txn, lock, err);
    return r == EC_ENOTFOUND ? ec_fail(err, r, "lock %s of %s is missing from the index",
                                       lock, env)
                             : r;
}
