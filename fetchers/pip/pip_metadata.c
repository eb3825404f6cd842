/* SPDX-License-Identifier: MIT */
/* Metadata files (PEP 658) for wheels whose index page lists none. Some indexes serve
 * "<wheel URL>.metadata" without advertising it (no "core-metadata" on the page), so pip
 * would download every wheel it considers, whole and one at a time, just to read its
 * METADATA. The mirror advertises a metadata file for every wheel ("core-metadata": true,
 * no hash) and answers it:
 *   - from the store when the wheel is there (its METADATA, from verified bytes);
 *   - else upstream's own "<wheel URL>.metadata", which no hash vouches for: it is kept
 *     in memory only, never in the store, until the wheel itself arrives (verified) and
 *     its METADATA is found byte for byte the same (pip_metadata_check, at fetch);
 *   - else (upstream has none) from the whole wheel, downloaded and verified.
 * Answering a metadata file from upstream also starts the wheel's download in the
 * background (pip asks for the metadata of the wheel it is about to choose), and any
 * answer starts fetching the pages of the projects it requires (pip asks for them next,
 * one at a time), so downloads overlap pip's resolution; fetch waits for them all
 * (pip_prefetch_wait). */
#include "fetchers/pip/pip_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* A METADATA file is a few KiB; a cap keeps an odd upstream from filling memory. */
#define META_MAX ((size_t)4 << 20)
/* What the unverified copies may hold at once (the oldest go first). */
#define MEMO_MAX_BYTES ((size_t)64 << 20)
#define MEMO_MAX_ENTRIES 8192
/* Background wheel downloads at once; more are left to fetch. */
#define PREFETCH_MAX 8

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void pip_metadata_advertise(json_t *page)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        if (fn && ends_with(fn, ".whl") && !json_object_get(f, "core-metadata") &&
            !json_object_get(f, "dist-info-metadata"))
            json_object_set_new(f, "core-metadata", json_true());
    }
}

/* --- the unverified copies, in memory --- */

typedef struct memo {
    char *key; /* "name/file.whl" */
    char *p;
    size_t n;
} memo;

static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static memo *memos;
static size_t nmemos, memo_bytes;

static void memo_drop_at(size_t i)
{
    memo_bytes -= memos[i].n;
    free(memos[i].key);
    free(memos[i].p);
    memmove(&memos[i], &memos[i + 1], (nmemos - i - 1) * sizeof *memos);
    nmemos--;
}

static ssize_t memo_find(const char *key)
{
    for (size_t i = 0; i < nmemos; i++)
        if (strcmp(memos[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

static void memo_put(const char *key, const void *p, size_t n)
{
    pthread_mutex_lock(&memo_mu);
    ssize_t at = memo_find(key);
    if (at >= 0)
        memo_drop_at((size_t)at);
    while (nmemos && (nmemos >= MEMO_MAX_ENTRIES || memo_bytes + n > MEMO_MAX_BYTES))
        memo_drop_at(0);
    memos = ec_xrealloc(memos, (nmemos + 1) * sizeof *memos);
    memos[nmemos].key = ec_xstrdup(key);
    memos[nmemos].p = ec_xmalloc(n ? n : 1);
    memcpy(memos[nmemos].p, p, n);
    memos[nmemos++].n = n;
    memo_bytes += n;
    pthread_mutex_unlock(&memo_mu);
}

/* A copy of @key's bytes into @out; false when none is held. */
static bool memo_get(const char *key, ec_buf *out)
{
    pthread_mutex_lock(&memo_mu);
    ssize_t at = memo_find(key);
    bool ok = at >= 0 && ec_buf_add(out, memos[at].p, memos[at].n, NULL) == EC_OK;
    pthread_mutex_unlock(&memo_mu);
    return ok;
}

static void memo_drop(const char *key)
{
    pthread_mutex_lock(&memo_mu);
    ssize_t at = memo_find(key);
    if (at >= 0)
        memo_drop_at((size_t)at);
    pthread_mutex_unlock(&memo_mu);
}

/* --- a wheel's own METADATA --- */

/* "<dist>-<ver>.dist-info/METADATA" at the wheel's top (the first such member). */
static bool is_metadata_member(const char *p)
{
    const char *slash = p ? strchr(p, '/') : NULL;
    return slash && slash - p > 10 && strncmp(slash - 10, ".dist-info", 10) == 0 &&
           strcmp(slash + 1, "METADATA") == 0;
}

int pip_wheel_metadata(ec_buf *out, ec_store *st, const ec_digest *wheel, const char *file,
                       ec_err *err)
{
    EC_AUTOFREE char *path = ec_blob_path(st, wheel);
    struct archive *a = archive_read_new();
    archive_read_support_format_zip_seekable(a);
    struct archive_entry *e;
    int r = EC_ENOTFOUND;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
        r = ec_fail(err, EC_EARCHIVE, "%s is not a readable wheel: %s", file,
                    archive_error_string(a));
    else
        while (r == EC_ENOTFOUND && archive_read_next_header(a, &e) == ARCHIVE_OK) {
            if (!is_metadata_member(archive_entry_pathname(e)))
                continue;
            out->max = META_MAX;
            char buf[65536];
            r = EC_OK;
            for (la_ssize_t k; r == EC_OK && (k = archive_read_data(a, buf, sizeof buf)) != 0;)
                r = k < 0 ? ec_fail(err, EC_EARCHIVE, "%s: cannot read its METADATA: %s", file,
                                    archive_error_string(a))
                          : ec_buf_add(out, buf, (size_t)k, err);
        }
    archive_read_free(a);
    if (r == EC_ENOTFOUND)
        r = ec_fail(err, EC_EFORMAT, "%s has no .dist-info/METADATA: not a wheel", file);
    return r;
}

/* The wheel's METADATA kept in the store as its metadata file: from verified bytes. */
static int from_wheel(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                      const ec_digest *d, ec_err *err)
{
    EC_AUTOFREE char *mfile = ec_xasprintf("%s.metadata", wheel);
    ec_digest md;
    int r = pip_wheel_metadata(out, ctx->store, d, wheel, err);
    if (r == EC_OK)
        r = ec_blob_put_buf(&md, ctx->store, out->p, out->n, err);
    if (r == EC_OK)
        r = pip_file_record(ctx->store, name, mfile, &md, err);
    return r;
}

/* --- background downloads: ahead of pip --- */

/* What runs at once; more wait in a queue (at most PENDING_MAX, the rest are dropped:
 * pip asks for them itself). */
#define PENDING_MAX 512

typedef enum { AHEAD_WHEEL, AHEAD_PAGE, AHEAD_GUESS } ahead_kind;

typedef struct prefetch {
    ec_fetch_ctx ctx;
    ahead_kind kind;
    char *upstream, *name, *wheel, *spec;
    json_t *probe; /* AHEAD_GUESS: the Python the guess is for */
} prefetch;

static pthread_mutex_t pf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_cv = PTHREAD_COND_INITIALIZER;
static unsigned pf_running;
static prefetch **pending;
static size_t npending;

/* The resolves running now (pip_ahead_begin): the Python of the first one, which the
 * guesses are for, and the projects guessed for already (each once per resolve). */
static unsigned ahead_refs;
static json_t *ahead_probe;
static char **guessed;
static size_t nguessed;

static void prefetch_free(prefetch *p)
{
    free(p->upstream);
    free(p->name);
    free(p->wheel);
    free(p->spec);
    json_decref(p->probe);
    free(p);
}

static void prefetch_run(prefetch *p);

static void *prefetch_main(void *arg)
{
    prefetch *p = arg;
    for (;;) {
        prefetch_run(p);
        prefetch_free(p);
        pthread_mutex_lock(&pf_mu);
        p = NULL;
        if (npending) {
            p = pending[0];
            memmove(pending, pending + 1, --npending * sizeof *pending);
        } else {
            pf_running--;
            pthread_cond_broadcast(&pf_cv);
        }
        pthread_mutex_unlock(&pf_mu);
        if (!p)
            return NULL;
    }
}

/* No thread for @p (pthread_create said @e): fetching ahead is only a head start, and the
 * caller may be a mirror request pip waits on, so @p is dropped rather than run here (pip
 * or fetch asks for it again), and with it the queue when no thread is left to take it
 * (pip_prefetch_wait would wait for it forever). Logged once. */
static void prefetch_drop(prefetch *p, int e)
{
    static bool logged;
    prefetch **dropped = NULL;
    size_t ndropped = 0;
    pthread_mutex_lock(&pf_mu);
    bool log = !logged;
    logged = true;
    if (--pf_running == 0) {
        dropped = ec_steal(&pending);
        ndropped = npending;
        npending = 0;
    }
    pthread_cond_broadcast(&pf_cv);
    pthread_mutex_unlock(&pf_mu);
    if (log)
        ec_debug("pip: no thread to fetch ahead of pip (%s): those downloads are left to pip "
                 "and fetch", strerror(e));
    prefetch_free(p);
    for (size_t i = 0; i < ndropped; i++)
        prefetch_free(dropped[i]);
    free(dropped);
}

/* Runs @p now on a thread of its own, or queues it; takes it. */
static void prefetch_submit(prefetch *p)
{
    pthread_mutex_lock(&pf_mu);
    bool go = pf_running < PREFETCH_MAX;
    if (go)
        pf_running++;
    else if (npending < PENDING_MAX) {
        pending = ec_xrealloc(pending, (npending + 1) * sizeof *pending);
        pending[npending++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&pf_mu);
    if (!go) {
        if (p)
            prefetch_free(p);
        return;
    }
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &at, prefetch_main, p);
    pthread_attr_destroy(&at);
    if (e != 0)
        prefetch_drop(p, e);
}

static prefetch *prefetch_new(const ec_fetch_ctx *ctx, ahead_kind kind, const char *name)
{
    prefetch *p = ec_xcalloc(1, sizeof *p);
    p->kind = kind;
    p->upstream = ec_xstrdup(ctx->upstream);
    p->name = ec_xstrdup(name);
    p->ctx = (ec_fetch_ctx){.store = ctx->store, .http = ctx->http, .upstream = p->upstream};
    return p;
}

static void prefetch_start(const ec_fetch_ctx *ctx, const char *name, const char *wheel)
{
    prefetch *p = prefetch_new(ctx, wheel ? AHEAD_WHEEL : AHEAD_PAGE, name);
    p->wheel = wheel ? ec_xstrdup(wheel) : NULL;
    prefetch_submit(p);
}

void pip_prefetch_wheel(const ec_fetch_ctx *ctx, const char *name, const char *wheel)
{
    prefetch_start(ctx, name, wheel);
}

void pip_prefetch_wait(void)
{
    pthread_mutex_lock(&pf_mu);
    while (pf_running || npending)
        pthread_cond_wait(&pf_cv, &pf_mu);
    pthread_mutex_unlock(&pf_mu);
}

void pip_ahead_begin(const char *probe)
{
    pthread_mutex_lock(&pf_mu);
    if (ahead_refs++ == 0)
        ahead_probe = json_loads(probe, JSON_DISABLE_EOF_CHECK, NULL);
    pthread_mutex_unlock(&pf_mu);
}

void pip_ahead_end(void)
{
    pthread_mutex_lock(&pf_mu);
    if (--ahead_refs == 0) {
        json_decref(ec_steal(&ahead_probe));
        for (size_t i = 0; i < nguessed; i++)
            free(guessed[i]);
        free(ec_steal(&guessed));
        nguessed = 0;
    }
    pthread_mutex_unlock(&pf_mu);
}

/* The Python to guess @name's wheel for (a new reference), when a resolve runs and no
 * guess for @name was made in it yet. */
static json_t *guess_claim(const char *name)
{
    json_t *probe = NULL;
    pthread_mutex_lock(&pf_mu);
    bool seen = false;
    for (size_t i = 0; i < nguessed && !seen; i++)
        seen = strcmp(guessed[i], name) == 0;
    if (ahead_probe && !seen) {
        guessed = ec_xrealloc(guessed, (nguessed + 1) * sizeof *guessed);
        guessed[nguessed++] = ec_xstrdup(name);
        probe = json_incref(ahead_probe);
    }
    pthread_mutex_unlock(&pf_mu);
    return probe;
}

void pip_ahead_project(const ec_fetch_ctx *ctx, const char *name, const char *spec)
{
    json_t *probe = guess_claim(name);
    if (!probe) {
        if (!pip_page_fresh(ctx->store, name))
            prefetch_start(ctx, name, NULL);
        return;
    }
    prefetch *p = prefetch_new(ctx, AHEAD_GUESS, name);
    p->spec = spec && *spec ? ec_xstrdup(spec) : NULL;
    p->probe = probe;
    prefetch_submit(p);
}

bool pip_requires_dist(const char *l, char **name, char **spec, bool *marker)
{
    if (strncmp(l, "Requires-Dist:", 14) != 0)
        return false;
    const char *p = l + 14 + strspn(l + 14, " \t");
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
    EC_AUTOFREE char *raw = ec_xstrndup(p, n);
    p += n + strspn(p + n, " \t");
    if (*p == '[')
        p += strcspn(p, "]") + (strchr(p, ']') ? 1 : 0);
    size_t sn = strcspn(p, ";");
    *marker = p[sn] == ';';
    EC_AUTOFREE char *s = ec_xstrndup(p, sn);
    char *a = s + strspn(s, " \t(");
    char *e = a + strlen(a);
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == ')' || e[-1] == '\r'))
        *--e = '\0';
    *name = pip_name_normalize(raw);
    *spec = *a ? ec_xstrdup(a) : NULL;
    return true;
}

/* The projects @meta requires (those no extra asks for), fetched ahead of pip, which asks
 * for them one at a time once it has read this: their pages, and for those without a
 * marker (needed whatever the marker says: the guess does not evaluate markers) the
 * metadata of the wheel pip will most likely pick, and so on down the tree. */
static void prefetch_deps(const ec_fetch_ctx *ctx, const ec_buf *meta)
{
    EC_AUTOFREE char *text = ec_xstrndup(meta->p ? meta->p : "", meta->n);
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        EC_AUTOFREE char *name = NULL, *spec = NULL;
        bool marker = false;
        if (!pip_requires_dist(l, &name, &spec, &marker) || strstr(l, "extra") ||
            !pip_name_ok(name))
            continue;
        if (!marker)
            pip_ahead_project(ctx, name, spec);
        else if (!pip_page_fresh(ctx->store, name))
            prefetch_start(ctx, name, NULL);
    }
}

/* --- serving --- */

/* Upstream's "<wheel URL>.metadata" into @out; EC_ENOTFOUND when it has none. */
static int from_upstream(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                         ec_err *err)
{
    EC_AUTO(json_t) page = NULL;
    int r = pip_page_get(&page, ctx, name, NULL, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *url = pip_file_url(ctx->upstream, name, pip_page_file(page, wheel));
    if (!url)
        return ec_fail(err, EC_ENOTFOUND, "the page of %s lists no %s", name, wheel);
    EC_AUTOFREE char *murl = ec_xasprintf("%.*s.metadata", (int)strcspn(url, "#"), url);
    EC_AUTOFREE char *what = ec_xasprintf("%s.metadata (pip package %s)", wheel, name);
    ec_http_req q = {.url = murl, .sink = EC_HTTP_SINK_MEM, .what = what};
    r = ec_http_get(ctx->http, &q);
    if (r == EC_OK && q.status == 200 && q.body.n <= META_MAX)
        r = ec_buf_add(out, q.body.p, q.body.n, err);
    else if (r == EC_OK || r == EC_ENOTFOUND)
        r = EC_ENOTFOUND; /* no metadata file there: the wheel will do */
    else if (err)
        *err = q.err;
    ec_http_req_reset(&q);
    return r;
}

static int metadata_get(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                        bool *asked, ec_err *err)
{
    EC_AUTOFREE char *mfile = ec_xasprintf("%s.metadata", wheel);
    EC_AUTOFREE char *key = ec_xasprintf("%s/%s", name, wheel);
    ec_digest d;
    if (pip_file_lookup(&d, ctx->store, name, mfile) == EC_OK) {
        EC_AUTOFREE char *path = ec_blob_path(ctx->store, &d);
        EC_AUTOFREE char *text = NULL;
        size_t n = 0;
        int r = ec_read_file(&text, &n, path, META_MAX, err);
        ec_digest got;
        if (r == EC_OK)
            ec_sha256_buf(&got, text, n);
        if (r == EC_OK && !ec_digest_eq(&got, &d))
            r = ec_fail(err, EC_EINTEGRITY, "the stored %s does not match its digest", mfile);
        return r == EC_OK ? ec_buf_add(out, text, n, err) : r;
    }
    if (pip_file_lookup(&d, ctx->store, name, wheel) == EC_OK)
        return from_wheel(out, ctx, name, wheel, &d, err);
    if (memo_get(key, out))
        return EC_OK;
    if (ctx->cache_only)
        return ec_fail(err, EC_EBUSY, "%s is not in the store", mfile);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not in the store and the warm-up is offline",
                       mfile);
    /* one answer from upstream however many ask (pip, and the guess made ahead of it) */
    EC_AUTOFREE char *fkey = ec_xasprintf("pip/metadata/%s", key);
    while (!ec_flight_enter(fkey)) {
        if (memo_get(key, out))
            return EC_OK;
        if (pip_file_lookup(&d, ctx->store, name, wheel) == EC_OK)
            return from_wheel(out, ctx, name, wheel, &d, err);
    }
    int r;
    if (memo_get(key, out))
        r = EC_OK;
    else if (pip_file_lookup(&d, ctx->store, name, wheel) == EC_OK)
        r = from_wheel(out, ctx, name, wheel, &d, err);
    else {
        if (asked)
            *asked = true;
        r = from_upstream(out, ctx, name, wheel, err);
        if (r == EC_OK) {
            memo_put(key, out->p, out->n);
            prefetch_start(ctx, name, wheel);
        } else if (r == EC_ENOTFOUND) {
            ec_err_clear(err);
            r = pip_file_get(&d, ctx, name, wheel, asked, err);
            if (r == EC_OK)
                r = from_wheel(out, ctx, name, wheel, &d, err);
        }
    }
    ec_flight_leave(fkey);
    return r;
}

int pip_metadata_get(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                     bool *asked, ec_err *err)
{
    int r = metadata_get(out, ctx, name, wheel, asked, err);
    if (r == EC_OK && !ctx->offline && !ctx->cache_only)
        prefetch_deps(ctx, out);
    return r;
}

/* The guess: the page of @p->name, the wheel pip will most likely pick from it, that
 * wheel's metadata (answered as pip would be: the page's own metadata file when it lists
 * one, with the wheel fetched after it; else as pip_metadata_get does), and from it the
 * projects that one requires. */
static void guess_run(prefetch *p)
{
    EC_AUTO(json_t) page = NULL;
    if (pip_page_get(&page, &p->ctx, p->name, NULL, NULL) < 0)
        return;
    EC_AUTOFREE char *wheel = pip_guess_wheel(page, p->probe, p->spec);
    if (!wheel)
        return;
    ec_digest d;
    ec_buf meta = EC_BUF_INIT;
    if (pip_page_sha256(&d, page, p->name, wheel, true, NULL) == EC_OK) {
        EC_AUTOFREE char *mfile = ec_xasprintf("%s.metadata", wheel);
        if (pip_file_get(&d, &p->ctx, p->name, mfile, NULL, NULL) == EC_OK)
            prefetch_start(&p->ctx, p->name, wheel);
    }
    if (metadata_get(&meta, &p->ctx, p->name, wheel, NULL, NULL) == EC_OK)
        prefetch_deps(&p->ctx, &meta);
    ec_buf_fini(&meta);
}

static void prefetch_run(prefetch *p)
{
    ec_digest d;
    json_t *page = NULL;
    /* a failure here is only a head start lost: pip or fetch asks again */
    if (p->kind == AHEAD_WHEEL)
        (void)pip_file_get(&d, &p->ctx, p->name, p->wheel, NULL, NULL);
    else if (p->kind == AHEAD_PAGE)
        (void)pip_page_get(&page, &p->ctx, p->name, NULL, NULL);
    else
        guess_run(p);
    json_decref(page);
}

int pip_metadata_check(ec_fetch_ctx *ctx, const json_t *lock, ec_err *err)
{
    size_t i;
    json_t *pkg;
    json_array_foreach(json_object_get(lock, "packages"), i, pkg) {
        const char *name = json_string_value(json_object_get(pkg, "name"));
        const char *file = json_string_value(json_object_get(pkg, "file"));
        const char *sha = json_string_value(json_object_get(pkg, "sha256"));
        ec_digest d;
        if (!name || !file || !sha || !ends_with(file, ".whl") ||
            ec_digest_parse(&d, sha, NULL) < 0)
            continue;
        EC_AUTOFREE char *key = ec_xasprintf("%s/%s", name, file);
        ec_buf served = EC_BUF_INIT, own = EC_BUF_INIT;
        int r = EC_OK;
        if (memo_get(key, &served)) {
            r = from_wheel(&own, ctx, name, file, &d, err);
            if (r == EC_OK && (own.n != served.n || memcmp(own.p, served.p, own.n) != 0))
                r = ec_fail(err, EC_EINTEGRITY, "%s.metadata (pip package %s): the metadata "
                            "file upstream served (no hash on the index page) is not the "
                            "wheel's own METADATA; pip resolved with it, so nothing is kept",
                            file, name);
            memo_drop(key);
        }
        ec_buf_fini(&served);
        ec_buf_fini(&own);
        if (r < 0)
            return r;
    }
    return EC_OK;
}
