/* SPDX-License-Identifier: MIT */
/* Packages indexes: chosen from the verified Release (gz, else xz, else plain), fetched
 * by-hash when offered with the Release's SHA256 checked while streaming, decompressed with
 * libarchive into a second blob (checked again when the Release lists the plain file), and
 * reused without any request once the blob the Release names is in the store. */
#include "fetchers/apt/apt_int.h"
#include "fetchers/mirror_index.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define APT_MAX_PACKAGES ((uint64_t)2 << 30) /* an uncompressed Packages file */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

struct gz_tee;
static void gz_tee_data(const void *p, size_t n, void *ud);
static void gz_tee_reset(void *ud);

static int relfile_fetch(ec_fetch_ctx *ctx, const ec_apt_source *src, const char *suite,
                         const ec_apt_release *rel, const ec_apt_relfile *f, bool *upstream,
                         struct gz_tee *tee, ec_err *err)
{
    if (ec_store_has_blob(ctx->store, &f->sha256))
        return EC_OK;
    char hex[EC_DIGEST_HEX_LEN];
    ec_digest_hex(hex, &f->sha256);
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s/dists/%s/%s (sha256 %s) is not cached and the "
                       "fetcher is offline", src->uri, suite, f->path, hex);
    const char *slash = strrchr(f->path, '/');
    int dirn = slash ? (int)(slash - f->path) : 0;
    EC_AUTOFREE char *by_name = ec_xasprintf("%s/dists/%s/%s", src->uri, suite, f->path);
    EC_AUTOFREE char *by_hash = ec_xasprintf("%s/dists/%s/%.*s%sby-hash/SHA256/%s", src->uri,
                                             suite, dirn, f->path, slash ? "/" : "", hex);
    const char *url = rel->by_hash ? by_hash : by_name;
    int rc;
    for (int attempt = 0;; attempt++) {
        ec_http_req req = {.url = url, .sink = EC_HTTP_SINK_BLOB, .store = ctx->store,
                           .want_sha256 = &f->sha256, .what = f->path,
                           .tee = tee ? gz_tee_data : NULL,
                           .tee_reset = tee ? gz_tee_reset : NULL, .tee_ud = tee};
        if (upstream)
            *upstream = true;
        rc = ec_http_get(ctx->http, &req);
        if (rc == EC_OK && req.status != 200)
            rc = ec_fail(&req.err, EC_ENETWORK, "%s: HTTP %ld", url, req.status);
        if (rc == EC_ENOTFOUND && url == by_hash && attempt == 0) {
            /* An archive that stopped keeping this by-hash object: apt falls back too. */
            ec_http_req_reset(&req);
            url = by_name;
            continue;
        }
        if (rc == EC_EINTEGRITY)
            rc = ec_fail(err, EC_EINTEGRITY, "%s: %s: sha256 mismatch (expected %s, as the "
                         "signed Release says; %s)", url, base_name(f->path), hex, req.err.msg);
        else if (rc < 0 && err)
            *err = req.err;
        ec_http_req_reset(&req);
        return rc;
    }
}

int ec_apt_relfile_fetch(ec_fetch_ctx *ctx, const ec_apt_source *src, const char *suite,
                         const ec_apt_release *rel, const ec_apt_relfile *f, bool *upstream,
                         ec_err *err)
{
    return relfile_fetch(ctx, src, suite, rel, f, upstream, NULL, err);
}

/* --- decompression --- */

static char *unpacked_key(const ec_digest *compressed)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("apt/unpacked/%s", ec_digest_hex(hex, compressed));
}

static bool unpacked_lookup(ec_store *st, const ec_digest *compressed, ec_digest *out)
{
    EC_AUTOFREE char *key = unpacked_key(compressed);
    return ec_mirror_digest_get(st, key, out, NULL) == EC_OK;
}

static int unpacked_record(ec_store *st, const ec_digest *compressed, const ec_digest *d,
                           ec_err *err)
{
    EC_AUTOFREE char *key = unpacked_key(compressed);
    return ec_mirror_digest_put(st, key, d, err);
}

static void archive_freep(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}

/* Decompresses blob @comp (named @name in errors) into a new blob *@out; when @want is
 * given the result must hash to it. */
static int decompress(ec_digest *out, ec_store *st, const ec_digest *comp, const char *name,
                      const ec_digest *want, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int rc = ec_blob_open(&fd, st, comp, err);
    if (rc < 0)
        return rc;
    __attribute__((cleanup(archive_freep))) struct archive *a = archive_read_new();
    if (!a)
        return ec_fail(err, EC_ENOMEM, "%s: cannot start libarchive", name);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK)
        return ec_fail(err, EC_EARCHIVE, "%s: cannot decompress: %s", name,
                       archive_error_string(a));
    EC_AUTO(ec_blob_writer) w = NULL;
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    if ((rc = ec_blob_writer_new(&w, st, err)) < 0)
        return rc;
    char buf[65536];
    uint64_t total = 0;
    for (;;) {
        la_ssize_t k = archive_read_data(a, buf, sizeof buf);
        if (k < 0)
            return ec_fail(err, EC_EARCHIVE, "%s: cannot decompress: %s", name,
                           archive_error_string(a));
        if (k == 0)
            break;
        total += (uint64_t)k;
        if (total > APT_MAX_PACKAGES)
            return ec_fail(err, EC_ELIMIT, "%s: decompresses to more than %llu bytes", name,
                           (unsigned long long)APT_MAX_PACKAGES);
        ec_sha256_update(h, buf, (size_t)k);
        if ((rc = ec_blob_writer_write(w, buf, (size_t)k, err)) < 0)
            return rc;
    }
    ec_digest got;
    ec_sha256_final(ec_steal(&h), &got);
    if (want && !ec_digest_eq(want, &got)) {
        char ws[EC_DIGEST_HEX_LEN], gs[EC_DIGEST_HEX_LEN];
        return ec_fail(err, EC_EINTEGRITY, "%s: sha256 mismatch (expected %s, got %s); nothing "
                       "was stored", name, ec_digest_hex(ws, want), ec_digest_hex(gs, &got));
    }
    return ec_blob_writer_commit(ec_steal(&w), &got, out, err);
}

/* The uncompressed Packages for the stored compressed blob of @f. */
static int unpack_index(ec_digest *out, ec_store *st, const ec_apt_relfile *f,
                        const ec_apt_relfile *plain, const char *url, ec_err *err)
{
    if (f == plain) {
        *out = f->sha256;
        return EC_OK;
    }
    if (plain && ec_store_has_blob(st, &plain->sha256)) {
        *out = plain->sha256;
        return EC_OK;
    }
    if (unpacked_lookup(st, &f->sha256, out))
        return EC_OK;
    EC_AUTOFREE char *name = ec_xstrndup(url, strlen(url) - strlen(strrchr(f->path, '.')));
    int rc = decompress(out, st, &f->sha256, name, plain ? &plain->sha256 : NULL, err);
    if (rc == EC_OK)
        rc = unpacked_record(st, &f->sha256, out, err);
    return rc;
}

/* --- Packages.gz inflated while it downloads --- */

/* The plain index made from the compressed one as its bytes arrive, so the download and
 * the inflate overlap on the resolve's critical path. Nothing of it counts until the
 * download is verified against the Release; then the plain is checked too and committed.
 * A stream the tee cannot inflate only turns it off: the decompression after the fetch
 * then runs as before and gives the error. */
struct gz_tee {
    ec_store *st;
    ec_apt_pool *feed; /* also parsed into this pool as it inflates, or NULL */
    z_stream z;
    bool live, failed, ended;
    ec_blob_writer *w;
    ec_sha256 *h;
    uint64_t total;
    unsigned char out[1 << 16];
};

static void gz_tee_stop(struct gz_tee *t)
{
    ec_apt_pool_feed_end(t->feed, NULL); /* unless it was verified already */
    if (t->live)
        inflateEnd(&t->z);
    t->live = false;
    ec_blob_writer_cancel(ec_steal(&t->w));
    if (t->h)
        ec_sha256_free(ec_steal(&t->h));
}

static void gz_tee_reset(void *ud)
{
    struct gz_tee *t = ud;
    gz_tee_stop(t);
    ec_apt_pool_feed_begin(t->feed);
    t->failed = t->ended = false;
    t->total = 0;
    memset(&t->z, 0, sizeof t->z);
    if (inflateInit2(&t->z, 15 + 16) != Z_OK) { /* 16: a gzip wrapper */
        t->failed = true;
        return;
    }
    t->live = true;
    t->h = ec_sha256_new();
    if (ec_blob_writer_new(&t->w, t->st, NULL) < 0)
        t->failed = true;
}

static bool gz_tee_out(struct gz_tee *t, size_t got)
{
    t->total += got;
    if (t->total > APT_MAX_PACKAGES)
        return false;
    ec_sha256_update(t->h, t->out, got);
    ec_apt_pool_feed(t->feed, t->out, got);
    return ec_blob_writer_write(t->w, t->out, got, NULL) == EC_OK;
}

static void gz_tee_data(const void *p, size_t n, void *ud)
{
    struct gz_tee *t = ud;
    if (!t->live || t->failed)
        return;
    if (t->ended || n > UINT_MAX) { /* bytes after the gzip member: not for the tee */
        t->failed = n > 0;
        return;
    }
    t->z.next_in = (Bytef *)p;
    t->z.avail_in = (uInt)n;
    for (;;) {
        t->z.next_out = t->out;
        t->z.avail_out = sizeof t->out;
        int zr = inflate(&t->z, Z_NO_FLUSH);
        size_t got = sizeof t->out - t->z.avail_out;
        if (got && !gz_tee_out(t, got)) {
            t->failed = true;
            return;
        }
        if (zr == Z_STREAM_END) {
            t->ended = true;
            t->failed = t->z.avail_in > 0;
            return;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            t->failed = true;
            return;
        }
        if (t->z.avail_in == 0 && t->z.avail_out > 0)
            return; /* all input taken and nothing pending */
        if (zr == Z_BUF_ERROR && got == 0)
            return;
    }
}

/* The verified download's plain index into *@out, when the tee made it whole and it hashes
 * as the Release says; false to fall back to decompressing the stored blob. */
static bool gz_tee_commit(struct gz_tee *t, const ec_apt_relfile *plain, ec_digest *out)
{
    if (!t->live || t->failed || !t->ended)
        return false;
    ec_digest got;
    ec_sha256_final(ec_steal(&t->h), &got);
    if (plain && !ec_digest_eq(&plain->sha256, &got))
        return false;
    if (ec_blob_writer_commit(ec_steal(&t->w), &got, out, NULL) < 0)
        return false;
    /* inflated from the verified download (and checked as the plain file when listed) */
    ec_apt_pool_feed_end(t->feed, &got);
    return true;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* One component's index: fetched (a .gz inflated on the way when nothing of it is stored
 * yet), then its plain blob in *@out. */
static int fetch_index(ec_digest *out, ec_fetch_ctx *ctx, const ec_apt_source *src,
                       const ec_apt_release *rel, const ec_apt_relfile *f,
                       const ec_apt_relfile *plain, const char *url, ec_apt_pool *feed,
                       ec_err *err)
{
    ec_digest known;
    bool tee = f != plain && has_suffix(f->path, ".gz") &&
               !ec_store_has_blob(ctx->store, &f->sha256) &&
               !(plain && ec_store_has_blob(ctx->store, &plain->sha256)) &&
               !unpacked_lookup(ctx->store, &f->sha256, &known);
    if (!tee) {
        int rc = ec_apt_relfile_fetch(ctx, src, src->suite, rel, f, NULL, err);
        return rc == EC_OK ? unpack_index(out, ctx->store, f, plain, url, err) : rc;
    }
    struct gz_tee *t = ec_xcalloc(1, sizeof *t);
    t->st = ctx->store;
    t->feed = feed;
    int rc = relfile_fetch(ctx, src, src->suite, rel, f, NULL, t, err);
    if (rc == EC_OK && gz_tee_commit(t, plain, out))
        rc = unpacked_record(ctx->store, &f->sha256, out, err);
    else if (rc == EC_OK) {
        ec_debug("apt: %s: not inflated while downloading; decompressing it now", url);
        rc = unpack_index(out, ctx->store, f, plain, url, err);
    }
    gz_tee_stop(t);
    free(t);
    return rc;
}

/* --- ec_apt_indexes_get --- */

void ec_apt_indexes_free(ec_apt_index *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].component);
        free(v[i].path);
        free(v[i].release_date);
    }
    free(v);
}

/* One source: its verified release, then each component's index. */
static int source_indexes(ec_apt_index **vp, size_t *np, ec_fetch_ctx *ctx,
                          const ec_apt_sources *s, const ec_apt_source *src,
                          ec_apt_pool *first, ec_err *err)
{
    ec_apt_release rel;
    int64_t t0 = ec_mono_us();
    int rc = ec_apt_release_get(&rel, ctx, s, src, src->suite, err);
    if (rc < 0)
        return rc;
    ec_debug("apt: %s %s: release verified in %lld ms", src->uri, src->suite,
             (long long)(ec_mono_us() - t0) / 1000);
    for (size_t c = 0; rc == EC_OK && c < src->ncomponents; c++) {
        EC_AUTOFREE char *plain_path = ec_xasprintf("%s/binary-%s/Packages",
                                                    src->components[c], s->arch);
        EC_AUTOFREE char *xz = ec_xasprintf("%s.xz", plain_path);
        EC_AUTOFREE char *gz = ec_xasprintf("%s.gz", plain_path);
        const ec_apt_relfile *plain = ec_apt_release_find(&rel, plain_path);
        /* gz before xz: a third bigger, but it inflates three times faster, and the
         * index is on the critical path of every resolution (bookworm main: 0.25 s
         * against 0.75 s here, for 3 MB more on the wire) */
        const ec_apt_relfile *f = ec_apt_release_find(&rel, gz);
        if (!f)
            f = ec_apt_release_find(&rel, xz);
        if (!f)
            f = plain;
        if (!f) {
            rc = ec_fail(err, EC_ENOTFOUND, "%s/dists/%s/InRelease lists no %s index",
                         src->uri, src->suite, plain_path);
            break;
        }
        EC_AUTOFREE char *url = ec_xasprintf("%s/dists/%s/%s", src->uri, src->suite, f->path);
        ec_digest d;
        int64_t t1 = ec_mono_us();
        rc = fetch_index(&d, ctx, src, &rel, f, plain, url, c == 0 ? first : NULL, err);
        if (rc == EC_OK)
            ec_debug("apt: %s: fetched and decompressed in %lld ms", url,
                     (long long)(ec_mono_us() - t1) / 1000);
        if (rc < 0)
            break;
        *vp = ec_xrealloc(*vp, (*np + 1) * sizeof **vp);
        (*vp)[(*np)++] = (ec_apt_index){.source = src,
                                        .component = ec_xstrdup(src->components[c]),
                                        .blob = d,
                                        .path = ec_blob_path(ctx->store, &d),
                                        .release_date = ec_xstrdup(rel.date)};
    }
    ec_apt_release_fini(&rel);
    return rc;
}

typedef struct source_job {
    ec_fetch_ctx *ctx;
    const ec_apt_sources *s;
    const ec_apt_source *src;
    ec_apt_pool *first;
    ec_apt_index *v;
    size_t n;
    int rc;
    ec_err err;
} source_job;

static void *source_main(void *arg)
{
    source_job *j = arg;
    j->rc = source_indexes(&j->v, &j->n, j->ctx, j->s, j->src, j->first, &j->err);
    return NULL;
}

/* Sources are independent (bookworm, -updates, -security): fetched, verified and
 * decompressed on a thread each, then listed in the sources' order. */
int ec_apt_indexes_get(ec_apt_index **out, size_t *n_out, ec_fetch_ctx *ctx,
                       const ec_apt_sources *s, ec_apt_pool *first, ec_err *err)
{
    source_job *jobs = ec_xcalloc(s->n ? s->n : 1, sizeof *jobs);
    pthread_t *th = ec_xcalloc(s->n ? s->n : 1, sizeof *th);
    bool *started = ec_xcalloc(s->n ? s->n : 1, sizeof *started);
    for (size_t i = 0; i < s->n; i++) {
        jobs[i] = (source_job){.ctx = ctx, .s = s, .src = &s->v[i], .first = i ? NULL : first};
        started[i] = pthread_create(&th[i], NULL, source_main, &jobs[i]) == 0;
        if (!started[i]) /* no thread: do it here */
            source_main(&jobs[i]);
    }
    ec_apt_index *v = NULL;
    size_t n = 0;
    int rc = EC_OK;
    for (size_t i = 0; i < s->n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        if (rc == EC_OK && jobs[i].rc < 0) { /* the first source's error, in order */
            rc = jobs[i].rc;
            if (err)
                *err = jobs[i].err;
        }
        v = ec_xrealloc(v, (n + jobs[i].n + 1) * sizeof *v);
        if (jobs[i].n) /* a failed source has none (and no array) */
            memcpy(v + n, jobs[i].v, jobs[i].n * sizeof *v);
        n += jobs[i].n;
        free(jobs[i].v);
    }
    free(jobs);
    free(th);
    free(started);
    *out = NULL;
    *n_out = 0;
    if (rc < 0) {
        ec_apt_indexes_free(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return EC_OK;
}

/* --- finding a pool file in a Packages index --- */

/* Value of field @name ("SHA256") inside [@p, @end), or NULL; *@n gets its length. */
static const char *stanza_field(const char *p, const char *end, const char *name, size_t *n)
{
    size_t kn = strlen(name);
    for (const char *line = p; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        if ((size_t)(le - line) > kn && strncmp(line, name, kn) == 0 && line[kn] == ':') {
            const char *v = line + kn + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            *n = (size_t)(le - v);
            while (*n && (v[*n - 1] == '\r' || v[*n - 1] == ' '))
                (*n)--;
            return v;
        }
        line = le + 1;
    }
    return NULL;
}

int ec_apt_packages_find(ec_digest *sha_out, uint64_t *size_out, const char *path,
                         const char *filename, ec_err *err)
{
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0)
        return ec_fail_sys(err, errno, "cannot open the Packages index %s", path);
    if (sb.st_size == 0)
        return ec_fail(err, EC_ENOTFOUND, "%s is not in the Packages index", filename);
    size_t len = (size_t)sb.st_size;
    const char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return ec_fail_sys(err, errno, "cannot map the Packages index %s", path);
    EC_AUTOFREE char *needle = ec_xasprintf("Filename: %s", filename);
    size_t nn = strlen(needle);
    const char *end = map + len;
    int rc = EC_ENOTFOUND;
    for (const char *p = map; p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), needle, nn);
        if (!hit)
            break;
        p = hit + nn;
        bool line_start = hit == map || hit[-1] == '\n';
        bool line_end = p == end || *p == '\n' || *p == '\r';
        if (!line_start || !line_end)
            continue;
        /* The stanza around the hit: from the blank line before to the one after. */
        const char *s = hit;
        while (s > map && !(s[-1] == '\n' && (s - 1 == map || s[-2] == '\n')))
            s--;
        const char *e = memmem(p, (size_t)(end - p), "\n\n", 2);
        e = e ? e + 1 : end;
        size_t hn = 0, sn = 0;
        const char *h = stanza_field(s, e, "SHA256", &hn);
        const char *sz = stanza_field(s, e, "Size", &sn);
        char hex[65];
        if (!h || hn != 64) {
            rc = ec_fail(err, EC_EFORMAT, "the Packages stanza of %s has no SHA256", filename);
            break;
        }
        memcpy(hex, h, 64);
        hex[64] = '\0';
        rc = ec_digest_parse(sha_out, hex, err);
        if (size_out)
            *size_out = sz ? strtoull(sz, NULL, 10) : 0;
        break;
    }
    munmap((void *)map, len);
    if (rc == EC_ENOTFOUND)
        return ec_fail(err, EC_ENOTFOUND, "%s is not in the Packages index", filename);
    return rc;
}
