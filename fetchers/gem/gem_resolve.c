/* SPDX-License-Identifier: MIT */
/* resolve: the gems `gem install NAME -v REQ` would choose, with the Ruby beneath (the
 * entry's probe says its version, RubyGems version, platform and installed gems).
 *
 * As RubyGems' resolver (Gem::Resolver over an InstallerSet) does: a dependency is met by
 * a gem installed beneath when one satisfies it (never for the gems asked for), else by
 * the newest version in the registry that satisfies it, whose platform installs here
 * (a platform gem before the `ruby` one of the same version) and whose
 * required_ruby_version and required_rubygems_version hold; pre-releases only when the
 * requirement names one. The next dependency to settle is the most constrained one
 * (Gem::Resolver#sort_dependencies); a conflict backtracks. Runtime dependencies only:
 * the compact index lists nothing else. Each spec is resolved as its own `gem install`
 * would be, seeing what the specs before it chose as installed. */
#include "fetchers/gem/gem_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/mem.h"

#define GEM_STEPS_MAX 200000

/* A gem the layers beneath (or an earlier spec) already hold. */
typedef struct inst {
    char *name;
    gem_ver ver;
    char platform[64];
    gem_entry deps; /* only deps/ndeps used */
} inst;

typedef struct beneath {
    gem_ver ruby, rubygems;
    char platform[64], gemdir[256], bindir[256], binstub[256];
    inst *g;
    size_t n;
} beneath;

/* One choice: a registry entry, or an installed gem. */
typedef struct cand {
    const gem_entry *e;
    const inst *i;
} cand;

typedef struct pending {
    const char *name;
    const gem_req *req;
    const char *by; /* the gem that asked, or NULL for the spec */
} pending;

typedef struct picked {
    const char *name;
    cand c;
} picked;

typedef struct rs {
    ec_fetch_ctx *ctx;
    beneath *b;
    ec_buf versions;
    gem_info *infos;
    size_t ninfos;
    const char *top; /* the gem asked for: never met by an installed one */
    picked *act;
    size_t nact;
    unsigned long steps;
    int rc;
    ec_err err;
    char conflict[512];
} rs;

/* --- what the probe said --- */

static void beneath_free(beneath *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->g[i].name);
        for (size_t k = 0; k < b->g[i].deps.ndeps; k++)
            free(b->g[i].deps.deps[k].name);
        free(b->g[i].deps.deps);
    }
    free(b->g);
}

static void deps_parse(gem_entry *e, const char *s)
{
    if (!s || strcmp(s, "-") == 0)
        return;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ",");
        const char *colon = memchr(p, ':', len);
        if (colon) {
            e->deps = ec_xrealloc(e->deps, (e->ndeps + 1) * sizeof *e->deps);
            e->deps[e->ndeps].name = ec_xstrndup(p, (size_t)(colon - p));
            EC_AUTOFREE char *req = ec_xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
            if (gem_req_parse(&e->deps[e->ndeps].req, req, '&'))
                e->ndeps++;
            else
                free(e->deps[e->ndeps].name);
        }
        p += len + (p[len] == ',');
    }
}

static void installed_add(beneath *b, const char *name, const gem_ver *v, const char *plat,
                          const char *deps)
{
    b->g = ec_xrealloc(b->g, (b->n + 1) * sizeof *b->g);
    inst *g = &b->g[b->n++];
    memset(g, 0, sizeof *g);
    g->name = ec_xstrdup(name);
    g->ver = *v;
    snprintf(g->platform, sizeof g->platform, "%s", plat);
    deps_parse(&g->deps, deps);
}

static int beneath_parse(beneath *b, const char *probe, ec_err *err)
{
    memset(b, 0, sizeof *b);
    bool ruby = false, gems = false;
    for (const char *p = probe ? probe : ""; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        EC_AUTOFREE char *line = ec_xstrndup(p, strcspn(p, "\n"));
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp++ = '\0';
        if (strcmp(line, "ruby") == 0)
            ruby = gem_ver_parse(&b->ruby, sp, strlen(sp));
        else if (strcmp(line, "rubygems") == 0)
            gems = gem_ver_parse(&b->rubygems, sp, strlen(sp));
        else if (strcmp(line, "platform") == 0)
            snprintf(b->platform, sizeof b->platform, "%s", sp);
        else if (strcmp(line, "gemdir") == 0)
            snprintf(b->gemdir, sizeof b->gemdir, "%s", sp);
        else if (strcmp(line, "bindir") == 0)
            snprintf(b->bindir, sizeof b->bindir, "%s", sp);
        else if (strcmp(line, "binstub") == 0)
            snprintf(b->binstub, sizeof b->binstub, "%s", sp);
        else if (strcmp(line, "installed") == 0) {
            char name[256], ver[GEM_VER_MAX], plat[64];
            int used = 0;
            gem_ver v;
            if (sscanf(sp, "%255s %63s %63s %n", name, ver, plat, &used) >= 3 &&
                gem_ver_parse(&v, ver, strlen(ver)))
                installed_add(b, name, &v, plat, sp + used);
        }
    }
    if (!ruby || !gems || !b->platform[0] || !b->gemdir[0])
        return ec_fail(err, EC_EINVAL, "gem: the layers beneath have no usable Ruby (its "
                       "probe said: \"%.200s\"): add ruby to the environment's apt packages",
                       probe ? probe : "nothing");
    return EC_OK;
}

/* --- candidates --- */

static int info_get(rs *s, const char *name, const gem_info **out)
{
    for (size_t i = 0; i < s->ninfos; i++)
        if (strcmp(s->infos[i].name, name) == 0)
            return *out = &s->infos[i], EC_OK;
    gem_info gi;
    int r = gem_index_info(s->ctx, ec_buf_str(&s->versions), name, &gi, &s->err);
    if (r < 0)
        return s->rc = r;
    s->infos = ec_xrealloc(s->infos, (s->ninfos + 1) * sizeof *s->infos);
    s->infos[s->ninfos] = gi;
    *out = &s->infos[s->ninfos++];
    if (s->ctx->progress) {
        ec_progress_event ev = {.manager = "gem", .phase = EC_PHASE_RESOLVING,
                                .done = s->ninfos, .item = name};
        s->ctx->progress(&ev, s->ctx->progress_ud);
    }
    return EC_OK;
}

static bool entry_ok(const rs *s, const gem_entry *e, const gem_req *req)
{
    return gem_req_match(req, &e->ver) && (!e->ver.pre || gem_req_pre(req)) &&
           gem_platform_installable(e->platform, s->b->platform) &&
           gem_req_match(&e->ruby, &s->b->ruby) && gem_req_match(&e->rubygems, &s->b->rubygems);
}

/* Sorted worst first, the order Gem::Resolver#search_for hands them to Molinillo (which
 * tries the last first): registry gems by version, a local-platform gem after the ruby
 * one; then installed gems by version. */
static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (!a->i != !b->i)
        return a->i ? 1 : -1;
    int c = gem_ver_cmp(a->i ? &a->i->ver : &a->e->ver, b->i ? &b->i->ver : &b->e->ver);
    if (c || a->i)
        return c;
    return (strcmp(a->e->platform, "ruby") != 0) - (strcmp(b->e->platform, "ruby") != 0);
}

/* The choices for @name @req, worst first; NULL with *@n 0 when none. */
static cand *candidates(rs *s, const char *name, const gem_req *req, size_t *n)
{
    *n = 0;
    const gem_info *gi = NULL;
    cand *out = NULL;
    if (info_get(s, name, &gi) < 0) {
        bool installed_only = false;
        for (size_t i = 0; i < s->b->n; i++)
            installed_only |= strcmp(s->b->g[i].name, name) == 0;
        if (!installed_only || s->rc != EC_ENOTFOUND)
            return NULL;
        s->rc = EC_OK; /* not in the registry, but beneath */
        ec_err_clear(&s->err);
    }
    for (size_t i = 0; gi && i < gi->n; i++)
        if (entry_ok(s, &gi->e[i], req)) {
            out = ec_xrealloc(out, (*n + 1) * sizeof *out);
            out[(*n)++] = (cand){.e = &gi->e[i]};
        }
    bool top = strcmp(name, s->top) == 0;
    for (size_t i = 0; !top && i < s->b->n; i++) {
        const inst *g = &s->b->g[i];
        if (strcmp(g->name, name) == 0 && gem_req_match(req, &g->ver) &&
            (!g->ver.pre || gem_req_pre(req))) {
            out = ec_xrealloc(out, (*n + 1) * sizeof *out);
            out[(*n)++] = (cand){.i = g};
        }
    }
    if (*n)
        qsort(out, *n, sizeof *out, cand_cmp);
    return out;
}

/* --- the search --- */

static const picked *activated(const rs *s, const char *name)
{
    for (size_t i = 0; i < s->nact; i++)
        if (strcmp(s->act[i].name, name) == 0)
            return &s->act[i];
    return NULL;
}

static const gem_entry *cand_deps(const cand *c)
{
    return c->i ? &c->i->deps : c->e;
}

static const gem_ver *cand_ver(const cand *c)
{
    return c->i ? &c->i->ver : &c->e->ver;
}

/* Gem::Resolver#amount_constrained: how many fewer choices the requirement leaves than
 * the name alone has (more negative: settle it sooner). */
static long constrained(rs *s, const pending *p, size_t *count)
{
    gem_req any;
    gem_req_parse(&any, "", ',');
    size_t all = 0, some = 0;
    free(candidates(s, p->name, &any, &all));
    free(candidates(s, p->name, p->req, &some));
    *count = some;
    return all == 0 ? -1 : (long)some - (long)all;
}

static size_t next_pending(rs *s, const pending *pend, size_t n)
{
    size_t best = 0;
    long bk[3] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        long k[3] = {activated(s, pend[i].name) ? 0 : 1, 0, 0};
        if (k[0]) {
            k[1] = constrained(s, &pend[i], &count);
            k[2] = (long)count;
        }
        int c = 0;
        for (int j = 0; j < 3 && !c; j++)
            c = k[j] < bk[j] ? -1 : k[j] > bk[j];
        if (i == 0 || c < 0) {
            best = i;
            memcpy(bk, k, sizeof k);
        }
    }
    return best;
}

static bool solve(rs *s, const pending *pend, size_t n)
{
    if (n == 0)
        return true;
    if (++s->steps > GEM_STEPS_MAX || s->rc < 0) {
        if (s->rc == EC_OK)
            s->rc = ec_fail(&s->err, EC_ELIMIT, "gem: resolving %s took more than %d steps",
                            s->top, GEM_STEPS_MAX);
        return false;
    }
    size_t k = next_pending(s, pend, n);
    pending p = pend[k];
    pending *rest = ec_xcalloc(n + 64, sizeof *rest);
    memcpy(rest, pend, k * sizeof *rest);
    memcpy(rest + k, pend + k + 1, (n - k - 1) * sizeof *rest);
    const picked *a = activated(s, p.name);
    bool ok = false;
    if (a) {
        ok = gem_req_match(p.req, cand_ver(&a->c)) && solve(s, rest, n - 1);
        if (!ok && !s->conflict[0])
            snprintf(s->conflict, sizeof s->conflict, "%s wants %s %s, but %s %s was chosen",
                     p.by ? p.by : "the spec", p.name, p.req->c[0].v.text, p.name,
                     cand_ver(&a->c)->text);
        free(rest);
        return ok;
    }
    size_t nc = 0;
    cand *cs = candidates(s, p.name, p.req, &nc);
    if (!nc && s->rc == EC_OK && !s->conflict[0])
        snprintf(s->conflict, sizeof s->conflict, "no version of %s%s%s satisfies the "
                 "requirement, installs on %s with Ruby %s and RubyGems %s", p.name,
                 p.by ? " (wanted by " : "", p.by ? p.by : "", s->b->platform,
                 s->b->ruby.text, s->b->rubygems.text);
    for (size_t c = nc; c-- > 0 && !ok && s->rc == EC_OK;) {
        const gem_entry *d = cand_deps(&cs[c]);
        size_t m = n - 1;
        rest = ec_xrealloc(rest, (n - 1 + d->ndeps + 1) * sizeof *rest);
        for (size_t i = 0; i < d->ndeps; i++)
            rest[m++] = (pending){d->deps[i].name, &d->deps[i].req, p.name};
        s->act = ec_xrealloc(s->act, (s->nact + 1) * sizeof *s->act);
        s->act[s->nact++] = (picked){p.name, cs[c]};
        ok = solve(s, rest, m);
        if (!ok)
            s->nact--;
    }
    free(cs);
    free(rest);
    return ok;
}

/* --- the lock --- */

static char *full_name(const char *name, const cand *c)
{
    const char *plat = c->i ? c->i->platform : c->e->platform;
    return strcmp(plat, "ruby") == 0 ? ec_xasprintf("%s-%s", name, cand_ver(c)->text)
                                     : ec_xasprintf("%s-%s-%s", name, cand_ver(c)->text, plat);
}

/* Dependencies before what needs them (the order gem install installs in). */
static void emit(rs *s, const char *name, json_t *pkgs, bool *done)
{
    size_t idx = 0;
    for (; idx < s->nact && strcmp(s->act[idx].name, name) != 0; idx++)
        ;
    if (idx == s->nact || done[idx])
        return;
    done[idx] = true;
    const picked *p = &s->act[idx];
    const gem_entry *d = cand_deps(&p->c);
    for (size_t i = 0; i < d->ndeps; i++)
        emit(s, d->deps[i].name, pkgs, done);
    if (p->c.i)
        return; /* beneath already */
    EC_AUTOFREE char *full = full_name(name, &p->c);
    size_t ul = strlen(s->ctx->upstream);
    while (ul && s->ctx->upstream[ul - 1] == '/')
        ul--;
    EC_AUTOFREE char *url = ec_xasprintf("%.*s/gems/%s.gem", (int)ul, s->ctx->upstream, full);
    json_array_append_new(pkgs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", name,
                                          "version", p->c.e->ver.text, "platform",
                                          p->c.e->platform, "full_name", full, "url", url,
                                          "integrity", p->c.e->checksum, "top",
                                          strcmp(name, s->top) == 0));
}

/* One spec, as its own `gem install` would resolve it; what it chose joins @pkgs, and
 * the gems met beneath join @kept ("name-version"). */
static int resolve_one(rs *s, const ec_spec *sp, const char *text, json_t *pkgs, json_t *kept,
                       ec_err *err)
{
    gem_req req;
    if (!gem_req_parse(&req, sp->constraint, ','))
        return ec_fail(err, EC_EINVAL, "gem: \"%s\": the requirement is not one RubyGems "
                       "reads", text);
    s->top = sp->name;
    s->nact = 0;
    s->conflict[0] = '\0';
    pending top = {sp->name, &req, NULL};
    bool ok = solve(s, &top, 1);
    if (s->rc < 0) {
        *err = s->err;
        return ec_err_prefix(err, "gem: \"%s\"", text), s->rc;
    }
    if (!ok)
        return ec_fail(err, EC_ENOTFOUND, "gem: \"%s\" cannot be resolved: %s", text,
                       s->conflict);
    bool *done = ec_xcalloc(s->nact + 1, sizeof *done);
    emit(s, sp->name, pkgs, done);
    for (size_t i = 0; i < s->nact; i++)
        if (s->act[i].c.i) {
            EC_AUTOFREE char *full = full_name(s->act[i].name, &s->act[i].c);
            json_array_append_new(kept, json_string(full));
        }
    /* the next spec's gem install finds these installed (this moves s->b->g: the
     * installed choices above are not looked at again) */
    for (size_t i = 0; i < s->nact; i++) {
        const picked *p = &s->act[i];
        if (p->c.i)
            continue;
        installed_add(s->b, p->name, &p->c.e->ver, p->c.e->platform, NULL);
        inst *g = &s->b->g[s->b->n - 1];
        g->deps.deps = ec_xcalloc(p->c.e->ndeps + 1, sizeof *g->deps.deps);
        for (size_t k = 0; k < p->c.e->ndeps; k++) {
            g->deps.deps[k].name = ec_xstrdup(p->c.e->deps[k].name);
            g->deps.deps[k].req = p->c.e->deps[k].req;
        }
        g->deps.ndeps = p->c.e->ndeps;
    }
    free(done);
    return EC_OK;
}

int gem_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err)
{
    beneath b;
    int r = beneath_parse(&b, req->probe, err);
    rs s = {.ctx = ctx, .b = &b};
    s.versions.max = (size_t)1 << 30;
    if (r == EC_OK)
        r = gem_index_doc(ctx, "versions", GEM_INDEX_TTL, &s.versions, NULL, err);
    json_t *pkgs = json_array(), *kept = json_array(), *specs = json_array();
    for (size_t i = 0; r == EC_OK && i < req->nspecs; i++)
        r = resolve_one(&s, &req->specs[i], req->texts[i], pkgs, kept, err);
    for (size_t i = 0; i < req->nspecs; i++)
        json_array_append_new(specs, json_string(req->texts[i]));
    if (r == EC_OK)
        *lock_out = json_pack("{s:s, s:i, s:o, s:o, s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:b}",
                              "manager", "gem", "version", 1, "specs", specs, "packages",
                              pkgs, "beneath", kept, "ruby", "version", b.ruby.text,
                              "rubygems", b.rubygems.text, "platform", b.platform, "gemdir",
                              b.gemdir, "bindir", b.bindir, "binstub", b.binstub, "runs_code",
                              true);
    else {
        json_decref(pkgs);
        json_decref(kept);
        json_decref(specs);
    }
    for (size_t i = 0; i < s.ninfos; i++)
        gem_info_free(&s.infos[i]);
    free(s.infos);
    free(s.act);
    ec_buf_fini(&s.versions);
    beneath_free(&b);
    return r;
}
