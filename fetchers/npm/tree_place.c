/* SPDX-License-Identifier: MIT */
/* Where one dependency goes: arborist's can-place-dep.js and place-dep.js. */
#include "fetchers/npm/tree_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

typedef enum cp_state { CP_CONFLICT, CP_OK, CP_REPLACE, CP_KEEP } cp_state;

/* One CanPlaceDep: @dep at @target for @edge (from @from, NULL when the
 * dependent is a peer still in its virtual set). */
typedef struct cpd {
    const tdep *dep;
    tnode *target;
    const tedge *edge;
    const tnode *from;
    const struct cpd *parent;
    const tnode *entry_from; /* from of the peer set's entry edge */
    const tpeers *peers;
    bool prefer_dedupe;
} cpd;

static bool is_peer(const tedge *e)
{
    return e->type == TE_PEER || e->type == TE_PEEROPT;
}

static bool node_ok(const tnode *n, const tedge *e)
{
    return npm_tree_spec_ok(e->spec, n->pkg, n->m);
}

static bool dep_ok(const tdep *d, const tedge *e)
{
    return npm_tree_spec_ok(e->spec, d->pkg, d->m);
}

static bool dep_matches(const tdep *d, const tnode *n)
{
    return !strcmp(d->pkg, n->pkg) && !strcmp(d->m->version, n->m->version);
}

/* deepest-nesting-target.js: the deepest node_modules at or above @start
 * where @name may go (not inside a node that has it as a peer). */
static tnode *deepest(tnode *start, const char *name)
{
    for (tnode *t = start; t; t = t->parent) {
        if (t->is_root || !t->parent || t->top)
            return t;
        const tedge *e = npm_tree_edge(t, name);
        if (!e || !is_peer(e))
            return t;
    }
    return start;
}

/* --- edges into a node --- */

typedef struct edge_in {
    tnode *from;
    const tedge *e;
} edge_in;

static size_t edges_in(tbuild *b, const tnode *to, edge_in **out)
{
    size_t k = 0;
    *out = NULL;
    for (size_t i = 0; i < b->nall; i++) {
        tnode *n = b->all[i];
        if (n->gone || (!n->parent && !n->is_root))
            continue;
        const tedge *e = npm_tree_edge(n, to->name);
        if (e && npm_tree_resolve(n, e->name) == to) {
            *out = ec_xrealloc(*out, (k + 1) * sizeof(**out));
            (*out)[k++] = (edge_in){n, e};
        }
    }
    return k;
}

/* gather-dep-set.js with the filter "edge valid and not into @skip": @node
 * plus its dependencies that nothing outside the set needs. */
static size_t dep_set(tbuild *b, tnode *node, const tnode *skip, tnode ***out)
{
    tnode **set = ec_xcalloc(b->nall + 1, sizeof(*set));
    size_t n = 1;
    set[0] = node;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < set[i]->nedges; j++) {
            tnode *to = npm_tree_resolve(set[i], set[i]->edges[j].name);
            bool have = !to || to == skip || !npm_tree_edge_valid(set[i], &set[i]->edges[j]);
            for (size_t k = 0; k < n && !have; k++)
                have = set[k] == to;
            if (!have)
                set[n++] = to;
        }
    }
    for (bool changed = true; changed && n;) {
        changed = false;
        for (size_t i = 0; i < n && !changed; i++) {
            edge_in *in;
            size_t nin = edges_in(b, set[i], &in);
            for (size_t j = 0; j < nin && !changed; j++) {
                bool inside = false;
                for (size_t k = 0; k < n && !inside; k++)
                    inside = set[k] == in[j].from;
                if (!inside && set[i] != skip && npm_tree_edge_valid(in[j].from, in[j].e)) {
                    set[i] = set[--n];
                    changed = true;
                }
            }
            free(in);
        }
    }
    *out = set;
    return n;
}

/* Node.canReplaceWith: every dependent of @cur outside its own dependency set
 * would accept @dep. */
static bool can_replace(tbuild *b, tnode *cur, const tdep *dep)
{
    if (strcmp(cur->name, dep->name) || strcmp(cur->pkg, dep->pkg))
        return false;
    tnode **set;
    size_t nset = dep_set(b, cur, NULL, &set);
    edge_in *in;
    size_t nin = edges_in(b, cur, &in);
    bool ok = true;
    for (size_t i = 0; i < nin && ok; i++) {
        bool inside = false;
        for (size_t k = 0; k < nset && !inside; k++)
            inside = set[k] == in[i].from && in[i].from != cur;
        if (!inside && !dep_ok(dep, in[i].e))
            ok = false;
    }
    free(in);
    free(set);
    return ok;
}

/* --- canPlace --- */

static cp_state can_place(tbuild *b, const cpd *c);

static tnode *cpd_deepest(const cpd *c)
{
    if (c->parent)
        return deepest(cpd_deepest(c->parent), c->dep->name);
    return deepest((tnode *)c->from, c->dep->name);
}

static bool in_path(const cpd *c, const tdep *d)
{
    for (; c; c = c->parent)
        if (c->dep == d)
            return true;
    return false;
}

/* canPlacePeers: each peer of the dep must fit at or above the target too. */
static cp_state can_place_peers(tbuild *b, const cpd *c, cp_state state)
{
    const ec_npm_manifest *m = c->dep->m;
    for (size_t i = 0; i < m->peer.n; i++) {
        const tdep *peer = NULL;
        for (size_t k = 0; k < c->peers->n && !peer; k++)
            if (!strcmp(c->peers->v[k].name, m->peer.v[i].key))
                peer = &c->peers->v[k];
        if (!peer || in_path(c, peer))
            continue;
        tedge pe = {m->peer.v[i].key, m->peer.v[i].value, TE_PEER};
        cpd child = {.dep = peer, .target = deepest(c->target, peer->name), .edge = &pe,
                     .from = NULL, .parent = c, .entry_from = c->entry_from, .peers = c->peers,
                     .prefer_dedupe = true};
        if (can_place(b, &child) == CP_CONFLICT)
            return CP_CONFLICT;
    }
    return state;
}

static cp_state can_place_current(tbuild *b, const cpd *c, tnode *cur)
{
    if (dep_matches(c->dep, cur) && node_ok(cur, c->edge))
        return CP_KEEP;
    bool try_replace = ec_semver_compare(&c->dep->m->semver, &cur->m->semver) >= 0;
    if (try_replace && can_replace(b, cur, c->dep)) {
        cp_state s = can_place_peers(b, c, CP_REPLACE);
        if (s != CP_CONFLICT)
            return s;
    }
    if (node_ok(cur, c->edge))
        return CP_KEEP;
    if (c->prefer_dedupe && !try_replace && can_replace(b, cur, c->dep)) {
        cp_state s = can_place_peers(b, c, CP_REPLACE);
        if (s != CP_CONFLICT)
            return s;
    }
    if (c->target != cpd_deepest(c))
        return CP_CONFLICT; /* it can go deeper: leave the current one */
    if (!is_peer(c->edge) && c->target == c->from)
        return can_place_peers(b, c, CP_REPLACE);
    /* arborist then tries to push the current node's own peer set deeper or
     * replace it whole; we do not model peer sets that deep and call it a
     * conflict, which npm reports as ERESOLVE in most such trees anyway */
    return CP_CONFLICT;
}

static cp_state can_place_none(tbuild *b, const cpd *c)
{
    /* would placing here shadow what dependents below already resolve to? */
    tnode *cur = c->target != c->entry_from ? npm_tree_resolve(c->target, c->dep->name) : NULL;
    if (cur) {
        edge_in *in;
        size_t nin = edges_in(b, cur, &in);
        bool conflict = false;
        for (size_t i = 0; i < nin && !conflict; i++)
            conflict = npm_tree_is_descendant(in[i].from, c->target) &&
                       npm_tree_edge_valid(in[i].from, in[i].e) && !dep_ok(c->dep, in[i].e);
        free(in);
        if (conflict)
            return CP_CONFLICT;
    }
    return can_place_peers(b, c, CP_OK);
}

static cp_state can_place(tbuild *b, const cpd *c)
{
    tnode *cur = npm_tree_child(c->target, c->dep->name);
    const tedge *te = npm_tree_edge(c->target, c->dep->name);
    if (te && is_peer(te) && !c->target->top && !c->target->is_root)
        return CP_CONFLICT; /* peers never go inside their dependent */
    if (!cur && te && !dep_ok(c->dep, te) && !(c->from == c->target && te == c->edge))
        return CP_CONFLICT;
    return cur ? can_place_current(b, c, cur) : can_place_none(b, c);
}

/* --- pruning duplicates (pruneDedupable, Node.canDedupe) --- */

static void drop(tbuild *b, tnode *n)
{
    tnode **set;
    size_t nset = dep_set(b, n, n, &set);
    for (size_t i = 0; i < nset; i++) {
        npm_tree_detach(set[i]);
        set[i]->gone = true;
    }
    free(set);
}

static bool can_dedupe(tbuild *b, tnode *n)
{
    if (!n->parent || !n->parent->parent)
        return false;
    edge_in *in;
    size_t nin = edges_in(b, n, &in);
    free(in);
    if (!nin)
        return true;
    tnode *other = npm_tree_resolve(n->parent->parent, n->name);
    if (!other)
        return false;
    if (!strcmp(other->pkg, n->pkg) && !strcmp(other->m->version, n->m->version))
        return true;
    tdep od = {other->name, other->pkg, other->m};
    if (!can_replace(b, n, &od))
        return false;
    return ec_semver_compare(&other->m->semver, &n->m->semver) >= 0;
}

static int kid_cmp(const void *a, const void *b)
{
    char *x = npm_tree_path(*(tnode *const *)a), *y = npm_tree_path(*(tnode *const *)b);
    int c = npm_tree_collate(x, y);
    free(x);
    free(y);
    return c;
}

static void prune_dedupable(tbuild *b, tnode *n, bool descend)
{
    if (can_dedupe(b, n)) {
        drop(b, n);
        return;
    }
    if (!descend || !n->nkids)
        return;
    size_t nk = n->nkids;
    tnode **kids = ec_xmalloc(nk * sizeof(*kids));
    memcpy(kids, n->kids, nk * sizeof(*kids));
    if (nk)
        qsort(kids, nk, sizeof(*kids), kid_cmp);
    for (size_t i = 0; i < nk; i++)
        if (!kids[i]->gone)
            prune_dedupable(b, kids[i], true);
    free(kids);
}

static void prune_below(tbuild *b, tnode *target, tnode *placed)
{
    for (size_t i = 0; i < b->nall; i++) {
        tnode *n = b->all[i];
        if (n == placed || n->gone || n->top || n->is_root || strcmp(n->name, placed->name) ||
            !npm_tree_is_descendant(n, target))
            continue;
        prune_dedupable(b, n, false);
        if (n->gone)
            continue;
        for (size_t k = 0; k < n->nkids; k++)
            if (!n->kids[k]->gone)
                prune_dedupable(b, n->kids[k], true);
    }
}

/* --- placing --- */

static tnode *put(tbuild *b, tnode *target, const tdep *dep, cp_state st, const tedge *e)
{
    tnode *n = npm_tree_node_new(b, dep->name, dep->pkg, dep->m);
    tnode *old = npm_tree_child(target, dep->name);
    if (old) { /* REPLACE: the new node takes the old one's place and children */
        for (size_t i = 0; i < old->nkids; i++)
            npm_tree_attach(n, old->kids[i]);
        old->nkids = 0;
        npm_tree_detach(old);
        old->gone = true;
    }
    npm_tree_attach(target, n);
    edge_in *in;
    size_t nin = edges_in(b, n, &in);
    for (size_t i = 0; i < nin; i++)
        if (in[i].e != e && !npm_tree_edge_valid(in[i].from, in[i].e) &&
            (st == CP_REPLACE || !in[i].from->seen))
            npm_tree_enqueue(b, in[i].from);
    free(in);
    return n;
}

static int place_dep(tbuild *b, tnode *from, const tedge *e, const tdep *dep, const tpeers *peers,
                     tnode *start_from, ec_err *err)
{
    tnode *start = deepest(start_from, dep->name), *chosen = NULL;
    cp_state st = CP_CONFLICT;
    for (tnode *t = start; t; t = t->parent) {
        const tedge *te = npm_tree_edge(t, dep->name);
        if (!t->top && !t->is_root && te && is_peer(te))
            continue;
        cpd c = {.dep = dep, .target = t, .edge = e, .from = from, .entry_from = from,
                 .peers = peers};
        cp_state s = can_place(b, &c);
        if (s == CP_CONFLICT)
            break;
        chosen = t;
        st = s;
        if (t->top) /* install-strategy "shallow": never above a global top */
            break;
    }
    if (!chosen) {
        EC_AUTOFREE char *p = npm_tree_path(from);
        return ec_fail(err, EC_ECONFLICT,
                       "could not resolve: %s@%s wanted by %s@%s (%s) conflicts at every level",
                       dep->pkg, dep->m->version, from->pkg, from->m ? from->m->version : "",
                       *p ? p : "the requested packages");
    }
    if (st == CP_KEEP)
        return EC_OK;
    tnode *n = put(b, chosen, dep, st, e);
    prune_below(b, chosen, n);
    npm_tree_enqueue(b, n);
    for (size_t i = 0; i < n->nedges; i++) { /* its peers go with it */
        const tedge *pe = &n->edges[i];
        if (pe->type != TE_PEER || npm_tree_edge_valid(n, pe))
            continue;
        for (size_t k = 0; k < peers->n; k++) {
            const tdep *p = &peers->v[k];
            if (strcmp(p->name, pe->name) || !dep_ok(p, pe))
                continue;
            int r = place_dep(b, n, pe, p, peers, start_from, err);
            if (r < 0)
                return r;
            break;
        }
    }
    return EC_OK;
}

int npm_tree_place(tbuild *b, tnode *from, const tedge *e, const tdep *dep, const tpeers *peers,
                   ec_err *err)
{
    return place_dep(b, from, e, dep, peers, from, err);
}
