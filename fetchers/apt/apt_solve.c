/* SPDX-License-Identifier: MIT */
/* The apt closure: specs → the packages to install, solved with libsolv against the base's
 * dpkg status, tuned to choose as `apt-get install --no-install-recommends` does.
 *
 * Outline:
 *   1. a DISTTYPE_DEB pool; the status file's installed stanzas become the installed repo,
 *      each Packages index one repo (repo->appdata points at its ec_apt_index);
 *   2. Multi-Arch: when more than one real architecture is present, dependencies are
 *      rewritten so that only same-arch, arch:all or Multi-Arch: foreign (and, for :any,
 *      allowed) packages satisfy them (libsolv itself ignores Multi-Arch);
 *   3. one job per spec, on apt's candidate (the highest version of that name), after the
 *      checks apt makes (unknown name, virtual name, missing version);
 *   4. solve; then apt's rule for "a | b" (the first alternative that can be installed wins
 *      unless one is installed already) is enforced by favouring that alternative and
 *      solving again, until the choice agrees or a round limit;
 *   5. the transaction's new packages, with the fields libsolv does not keep (Size,
 *      Essential) read in a second pass over the indexes, sorted by name then arch.
 */
#include "fetchers/apt/apt_pool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <solv/evr.h>
#include <solv/policy.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>
#include <solv/repo_deb.h>
#include <solv/selection.h>
#include <solv/solver.h>
#include <solv/solverdebug.h>
#include <solv/transaction.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/buf.h"
#include "store/util/mem.h"

#define APT_FAVOR_ROUNDS 8
#define APT_LIST_MAX 12 /* providers or versions named in one message */

static void apt_solver_free(Solver *s)
{
    solver_free(s);
}
static void apt_trans_free(Transaction *t)
{
    transaction_free(t);
}
EC_DEFINE_AUTO(Solver, apt_solver_free)
EC_DEFINE_AUTO(Transaction, apt_trans_free)

/* --- Multi-Arch --- */

static Id apt_arch_of(const Solvable *s, Id native)
{
    return s->arch == ARCH_ALL ? native : s->arch;
}

static Id apt_qualname(Pool *pool, Id name, const char *tag)
{
    return pool_str2id(pool, pool_tmpjoin(pool, pool_id2str(pool, name), "%", tag), 1);
}

/* Provides "name%ARCH" (and "name%foreign", "name%allowed") for every provide of @s, so a
 * rewritten dependency names exactly the packages dpkg would accept. */
static void apt_ma_provides(Pool *pool, Solvable *s, Id native)
{
    const char *ma = solvable_lookup_str(s, SOLVABLE_MULTIARCH);
    bool foreign = ma && !strcmp(ma, "foreign");
    bool allowed = ma && !strcmp(ma, "allowed");
    const char *arch = pool_id2str(pool, apt_arch_of(s, native));
    Queue q;
    queue_init(&q);
    for (Id *dp = s->provides ? s->repo->idarraydata + s->provides : NULL; dp && *dp; dp++)
        queue_push(&q, *dp);
    for (int i = 0; i < q.count; i++) {
        Id d = q.elements[i], name = d, evr = 0;
        int flags = 0;
        if (ISRELDEP(d)) {
            Reldep *rd = GETRELDEP(pool, d);
            if (rd->flags > 7)
                continue;
            name = rd->name, evr = rd->evr, flags = rd->flags;
        }
        Id tags[3] = {apt_qualname(pool, name, arch), 0, 0};
        if (foreign)
            tags[1] = apt_qualname(pool, name, "foreign");
        if (allowed || foreign)
            tags[2] = apt_qualname(pool, name, "allowed");
        for (int t = 0; t < 3; t++)
            if (tags[t])
                s->provides = repo_addid_dep(s->repo, s->provides,
                                             evr ? pool_rel2id(pool, tags[t], evr, flags, 1)
                                                 : tags[t], 0);
    }
    queue_free(&q);
}

/* One dependency of a package of @arch in dpkg's terms: "foo" is met by foo of the same
 * arch (arch:all counts as native) or a Multi-Arch: foreign foo; "foo:any" also by a
 * Multi-Arch: allowed foo; "foo:ARCH" by foo of that arch. */
static Id apt_ma_dep(Pool *pool, Id d, const char *arch)
{
    if (!ISRELDEP(d))
        return pool_rel2id(pool, apt_qualname(pool, d, arch), apt_qualname(pool, d, "foreign"),
                           REL_OR, 1);
    Reldep *rd = GETRELDEP(pool, d);
    if (rd->flags == REL_OR)
        return pool_rel2id(pool, apt_ma_dep(pool, rd->name, arch), apt_ma_dep(pool, rd->evr, arch),
                           REL_OR, 1);
    if (rd->flags == REL_MULTIARCH)
        return pool_rel2id(pool, apt_qualname(pool, rd->name, arch),
                           apt_qualname(pool, rd->name, "allowed"), REL_OR, 1);
    if (rd->flags > 7)
        return d;
    Id inner = rd->name, evr = rd->evr;
    int flags = rd->flags;
    const char *iarch = arch;
    if (ISRELDEP(inner) && GETRELDEP(pool, inner)->flags == REL_MULTIARCH) {
        Id base = GETRELDEP(pool, inner)->name;
        return pool_rel2id(
            pool, pool_rel2id(pool, apt_qualname(pool, base, arch), evr, flags, 1),
            pool_rel2id(pool, apt_qualname(pool, base, "allowed"), evr, flags, 1), REL_OR, 1);
    }
    const char *n = pool_id2str(pool, inner);
    const char *colon = strrchr(n, ':');
    if (colon) { /* "foo:amd64 (>= 1)" */
        iarch = colon + 1;
        inner = pool_strn2id(pool, n, (unsigned)(colon - n), 1);
        return pool_rel2id(pool, apt_qualname(pool, inner, iarch), evr, flags, 1);
    }
    return pool_rel2id(pool, pool_rel2id(pool, apt_qualname(pool, inner, arch), evr, flags, 1),
                       pool_rel2id(pool, apt_qualname(pool, inner, "foreign"), evr, flags, 1),
                       REL_OR, 1);
}

static Offset apt_ma_deps(Pool *pool, Solvable *s, Offset off, const char *arch)
{
    if (!off)
        return 0;
    Queue q;
    queue_init(&q);
    for (Id *dp = s->repo->idarraydata + off; *dp; dp++)
        queue_push(&q, *dp);
    Offset n = 0;
    for (int i = 0; i < q.count; i++) {
        Id d = q.elements[i];
        if (d == SOLVABLE_PREREQMARKER) {
            n = repo_addid(s->repo, n, d);
            continue;
        }
        n = repo_addid(s->repo, n, apt_ma_dep(pool, d, arch));
    }
    queue_free(&q);
    return n;
}

/* Applies dpkg's Multi-Arch rules when the pool holds more than one real architecture;
 * with one, libsolv's arch-blind matching already is the rule. Conflicts and Breaks stay
 * arch-blind, as dpkg applies them to every architecture. */
static void apt_multiarch(Pool *pool, Id native)
{
    Id other = 0;
    Id p;
    FOR_POOL_SOLVABLES(p)
    {
        Solvable *s = pool->solvables + p;
        if (s->arch != ARCH_ALL && s->arch != native)
            other = s->arch;
    }
    if (!other)
        return;
    FOR_POOL_SOLVABLES(p)
    apt_ma_provides(pool, pool->solvables + p, native);
    FOR_POOL_SOLVABLES(p)
    {
        Solvable *s = pool->solvables + p;
        const char *arch = pool_id2str(pool, apt_arch_of(s, native));
        s->requires = apt_ma_deps(pool, s, s->requires, arch);
        s->recommends = apt_ma_deps(pool, s, s->recommends, arch);
    }
}

/* --- specs to jobs --- */

struct apt_ctx {
    Pool *pool;
    const ec_apt_index *idx;
    size_t nidx;
    Id native;
};

static void apt_sources_text(ec_buf *b, const struct apt_ctx *c)
{
    for (size_t i = 0; i < c->nidx; i++) {
        const ec_apt_source *src = c->idx[i].source;
        ec_buf_addf(b, NULL, "%s%s %s/%s", i ? ", " : "", src ? src->uri : "?",
                    src ? src->suite : "?", c->idx[i].component ? c->idx[i].component : "?");
    }
    if (!c->nidx)
        ec_buf_adds(b, "no index", NULL);
}

static int apt_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool apt_arch_ok(const struct apt_ctx *c, const Solvable *s, Id want)
{
    if (!want)
        return true;
    return s->arch == want || (s->arch == ARCH_ALL && want == c->native);
}

/* apt's candidate for name[:arch]: the highest version, the installed one on a tie;
 * without an arch, the native one first (apt's "name" means name:native, or the only
 * arch there is). Returns 0 when there is none. */
static Id apt_candidate(const struct apt_ctx *c, Id name, Id arch, Id evr)
{
    Pool *pool = c->pool;
    Id best = 0, p, pp;
    FOR_PROVIDES(p, pp, name)
    {
        Solvable *s = pool->solvables + p;
        if (s->name != name || !apt_arch_ok(c, s, arch))
            continue;
        if (!arch && s->arch != c->native && s->arch != ARCH_ALL)
            continue;
        if (evr && s->evr != evr && pool_evrcmp(pool, s->evr, evr, EVRCMP_COMPARE) != 0)
            continue;
        if (!best) {
            best = p;
            continue;
        }
        Solvable *b = pool->solvables + best;
        int cmp = pool_evrcmp(pool, s->evr, b->evr, EVRCMP_COMPARE);
        if (cmp > 0 || (cmp == 0 && s->repo == pool->installed))
            best = p;
    }
    if (!best && !arch) { /* a foreign-only package: apt takes it when it is the only one */
        FOR_PROVIDES(p, pp, name)
        {
            Solvable *s = pool->solvables + p;
            if (s->name != name)
                continue;
            if (evr && pool_evrcmp(pool, s->evr, evr, EVRCMP_COMPARE) != 0)
                continue;
            if (!best || pool_evrcmp(pool, s->evr, pool->solvables[best].evr,
                                     EVRCMP_COMPARE) > 0)
                best = p;
        }
    }
    return best;
}

/* The names (not the package itself) that provide @name, sorted, deduplicated. */
static void apt_providers(const struct apt_ctx *c, Id name, Queue *out)
{
    Pool *pool = c->pool;
    Id p, pp;
    queue_empty(out);
    FOR_PROVIDES(p, pp, name)
    {
        Solvable *s = pool->solvables + p;
        if (s->name == name)
            continue;
        queue_pushunique(out, s->name);
    }
}

static int apt_spec_job(Queue *job, const struct apt_ctx *c, const ec_spec *sp, ec_err *err)
{
    Pool *pool = c->pool;
    int r;
    Id name = pool_str2id(pool, sp->name, 0);
    Id arch = sp->qualifier[0] ? pool_str2id(pool, sp->qualifier, 1) : 0;
    bool real = false;
    Id p, pp;
    if (name)
        FOR_PROVIDES(p, pp, name)
    if (pool->solvables[p].name == name)
        real = true;

    if (!real) {
        Queue prov;
        queue_init(&prov);
        if (name)
            apt_providers(c, name, &prov);
        if (prov.count == 1 && !sp->constraint[0]) {
            /* apt: "Note, selecting 'X' instead of 'virtual'" */
            name = prov.elements[0];
            queue_free(&prov);
        } else if (prov.count == 0) {
            queue_free(&prov);
            ec_buf b = EC_BUF_INIT;
            apt_sources_text(&b, c);
            r = ec_fail(err, EC_ENOTFOUND, "apt: no package named %s in %s", sp->name,
                        ec_buf_str(&b));
            ec_buf_fini(&b);
            return r;
        } else {
            const char **names = ec_xcalloc((size_t)prov.count, sizeof *names);
            for (int i = 0; i < prov.count; i++)
                names[i] = pool_id2str(pool, prov.elements[i]);
            qsort(names, (size_t)prov.count, sizeof *names, apt_cmp_str);
            ec_buf b = EC_BUF_INIT;
            for (int i = 0; i < prov.count && i < APT_LIST_MAX; i++)
                ec_buf_addf(&b, NULL, "%s%s", i ? ", " : "", names[i]);
            if (prov.count > APT_LIST_MAX)
                ec_buf_addf(&b, NULL, " and %d more", prov.count - APT_LIST_MAX);
            if (prov.count == 1)
                r = ec_fail(err, EC_EINVAL,
                            "apt: %s is a virtual package provided by %s: name that package "
                            "to pick a version",
                            sp->name, ec_buf_str(&b));
            else
                r = ec_fail(err, EC_EINVAL,
                            "apt: %s is a virtual package provided by %s: pick one", sp->name,
                            ec_buf_str(&b));
            ec_buf_fini(&b);
            free(names);
            queue_free(&prov);
            return r;
        }
    }

    Id evr = sp->constraint[0] ? pool_str2id(pool, sp->constraint, 1) : 0;
    Id cand = apt_candidate(c, name, arch, evr);
    if (!cand) {
        ec_buf b = EC_BUF_INIT;
        int nv = 0;
        FOR_PROVIDES(p, pp, name)
        {
            Solvable *s = pool->solvables + p;
            if (s->name != name || (arch && !apt_arch_ok(c, s, arch)) || s->repo == pool->installed)
                continue;
            if (nv++ < APT_LIST_MAX)
                ec_buf_addf(&b, NULL, "%s%s:%s", nv > 1 ? ", " : "", pool_id2str(pool, s->evr),
                            pool_id2str(pool, s->arch));
        }
        if (evr)
            r = ec_fail(err, EC_ENOTFOUND, "apt: version %s of %s%s%s is not available (%s%s)",
                        sp->constraint, pool_id2str(pool, name), arch ? ":" : "",
                        arch ? sp->qualifier : "", nv ? "available: " : "none available",
                        ec_buf_str(&b));
        else
            r = ec_fail(err, EC_ENOTFOUND, "apt: no package %s for architecture %s (%s%s)",
                        pool_id2str(pool, name), arch ? sp->qualifier : pool_id2str(pool, c->native),
                        nv ? "available: " : "none available", ec_buf_str(&b));
        ec_buf_fini(&b);
        return r;
    }
    /* The candidate itself, as apt installs (or upgrades to) it; an installed candidate
     * keeps the package as it is. */
    queue_push2(job, SOLVER_INSTALL | SOLVER_SOLVABLE, cand);
    return EC_OK;
}

/* --- apt's choice among alternatives --- */

static void apt_alternatives(Pool *pool, Id d, Queue *out)
{
    while (ISRELDEP(d) && GETRELDEP(pool, d)->flags == REL_OR) {
        Reldep *rd = GETRELDEP(pool, d);
        apt_alternatives(pool, rd->name, out);
        d = rd->evr;
    }
    queue_push(out, d);
}

/* The packages apt would install for one alternative @d: the real package of that name
 * when one satisfies it (apt prefers it to every provider), else every provider. */
static void apt_dep_target(Pool *pool, Id d, Queue *out)
{
    Id name = d, p, pp;
    while (ISRELDEP(name))
        name = GETRELDEP(pool, name)->name;
    queue_empty(out);
    FOR_PROVIDES(p, pp, d)
    if (pool->solvables[p].repo != pool->installed && pool->solvables[p].name == name)
        queue_push(out, p);
    if (out->count)
        return;
    FOR_PROVIDES(p, pp, d)
    if (pool->solvables[p].repo != pool->installed)
        queue_push(out, p);
}

static bool apt_any_kept(Solver *solv, const Queue *q)
{
    for (int i = 0; i < q->count; i++)
        if (solver_get_decisionlevel(solv, q->elements[i]) > 0)
            return true;
    return false;
}

static bool apt_installed_meets(Solver *solv, Id d)
{
    Pool *pool = solv->pool;
    Id p, pp;
    FOR_PROVIDES(p, pp, d)
    if (pool->solvables[p].repo == pool->installed && solver_get_decisionlevel(solv, p) > 0)
        return true;
    return false;
}

/* For each dependency of the packages being installed, apt keeps it met by the base when it
 * can; otherwise it takes the first alternative of "a | b" that has an installable version,
 * and for that alternative the real package of that name before any provider. Adds a
 * favour job for each choice of libsolv that differs; returns how many it added. */
static int apt_favor_alternatives(Solver *solv, Queue *job, Queue *favored)
{
    Pool *pool = solv->pool;
    Queue dec, alts, target;
    int added = 0;
    queue_init(&dec);
    queue_init(&alts);
    queue_init(&target);
    solver_get_decisionqueue(solv, &dec);
    for (int i = 0; i < dec.count; i++) {
        Id p = dec.elements[i];
        if (p <= 0 || pool->solvables[p].repo == pool->installed)
            continue;
        Solvable *s = pool->solvables + p;
        if (!s->requires)
            continue;
        for (Id *dp = s->repo->idarraydata + s->requires; *dp; dp++) {
            if (*dp == SOLVABLE_PREREQMARKER)
                continue;
            queue_empty(&alts);
            apt_alternatives(pool, *dp, &alts);
            bool met = false;
            for (int a = 0; a < alts.count && !met; a++)
                met = apt_installed_meets(solv, alts.elements[a]);
            if (met)
                continue;
            for (int a = 0; a < alts.count; a++) {
                apt_dep_target(pool, alts.elements[a], &target);
                if (!target.count)
                    continue;
                if (!apt_any_kept(solv, &target)) {
                    int before = favored->count;
                    queue_pushunique(favored, target.elements[0]);
                    if (favored->count != before) {
                        queue_push2(job, SOLVER_FAVOR | SOLVER_SOLVABLE_ONE_OF,
                                    pool_queuetowhatprovides(pool, &target));
                        added++;
                    }
                }
                break;
            }
        }
    }
    queue_free(&target);
    queue_free(&alts);
    queue_free(&dec);
    return added;
}

/* --- problems --- */

static int apt_problems(Solver *solv, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    Id problem = 0;
    int n = 0;
    while ((problem = solver_next_problem(solv, problem)) != 0) {
        ec_buf_addf(&b, NULL, "%s%s", n++ ? "; " : "", solver_problem2str(solv, problem));
        Id solution = solver_next_solution(solv, problem, 0);
        if (solution) {
            Id p, rp, el = 0;
            ec_buf_adds(&b, " (way out:", NULL);
            int k = 0;
            while ((el = solver_next_solutionelement(solv, problem, solution, el, &p, &rp)) != 0)
                ec_buf_addf(&b, NULL, "%s %s", k++ ? "," : "",
                            solver_solutionelement2str(solv, p, rp));
            ec_buf_adds(&b, ")", NULL);
        }
    }
    int r = ec_fail(err, EC_ECONFLICT, "apt: the packages cannot be installed together: %s",
                    ec_buf_str(&b));
    ec_buf_fini(&b);
    return r;
}

/* --- output --- */

struct apt_out {
    Id p;
    const char *name, *arch;
    const ec_apt_index *ix;
    char *size, *essential; /* from the second pass */
    const char *replaces;   /* the installed version this upgrades, or NULL */
};

static int apt_out_cmp(const void *a, const void *b)
{
    const struct apt_out *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->arch, y->arch);
}

/* The value of field @tag in the stanza [@p, @end) (single-line fields only), or NULL;
 * *@n gets its length. */
static const char *apt_field(const char *p, const char *end, const char *tag, size_t *n)
{
    size_t tl = strlen(tag);
    for (const char *l = p; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        if ((size_t)(le - l) > tl && l[tl] == ':' && !strncasecmp(l, tag, tl)) {
            const char *v = l + tl + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *n = (size_t)(ve - v);
            return v;
        }
        l = le + 1;
    }
    return NULL;
}

static bool apt_field_is(const char *v, size_t n, const char *want)
{
    return v && strlen(want) == n && memcmp(v, want, n) == 0;
}

struct apt_want {
    const char *name;
    size_t k; /* index into the output */
};

static int apt_want_cmp(const void *a, const void *b)
{
    return strcmp(((const struct apt_want *)a)->name, ((const struct apt_want *)b)->name);
}

/* The chosen package (if any) that stanza [@s, @e) is; fills in its Size and Essential. */
static void apt_second_stanza(struct apt_out *v, const struct apt_want *w, size_t nw,
                              Pool *pool, const char *s, const char *e, size_t *want)
{
    size_t pn, vn, an, sn, en;
    const char *pk = apt_field(s, e, "Package", &pn);
    if (!pk || pn >= 256)
        return;
    char name[256];
    memcpy(name, pk, pn);
    name[pn] = '\0';
    struct apt_want key = {.name = name};
    const struct apt_want *hit = bsearch(&key, w, nw, sizeof *w, apt_want_cmp);
    if (!hit)
        return;
    while (hit > w && !strcmp(hit[-1].name, name))
        hit--;
    const char *ver = apt_field(s, e, "Version", &vn);
    const char *arch = apt_field(s, e, "Architecture", &an);
    for (; hit < w + nw && !strcmp(hit->name, name); hit++) {
        struct apt_out *o = &v[hit->k];
        if (o->size || !apt_field_is(ver, vn, pool_id2str(pool, pool->solvables[o->p].evr)) ||
            !apt_field_is(arch ? arch : "all", arch ? an : 3, o->arch))
            continue;
        const char *sz = apt_field(s, e, "Size", &sn);
        const char *es = apt_field(s, e, "Essential", &en);
        o->size = sz ? ec_xstrndup(sz, sn) : ec_xstrdup("0");
        o->essential = es ? ec_xstrndup(es, en) : NULL;
        (*want)--;
        return;
    }
}

/* Size and Essential, which libsolv's deb reader drops, from the chosen packages' own
 * indexes: one pass over the mapped file, a lookup per stanza, fields read only for the
 * chosen ones (this runs on the critical path of every resolution). */
static int apt_second_pass(struct apt_out *v, size_t n, Pool *pool, const ec_apt_index *idx,
                           size_t nidx, ec_err *err)
{
    struct apt_want *w = ec_xcalloc(n ? n : 1, sizeof *w);
    int r = EC_OK;
    for (size_t i = 0; i < nidx && r == EC_OK; i++) {
        size_t want = 0;
        for (size_t k = 0; k < n; k++)
            if (v[k].ix == &idx[i])
                w[want++] = (struct apt_want){.name = v[k].name, .k = k};
        if (!want)
            continue;
        size_t nw = want;
        qsort(w, nw, sizeof *w, apt_want_cmp);
        EC_AUTOFD int fd = open(idx[i].path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) < 0) {
            r = ec_fail_sys(err, errno, "apt: cannot open the index %s", idx[i].path);
            break;
        }
        if (sb.st_size == 0)
            continue;
        size_t len = (size_t)sb.st_size;
        const char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            r = ec_fail_sys(err, errno, "apt: cannot map the index %s", idx[i].path);
            break;
        }
        const char *end = map + len;
        for (const char *s = map; s < end && want;) {
            while (s < end && (*s == '\n' || *s == '\r'))
                s++;
            const char *e = memmem(s, (size_t)(end - s), "\n\n", 2);
            e = e ? e + 1 : end;
            apt_second_stanza(v, w, nw, pool, s, e, &want);
            s = e;
        }
        munmap((void *)map, len);
    }
    free(w);
    return r;
}

static json_t *apt_out_json(const struct apt_out *o, Pool *pool)
{
    Solvable *s = pool->solvables + o->p;
    unsigned medianr = 0;
    Id ctype = 0;
    const char *loc = solvable_lookup_location(s, &medianr);
    const char *sha = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &ctype);
    const char *ma = solvable_lookup_str(s, SOLVABLE_MULTIARCH);
    const ec_apt_source *src = o->ix->source;
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(o->name));
    json_object_set_new(j, "version", json_string(pool_id2str(pool, s->evr)));
    json_object_set_new(j, "arch", json_string(o->arch));
    json_object_set_new(j, "multi_arch", json_string(ma ? ma : "no"));
    json_object_set_new(j, "filename", json_string(loc ? loc : ""));
    char *url = ec_xasprintf("%s/%s", src && src->uri ? src->uri : "", loc ? loc : "");
    json_object_set_new(j, "url", json_string(url));
    free(url);
    json_object_set_new(j, "sha256", ctype == REPOKEY_TYPE_SHA256 && sha ? json_string(sha)
                                                                          : json_null());
    json_object_set_new(j, "size",
                        json_integer(o->size ? (json_int_t)strtoll(o->size, NULL, 10) : 0));
    json_object_set_new(j, "essential",
                        json_boolean(o->essential && !strcasecmp(o->essential, "yes")));
    json_object_set_new(j, "source", json_string(src && src->name ? src->name : ""));
    if (o->replaces)
        json_object_set_new(j, "upgrades", json_string(o->replaces));
    return j;
}

static int apt_output(json_t **out, Solver *solv, const ec_apt_index *idx, size_t nidx,
                      ec_err *err)
{
    Pool *pool = solv->pool;
    EC_AUTO(Transaction) trans = solver_create_transaction(solv);
    size_t n = 0;
    struct apt_out *v = ec_xcalloc((size_t)trans->steps.count + 1, sizeof *v);
    int r = EC_OK;
    for (int i = 0; i < trans->steps.count; i++) {
        Id p = trans->steps.elements[i];
        Solvable *s = pool->solvables + p;
        if (s->repo == pool->installed) {
            Id type = transaction_type(trans, p, SOLVER_TRANSACTION_SHOW_ACTIVE);
            if (type == SOLVER_TRANSACTION_ERASE) {
                r = ec_fail(err, EC_ECONFLICT, "apt: the packages would need %s %s removed from "
                                               "the base",
                            pool_id2str(pool, s->name), pool_id2str(pool, s->evr));
                break;
            }
            continue;
        }
        Id obs = transaction_obs_pkg(trans, p);
        v[n] = (struct apt_out){
            .p = p,
            .name = pool_id2str(pool, s->name),
            .arch = pool_id2str(pool, s->arch),
            .ix = s->repo->appdata,
            .replaces = obs ? pool_id2str(pool, pool->solvables[obs].evr) : NULL,
        };
        n++;
    }
    int64_t t0 = ec_mono_us();
    if (r == EC_OK)
        r = apt_second_pass(v, n, pool, idx, nidx, err);
    ec_debug("apt: Size and Essential of the chosen packages read in %lld ms",
             (long long)(ec_mono_us() - t0) / 1000);
    if (r == EC_OK) {
        if (n)
            qsort(v, n, sizeof *v, apt_out_cmp);
        json_t *arr = json_array();
        for (size_t k = 0; k < n; k++)
            json_array_append_new(arr, apt_out_json(&v[k], pool));
        *out = arr;
    }
    for (size_t k = 0; k < n; k++) {
        free(v[k].size);
        free(v[k].essential);
    }
    free(v);
    return r;
}

/* --- the entry point --- */

static void apt_set_flags(Solver *solv, const ec_apt_solve_opts *o)
{
    /* --no-install-recommends unless asked; Suggests never (apt's default). */
    solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, !o->recommends);
    /* apt never removes base packages for an install, nor downgrades them, nor swaps
     * their architecture; upgrading one is allowed only when a dependency needs it. */
    solver_set_flag(solv, SOLVER_FLAG_ALLOW_UNINSTALL, 0);
    solver_set_flag(solv, SOLVER_FLAG_ALLOW_DOWNGRADE, 0);
    solver_set_flag(solv, SOLVER_FLAG_ALLOW_ARCHCHANGE, 0);
    /* Debian indexes carry no vendor: do not let an empty vendor block a choice. */
    solver_set_flag(solv, SOLVER_FLAG_ALLOW_VENDORCHANGE, 1);
    /* Recommends of packages already in the base are not apt's business here. */
    solver_set_flag(solv, SOLVER_FLAG_ADD_ALREADY_RECOMMENDED, 0);
}

int ec_apt_solve(json_t **out, const ec_apt_index *idx, size_t nidx, const ec_spec *specs,
                 size_t nspecs, const ec_apt_solve_opts *o, ec_err *err)
{
    if (!out || !o || !o->arch || !*o->arch || (nidx && !idx) || (nspecs && !specs))
        return ec_fail(err, EC_EINVAL, "apt: solve: missing argument");
    *out = NULL;

    EC_AUTO(ec_apt_pool) own = NULL;
    ec_apt_pool *ap = o->pool;
    int r = EC_OK;
    if (!ap && (r = ec_apt_pool_new(&own, o->status, err)) < 0)
        return r;
    if (!ap)
        ap = own;
    Pool *pool = ap->pool;
    int64_t t0 = ec_mono_us();
    if ((r = ec_apt__pool_load_indexes(ap, idx, nidx, err)) < 0)
        return r;
    ec_debug("apt: indexes loaded into libsolv in %lld ms",
             (long long)(ec_mono_us() - t0) / 1000);

    /* The native arch first, then every other arch the indexes hold (foreign
     * architectures a la dpkg --add-architecture), each a separate color. */
    Id native = pool_str2id(pool, o->arch, 1);
    ec_buf policy = EC_BUF_INIT;
    ec_buf_adds(&policy, o->arch, NULL);
    {
        Queue seen;
        queue_init(&seen);
        Id p;
        FOR_POOL_SOLVABLES(p)
        {
            Id a = pool->solvables[p].arch;
            if (a != native && a != ARCH_ALL && a != ARCH_ANY)
                queue_pushunique(&seen, a);
        }
        for (int i = 0; i < seen.count; i++)
            ec_buf_addf(&policy, NULL, ":%s", pool_id2str(pool, seen.elements[i]));
        queue_free(&seen);
    }
    pool_setarchpolicy(pool, ec_buf_str(&policy));
    ec_buf_fini(&policy);

    apt_multiarch(pool, native);
    pool_addfileprovides(pool);
    pool_createwhatprovides(pool);

    struct apt_ctx c = {.pool = pool, .idx = idx, .nidx = nidx, .native = native};
    Queue job, favored;
    queue_init(&job);
    queue_init(&favored);
    for (size_t i = 0; i < nspecs && r == EC_OK; i++)
        r = apt_spec_job(&job, &c, &specs[i], err);

    EC_AUTO(Solver) solv = NULL;
    for (int round = 0; r == EC_OK; round++) {
        solv = solver_create(pool);
        apt_set_flags(solv, o);
        if (solver_solve(solv, &job) != 0) {
            r = apt_problems(solv, err);
            break;
        }
        if (round >= APT_FAVOR_ROUNDS || apt_favor_alternatives(solv, &job, &favored) == 0)
            break;
        solver_free(ec_steal(&solv));
    }
    if (r == EC_OK)
        r = apt_output(out, solv, idx, nidx, err);
    queue_free(&favored);
    queue_free(&job);
    return r;
}

int ec_apt_solve_texts(json_t **out, const ec_apt_index *idx, size_t nidx,
                       const char *const *texts, size_t n, const ec_apt_solve_opts *o,
                       ec_err *err)
{
    ec_spec *specs = ec_xcalloc(n ? n : 1, sizeof *specs);
    int r = EC_OK;
    for (size_t i = 0; i < n && r == EC_OK; i++)
        r = ec_apt_spec_parse(&specs[i], texts[i], err);
    if (r == EC_OK)
        r = ec_apt_solve(out, idx, nidx, specs, n, o, err);
    free(specs);
    return r;
}
