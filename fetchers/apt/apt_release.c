/* SPDX-License-Identifier: MIT */
/* InRelease: fetched through a metadata cache (ETag + freshness window), verified with gpgv
 * against the archive keyring before it is stored, and parsed (Date, Valid-Until,
 * Acquire-By-Hash, the SHA256 list). Everything else the fetcher trusts hangs off it. */
#include "fetchers/apt/apt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

extern char **environ;

#define APT_RELEASE_TTL 300
#define APT_DATE_SKEW 600        /* a Date this far ahead of our clock is still accepted */
#define APT_MAX_RELEASE (64u << 20)

int64_t ec_apt_release_ttl(const ec_fetch_ctx *ctx)
{
    json_t *v = json_object_get(ctx->config, "release_ttl");
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v)
                                                            : APT_RELEASE_TTL;
}

/* --- the metadata cache: MIRROR "apt/<url>" → {blob, etag, fetched} --- */

typedef ec_mirror_doc doc_rec;

static char *doc_key(const char *url)
{
    return ec_xasprintf("apt/%s", url);
}

/* Absent, damaged or dangling records are misses. */
static bool rec_get(ec_store *st, const char *url, doc_rec *out)
{
    EC_AUTOFREE char *key = doc_key(url);
    return ec_mirror_doc_get(st, key, out);
}

static int rec_put(ec_store *st, const char *url, const doc_rec *r, ec_err *err)
{
    EC_AUTOFREE char *key = doc_key(url);
    return ec_mirror_doc_put(st, key, r, err);
}

/* Checks a fresh body (in a temporary file at @path) before it may be stored. */
typedef int (*doc_check_fn)(const char *path, void *ud, ec_err *err);

static int check_body(ec_store *st, const ec_buf *body, doc_check_fn check, void *ud,
                      ec_err *err)
{
    EC_AUTOFREE char *path = ec_store_path(st, "tmp/apt-release-XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot create %s", path);
    size_t off = 0;
    while (off < body->n) {
        ssize_t k = write(fd, body->p + off, body->n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return ec_fail_sys(err, e, "cannot write %s", path);
        }
        off += (size_t)k;
    }
    close(fd);
    int rc = check(path, ud, err);
    unlink(path);
    return rc;
}

/* The current copy of @url: from the store within the TTL, else revalidated or fetched.
 * *@checked tells whether @check ran on it (only fresh bodies are checked here). When
 * upstream cannot be reached, a stale copy is used. */
static int doc_get(ec_digest *out, bool *upstream, bool *checked, ec_fetch_ctx *ctx,
                   const char *url, doc_check_fn check, void *ud, ec_err *err)
{
    doc_rec rec = {0};
    bool have = rec_get(ctx->store, url, &rec);
    *checked = false;
    if (have && (ctx->offline || ec_now() - rec.fetched <= ec_apt_release_ttl(ctx))) {
        *out = rec.blob;
        return EC_OK;
    }
    if (ctx->offline)
        return ec_fail(err, EC_ENOTFOUND, "%s is not cached and the fetcher is offline", url);
    ec_http_req req = {.url = url, .sink = EC_HTTP_SINK_MEM, .what = url,
                       .if_none_match = have && rec.etag[0] ? rec.etag : NULL};
    if (upstream)
        *upstream = true;
    int rc = ec_http_get(ctx->http, &req);
    if (rc < 0) {
        if (have && rc != EC_ENOTFOUND) {
            ec_warn("apt: %s; using the copy fetched %lld s ago", req.err.msg,
                    (long long)(ec_now() - rec.fetched));
            *out = rec.blob;
            ec_http_req_reset(&req);
            return EC_OK;
        }
        if (err)
            *err = req.err;
        ec_http_req_reset(&req);
        return rc;
    }
    if (req.status == 304 && have) {
        rec.fetched = ec_now();
        ec_http_req_reset(&req);
        *out = rec.blob;
        return rec_put(ctx->store, url, &rec, err);
    }
    if (req.status != 200) {
        rc = ec_fail(err, EC_ENETWORK, "%s: HTTP %ld", url, req.status);
        ec_http_req_reset(&req);
        return rc;
    }
    doc_rec fresh = {.fetched = ec_now()};
    snprintf(fresh.etag, sizeof fresh.etag, "%s", req.etag);
    rc = check ? check_body(ctx->store, &req.body, check, ud, err) : EC_OK;
    *checked = check != NULL;
    if (rc == EC_OK)
        rc = ec_blob_put_buf(&fresh.blob, ctx->store, req.body.p, req.body.n, err);
    if (rc == EC_OK)
        rc = rec_put(ctx->store, url, &fresh, err);
    if (rc == EC_OK)
        *out = fresh.blob;
    ec_http_req_reset(&req);
    return rc;
}

int ec_apt_doc_get(ec_digest *out, bool *upstream, ec_fetch_ctx *ctx, const char *url,
                   ec_err *err)
{
    bool checked;
    return doc_get(out, upstream, &checked, ctx, url, NULL, NULL, err);
}

/* --- signature: gpgv (no shell), its output is the signed text --- */

typedef struct verify_job {
    const char *keyring;
    const char *url;
    ec_buf text; /* what gpgv printed: the signed part only */
} verify_job;

/* Last non-empty line of @s, trimmed, into @out. */
static void last_line(char *out, size_t cap, const char *s)
{
    const char *best = "", *p = s;
    size_t bestn = 0;
    while (*p) {
        size_t n = strcspn(p, "\n");
        size_t k = n;
        while (k && (p[k - 1] == '\r' || p[k - 1] == ' '))
            k--;
        if (k) {
            best = p;
            bestn = k;
        }
        p += n + (p[n] == '\n');
    }
    snprintf(out, cap, "%.*s", (int)bestn, best);
}

/* Runs @argv with stdout into @out and stderr into @errout; returns the exit status, or
 * -1 with errno set when it could not start. */
static int run_capture(char *const argv[], ec_buf *out, ec_buf *errout)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        close(po[0]), close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]), close(pe[1]);
    if (e != 0) {
        close(po[0]), close(pe[0]);
        errno = e;
        return -1;
    }
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_n = 2;
    char chunk[16384];
    while (open_n > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t k = read(fds[i].fd, chunk, sizeof chunk);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_n--;
                continue;
            }
            ec_buf_add(i == 0 ? out : errout, chunk, (size_t)k, NULL);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 255;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

static int verify_file(const char *path, void *ud, ec_err *err)
{
    verify_job *v = ud;
    if (access(v->keyring, R_OK) != 0)
        return ec_fail_sys(err, errno, "%s: signature check failed: cannot read the keyring "
                           "%s", v->url, v->keyring);
    ec_buf_reset(&v->text);
    v->text.max = APT_MAX_RELEASE;
    ec_buf eo = EC_BUF_INIT;
    /* A home directory that does not exist: gpgv would otherwise also trust the keys in
     * the service user's ~/.gnupg/trustedkeys.kbx. */
    char *argv[] = {"gpgv", "--homedir", "/nonexistent/envcache-gpgv", "--quiet", "--keyring",
                    (char *)v->keyring, "--output", "-", (char *)path, NULL};
    int st = run_capture(argv, &v->text, &eo);
    if (st < 0) {
        ec_buf_fini(&eo);
        return ec_fail_sys(err, errno, "%s: signature check failed: cannot run gpgv (install "
                           "the gpgv package)", v->url);
    }
    if (st != 0 || v->text.n == 0) {
        char line[400];
        last_line(line, sizeof line, ec_buf_str(&eo));
        ec_buf_fini(&eo);
        ec_buf_reset(&v->text);
        return ec_fail(err, EC_EINTEGRITY, "%s: signature check failed: %s", v->url,
                       line[0] ? line : "gpgv printed nothing");
    }
    ec_buf_fini(&eo);
    return EC_OK;
}

/* --- Release fields --- */

/* "Sat, 07 Apr 2018 14:41:12 UTC" (RFC 2822 with a UTC zone, as dak writes it). */
static int parse_date(int64_t *out, const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *comma = strchr(s, ',');
    if (comma)
        s = comma + 1;
    int day, year, h, m, sec, used = 0;
    char mon[4], zone[8] = "";
    if (sscanf(s, " %d %3s %d %d:%d:%d %n", &day, mon, &year, &h, &m, &sec, &used) != 6)
        return -1;
    sscanf(s + used, "%7s", zone);
    if (zone[0] && strcasecmp(zone, "UTC") != 0 && strcasecmp(zone, "GMT") != 0 &&
        strcmp(zone, "+0000") != 0 && strcasecmp(zone, "Z") != 0)
        return -1;
    const char *mp = strstr(months, mon);
    if (strlen(mon) != 3 || !mp || (mp - months) % 3)
        return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = (int)(mp - months) / 3, .tm_mday = day,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec};
    if (day < 1 || day > 31 || h > 23 || m > 59 || sec > 60 || year < 1970)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int hex_digest(ec_digest *out, const char *p, size_t n)
{
    if (n != 64)
        return -1;
    char hex[65];
    memcpy(hex, p, 64);
    hex[64] = '\0';
    return ec_digest_parse(out, hex, NULL) == EC_OK ? 0 : -1;
}

int ec_apt_release_parse(ec_apt_release *out, const char *text, size_t len, ec_err *err)
{
    bool in_sha = false;
    size_t cap = 0, lineno = 0;
    for (const char *line = text, *end = text + len; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        const char *next = line + n + 1;
        lineno++;
        while (n && line[n - 1] == '\r')
            n--;
        if (n == 0) {
            line = next;
            continue;
        }
        if (line[0] != ' ' && line[0] != '\t') {
            const char *colon = memchr(line, ':', n);
            if (!colon)
                return ec_fail(err, EC_EFORMAT, "Release line %zu has no field name", lineno);
            size_t kn = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < line + n && (*v == ' ' || *v == '\t'))
                v++;
            EC_AUTOFREE char *val = ec_xstrndup(v, (size_t)(line + n - v));
            in_sha = kn == 6 && strncmp(line, "SHA256", 6) == 0;
            if (kn == 4 && strncmp(line, "Date", 4) == 0) {
                if (parse_date(&out->date_t, val) < 0)
                    return ec_fail(err, EC_EFORMAT, "Release Date \"%s\" is not a date", val);
                free(out->date);
                out->date = ec_steal(&val);
            } else if (kn == 11 && strncmp(line, "Valid-Until", 11) == 0) {
                if (parse_date(&out->valid_until, val) < 0)
                    return ec_fail(err, EC_EFORMAT, "Release Valid-Until \"%s\" is not a date",
                                   val);
            } else if (kn == 15 && strncmp(line, "Acquire-By-Hash", 15) == 0) {
                out->by_hash = strcasecmp(val, "yes") == 0;
            }
        } else if (in_sha) {
            /* " <hex> <size> <path>" */
            const char *p = line, *e = line + n;
            while (p < e && (*p == ' ' || *p == '\t'))
                p++;
            const char *h = p;
            while (p < e && *p != ' ' && *p != '\t')
                p++;
            size_t hn = (size_t)(p - h);
            while (p < e && (*p == ' ' || *p == '\t'))
                p++;
            char *sz_end;
            unsigned long long size = strtoull(p, &sz_end, 10);
            p = sz_end;
            while (p < e && (*p == ' ' || *p == '\t'))
                p++;
            ec_digest d;
            if (hex_digest(&d, h, hn) < 0 || sz_end == h + hn || p >= e)
                return ec_fail(err, EC_EFORMAT, "Release line %zu is not \"<sha256> <size> "
                               "<path>\"", lineno);
            if (out->nfiles == cap) {
                cap = cap ? 2 * cap : 64;
                out->files = ec_xrealloc(out->files, cap * sizeof *out->files);
            }
            out->files[out->nfiles++] = (ec_apt_relfile){
                .path = ec_xstrndup(p, (size_t)(e - p)), .sha256 = d, .size = size};
        }
        line = next;
    }
    if (!out->date)
        return ec_fail(err, EC_EFORMAT, "Release has no Date field");
    return EC_OK;
}

const ec_apt_relfile *ec_apt_release_find(const ec_apt_release *r, const char *path)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].path, path) == 0)
            return &r->files[i];
    return NULL;
}

void ec_apt_release_fini(ec_apt_release *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i].path);
    free(r->files);
    free(r->text);
    free(r->date);
    memset(r, 0, sizeof *r);
}

static void format_time(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S UTC", &tm);
}

int ec_apt_release_get(ec_apt_release *out, ec_fetch_ctx *ctx, const ec_apt_sources *s,
                       const ec_apt_source *src, const char *suite, ec_err *err)
{
    memset(out, 0, sizeof *out);
    EC_AUTOFREE char *url = ec_xasprintf("%s/dists/%s/InRelease", src->uri, suite);
    verify_job v = {.keyring = src->signed_by ? src->signed_by : s->keyring, .url = url};
    bool checked = false;
    int rc = doc_get(&out->inrelease, &out->from_upstream, &checked, ctx, url, verify_file,
                     &v, err);
    if (rc == EC_OK && !checked) {
        /* From the store: checked again, so a damaged or swapped blob is caught too. */
        EC_AUTOFREE char *path = ec_blob_path(ctx->store, &out->inrelease);
        rc = verify_file(path, &v, err);
    }
    if (rc == EC_OK)
        rc = ec_apt_release_parse(out, ec_buf_str(&v.text), v.text.n, err);
    if (rc == EC_EFORMAT)
        ec_err_prefix(err, "%s", url);
    json_t *cvu = json_object_get(ctx->config, "check_valid_until");
    int64_t now = ec_now();
    char when[64];
    if (rc == EC_OK && out->date_t > now + APT_DATE_SKEW) {
        rc = ec_fail(err, EC_EINTEGRITY, "%s: Release Date %s is in the future (clock skew "
                     "allowed: %d s)", url, out->date, APT_DATE_SKEW);
    } else if (rc == EC_OK && out->valid_until && out->valid_until < now &&
               !json_is_false(cvu)) {
        format_time(when, sizeof when, out->valid_until);
        rc = ec_fail(err, EC_EINTEGRITY, "%s: Release is expired since %s (Valid-Until)", url,
                     when);
    }
    out->text = ec_buf_steal(&v.text);
    ec_buf_fini(&v.text);
    if (rc < 0) {
        bool up = out->from_upstream;
        ec_apt_release_fini(out);
        out->from_upstream = up;
    }
    return rc;
}
