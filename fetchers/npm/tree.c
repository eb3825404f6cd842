/* SPDX-License-Identifier: MIT */
/* The breadth-first build of the npm install tree (arborist buildIdealTree). */
#include "fetchers/npm/tree_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

/* Deeper than this is a dependency loop arborist would have linked. */
#define TREE_MAX_DEPTH 200

/* --- nodes --- */

tnode *npm_tree_node_new(tbuild *b, const char *name, const char *pkg, const ec_npm_manifest *m)
{
    tnode *n = ec_xcalloc(1, sizeof(*n));
    n->name = name;
    n->pkg = pkg;
    n->m = m;
    if (m)
        npm_tree_edges_of(n, m, &n->edges, &n->nedges);
    if (b->nall == b->capall) {
        b->capall = b->capall ? 2 * b->capall : 64;
        b->all = ec_xrealloc(b->all, b->capall * sizeof(*b->all));
    }
    b->all[b->nall++] = n;
    return n;
}

void npm_tree_attach(tnode *parent, tnode *kid)
{
    if (parent->nkids == parent->capkids) {
        parent->capkids = parent->capkids ? 2 * parent->capkids : 4;
        parent->kids = ec_xrealloc(parent->kids, parent->capkids * sizeof(*parent->kids));
    }
    parent->kids[parent->nkids++] = kid;
    kid->parent = parent;
    kid->top = parent->is_root;
}

void npm_tree_detach(tnode *kid)
{
    tnode *p = kid->parent;
    for (size_t i = 0; p && i < p->nkids; i++) {
        if (p->kids[i] == kid) {
            p->kids[i] = p->kids[--p->nkids];
            break;
        }
    }
    kid->parent = NULL;
}

tnode *npm_tree_child(const tnode *n, const char *name)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (!strcmp(n->kids[i]->name, name))
            return n->kids[i];
    return NULL;
}

/* Node.resolve: own node_modules first, then each ancestor's. */
tnode *npm_tree_resolve(const tnode *from, const char *name)
{
    for (const tnode *n = from; n; n = n->parent) {
        tnode *k = npm_tree_child(n, name);
        if (k)
            return k;
    }
    return NULL;
}

bool npm_tree_is_descendant(const tnode *n, const tnode *of)
{
    for (; n; n = n->parent)
        if (n == of)
            return true;
    return false;
}

int npm_tree_depth(const tnode *n)
{
    int d = 0;
    for (; n && n->parent; n = n->parent)
        d++;
    return d;
}

char *npm_tree_path(const tnode *n)
{
    if (!n || n->is_root)
        return ec_xstrdup("");
    char *up = npm_tree_path(n->parent);
    char *p = ec_xasprintf("%s%snode_modules/%s", up, *up ? "/" : "", n->name);
    free(up);
    return p;
}

/* --- edges --- */

static void edge_set(tedge **v, size_t *n, const char *name, const char *spec, tedge_type t)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp((*v)[i].name, name)) { /* a later type overrides (Node #loadDeps) */
            (*v)[i] = (tedge){name, spec, t};
            return;
        }
    }
    (*v)[(*n)++] = (tedge){name, spec, t};
}

static bool str_in(const ec_npm_strs *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

/* Order matters: peer, peerOptional, then dependencies, then optionalDependencies. */
void npm_tree_edges_of(const tnode *n, const ec_npm_manifest *m, tedge **out, size_t *nout)
{
    (void)n;
    size_t cap = m->peer.n + m->deps.n + m->optional.n;
    tedge *v = ec_xcalloc(cap + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < m->peer.n; i++)
        edge_set(&v, &k, m->peer.v[i].key, m->peer.v[i].value,
                 str_in(&m->peer_optional, m->peer.v[i].key) ? TE_PEEROPT : TE_PEER);
    for (size_t i = 0; i < m->deps.n; i++)
        edge_set(&v, &k, m->deps.v[i].key, m->deps.v[i].value, TE_PROD);
    for (size_t i = 0; i < m->optional.n; i++)
        edge_set(&v, &k, m->optional.v[i].key, m->optional.v[i].value, TE_OPTIONAL);
    *out = v;
    *nout = k;
}

const tedge *npm_tree_edge(const tnode *n, const char *name)
{
    for (size_t i = 0; i < n->nedges; i++)
        if (!strcmp(n->edges[i].name, name))
            return &n->edges[i];
    return NULL;
}

/* dep-valid: "" and "*" take anything (pre-releases too), a tag takes any
 * registry version, "npm:pkg@range" checks the target package. Specs we do
 * not support (git, file, URLs) take nothing. */
bool npm_tree_spec_ok(const char *spec, const char *pkg, const ec_npm_manifest *m)
{
    if (!strncmp(spec, "npm:", 4)) {
        const char *real = spec + 4, *at = strchr(real + (*real == '@'), '@');
        size_t n = at ? (size_t)(at - real) : strlen(real);
        if (strlen(pkg) != n || strncmp(pkg, real, n))
            return false;
        spec = at ? at + 1 : "";
    }
    while (*spec == ' ')
        spec++;
    if (!*spec || !strcmp(spec, "*"))
        return true;
    if (strchr(spec, ':') || strchr(spec, '/'))
        return false;
    ec_semver_range *r = NULL;
    if (ec_semver_range_parse(&r, spec, NULL) < 0)
        return true; /* a dist-tag */
    bool ok = ec_semver_range_test(r, &m->semver);
    ec_semver_range_free(r);
    return ok;
}

/* Edge.valid: a missing optional (or optional peer) edge is fine; a peer
 * placed inside its own dependent is not ("PEER LOCAL"), except for tops. */
bool npm_tree_edge_valid(const tnode *from, const tedge *e)
{
    const tnode *to = npm_tree_resolve(from, e->name);
    if (!to)
        return e->type == TE_OPTIONAL || e->type == TE_PEEROPT;
    if ((e->type == TE_PEER || e->type == TE_PEEROPT) && to->parent == from && !from->top &&
        !from->is_root)
        return false;
    return npm_tree_spec_ok(e->spec, to->pkg, to->m);
}

/* --- the queue: depth, then path in "en" collation --- */

/* ICU root order for the characters of package paths: end < _ < - < . < @ <
 * / < ~ < digits < letters, letters case-insensitive first (lowercase wins
 * ties), which is what arborist's localeCompare("en") gives. */
static int collate_weight(unsigned char c)
{
    static const char punct[] = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
    const char *p = c ? strchr(punct, c) : NULL;
    if (!c)
        return 0;
    if (p)
        return 1 + (int)(p - punct);
    if (c >= '0' && c <= '9')
        return 100 + c - '0';
    if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
    return 200 + c;
}

int npm_tree_collate(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (;; x++, y++) {
        int d = collate_weight(*x) - collate_weight(*y);
        if (d)
            return d < 0 ? -1 : 1;
        if (!*x)
            break;
    }
    int c = strcmp(b, a); /* tertiary: lowercase before uppercase */
    return c < 0 ? -1 : c > 0;
}

void npm_tree_enqueue(tbuild *b, tnode *n)
{
    if (b->nq == b->capq) {
        b->capq = b->capq ? 2 * b->capq : 64;
        b->queue = ec_xrealloc(b->queue, b->capq * sizeof(*b->queue));
    }
    b->queue[b->nq++] = n;
}

static int queue_cmp(const void *pa, const void *pb)
{
    const tnode *a = *(tnode *const *)pa, *b = *(tnode *const *)pb;
    int d = npm_tree_depth(a) - npm_tree_depth(b);
    if (d)
        return d;
    char *x = npm_tree_path(a), *y = npm_tree_path(b);
    int c = npm_tree_collate(x, y);
    free(x);
    free(y);
    return c;
}

/* --- problem edges (#problemEdges) --- */

static bool is_bundled(const tnode *n, const char *name)
{
    if (!n->m || n->is_root)
        return false;
    if (n->m->bundle_all)
        return npm_tree_edge(n, name) && npm_tree_edge(n, name)->type != TE_PEER &&
               npm_tree_edge(n, name)->type != TE_PEEROPT;
    return str_in(&n->m->bundled, name);
}

static bool edge_is_problem(const tnode *n, const tedge *e)
{
    if (is_bundled(n, e->name))
        return false;
    if (!npm_tree_resolve(n, e->name))
        return e->type != TE_PEEROPT;
    return !npm_tree_edge_valid(n, e);
}

static size_t problem_edges(const tnode *n, const tedge **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nedges; i++)
        if (edge_is_problem(n, &n->edges[i]))
            out[k++] = &n->edges[i];
    for (size_t i = 1; i < k; i++) /* name order, like arborist's task sort */
        for (size_t j = i; j > 0 && npm_tree_collate(out[j - 1]->name, out[j]->name) > 0; j--) {
            const tedge *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

/* --- registry access --- */

/* "npm:real@range" → real and range; anything else keeps the edge's name. */
static void spec_split(const char *name, const char *spec, char **pkg, char **range)
{
    if (!strncmp(spec, "npm:", 4)) {
        const char *real = spec + 4, *at = strchr(real + (*real == '@'), '@');
        *pkg = at ? ec_xstrndup(real, (size_t)(at - real)) : ec_xstrdup(real);
        *range = ec_xstrdup(at ? at + 1 : "");
        return;
    }
    *pkg = ec_xstrdup(name);
    *range = ec_xstrdup(spec);
}

static void ask(tbuild *b, const char ***names, size_t *n, const char *pkg)
{
    for (size_t i = 0; i < b->nasked; i++)
        if (!strcmp(b->asked[i], pkg))
            return;
    if (b->nasked == b->capasked) {
        b->capasked = b->capasked ? 2 * b->capasked : 64;
        b->asked = ec_xrealloc(b->asked, b->capasked * sizeof(*b->asked));
    }
    b->asked[b->nasked++] = ec_xstrdup(pkg);
    *names = ec_xrealloc(*names, (*n + 1) * sizeof(**names));
    (*names)[(*n)++] = b->asked[b->nasked - 1];
}

static int prefetch(tbuild *b, const char **names, size_t n, ec_err *err)
{
    int r = n && b->reg->prefetch ? b->reg->prefetch(b->reg->ud, names, n, err) : EC_OK;
    free(names);
    return r;
}

/* Every package the queued nodes will ask for next: one parallel round. */
static int prefetch_queue(tbuild *b, ec_err *err)
{
    const char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < b->nq; i++) {
        const tnode *q = b->queue[i];
        if (q->seen || q->gone)
            continue;
        for (size_t j = 0; j < q->nedges; j++) {
            if (!edge_is_problem(q, &q->edges[j]))
                continue;
            char *pkg, *range;
            spec_split(q->edges[j].name, q->edges[j].spec, &pkg, &range);
            ask(b, &names, &n, pkg);
            free(pkg);
            free(range);
        }
    }
    return prefetch(b, names, n, err);
}

static bool spec_supported(const char *range)
{
    return !strchr(range, ':') && !strchr(range, '/');
}

/* One dependency: the packument, then npm-pick-manifest. */
static int resolve_one(tbuild *b, const tnode *from, const char *name, const char *spec,
                       tdep *out, ec_err *err)
{
    EC_AUTOFREE char *pkg = NULL, *range = NULL;
    const ec_npm_packument *p;
    const ec_npm_manifest *m;
    spec_split(name, spec, &pkg, &range);
    const char *who = from->is_root ? "the requested packages" : from->pkg;
    if (!spec_supported(range))
        return ec_fail(err, EC_EINVAL, "%s: dependency %s@\"%s\" is not a registry spec", who,
                       name, spec);
    int r = b->reg->get(b->reg->ud, pkg, &p, err);
    if (r == EC_OK)
        r = ec_npm_pick(&m, p, range, b->opts, err);
    if (r < 0) {
        if (!from->is_root)
            ec_err_prefix(err, "%s@%s depends on %s@\"%s\"", from->pkg, from->m->version, name,
                          spec);
        return r;
    }
    *out = (tdep){name, p->name, m};
    return EC_OK;
}

/* #loadPeerSet: the peers of @dep (and of those peers), each chosen with the
 * dependent's own spec for that name when it has one. Optional peers and
 * peers that fail to resolve are left out, as npm tolerates them. */
static void load_peers(tbuild *b, const tnode *source, const tdep *dep, tpeers *out)
{
    out->v = ec_xcalloc(1, sizeof(*out->v));
    out->v[0] = *dep;
    out->n = 1;
    for (size_t i = 0; i < out->n; i++) {
        const ec_npm_manifest *m = out->v[i].m;
        const char **names = NULL;
        size_t nn = 0;
        for (size_t j = 0; j < m->peer.n; j++)
            ask(b, &names, &nn, m->peer.v[j].key);
        (void)prefetch(b, names, nn, NULL);
        for (size_t j = 0; j < m->peer.n; j++) {
            const ec_npm_kv *pe = &m->peer.v[j];
            bool have = str_in(&m->peer_optional, pe->key);
            for (size_t k = 0; k < out->n && !have; k++)
                have = !strcmp(out->v[k].name, pe->key);
            if (have)
                continue;
            const tedge *se = npm_tree_edge(source, pe->key);
            tdep d;
            ec_err e = {0};
            if (resolve_one(b, source, pe->key, se ? se->spec : pe->value, &d, &e) < 0)
                continue;
            out->v = ec_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
            out->v[out->n++] = d;
        }
    }
}

static int tree_step(tbuild *b, tnode *n, ec_err *err)
{
    const tedge **probs = ec_xcalloc(n->nedges + 1, sizeof(*probs));
    size_t np = problem_edges(n, probs);
    int r = EC_OK;
    if (npm_tree_depth(n) > TREE_MAX_DEPTH)
        r = ec_fail(err, EC_ECONFLICT, "%s: dependency nesting deeper than %d", n->pkg,
                    TREE_MAX_DEPTH);
    for (size_t i = 0; r == EC_OK && i < np; i++) {
        const tedge *e = probs[i];
        tdep dep;
        tpeers peers = {0};
        ec_err e2 = {0};
        r = resolve_one(b, n, e->name, e->spec, &dep, e->type == TE_OPTIONAL ? &e2 : err);
        if (r < 0 && e->type == TE_OPTIONAL) { /* failed optionals are dropped */
            json_array_append_new(b->notes, json_sprintf("skipped optional dependency: %s",
                                                         e2.msg));
            r = EC_OK;
            continue;
        }
        if (r < 0)
            break;
        /* a global top's peers are not loaded with it (arborist #nodeFromEdge);
         * they are picked up when the top itself is visited */
        if (!n->is_root)
            load_peers(b, n, &dep, &peers);
        else
            peers = (tpeers){ec_xcalloc(1, sizeof(tdep)), 1}, peers.v[0] = dep;
        r = npm_tree_place(b, n, e, &dep, &peers, err);
        free(peers.v);
    }
    free(probs);
    return r;
}

static int tree_loop(tbuild *b, ec_err *err)
{
    while (b->nq) {
        int r = prefetch_queue(b, err);
        if (r < 0)
            return r;
        if (!b->nq) /* the prefetch may settle what was queued */
            break;
        qsort(b->queue, b->nq, sizeof(*b->queue), queue_cmp);
        tnode *n = b->queue[0];
        memmove(b->queue, b->queue + 1, --b->nq * sizeof(*b->queue));
        if (n->seen || n->gone)
            continue;
        n->seen = true;
        r = tree_step(b, n, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* --- after the build: flags, failed optionals, extraneous nodes --- */

static bool live(const tnode *n)
{
    return !n->gone && !n->inert;
}

/* calcDepFlags, reduced: a node is optional (peer) when no path from the
 * root reaches it without an optional (peer) edge. */
static void mark_reach(tbuild *b, bool via_optional)
{
    bool changed = true;
    for (size_t i = 0; i < b->nall; i++)
        b->all[i]->seen = b->all[i]->is_root;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < b->nall; i++) {
            tnode *n = b->all[i];
            if (!n->seen || !live(n))
                continue;
            for (size_t j = 0; j < n->nedges; j++) {
                const tedge *e = &n->edges[j];
                bool skip = via_optional ? (e->type == TE_OPTIONAL || e->type == TE_PEEROPT)
                                         : (e->type == TE_PEER || e->type == TE_PEEROPT);
                tnode *to = npm_tree_resolve(n, e->name);
                if (skip || !to || to->seen || !live(to) || is_bundled(n, e->name))
                    continue;
                to->seen = changed = true;
            }
        }
    }
    for (size_t i = 0; i < b->nall; i++) {
        if (via_optional)
            b->all[i]->optional = !b->all[i]->seen;
        else
            b->all[i]->peer = !b->all[i]->seen;
    }
}

/* #checkEngineAndPlatform + optionalSet: an optional node that does not fit
 * the platform or engines is dropped with what only it needs. The part of the
 * tree only reachable through it disappears in prune_extraneous. */
static void mark_inert(tbuild *b)
{
    for (size_t i = 0; i < b->nall; i++) {
        tnode *n = b->all[i];
        if (n->gone || n->is_root || !n->optional || n->inert)
            continue;
        if (ec_npm_platform_ok(n->m, &b->opts->plat) && ec_npm_engine_ok(n->m, &b->opts->plat))
            continue;
        n->inert = true;
        json_array_append_new(b->notes, json_sprintf("skipped optional %s@%s: %s", n->pkg,
                                                     n->m->version,
                                                     ec_npm_platform_ok(n->m, &b->opts->plat)
                                                         ? "engine does not match"
                                                         : "platform does not match"));
    }
}

/* #idealTreePrune: whatever no live node depends on any more is removed. */
static void prune_extraneous(tbuild *b)
{
    for (size_t i = 0; i < b->nall; i++)
        b->all[i]->seen = b->all[i]->is_root;
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < b->nall; i++) {
            tnode *n = b->all[i];
            if (!n->seen || !live(n))
                continue;
            for (size_t j = 0; j < n->nedges; j++) {
                tnode *to = npm_tree_resolve(n, n->edges[j].name);
                if (to && !to->seen && live(to))
                    to->seen = changed = true;
            }
        }
    }
    for (size_t i = 0; i < b->nall; i++)
        if (!b->all[i]->seen && !b->all[i]->is_root)
            b->all[i]->gone = true;
}

/* --- entry --- */

/* The specs come parsed (ec_npm_spec_parse): name and range, "" for the latest. */
static int root_edges(tnode *root, const ec_spec *specs, size_t n, ec_err *err)
{
    root->edges = ec_xcalloc(n + 1, sizeof(*root->edges));
    for (size_t i = 0; i < n; i++) {
        if (!specs[i].name[0])
            return ec_fail(err, EC_EINVAL, "spec %zu has no package name", i + 1);
        edge_set(&root->edges, &root->nedges, ec_xstrdup(specs[i].name),
                 specs[i].constraint, TE_PROD);
    }
    return EC_OK;
}

static void build_fini(tbuild *b)
{
    for (size_t i = 0; i < b->nall; i++) {
        if (b->all[i]->is_root)
            for (size_t j = 0; j < b->all[i]->nedges; j++)
                free((char *)b->all[i]->edges[j].name);
        free(b->all[i]->kids);
        free(b->all[i]->edges);
        free(b->all[i]);
    }
    for (size_t i = 0; i < b->nasked; i++)
        free(b->asked[i]);
    free(b->asked);
    free(b->all);
    free(b->queue);
    json_decref(b->notes);
}

int ec_npm_tree_build(ec_npm_tree **out, const ec_npm_registry *reg, const ec_spec *specs,
                      size_t nspecs, const ec_npm_pick_opts *opts, ec_err *err)
{
    tbuild b = {.reg = reg, .opts = opts, .notes = json_array()};
    b.root = npm_tree_node_new(&b, "", "", NULL);
    b.root->is_root = true;
    int r = root_edges(b.root, specs, nspecs, err);
    if (r == EC_OK) {
        npm_tree_enqueue(&b, b.root);
        r = tree_loop(&b, err);
    }
    if (r == EC_OK) {
        mark_reach(&b, true);
        mark_inert(&b);
        prune_extraneous(&b);
        mark_reach(&b, true);
        mark_reach(&b, false);
        r = npm_tree_output(out, &b);
    }
    build_fini(&b);
    return r;
}
