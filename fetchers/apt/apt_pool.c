/* SPDX-License-Identifier: MIT */
/* The libsolv pool a resolution solves in: the base's installed packages, then each index
 * in the sources' order. The first index is parsed on its own thread while its
 * Packages.gz still downloads and inflates (apt_index.c feeds it), so that the two halves
 * of the resolve's critical path overlap; nothing of it counts until that index is
 * verified, and otherwise the stored file is parsed as for the others. */
#include "fetchers/apt/apt_pool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define FEED_PIPE_SIZE (1 << 20)

/* --- the base's dpkg status --- */

struct apt_stanza {
    ec_buf raw;      /* the whole stanza, continuation lines included */
    char *package, *version, *arch, *status, *size, *essential;
};

static void apt_stanza_clear(struct apt_stanza *st)
{
    ec_buf_reset(&st->raw);
    free(st->package);
    free(st->version);
    free(st->arch);
    free(st->status);
    free(st->size);
    free(st->essential);
    st->package = st->version = st->arch = st->status = st->size = st->essential = NULL;
}

static void apt_stanza_fini(struct apt_stanza *st)
{
    apt_stanza_clear(st);
    ec_buf_fini(&st->raw);
}

static void apt_field_take(char **slot, const char *line, size_t taglen)
{
    const char *v = line + taglen + 1;
    v += strspn(v, " \t");
    size_t n = strcspn(v, "\r\n");
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    free(*slot);
    *slot = ec_xstrndup(v, n);
}

/* Reads the next stanza into @st; *@more is false at the end of the file. */
static int apt_stanza_next(FILE *f, struct apt_stanza *st, char **line, size_t *cap, bool *more,
                           const char *path, ec_err *err)
{
    static const struct {
        const char *tag;
        size_t off;
    } fields[] = {
        {"Package", offsetof(struct apt_stanza, package)},
        {"Version", offsetof(struct apt_stanza, version)},
        {"Architecture", offsetof(struct apt_stanza, arch)},
        {"Status", offsetof(struct apt_stanza, status)},
        {"Size", offsetof(struct apt_stanza, size)},
        {"Essential", offsetof(struct apt_stanza, essential)},
    };
    ssize_t n;
    bool any = false;

    apt_stanza_clear(st);
    errno = 0;
    while ((n = getline(line, cap, f)) >= 0) {
        const char *l = *line;
        if (l[0] == '\n' || (l[0] == '\r' && l[1] == '\n')) {
            if (any)
                break;
            continue;
        }
        any = true;
        int r = ec_buf_add(&st->raw, l, (size_t)n, err);
        if (r < 0)
            return r;
        if (l[0] == ' ' || l[0] == '\t')
            continue;
        const char *colon = strchr(l, ':');
        if (!colon)
            continue;
        size_t tl = (size_t)(colon - l);
        for (size_t i = 0; i < EC_ARRAY_LEN(fields); i++)
            if (strlen(fields[i].tag) == tl && !strncasecmp(l, fields[i].tag, tl))
                apt_field_take((char **)((char *)st + fields[i].off), l, tl);
    }
    if (n < 0 && ferror(f))
        return ec_fail_sys(err, errno ? errno : EIO, "apt: reading %s", path);
    *more = any;
    if (any && (st->raw.n == 0 || st->raw.p[st->raw.n - 1] != '\n'))
        return ec_buf_adds(&st->raw, "\n", err);
    return EC_OK;
}

/* dpkg's state is the third word of Status; apt counts a package as installed when its
 * state is "installed" (whatever the selection: install, hold, deinstall). */
static bool apt_status_installed(const char *status)
{
    if (!status)
        return false;
    const char *sp = strrchr(status, ' ');
    return sp && !strcmp(sp + 1, "installed");
}

/* The installed stanzas of a dpkg status file, as one Packages-like text. */
static int apt_status_filter(ec_buf *out, const char *path, ec_err *err)
{
    EC_AUTOFILE FILE *f = fopen(path, "re");
    if (!f)
        return ec_fail_sys(err, errno, "apt: cannot open the dpkg status %s", path);
    struct apt_stanza st = {.raw = EC_BUF_INIT};
    EC_AUTOFREE char *line = NULL;
    size_t cap = 0;
    bool more = true;
    int r = EC_OK;
    while (r == EC_OK) {
        r = apt_stanza_next(f, &st, &line, &cap, &more, path, err);
        if (r < 0 || !more)
            break;
        if (apt_status_installed(st.status)) {
            r = ec_buf_add(out, st.raw.p, st.raw.n, err);
            if (r == EC_OK)
                r = ec_buf_adds(out, "\n", err);
        }
    }
    apt_stanza_fini(&st);
    return r;
}

/* --- loading the pool --- */

static int apt_load_status(Pool *pool, const char *path, ec_err *err)
{
    Repo *repo = repo_create(pool, "@System");
    ec_buf text = {.max = (size_t)1 << 30};
    int r = apt_status_filter(&text, path, err);
    if (r < 0) {
        ec_buf_fini(&text);
        return r;
    }
    if (text.n) {
        FILE *f = fmemopen(text.p, text.n, "r");
        if (!f) {
            ec_buf_fini(&text);
            return ec_fail_sys(err, errno, "apt: fmemopen");
        }
        ec_apt__add_debpackages(repo, f);
        fclose(f);
    }
    ec_buf_fini(&text);
    pool_set_installed(pool, repo);
    return EC_OK;
}


/* --- the pool --- */

int ec_apt_pool_new(ec_apt_pool **out, const char *status, ec_err *err)
{
    int rl = ec_apt__solvext_load(err);
    if (rl < 0)
        return rl;
    ec_apt_pool *p = ec_xcalloc(1, sizeof *p);
    p->wfd = -1;
    p->pool = pool_create();
    pool_setdisttype(p->pool, DISTTYPE_DEB);
    /* Multi-Arch: same packages of two architectures do not replace each other. */
    pool_set_flag(p->pool, POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1);
    int r = EC_OK;
    if (status)
        r = apt_load_status(p->pool, status, err);
    else
        pool_set_installed(p->pool, repo_create(p->pool, "@System"));
    if (r < 0) {
        ec_apt_pool_free(p);
        return r;
    }
    *out = p;
    return EC_OK;
}

void ec_apt_pool_free(ec_apt_pool *p)
{
    if (!p)
        return;
    ec_apt_pool_feed_end(p, NULL);
    pool_free(p->pool);
    free(p);
}

/* --- the first index, fed while it downloads --- */

static void *feed_main(void *arg)
{
    ec_apt_pool *p = arg;
    FILE *f = fdopen(p->rfd, "re");
    if (!f) {
        close(p->rfd);
        p->parse_failed = true;
        return NULL;
    }
    p->parse_failed = ec_apt__add_debpackages(p->first, f) != 0;
    /* the writer must never block on a reader that stopped early */
    char sink[1 << 14];
    while (fread(sink, 1, sizeof sink, f) > 0)
        ;
    fclose(f);
    return NULL;
}

static void feed_discard(ec_apt_pool *p)
{
    if (p->first)
        repo_free(ec_steal(&p->first), 1);
    p->first_ok = false;
}

void ec_apt_pool_feed_begin(ec_apt_pool *p)
{
    if (!p)
        return;
    ec_apt_pool_feed_end(p, NULL);
    feed_discard(p); /* a retry: the attempt before is parsed again from its start */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return; /* no feed: the stored file is parsed later */
    (void)fcntl(fds[1], F_SETPIPE_SZ, FEED_PIPE_SIZE);
    p->first = repo_create(p->pool, "first index");
    p->rfd = fds[0];
    p->parse_failed = p->write_failed = false;
    if (pthread_create(&p->th, NULL, feed_main, p) != 0) {
        close(fds[0]);
        close(fds[1]);
        feed_discard(p);
        return;
    }
    p->wfd = fds[1];
}

void ec_apt_pool_feed(ec_apt_pool *p, const void *buf, size_t n)
{
    if (!p || p->wfd < 0)
        return;
    const char *c = buf;
    while (n > 0) {
        ssize_t k = write(p->wfd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) { /* the reader gets an early end; the result is discarded */
            p->write_failed = true;
            close(ec_steal_fd(&p->wfd));
            return;
        }
        c += k;
        n -= (size_t)k;
    }
}

void ec_apt_pool_feed_end(ec_apt_pool *p, const ec_digest *verified)
{
    if (!p || (!p->first && p->wfd < 0))
        return;
    bool fed = p->wfd >= 0;
    if (fed) {
        close(ec_steal_fd(&p->wfd));
        pthread_join(p->th, NULL);
    }
    if (verified && fed && !p->parse_failed && !p->write_failed) {
        p->first_ok = true;
        p->first_blob = *verified;
        return;
    }
    if (!p->first_ok)
        feed_discard(p);
}

/* --- the indexes --- */

static int load_index(ec_apt_pool *p, const ec_apt_index *ix, ec_err *err)
{
    EC_AUTOFILE FILE *f = fopen(ix->path, "re");
    if (!f)
        return ec_fail_sys(err, errno, "apt: cannot open the index %s", ix->path);
    Repo *repo = repo_create(p->pool, ix->path);
    repo->appdata = (void *)ix;
    if (ec_apt__add_debpackages(repo, f) != 0)
        return ec_fail(err, EC_EFORMAT, "apt: %s: %s", ix->path, pool_errstr(p->pool));
    return EC_OK;
}

int ec_apt__pool_load_indexes(ec_apt_pool *p, const ec_apt_index *idx, size_t nidx,
                              ec_err *err)
{
    ec_apt_pool_feed_end(p, NULL); /* a feed still running was never verified */
    size_t i = 0;
    if (p->first_ok && nidx && ec_digest_eq(&p->first_blob, &idx[0].blob)) {
        p->first->appdata = (void *)&idx[0];
        i = 1;
        ec_debug("apt: %s: parsed while it downloaded", idx[0].path);
    } else {
        feed_discard(p); /* not the index the solve was given: parsed again below */
    }
    for (; i < nidx; i++) {
        int r = load_index(p, &idx[i], err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}
