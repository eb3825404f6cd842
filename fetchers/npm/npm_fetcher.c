/* SPDX-License-Identifier: MIT */
/* The npm fetcher: its table, and resolve, which feeds the arborist tree builder from the
 * metadata cache one breadth-first level at a time, each level fetched in parallel. */
#include "fetchers/manager.h"
#include "fetchers/npm/npm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/npm/tree.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* What one resolve knows of a package: its parsed packument (once here) and every range
 * some likely-picked version asked of it. Open addressing, grown at half full. */
typedef struct pk_entry {
    char *name;
    ec_npm_packument *doc;
    char **ranges;
    size_t nranges;
    bool requested;
} pk_entry;

typedef struct pk_map {
    pk_entry *e;
    size_t cap, n;
} pk_map;

static size_t pk_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t pk_slot(const pk_map *m, const char *name)
{
    size_t i = pk_hash(name) & (m->cap - 1);
    while (m->e[i].name && strcmp(m->e[i].name, name) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static pk_entry *pk_find(const pk_map *m, const char *name)
{
    if (!m->cap)
        return NULL;
    pk_entry *e = &m->e[pk_slot(m, name)];
    return e->name ? e : NULL;
}

static pk_entry *pk_get(pk_map *m, const char *name)
{
    if (2 * (m->n + 1) > m->cap) {
        pk_map old = *m;
        m->cap = old.cap ? old.cap * 2 : 512;
        m->e = ec_xcalloc(m->cap, sizeof *m->e);
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].name)
                m->e[pk_slot(m, old.e[i].name)] = old.e[i];
        free(old.e);
    }
    pk_entry *e = &m->e[pk_slot(m, name)];
    if (!e->name) {
        e->name = ec_xstrdup(name);
        m->n++;
    }
    return e;
}

static void pk_free(pk_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->e[i].name);
        ec_npm_packument_free(m->e[i].doc);
        for (size_t k = 0; k < m->e[i].nranges; k++)
            free(m->e[i].ranges[k]);
        free(m->e[i].ranges);
    }
    free(m->e);
}

/* --- the registry the tree builder sees ---
 *
 * Walking the tree a level at a time costs one round trip per level, and peer sets add
 * more: 50 rounds for a 350-package tree. So while documents arrive, each one's likely
 * versions (the pick for every range asked of it so far) name their dependencies, which
 * are requested at once: the whole closure is in flight together, as pnpm does it. The
 * builder then finds nearly everything parsed; what it still misses it asks for. */

typedef struct reg_state {
    ec_fetch_ctx *ctx;
    pk_map map;
    ec_npm_pick_opts pick;
    ec_npm_meta_run *run; /* the speculative run while it lasts */
    ec_npm_parse_pool *pool; /* its parsers */
    uint64_t fetched, added;
} reg_state;

static void note_edge(reg_state *s, const char *name, const char *range);

/* "npm:real@range" aliases point at another package. */
static void note_spec(reg_state *s, const char *name, const char *spec)
{
    if (strncmp(spec, "npm:", 4) != 0) {
        note_edge(s, name, spec);
        return;
    }
    const char *real = spec + 4;
    const char *at = strchr(real + (real[0] == '@'), '@');
    EC_AUTOFREE char *n = at ? ec_xasprintf("%.*s", (int)(at - real), real) : ec_xstrdup(real);
    note_edge(s, n, at ? at + 1 : "");
}

static void expand(reg_state *s, pk_entry *e, const char *range)
{
    const ec_npm_manifest *m = NULL;
    if (ec_npm_pick(&m, e->doc, range, &s->pick, NULL) < 0)
        return; /* the builder reports it, with the dependent named */
    const ec_npm_kvs *lists[] = {&m->deps, &m->optional, &m->peer};
    for (size_t l = 0; l < EC_ARRAY_LEN(lists); l++)
        for (size_t i = 0; i < lists[l]->n; i++)
            note_spec(s, lists[l]->v[i].key, lists[l]->v[i].value);
}

static void note_edge(reg_state *s, const char *name, const char *range)
{
    if (!s->run || strchr(range, ':') || strchr(range, '/')) /* git, file, url: not ours */
        return;
    pk_entry *e = pk_get(&s->map, name);
    for (size_t i = 0; i < e->nranges; i++)
        if (strcmp(e->ranges[i], range) == 0)
            return;
    e->ranges = ec_xrealloc(e->ranges, (e->nranges + 1) * sizeof *e->ranges);
    e->ranges[e->nranges++] = ec_xstrdup(range);
    if (e->doc)
        expand(s, e, range);
    else if (!e->requested) {
        e->requested = true;
        ec_npm_meta_run_add(s->run, name);
    }
}

/* A parsed packument joins the map, and each range asked of it so far names more. */
static void accept_doc(reg_state *s, const char *name, ec_npm_packument *p)
{
    pk_entry *e = pk_get(&s->map, name);
    ec_npm_packument_free(e->doc);
    e->doc = p;
    e->requested = true;
    if (s->ctx->progress) {
        ec_progress_event ev = {.manager = "npm", .phase = EC_PHASE_RESOLVING,
                                .done = ++s->fetched, .total = 0, .item = name};
        s->ctx->progress(&ev, s->ctx->progress_ud);
    }
    /* ranges may grow while we walk them: index, never a saved pointer */
    for (size_t i = 0; s->run && i < pk_get(&s->map, name)->nranges; i++) {
        EC_AUTOFREE char *range = ec_xstrdup(pk_get(&s->map, name)->ranges[i]);
        expand(s, pk_get(&s->map, name), range);
    }
}

/* Speculative parses that failed are dropped: the builder asks again and reports. */
static void harvest(reg_state *s, bool wait)
{
    ec_npm_parse_result res;
    while (ec_npm_parse_pool_take(s->pool, wait, &res)) {
        if (res.rc == EC_OK)
            accept_doc(s, res.name, res.doc);
        free(res.name);
    }
}

static int on_doc(const char *name, const char *body, size_t len, void *ud, ec_err *err)
{
    reg_state *s = ud;
    if (s->pool) { /* speculating: parse off this thread, take what is done */
        ec_npm_parse_pool_put(s->pool, name, body, len);
        harvest(s, false);
        return EC_OK;
    }
    ec_npm_packument *p = NULL;
    int r = ec_npm_packument_parse(&p, name, body, len, err);
    if (r == EC_OK)
        accept_doc(s, name, p);
    return r;
}

/* Everything the specs are likely to need, fetched together. */
static int speculate(reg_state *s, const ec_spec *specs, size_t n, ec_err *err)
{
    ec_npm_meta_run_new(&s->run, s->ctx, EC_NPM_ABBREV, EC_NPM_META_TTL, on_doc, s);
    ec_npm_meta_run_tolerate(s->run);
    s->pool = ec_npm_parse_pool_new();
    for (size_t i = 0; i < n; i++)
        note_edge(s, specs[i].name, specs[i].constraint);
    int r = EC_OK;
    for (uint64_t before = UINT64_MAX; r == EC_OK && before != s->added;) {
        before = s->added;
        r = ec_npm_meta_run_go(s->run, err);
        harvest(s, true); /* the last parses may name more packages: go again */
    }
    ec_npm_parse_pool_free(ec_steal(&s->pool));
    ec_npm_meta_run_free(ec_steal(&s->run));
    return r == EC_EINTEGRITY || r == EC_ENOMEM ? r : EC_OK; /* the builder asks again */
}

static int reg_prefetch(void *ud, const char *const *names, size_t n, ec_err *err)
{
    reg_state *s = ud;
    const char **want = ec_xcalloc(n ? n : 1, sizeof *want);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pk_entry *e = pk_find(&s->map, names[i]);
        bool dup = e && e->doc;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(want[j], names[i]) == 0;
        if (!dup)
            want[k++] = names[i];
    }
    int r = k ? ec_npm_meta_fetch(s->ctx, EC_NPM_ABBREV, want, k, EC_NPM_META_TTL, on_doc, s,
                                  NULL, err)
              : EC_OK;
    free(want);
    return r;
}

static int reg_get(void *ud, const char *name, const ec_npm_packument **out, ec_err *err)
{
    reg_state *s = ud;
    pk_entry *e = pk_find(&s->map, name);
    if (!e || !e->doc) {
        int r = reg_prefetch(ud, &name, 1, err);
        if (r < 0)
            return r;
        e = pk_find(&s->map, name);
    }
    *out = e ? e->doc : NULL;
    return *out ? EC_OK : ec_fail(err, EC_ENOTFOUND, "npm package %s was not found", name);
}

/* --- the operations --- */

static int npm_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out,
                       ec_err *err)
{
    reg_state s = {.ctx = ctx, .pick = {.plat = EC_NPM_PLATFORM_DEFAULT}};
    const char *node = json_string_value(json_object_get(ctx->config, "node_version"));
    s.pick.plat.node_version = node && node[0] == 'v' ? node + 1 : node; /* "v20.11.0" */
    ec_npm_registry reg = {.get = reg_get, .prefetch = reg_prefetch, .ud = &s};
    EC_AUTO(ec_npm_tree) tree = NULL;
    int r = speculate(&s, req->specs, req->nspecs, err);
    if (r == EC_OK)
        r = ec_npm_tree_build(&tree, &reg, req->specs, req->nspecs, &s.pick, err);
    if (r == EC_OK) {
        json_t *list = json_array();
        for (size_t i = 0; i < req->nspecs; i++)
            json_array_append_new(list, json_string(req->texts[i]));
        *lock_out = json_pack("{s:s, s:i, s:o, s:o}", "manager", "npm", "version", 1, "specs",
                              list, "packages", ec_npm_tree_lock_packages(tree));
        if (json_array_size(tree->notes))
            json_object_set(*lock_out, "notes", tree->notes);
        size_t i;
        json_t *p;
        bool scripts = false;
        json_array_foreach(json_object_get(*lock_out, "packages"), i, p)
            scripts |= json_is_true(json_object_get(p, "scripts"));
        /* scripts run on the layers beneath: the layer key must name them */
        json_object_set_new(*lock_out, "runs_code", json_boolean(scripts));
    }
    pk_free(&s.map);
    return r;
}

static const ec_fetcher npm_ops = {
    .builder_version = 1,
    .serve_cache_only = true,
    .resolve = npm_resolve,
    .fetch = ec_npm_fetch,
    .install = ec_npm_install,
    .serve = ec_npm_serve,
};

static const ec_host_fact npm_facts[] = {
    /* npm checks engines against the node that runs it; the host's node runs these */
    {"node_version", "ENVCACHE_NODE_VERSION", "node", "node --version"},
    {NULL, NULL, NULL, NULL},
};

static void npm_render_note(ec_buf *out, const ec_note *n)
{
    if (n->kind == EC_NOTE_SCRIPTS_NOT_RUN)
        (void)ec_buf_addf(out, NULL, "%s@%s has install scripts; they were not run (the "
                          "prebuild sandbox will run them) — the lock marks it",
                          n->package ? n->package : "?", n->version ? n->version : "?");
    else
        (void)ec_buf_addf(out, NULL, "%s@%s: %s", n->package ? n->package : "",
                          n->version ? n->version : "", ec_note_kind_name(n->kind));
}

/* npm's download cache (_cacache, logs): a later install fetches again. */
static const char *const npm_noise[] = {"root/.npm", NULL};

/* A lock with install scripts says so itself ("runs_code"): the flag is not set here. */
/* npm's global configuration file (Debian's npm and the upstream builds under /usr both
 * read etc/npmrc of their prefix; the variable covers any other prefix). */
static const ec_session_file npm_session_files[] = {
    {"etc/npmrc", "registry=@MIRROR@/npm/\n"}, {"usr/etc/npmrc", "registry=@MIRROR@/npm/\n"},
    {"usr/local/etc/npmrc", "registry=@MIRROR@/npm/\n"}, {NULL, NULL}};
static const char *const npm_session_env[] = {"npm_config_registry=@MIRROR@/npm/", NULL};

const ec_manager ec_npm_manager = {
    .name = "npm",
    .spec_what = "npm spec",
    .parse = ec_npm_spec_parse,
    .ops = &npm_ops,
    .upstream = {.env = {"ENVCACHE_NPM_REGISTRY", "npm_config_registry",
                         "NPM_CONFIG_REGISTRY", NULL},
                 .from_client_config = ec_npm_registry_configured,
                 .client = "npm",
                 .client_query = "npm config get registry 2>/dev/null"},
    .facts = npm_facts,
    .render_note = npm_render_note,
    .noise = npm_noise,
    .session_files = npm_session_files,
    .session_env = npm_session_env,
};
