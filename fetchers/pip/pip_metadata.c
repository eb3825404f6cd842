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

#include "store/util/auto.h"
#include "store/util/fs.h"
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

/* --- background wheel downloads --- */

static pthread_mutex_t pf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_cv = PTHREAD_COND_INITIALIZER;
static unsigned pf_running;

typedef struct prefetch {
    ec_fetch_ctx ctx;
    char *upstream, *name, *wheel; /* wheel NULL: the project page */
} prefetch;

/* A prefetch is over (or never started): its slot is free for the next. */
static void prefetch_end(prefetch *p)
{
    free(p->upstream);
    free(p->name);
    free(p->wheel);
    free(p);
    pthread_mutex_lock(&pf_mu);
    pf_running--;
    pthread_cond_broadcast(&pf_cv);
    pthread_mutex_unlock(&pf_mu);
}

static void *prefetch_main(void *arg)
{
    prefetch *p = arg;
    ec_digest d;
    json_t *page = NULL;
    if (p->wheel) /* a failure here is only a head start lost: fetch tries again */
        (void)pip_file_get(&d, &p->ctx, p->name, p->wheel, NULL, NULL);
    else
        (void)pip_page_get(&page, &p->ctx, p->name, NULL, NULL);
    json_decref(page);
    prefetch_end(p);
    return NULL;
}

static void prefetch_start(const ec_fetch_ctx *ctx, const char *name, const char *wheel)
{
    pthread_mutex_lock(&pf_mu);
    bool go = pf_running < PREFETCH_MAX;
    if (go)
        pf_running++;
    pthread_mutex_unlock(&pf_mu);
    if (!go)
        return;
    prefetch *p = ec_xcalloc(1, sizeof *p);
    p->upstream = ec_xstrdup(ctx->upstream);
    p->name = ec_xstrdup(name);
    p->wheel = wheel ? ec_xstrdup(wheel) : NULL;
    p->ctx = (ec_fetch_ctx){.store = ctx->store, .http = ctx->http, .upstream = p->upstream};
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, prefetch_main, p) != 0)
        prefetch_end(p);
    pthread_attr_destroy(&at);
}

void pip_prefetch_wheel(const ec_fetch_ctx *ctx, const char *name, const char *wheel)
{
    prefetch_start(ctx, name, wheel);
}

void pip_prefetch_wait(void)
{
    pthread_mutex_lock(&pf_mu);
    while (pf_running)
        pthread_cond_wait(&pf_cv, &pf_mu);
    pthread_mutex_unlock(&pf_mu);
}

/* The pages of the projects @meta requires (those no extra asks for), fetched ahead of
 * pip, which asks for them one at a time once it has read this. */
static void prefetch_pages(const ec_fetch_ctx *ctx, const ec_buf *meta)
{
    EC_AUTOFREE char *text = ec_xstrndup(meta->p ? meta->p : "", meta->n);
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "Requires-Dist:", 14) != 0 || strstr(l, "extra"))
            continue;
        const char *p = l + 14 + strspn(l + 14, " \t");
        EC_AUTOFREE char *raw = ec_xstrndup(p, strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                     "abcdefghijklmnopqrstuvwxyz0123456789._-"));
        EC_AUTOFREE char *name = pip_name_normalize(raw);
        if (pip_name_ok(name) && !pip_page_fresh(ctx->store, name))
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
    if (asked)
        *asked = true;
    int r = from_upstream(out, ctx, name, wheel, err);
    if (r == EC_OK) {
        memo_put(key, out->p, out->n);
        prefetch_start(ctx, name, wheel);
        return EC_OK;
    }
    if (r != EC_ENOTFOUND)
        return r;
    ec_err_clear(err);
    r = pip_file_get(&d, ctx, name, wheel, asked, err);
    return r == EC_OK ? from_wheel(out, ctx, name, wheel, &d, err) : r;
}

int pip_metadata_get(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                     bool *asked, ec_err *err)
{
    int r = metadata_get(out, ctx, name, wheel, asked, err);
    if (r == EC_OK && !ctx->offline && !ctx->cache_only)
        prefetch_pages(ctx, out);
    return r;
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
