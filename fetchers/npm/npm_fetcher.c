/* SPDX-License-Identifier: MIT */
/* The npm fetcher: its table, and resolve, which feeds the arborist tree builder from the
 * metadata cache one breadth-first level at a time, each level fetched in parallel. */
#include "fetchers/npm/npm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/npm/tree.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

/* Packuments parsed during one resolve, by name (open addressing, grown at half full). */
typedef struct pk_map {
    char **names;
    ec_npm_packument **docs;
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
    while (m->names[i] && strcmp(m->names[i], name) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static ec_npm_packument *pk_find(const pk_map *m, const char *name)
{
    return m->cap ? m->docs[pk_slot(m, name)] : NULL;
}

static void pk_put(pk_map *m, const char *name, ec_npm_packument *doc);

static void pk_grow(pk_map *m)
{
    pk_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 256;
    m->n = 0;
    m->names = ec_xcalloc(m->cap, sizeof *m->names);
    m->docs = ec_xcalloc(m->cap, sizeof *m->docs);
    for (size_t i = 0; i < old.cap; i++)
        if (old.names[i]) {
            pk_put(m, old.names[i], old.docs[i]);
            free(old.names[i]);
        }
    free(old.names);
    free(old.docs);
}

static void pk_put(pk_map *m, const char *name, ec_npm_packument *doc)
{
    if (2 * (m->n + 1) > m->cap)
        pk_grow(m);
    size_t i = pk_slot(m, name);
    if (m->names[i]) {
        ec_npm_packument_free(m->docs[i]);
    } else {
        m->names[i] = ec_xstrdup(name);
        m->n++;
    }
    m->docs[i] = doc;
}

static void pk_free(pk_map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->names[i]);
        ec_npm_packument_free(m->docs[i]);
    }
    free(m->names);
    free(m->docs);
}

/* --- the registry the tree builder sees --- */

typedef struct reg_state {
    ec_fetch_ctx *ctx;
    pk_map docs;
    uint64_t fetched;
} reg_state;

static int on_doc(const char *name, const char *body, size_t len, void *ud, ec_err *err)
{
    reg_state *s = ud;
    ec_npm_packument *p = NULL;
    int r = ec_npm_packument_parse(&p, name, body, len, err);
    if (r < 0)
        return r;
    pk_put(&s->docs, name, p);
    if (s->ctx->progress) {
        ec_progress_event ev = {.manager = "npm", .phase = EC_PHASE_RESOLVING,
                                .done = ++s->fetched, .total = 0, .item = name};
        s->ctx->progress(&ev, s->ctx->progress_ud);
    }
    return EC_OK;
}

static int reg_prefetch(void *ud, const char *const *names, size_t n, ec_err *err)
{
    reg_state *s = ud;
    const char **want = ec_xcalloc(n ? n : 1, sizeof *want);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = pk_find(&s->docs, names[i]) != NULL;
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
    if (!pk_find(&s->docs, name)) {
        int r = reg_prefetch(ud, &name, 1, err);
        if (r < 0)
            return r;
    }
    *out = pk_find(&s->docs, name);
    return *out ? EC_OK : ec_fail(err, EC_ENOTFOUND, "npm package %s was not found", name);
}

/* --- the operations --- */

static int npm_resolve(ec_fetch_ctx *ctx, const char *const *specs, size_t nspecs,
                       json_t **lock_out, ec_err *err)
{
    reg_state s = {.ctx = ctx};
    ec_npm_registry reg = {.get = reg_get, .prefetch = reg_prefetch, .ud = &s};
    ec_npm_pick_opts po = {.plat = EC_NPM_PLATFORM_DEFAULT};
    po.plat.node_version = json_string_value(json_object_get(ctx->config, "node_version"));
    EC_AUTO(ec_npm_tree) tree = NULL;
    int r = ec_npm_tree_build(&tree, &reg, specs, nspecs, &po, err);
    if (r == EC_OK) {
        json_t *list = json_array();
        for (size_t i = 0; i < nspecs; i++)
            json_array_append_new(list, json_string(specs[i]));
        *lock_out = json_pack("{s:s, s:i, s:o, s:o}", "manager", "npm", "version", 1, "specs",
                              list, "packages", ec_npm_tree_lock_packages(tree));
        if (json_array_size(tree->notes))
            json_object_set(*lock_out, "notes", tree->notes);
    }
    pk_free(&s.docs);
    return r;
}

static const ec_fetcher npm_fetcher = {
    .name = "npm",
    .builder_version = 1,
    .runs_code = false, /* install scripts are build steps; until they run, none runs */
    .parse = ec_npm_spec_parse,
    .resolve = npm_resolve,
    .fetch = ec_npm_fetch,
    .install = ec_npm_install,
    .serve = ec_npm_serve,
};

const ec_fetcher *ec_npm_fetcher(void)
{
    return &npm_fetcher;
}
