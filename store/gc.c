/* SPDX-License-Identifier: MIT */
/* Garbage collection: sweep what no root references, then evict LRU layers to a budget,
 * and say what keeps the store over the budget when it cannot be met. */
#include "store/scan.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gc {
    ec_store *st;
    const ec_store_gc_opts *o;
    ec_snapshot snap;
    bool *layer_gone; /* parallel to snap.layers */
    bool *blob_gone;  /* parallel to snap.blobs */
    int64_t cutoff;   /* things used after this stay */
    ec_finding_fn fn;
    void *payload;
    ec_gc_stats *stats;
    ec_err *err;
};

static bool in_list(const ec_digest *list, size_t n, const ec_digest *d)
{
    for (size_t i = 0; i < n; i++)
        if (ec_digest_eq(&list[i], d))
            return true;
    return false;
}

static bool is_pinned(const struct gc *g, const ec_digest *d)
{
    return in_list(g->o->pins, g->o->npins, d);
}

static bool is_root(const struct gc *g, const ec_digest *d)
{
    return is_pinned(g, d) || in_list(g->o->roots, g->o->nroots, d);
}

static bool dir_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static uint64_t layer_bytes(const struct gc *g, const ec_layer_info *l)
{
    EC_AUTOFREE char *dir = ec_store__layer_dir(g->st, &l->diff_id);
    return l->size + (dir_exists(dir) ? l->tar_size : 0);
}

/* The store size after what has been removed (or would be, in a dry run). */
static void shrink(struct gc *g, uint64_t bytes)
{
    g->stats->size_after -= bytes < g->stats->size_after ? bytes : g->stats->size_after;
}

static void say(struct gc *g, const char *kind, const char *object, const char *reason,
                uint64_t bytes, bool removed)
{
    ec_finding f = {kind, object, reason, bytes, false, removed};
    if (g->fn)
        g->fn(&f, g->payload);
}

static int remove_layer(struct gc *g, size_t i, const char *kind, const char *reason)
{
    const ec_layer_info *l = &g->snap.layers[i];
    char name[EC_DIGEST_STR_LEN + 8];
    snprintf(name, sizeof name, "layer ");
    ec_digest_format(name + 6, &l->digest);
    uint64_t bytes = layer_bytes(g, l);
    g->layer_gone[i] = true;
    const ec_blob_rec *b = ec_snapshot_blob(&g->snap, &l->digest);
    if (b)
        g->blob_gone[b - g->snap.blobs] = true;
    shrink(g, bytes);
    if (!g->o->dry_run) {
        /* Index first: a crash afterwards leaves only intact orphans, never dangling records. */
        int r = ec_store__forget(g->st, &g->snap, &l->digest, &l->digest, g->err);
        if (r < 0)
            return r;
        EC_AUTOFREE char *dir = ec_store__layer_dir(g->st, &l->diff_id);
        EC_AUTOFREE char *blob = ec_blob_path(g->st, &l->digest);
        ec_rm_rf(dir, NULL);
        unlink(blob);
        g->stats->removed++;
    }
    say(g, kind, name, reason, bytes, !g->o->dry_run);
    return EC_OK;
}

static int sweep_layers(struct gc *g)
{
    for (size_t i = 0; i < g->snap.nlayers; i++) {
        const ec_layer_info *l = &g->snap.layers[i];
        if (is_root(g, &l->digest) || l->last_used > g->cutoff)
            continue;
        int r = remove_layer(g, i, "unreferenced",
                             "no environment or session uses it, and it is older than the grace period");
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* A blob that a layer-keyed record references (a build log) stays while that layer does. */
static bool owned_by_kept_layer(const struct gc *g, const ec_digest *d)
{
    const ec_blob_ref *owner = ec_snapshot_owner(&g->snap, d);
    const ec_layer_info *l = owner ? ec_snapshot_layer(&g->snap, &owner->layer) : NULL;
    return l && !g->layer_gone[l - g->snap.layers];
}

static int sweep_blobs(struct gc *g)
{
    for (size_t i = 0; i < g->snap.nblobs; i++) {
        const ec_blob_rec *b = &g->snap.blobs[i];
        if (g->blob_gone[i] || ec_snapshot_layer(&g->snap, &b->d) || is_root(g, &b->d) ||
            ec_snapshot_ref(&g->snap, &b->d) || owned_by_kept_layer(g, &b->d) ||
            b->info.last_used > g->cutoff)
            continue;
        char name[EC_DIGEST_STR_LEN + 8];
        snprintf(name, sizeof name, "blob ");
        ec_digest_format(name + 5, &b->d);
        g->blob_gone[i] = true;
        shrink(g, b->info.size);
        if (!g->o->dry_run) {
            int r = ec_store__forget(g->st, &g->snap, NULL, &b->d, g->err);
            if (r < 0)
                return r;
            EC_AUTOFREE char *path = ec_blob_path(g->st, &b->d);
            unlink(path);
            g->stats->removed++;
        }
        say(g, "unreferenced", name, "no layer or index record references it", b->info.size,
            !g->o->dry_run);
    }
    return EC_OK;
}

/* Least recently used first among what the sweep left and no live session pins. */
static int evict_to_budget(struct gc *g)
{
    while (g->o->max_size && g->stats->size_after > g->o->max_size) {
        ssize_t best = -1;
        for (size_t i = 0; i < g->snap.nlayers; i++) {
            const ec_layer_info *l = &g->snap.layers[i];
            if (g->layer_gone[i] || is_pinned(g, &l->digest) || l->last_used > g->cutoff)
                continue;
            if (best < 0 || l->last_used < g->snap.layers[best].last_used)
                best = (ssize_t)i;
        }
        if (best < 0)
            break; /* the rest is in use or within the grace period */
        char reason[160];
        snprintf(reason, sizeof reason,
                 "least recently used while the store is over its budget of %llu bytes",
                 (unsigned long long)g->o->max_size);
        int r = remove_layer(g, (size_t)best, "evicted", reason);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* --- what keeps the store over its budget --- */

/* Said only when the budget cannot be met, so that a plan that stays over it says why: a
 * "held_*" finding per layer or blob that stays, never removed. Every layer still here
 * then is pinned or within the grace period, or eviction would have taken it. */
static void hold_layer(struct gc *g, const ec_layer_info *l)
{
    char name[EC_DIGEST_STR_LEN + 8];
    snprintf(name, sizeof name, "layer ");
    ec_digest_format(name + 6, &l->digest);
    if (is_pinned(g, &l->digest))
        say(g, "held_pinned", name, "a live session uses it", layer_bytes(g, l), false);
    else
        say(g, "held_grace", name, "used within the grace period", layer_bytes(g, l), false);
}

/* Which record keeps blob @d, said into @why; false when none does. */
static bool ref_reason(char why[128], const struct gc *g, const ec_digest *d)
{
    const ec_blob_ref *ref = ec_snapshot_ref(&g->snap, d);
    if (ref)
        return snprintf(why, 128, "a record of table %s references it", ref->table), true;
    if (!owned_by_kept_layer(g, d))
        return false;
    snprintf(why, 128, "a record of table %s ties it to a layer that stays",
             ec_snapshot_owner(&g->snap, d)->table);
    return true;
}

/* A loose blob (no layer's own) stays for what references it, or for its age. */
static void hold_blob(struct gc *g, const ec_blob_rec *b)
{
    char name[EC_DIGEST_STR_LEN + 8], why[128];
    snprintf(name, sizeof name, "blob ");
    ec_digest_format(name + 5, &b->d);
    if (ref_reason(why, g, &b->d))
        say(g, "held_referenced", name, why, b->info.size, false);
    else if (is_pinned(g, &b->d))
        say(g, "held_pinned", name, "a live session uses it", b->info.size, false);
    else if (b->info.last_used > g->cutoff)
        say(g, "held_grace", name, "used within the grace period", b->info.size, false);
    else
        say(g, "held_referenced", name, "an environment references it", b->info.size, false);
}

static void report_held(struct gc *g)
{
    if (!g->o->max_size || g->stats->size_after <= g->o->max_size || !g->fn)
        return;
    for (size_t i = 0; i < g->snap.nlayers; i++)
        if (!g->layer_gone[i])
            hold_layer(g, &g->snap.layers[i]);
    for (size_t i = 0; i < g->snap.nblobs; i++)
        if (!g->blob_gone[i] && !ec_snapshot_layer(&g->snap, &g->snap.blobs[i].d))
            hold_blob(g, &g->snap.blobs[i]);
}

static int sweep_leftover(const char *dir, const char *name, void *payload)
{
    struct gc *g = payload;
    ec_digest d;
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
    bool known = ec_digest_parse(&d, name, NULL) == EC_OK &&
                 ec_snapshot_layer_by_diff(&g->snap, &d);
    if (known || ec_store__in_use(path))
        return EC_OK;
    struct stat sb;
    if (lstat(path, &sb) < 0 || sb.st_mtime > g->cutoff)
        return EC_OK;
    if (!g->o->dry_run && ec_rm_rf(path, NULL) == EC_OK)
        g->stats->removed++;
    say(g, "stale", path, "left behind by an interrupted process", 0, !g->o->dry_run);
    return EC_OK;
}

static int size_of(uint64_t *out, struct gc *g)
{
    uint64_t total = 0;
    for (size_t i = 0; i < g->snap.nblobs; i++)
        total += g->snap.blobs[i].info.size;
    for (size_t i = 0; i < g->snap.nlayers; i++)
        total += layer_bytes(g, &g->snap.layers[i]) - g->snap.layers[i].size;
    *out = total;
    return EC_OK;
}

int ec_store_gc(ec_gc_stats *out, ec_store *st, const ec_store_gc_opts *opts, ec_finding_fn fn,
                void *payload, ec_err *err)
{
    struct gc g = {.st = st, .o = opts, .fn = fn, .payload = payload, .stats = out, .err = err};
    memset(out, 0, sizeof *out);
    g.cutoff = ec_now() - opts->grace;
    int r = ec_snapshot_take(&g.snap, st, err);
    if (r < 0)
        return r;
    g.layer_gone = ec_xcalloc(g.snap.nlayers + 1, sizeof *g.layer_gone);
    g.blob_gone = ec_xcalloc(g.snap.nblobs + 1, sizeof *g.blob_gone);
    size_of(&out->size_before, &g);
    out->size_after = out->size_before;
    r = sweep_layers(&g);
    if (r == EC_OK)
        r = sweep_blobs(&g);
    if (r == EC_OK)
        r = evict_to_budget(&g);
    if (r == EC_OK)
        report_held(&g);
    EC_AUTOFREE char *layers = ec_store_path(st, EC_DIR_LAYERS);
    EC_AUTOFREE char *tmp = ec_store_path(st, EC_DIR_TMP);
    if (r == EC_OK)
        r = ec_store__each_entry(layers, sweep_leftover, &g, err);
    if (r == EC_OK)
        r = ec_store__each_entry(tmp, sweep_leftover, &g, err);
    free(g.layer_gone);
    free(g.blob_gone);
    ec_snapshot_fini(&g.snap);
    return r;
}

int ec_store_size(uint64_t *out, ec_store *st, ec_err *err)
{
    struct gc g = {.st = st};
    int r = ec_snapshot_take(&g.snap, st, err);
    if (r < 0)
        return r;
    size_of(out, &g);
    ec_snapshot_fini(&g.snap);
    return EC_OK;
}
