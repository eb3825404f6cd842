/* SPDX-License-Identifier: MIT */
/* GC policy: what counts as a root (environments' stacks and bases, the default base,
 * sessions' layers), and the report of what the store's sweep removed or would remove. */
#include "cache/cache_int.h"
#include "cache/env/base.h"
#include "cache/env/env_int.h"
#include "store/util/mem.h"

#include <string.h>

struct roots {
    ec_digest *d;
    size_t n, cap;
};

static void push(struct roots *r, const ec_digest *d)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->d = ec_xrealloc(r->d, r->cap * sizeof *r->d);
    }
    r->d[r->n++] = *d;
}

static void add_digest(struct roots *r, const char *text)
{
    ec_digest d;
    if (text && ec_digest_parse(&d, text, NULL) == EC_OK)
        push(r, &d);
}

static void add_digests(struct roots *r, const json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        add_digest(r, json_string_value(v));
}

static int env_roots(const json_t *rec, void *payload)
{
    add_digests(payload, json_object_get(rec, "stack"));
    /* A base chosen since the last warm-up is not in the stack yet. */
    add_digest(payload, json_string_value(json_object_get(json_object_get(rec, "base"),
                                                          "digest")));
    return 0;
}

static int session_roots(const json_t *s, void *payload)
{
    add_digests(payload, json_object_get(s, "layers"));
    return 0;
}

/* Environments' stacks and bases are roots (kept by the sweep, evictable under a budget because a
 * warm-up rebuilds them); live sessions' layers are pins (never removed). */
static int collect_roots(struct roots *roots, struct roots *pins, ec_cache *c, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_digest d;
    /* Environments that follow the default base build on it at their next warm-up. */
    if (ec_base_default_get(&d, c, NULL) == EC_OK)
        push(roots, &d);
    int rc = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (rc == EC_OK)
        rc = ec_env__each(txn, NULL, NULL, env_roots, roots, err);
    if (rc == EC_OK)
        rc = ec_cache__session_each(c, txn, session_roots, pins, err);
    return rc;
}

/* What was removed goes to "items"; what keeps the store over its budget (the store's
 * "held_*" findings) to "held", summed by cause. */
struct report {
    json_t *items;
    json_t *held;
    json_t *held_bytes; /* cause -> bytes */
};

static void report(const ec_finding *f, void *payload)
{
    struct report *rp = payload;
    json_t *it = json_pack("{s:s, s:s, s:s, s:I, s:b}", "kind", f->kind, "object", f->object,
                           "reason", f->reason, "bytes", (json_int_t)f->bytes, "removed",
                           f->removed);
    if (strncmp(f->kind, "held_", 5) != 0) {
        json_array_append_new(rp->items, it);
        return;
    }
    const char *cause = f->kind + 5;
    json_t *sum = json_object_get(rp->held_bytes, cause);
    json_object_set_new(rp->held_bytes, cause,
                        json_integer(json_integer_value(sum) + (json_int_t)f->bytes));
    json_object_set_new(it, "kind", json_string(cause));
    json_array_append_new(rp->held, it);
}

/* The budget's outcome: met or not, by how much, and which bytes stay for which cause. */
static void add_budget(json_t *out, const ec_gc_opts *opts, const ec_gc_stats *stats,
                       struct report *rp)
{
    bool met = !opts->max_size || stats->size_after <= opts->max_size;
    json_object_set_new(out, "max_size", json_integer((json_int_t)opts->max_size));
    json_object_set_new(out, "grace", json_integer(opts->grace));
    json_object_set_new(out, "budget_met", json_boolean(met));
    json_object_set_new(out, "over_budget", json_integer(met ? 0 : (json_int_t)(
                                                                   stats->size_after -
                                                                   opts->max_size)));
    static const char *const causes[] = {"pinned", "grace", "referenced"};
    for (size_t i = 0; i < EC_ARRAY_LEN(causes); i++) /* every cause, 0 when none */
        if (!json_object_get(rp->held_bytes, causes[i]))
            json_object_set_new(rp->held_bytes, causes[i], json_integer(0));
    json_object_set(out, "held_bytes", rp->held_bytes);
    json_object_set(out, "held", rp->held);
}

int ec_cache_gc(json_t **out, ec_cache *c, const ec_gc_opts *opts, ec_err *err)
{
    struct roots roots = {0}, pins = {0};
    int r = collect_roots(&roots, &pins, c, err);
    EC_AUTO(json_t) items = json_array();
    EC_AUTO(json_t) held = json_array();
    EC_AUTO(json_t) held_bytes = json_object();
    struct report rp = {items, held, held_bytes};
    ec_gc_stats stats;
    ec_store_gc_opts so = {roots.d, roots.n, pins.d,        pins.n,
                           opts->dry_run, opts->max_size, opts->grace};
    if (r == EC_OK)
        r = ec_store_gc(&stats, c->st, &so, report, &rp, err);
    free(roots.d);
    free(pins.d);
    if (r < 0)
        return r;
    *out = json_pack("{s:O, s:b, s:I, s:I, s:I, s:I}", "items", items, "dry_run",
                     opts->dry_run, "roots", (json_int_t)(roots.n + pins.n), "size_before",
                     (json_int_t)stats.size_before, "size_after", (json_int_t)stats.size_after,
                     "freed", (json_int_t)(stats.size_before - stats.size_after));
    add_budget(*out, opts, &stats, &rp);
    return EC_OK;
}
