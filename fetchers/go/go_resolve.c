/* SPDX-License-Identifier: MIT */
/* resolve, as `go install PKG@QUERY` resolves: the query on every path prefix of the
 * package (the longest module that has the version and holds the package wins), then
 * minimal version selection over the go.mod graph, pruned as go prunes it for a module
 * at go 1.17 or later (its own go.mod lists every module its packages need). */
#include "fetchers/go/go_int.h"
#include "fetchers/go/go_vlist.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

/* --- version lists and queries (go_vlist.c) --- */

/* @v/list: canonical, non-pseudo versions, ascending. EC_ENOTFOUND: no such module. */
static int list_versions(go_cfg *g, const char *module, go_vlist *out, ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/list", emod);
    ec_buf b = EC_BUF_INIT;
    int r = go_doc_get(g, rel, false, &b, err);
    go_vlist_parse(out, r == EC_OK ? b.p : NULL);
    ec_buf_fini(&b);
    return r;
}

/* A version's go.mod is go's own, not one the proxy made up for a module without one. */
static bool has_gomod(go_cfg *g, const char *module, const char *version)
{
    ec_buf b = EC_BUF_INIT;
    bool has = false;
    if (go_get_mod(g, module, version, &b, NULL) == EC_OK) {
        EC_AUTOFREE char *legacy = ec_xasprintf("module %s\n", module);
        has = strcmp(ec_buf_str(&b), legacy) != 0;
    }
    ec_buf_fini(&b);
    return has;
}

/* go's filterVersions: +incompatible versions count only while no compatible version
 * below them has a go.mod. Truncates @l in place. */
static void drop_incompatible(go_cfg *g, const char *module, go_vlist *l)
{
    const char *last_compat = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (!strstr(l->v[i], "+incompatible")) {
            last_compat = l->v[i];
            continue;
        }
        if (last_compat && has_gomod(g, module, last_compat)) {
            for (size_t k = i; k < l->n; k++)
                free(l->v[k]);
            l->n = i;
        }
        return;
    }
}

char *go_info_version(const void *body, size_t n)
{
    json_t *j = json_loadb(body ? body : "", n, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "Version"));
    char *out = v && go_version_valid(v) ? ec_xstrdup(v) : NULL;
    json_decref(j);
    return out;
}

/* The info document of a version or a revision the proxy resolves. */
static int stat_version(go_cfg *g, const char *module, const char *q, char **out, ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *eq = go_escape(q);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/%s.info", emod, eq);
    ec_buf b = EC_BUF_INIT;
    int r = go_doc_get(g, rel, go_version_valid(q), &b, err);
    char *v = r == EC_OK ? go_info_version(b.p, b.n) : NULL;
    if (r == EC_OK && !v)
        r = ec_fail(err, EC_EFORMAT, "%s@%s: the proxy's info has no valid Version", module, q);
    if (v)
        *out = v;
    ec_buf_fini(&b);
    return r;
}

static int latest_endpoint(go_cfg *g, const char *module, char **out, ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@latest", emod);
    ec_buf b = EC_BUF_INIT;
    int r = go_doc_get(g, rel, false, &b, err);
    char *v = r == EC_OK ? go_info_version(b.p, b.n) : NULL;
    if (r == EC_OK && !v)
        r = ec_fail(err, EC_EFORMAT, "%s@latest: the proxy's answer has no valid Version", module);
    if (v)
        *out = v;
    ec_buf_fini(&b);
    return r;
}

/* module@q → a version, as go's queryProxy: retractions come from the go.mod of the
 * module's latest version ignoring them, whatever the query (go's
 * queryLatestVersionIgnoringRetractions). EC_ENOTFOUND: no such module or no matching
 * version. */
static int query(go_cfg *g, const char *module, const char *q, char **out, ec_err *err)
{
    const char *arg;
    go_qkind k = go_query_kind(q, &arg);
    if (k == GO_Q_EXACT)
        return stat_version(g, module, q, out, err);
    if (k == GO_Q_REV) {
        int r = stat_version(g, module, q, out, err);
        if (r == EC_ENOTFOUND)
            ec_err_prefix(err, "%s@%s: no proxy resolves this revision, and envcache does not "
                          "fetch from version control (not supported)", module, q);
        return r;
    }
    go_vlist l;
    int r = list_versions(g, module, &l, err);
    if (r == EC_OK)
        drop_incompatible(g, module, &l);
    const char *top = r == EC_OK ? go_vlist_pick(&l, GO_Q_LATEST, arg, NULL) : NULL;
    if (r == EC_OK && !top && l.n == 0 && k == GO_Q_LATEST) {
        go_vlist_free(&l); /* no tags: the proxy's latest (a pseudo-version) */
        return latest_endpoint(g, module, out, err);
    }
    go_modfile retr = {0};
    ec_buf mod = EC_BUF_INIT;
    if (r == EC_OK && top && go_get_mod(g, module, top, &mod, NULL) == EC_OK &&
        go_modfile_parse(&retr, mod.p ? mod.p : "", mod.n, module, NULL) != EC_OK)
        memset(&retr, 0, sizeof retr);
    const char *v = r == EC_OK ? go_vlist_pick(&l, k, arg, &retr) : NULL;
    if (r == EC_OK && !v)
        r = ec_fail(err, EC_ENOTFOUND, "%s: no version matches %s%s", module, q,
                    l.n ? " (retracted versions are skipped)" : "");
    if (r == EC_OK)
        *out = ec_xstrdup(v);
    go_modfile_fini(&retr);
    ec_buf_fini(&mod);
    go_vlist_free(&l);
    return r;
}

/* --- the module that holds the package --- */

typedef struct target {
    char *spec, *pkg, *module, *version, *go, *toolchain;
} target;

static void target_fini(target *t)
{
    free(t->spec);
    free(t->pkg);
    free(t->module);
    free(t->version);
    free(t->go);
    free(t->toolchain);
}

/* The package's zip holds the package: fetched (verified) and looked into. */
static int holds_package(go_cfg *g, const char *module, const char *version, const char *pkg,
                         bool *out, ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *ever = go_escape(version);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/%s.zip", emod, ever);
    ec_digest d;
    char h1[64];
    int r = go_doc_lookup(g->ctx->store, rel, &d, NULL);
    if (r < 0)
        r = go_get_zip(g, module, version, &d, h1, err);
    ec_buf b = EC_BUF_INIT;
    b.max = (size_t)600 << 20;
    if (r == EC_OK)
        r = go_blob_read(g->ctx->store, &d, &b, err);
    if (r == EC_OK) {
        EC_AUTOFREE char *prefix = ec_xasprintf("%s@%s/", module, version);
        const char *dir = pkg[strlen(module)] == '/' ? pkg + strlen(module) + 1 : "";
        *out = go_zip_has_package(b.p, b.n, prefix, dir);
    }
    ec_buf_fini(&b);
    return r;
}

static int find_module(go_cfg *g, const ec_spec *sp, const char *text, target *t, ec_err *err)
{
    const char *pkg = sp->name, *q = sp->constraint;
    size_t n = strlen(pkg);
    ec_err last = {0};
    for (size_t cut = n; cut > 0; cut--) {
        if (cut < n && pkg[cut] != '/')
            continue;
        EC_AUTOFREE char *module = ec_xstrndup(pkg, cut);
        char *v = NULL;
        ec_err e = {0};
        int r = query(g, module, q, &v, &e);
        if (r == EC_ENOTFOUND) {
            if (!last.msg[0] || cut == n)
                last = e;
            continue;
        }
        if (r < 0)
            return *err = e, ec_err_prefix(err, "%s", text), r;
        bool holds = false;
        r = holds_package(g, module, v, pkg, &holds, err);
        if (r < 0 || !holds) {
            free(v);
            if (r < 0)
                return ec_err_prefix(err, "%s", text), r;
            continue;
        }
        t->spec = ec_xstrdup(text);
        t->pkg = ec_xstrdup(pkg);
        t->module = ec_steal(&module);
        t->version = v;
        return EC_OK;
    }
    if (err)
        *err = last;
    ec_err_prefix(err, "%s: no module provides package %s at %s", text, pkg, q);
    return EC_ENOTFOUND;
}

/* --- minimal version selection --- */

typedef struct sel {
    char **path, **version;
    size_t n;
} sel;

static void sel_raise(sel *s, const char *path, const char *version)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->path[i], path) == 0) {
            if (go_vcmp(version, s->version[i]) > 0) {
                free(s->version[i]);
                s->version[i] = ec_xstrdup(version);
            }
            return;
        }
    s->path = ec_xrealloc(s->path, (s->n + 1) * sizeof *s->path);
    s->version = ec_xrealloc(s->version, (s->n + 1) * sizeof *s->version);
    s->path[s->n] = ec_xstrdup(path);
    s->version[s->n++] = ec_xstrdup(version);
}

static void sel_free(sel *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->path[i]);
        free(s->version[i]);
    }
    free(s->path);
    free(s->version);
}

/* Go release order of "1.17", "1.21.0", "1.22rc1" (a release candidate sorts below
 * its release). */
int go_gover_cmp(const char *a, const char *b)
{
    for (int part = 0; part < 3; part++) {
        long x = strtol(a, (char **)&a, 10), y = strtol(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        bool pa = *a && *a != '.', pb = *b && *b != '.'; /* rc, beta */
        if (pa || pb) {
            if (pa != pb)
                return pa ? -1 : 1;
            int c = strcmp(a, b);
            return c < 0 ? -1 : c > 0;
        }
        a += *a == '.';
        b += *b == '.';
    }
    return 0;
}

/* From go 1.17 a module's go.mod lists every module its packages need: go reads no
 * go.mod beneath it (graph pruning). */
static bool pruned(const go_modfile *m)
{
    return m->go[0] && go_gover_cmp(m->go, "1.17") >= 0;
}

typedef struct graph {
    go_cfg *g;
    sel s;
    char **seen; /* "path@version" whose go.mod was read */
    size_t nseen;
} graph;

static bool seen_add(graph *gr, const char *path, const char *version)
{
    EC_AUTOFREE char *k = ec_xasprintf("%s@%s", path, version);
    for (size_t i = 0; i < gr->nseen; i++)
        if (strcmp(gr->seen[i], k) == 0)
            return false;
    gr->seen = ec_xrealloc(gr->seen, (gr->nseen + 1) * sizeof *gr->seen);
    gr->seen[gr->nseen++] = ec_steal(&k);
    return true;
}

/* Unpruned: every go.mod reachable, every version of it (MVS's whole graph). */
static int walk(graph *gr, const char *path, const char *version, ec_err *err)
{
    if (!seen_add(gr, path, version))
        return EC_OK;
    ec_buf b = EC_BUF_INIT;
    go_modfile m;
    EC_AUTOFREE char *what = ec_xasprintf("%s@%s go.mod", path, version);
    int r = go_get_mod(gr->g, path, version, &b, err);
    if (r == EC_OK)
        r = go_modfile_parse(&m, b.p ? b.p : "", b.n, what, err);
    ec_buf_fini(&b);
    if (r < 0)
        return r;
    for (size_t i = 0; i < m.nreqs && r == EC_OK; i++) {
        sel_raise(&gr->s, m.reqs[i].path, m.reqs[i].version);
        r = walk(gr, m.reqs[i].path, m.reqs[i].version, err);
    }
    go_modfile_fini(&m);
    return r;
}

/* The build list of `go install` for @t: the module, then what its go.mod requires
 * (pruned), or the whole graph's maxima (unpruned). replace and exclude refused, as go
 * refuses them. */
static int build_list(go_cfg *g, target *t, sel *out, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    go_modfile m;
    EC_AUTOFREE char *what = ec_xasprintf("%s@%s go.mod", t->module, t->version);
    int r = go_get_mod(g, t->module, t->version, &b, err);
    if (r == EC_OK)
        r = go_modfile_parse(&m, b.p ? b.p : "", b.n, what, err);
    ec_buf_fini(&b);
    if (r < 0)
        return ec_err_prefix(err, "%s", t->spec), r;
    if (m.nreplace || m.nexclude) {
        r = ec_fail(err, EC_EINVAL, "%s: the go.mod of %s@%s contains %s directives; go install "
                    "refuses a module that would be read differently as the main module",
                    t->spec, t->module, t->version, m.nreplace ? "replace" : "exclude");
        go_modfile_fini(&m);
        return r;
    }
    t->go = ec_xstrdup(m.go);
    t->toolchain = ec_xstrdup(m.toolchain);
    graph gr = {.g = g};
    sel_raise(&gr.s, t->module, t->version);
    seen_add(&gr, t->module, t->version);
    for (size_t i = 0; i < m.nreqs; i++)
        sel_raise(&gr.s, m.reqs[i].path, m.reqs[i].version);
    for (size_t i = 0; i < m.nreqs && r == EC_OK && !pruned(&m); i++)
        r = walk(&gr, m.reqs[i].path, m.reqs[i].version, err);
    go_modfile_fini(&m);
    for (size_t i = 0; i < gr.nseen; i++)
        free(gr.seen[i]);
    free(gr.seen);
    if (r < 0) {
        sel_free(&gr.s);
        return ec_err_prefix(err, "%s", t->spec), r;
    }
    *out = gr.s;
    return EC_OK;
}

/* --- the lock --- */

/* The base's go (the probe's first line, "go1.22.3") can build @t, or fetch the go it
 * needs (go 1.21 and later switch toolchains through GOPROXY: the mirror). */
static int toolchain_check(const target *t, const char *base_go, ec_err *err)
{
    if (!base_go || strncmp(base_go, "go", 2) != 0 || !t->go[0])
        return EC_OK;
    const char *need = t->toolchain[0] && go_gover_cmp(t->toolchain + 2, t->go) > 0
                           ? t->toolchain + 2 : t->go;
    if (go_gover_cmp(base_go + 2, need) >= 0 || go_gover_cmp(base_go + 2, "1.21") >= 0)
        return EC_OK;
    return ec_fail(err, EC_EUNSUPPORTED, "%s: %s@%s needs go %s, and the go beneath is %s, "
                   "which cannot fetch a newer toolchain (go 1.21 and later do): put go %s or "
                   "go 1.21+ beneath the go layer", t->spec, t->module, t->version, need,
                   base_go, need);
}

static void add_package(json_t *pkgs, const char *path, const char *version)
{
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p)
        if (!strcmp(json_string_value(json_object_get(p, "name")), path) &&
            !strcmp(json_string_value(json_object_get(p, "version")), version))
            return;
    json_array_append_new(pkgs, json_pack("{s:s, s:s}", "name", path, "version", version));
}

/* The go.sum hashes of every package, and its go.mod in the store (the build reads it). */
static int pin_hashes(go_cfg *g, json_t *pkgs, ec_err *err)
{
    size_t i;
    json_t *p;
    json_array_foreach(pkgs, i, p) {
        const char *path = json_string_value(json_object_get(p, "name"));
        const char *v = json_string_value(json_object_get(p, "version"));
        ec_buf b = EC_BUF_INIT;
        int r = go_get_mod(g, path, v, &b, err);
        char mh[64];
        go_h1_mod(mh, b.p ? b.p : "", b.n);
        ec_buf_fini(&b);
        if (r < 0)
            return r;
        json_object_set_new(p, "mod_h1", json_string(mh));
        char zh[64], dbm[64];
        if (go_cfg_checks(g, path)) {
            if ((r = go_sumdb_hashes(g, path, v, zh, dbm, err)) < 0)
                return r;
            json_object_set_new(p, "h1", json_string(zh));
        }
        EC_AUTOFREE char *emod = go_escape(path);
        EC_AUTOFREE char *ever = go_escape(v);
        EC_AUTOFREE char *url = ec_xasprintf("%s/@v/%s.zip", emod, ever);
        json_object_set_new(p, "url", json_string(url));
    }
    return EC_OK;
}

static int pkg_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "name")),
                   json_string_value(json_object_get(y, "name")));
    return c ? c : go_vcmp(json_string_value(json_object_get(x, "version")),
                           json_string_value(json_object_get(y, "version")));
}

static json_t *sorted(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = ec_xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, pkg_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
    json_decref(arr);
    return out;
}

static json_t *target_json(const target *t, const sel *s)
{
    json_t *deps = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(deps, s->path[i], json_string(s->version[i]));
    const char *base = strrchr(t->pkg, '/') ? strrchr(t->pkg, '/') + 1 : t->pkg;
    char bin[256];
    snprintf(bin, sizeof bin, "%s", base);
    /* ".../cmd/v2" builds "cmd": a major-version suffix is not the program's name */
    if (bin[0] == 'v' && bin[1] && strspn(bin + 1, "0123456789") == strlen(bin + 1) &&
        strrchr(t->pkg, '/')) {
        const char *end = strrchr(t->pkg, '/'), *start = end;
        while (start > t->pkg && start[-1] != '/')
            start--;
        snprintf(bin, sizeof bin, "%.*s", (int)(end - start), start);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "spec", t->spec, "package",
                     t->pkg, "module", t->module, "version", t->version, "go", t->go,
                     "toolchain", t->toolchain, "binary", bin, "build_list", deps);
}

int go_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err)
{
    go_cfg g;
    int r = go_cfg_init(&g, ctx, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *base_go = req->probe ? ec_xstrndup(req->probe, strcspn(req->probe, "\n"))
                                           : NULL;
    json_t *targets = json_array(), *pkgs = json_array(), *specs = json_array();
    for (size_t i = 0; i < req->nspecs && r == EC_OK; i++) {
        json_array_append_new(specs, json_string(req->texts[i]));
        target t = {0};
        sel s = {0};
        if (ctx->progress) {
            ec_progress_event ev = {.manager = "go", .phase = EC_PHASE_RESOLVING, .done = i,
                                    .total = req->nspecs, .item = req->texts[i]};
            ctx->progress(&ev, ctx->progress_ud);
        }
        r = find_module(&g, &req->specs[i], req->texts[i], &t, err);
        if (r == EC_OK)
            r = build_list(&g, &t, &s, err);
        if (r == EC_OK)
            r = toolchain_check(&t, base_go, err);
        if (r == EC_OK) {
            json_array_append_new(targets, target_json(&t, &s));
            for (size_t k = 0; k < s.n; k++)
                add_package(pkgs, s.path[k], s.version[k]);
        }
        sel_free(&s);
        target_fini(&t);
    }
    if (r == EC_OK)
        r = pin_hashes(&g, pkgs, err);
    if (r == EC_OK)
        *lock_out = json_pack("{s:s, s:i, s:o, s:o, s:o, s:s?, s:b}", "manager", "go",
                              "version", 1, "specs", specs, "targets", targets, "packages",
                              sorted(pkgs), "go_beneath", base_go, "runs_code", 1);
    else {
        json_decref(specs);
        json_decref(targets);
        json_decref(pkgs);
    }
    go_cfg_fini(&g);
    return r;
}
