/* SPDX-License-Identifier: MIT */
/* The built tree as flat nodes sorted by path, and as the lock's "packages" array. */
#include "fetchers/npm/tree_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

static char *dup_or_null(const char *s)
{
    return s ? ec_xstrdup(s) : NULL;
}

static ec_npm_kvs dup_kvs(const ec_npm_kvs *m)
{
    ec_npm_kvs o = {ec_xcalloc(m->n + 1, sizeof(*o.v)), m->n};
    for (size_t i = 0; i < m->n; i++)
        o.v[i] = (ec_npm_kv){ec_xstrdup(m->v[i].key), ec_xstrdup(m->v[i].value)};
    return o;
}

static ec_npm_strs dup_strs(const ec_npm_strs *l)
{
    ec_npm_strs o = {ec_xcalloc(l->n + 1, sizeof(*o.v)), l->n};
    for (size_t i = 0; i < l->n; i++)
        o.v[i] = ec_xstrdup(l->v[i]);
    return o;
}

static void node_fill(ec_npm_node *o, const tnode *n)
{
    const ec_npm_manifest *m = n->m;
    o->path = npm_tree_path(n);
    o->name = ec_xstrdup(n->name);
    o->package = ec_xstrdup(n->pkg);
    o->version = ec_xstrdup(m->version);
    o->tarball = dup_or_null(m->tarball);
    o->integrity = dup_or_null(m->integrity);
    o->shasum = dup_or_null(m->shasum);
    o->has_install_script = m->has_install_script;
    o->optional = n->optional;
    o->peer = n->peer;
    o->bin = dup_kvs(&m->bin);
    o->os = dup_strs(&m->os);
    o->cpu = dup_strs(&m->cpu);
}

/* A bundled dependency: only its place is known until the parent is unpacked. */
static void bundled_fill(ec_npm_node *o, const tnode *parent, const char *name)
{
    char *up = npm_tree_path(parent);
    o->path = ec_xasprintf("%s/node_modules/%s", up, name);
    free(up);
    o->name = ec_xstrdup(name);
    o->package = ec_xstrdup(name);
    o->version = ec_xstrdup("");
    o->bundled = true;
    o->optional = parent->optional;
    o->peer = parent->peer;
    o->bin = (ec_npm_kvs){ec_xcalloc(1, sizeof(ec_npm_kv)), 0};
    o->os = o->cpu = (ec_npm_strs){NULL, 0};
    o->os.v = ec_xcalloc(1, sizeof(char *));
    o->cpu.v = ec_xcalloc(1, sizeof(char *));
}

static size_t bundled_names(const tnode *n, const char **out)
{
    size_t k = 0;
    const ec_npm_manifest *m = n->m;
    if (m->bundle_all) {
        for (size_t i = 0; i < n->nedges; i++)
            if (n->edges[i].type == TE_PROD || n->edges[i].type == TE_OPTIONAL)
                out[k++] = n->edges[i].name;
        return k;
    }
    for (size_t i = 0; i < m->bundled.n; i++)
        out[k++] = m->bundled.v[i];
    return k;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(((const ec_npm_node *)a)->path, ((const ec_npm_node *)b)->path);
}

int npm_tree_output(ec_npm_tree **out, tbuild *b)
{
    ec_npm_tree *t = ec_xcalloc(1, sizeof(*t));
    size_t cap = 0;
    for (size_t i = 0; i < b->nall; i++)
        if (b->all[i]->m)
            cap += 1 + b->all[i]->m->bundled.n + b->all[i]->nedges;
    t->nodes = ec_xcalloc(cap + 1, sizeof(*t->nodes));
    for (size_t i = 0; i < b->nall; i++) {
        const tnode *n = b->all[i];
        if (n->is_root || n->gone || n->inert)
            continue;
        node_fill(&t->nodes[t->n++], n);
        const char **names = ec_xcalloc(n->m->bundled.n + n->nedges + 1, sizeof(*names));
        size_t nb = bundled_names(n, names);
        for (size_t k = 0; k < nb; k++)
            bundled_fill(&t->nodes[t->n++], n, names[k]);
        free(names);
    }
    if (t->n)
        qsort(t->nodes, t->n, sizeof(*t->nodes), node_cmp);
    t->notes = json_incref(b->notes);
    *out = t;
    return EC_OK;
}

void ec_npm_tree_free(ec_npm_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        ec_npm_node *n = &t->nodes[i];
        free(n->path);
        free(n->name);
        free(n->package);
        free(n->version);
        free(n->tarball);
        free(n->integrity);
        free(n->shasum);
        for (size_t k = 0; k < n->bin.n; k++) {
            free((char *)n->bin.v[k].key);
            free((char *)n->bin.v[k].value);
        }
        free(n->bin.v);
        for (size_t k = 0; k < n->os.n; k++)
            free((char *)n->os.v[k]);
        for (size_t k = 0; k < n->cpu.n; k++)
            free((char *)n->cpu.v[k]);
        free(n->os.v);
        free(n->cpu.v);
    }
    free(t->nodes);
    json_decref(t->notes);
    free(t);
}

static json_t *strs_json(const ec_npm_strs *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static json_t *node_json(const ec_npm_node *n)
{
    json_t *o = json_object(), *bin = json_object();
    json_object_set_new(o, "path", json_string(n->path));
    json_object_set_new(o, "name", json_string(n->name));
    json_object_set_new(o, "version", json_string(n->version));
    json_object_set_new(o, "url", n->tarball ? json_string(n->tarball) : json_null());
    json_object_set_new(o, "integrity", n->integrity ? json_string(n->integrity) : json_null());
    json_object_set_new(o, "scripts", json_boolean(n->has_install_script));
    for (size_t i = 0; i < n->bin.n; i++)
        json_object_set_new(bin, n->bin.v[i].key, json_string(n->bin.v[i].value));
    json_object_set_new(o, "bin", bin);
    if (strcmp(n->package, n->name))
        json_object_set_new(o, "package", json_string(n->package));
    if (n->shasum)
        json_object_set_new(o, "shasum", json_string(n->shasum));
    if (n->optional)
        json_object_set_new(o, "optional", json_true());
    if (n->peer)
        json_object_set_new(o, "peer", json_true());
    if (n->bundled)
        json_object_set_new(o, "bundled", json_true());
    if (n->os.n)
        json_object_set_new(o, "os", strs_json(&n->os));
    if (n->cpu.n)
        json_object_set_new(o, "cpu", strs_json(&n->cpu));
    return o;
}

json_t *ec_npm_tree_lock_packages(const ec_npm_tree *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(a, node_json(&t->nodes[i]));
    return a;
}
