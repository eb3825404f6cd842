/* SPDX-License-Identifier: MIT */
/* install: a lock's .debs unpacked natively into the staging root, in parallel threads,
 * then the dpkg database written and the maintainer scripts turned into build steps.
 *
 * Every package's data.tar goes into the one shared staging tree through the store's
 * in-place extractor (O_NOFOLLOW *at() walk; directories may be created by any thread).
 * File conflicts are decided by lock order, whatever the thread timing: a table of
 * non-directory paths records which package owns each; a package that is earlier than
 * the owner skips the entry, a later one replaces it. The check and the write of one path
 * happen under one of STRIPES locks (by path hash), so two packages never interleave
 * on the same path. */
#include "fetchers/apt/apt_deb_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define STRIPES 64
#define MAX_THREADS 16
#define MAX_ALIASES 16

/* --- path ownership --- */

typedef struct slot {
    char *dest;
    size_t owner;
} slot;

typedef struct conflict {
    char *dest;
    size_t loser, winner;
} conflict;

/* A directory as one package lists it: the earliest package in lock order decides its
 * mode and owner, as with dpkg (later packages leave an existing directory alone). */
typedef struct dirmeta {
    char *dest;
    size_t owner;
    unsigned mode;
    int64_t uid, gid;
} dirmeta;

typedef struct shared {
    ec_fetch_ctx *ctx;
    ec_apt_gate *gate;          /* downloads still arriving, or NULL: all are stored */
    const json_t *lock;
    const char *staging;
    ec_apt_deb *debs;
    ec_digest *blobs;
    size_t n;
    size_t *order;              /* work order: biggest .deb first (see unpack_all) */
    ec_extract_opts x;          /* aliases and the no-sync/in-place flags, shared */
    pthread_mutex_t stripes[STRIPES];
    pthread_mutex_t mu;         /* the table, conflicts, progress and the first error */
    slot *slots;
    size_t cap, used;
    conflict *conf;
    size_t nconf, capconf;
    dirmeta *dirs;
    size_t ndirs, capdirs;
    atomic_size_t next;
    atomic_bool failed;
    ec_err first;
    int first_rc;
    size_t first_idx;
    size_t done;
} shared;

typedef struct pkg_job {
    shared *sh;
    ec_apt_deb *d;
} pkg_job;

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of @dest (empty when absent). Caller holds sh->mu. */
static slot *slot_find(shared *sh, const char *dest)
{
    size_t i = path_hash(dest) & (sh->cap - 1);
    while (sh->slots[i].dest && strcmp(sh->slots[i].dest, dest) != 0)
        i = (i + 1) & (sh->cap - 1);
    return &sh->slots[i];
}

static void slot_grow(shared *sh)
{
    slot *old = sh->slots;
    size_t oldcap = sh->cap;
    sh->cap = oldcap ? 2 * oldcap : 4096;
    sh->slots = ec_xcalloc(sh->cap, sizeof *sh->slots);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].dest)
            *slot_find(sh, old[i].dest) = old[i];
    free(old);
}

static void conflict_add(shared *sh, const char *dest, size_t loser, size_t winner)
{
    if (sh->nconf == sh->capconf) {
        sh->capconf = sh->capconf ? 2 * sh->capconf : 16;
        sh->conf = ec_xrealloc(sh->conf, sh->capconf * sizeof *sh->conf);
    }
    sh->conf[sh->nconf++] = (conflict){ec_xstrdup(dest), loser, winner};
}

static pthread_mutex_t *stripe(shared *sh, const char *dest)
{
    return &sh->stripes[path_hash(dest) % STRIPES];
}

static void path_add(ec_apt_deb *d, const ec_extract_entry *e)
{
    if (d->npaths == d->cappaths) {
        d->cappaths = d->cappaths ? 2 * d->cappaths : 64;
        d->paths = ec_xrealloc(d->paths, d->cappaths * sizeof *d->paths);
    }
    d->paths[d->npaths++] = (ec_apt_path){
        .path = ec_xstrdup(e->path),
        .dest = strcmp(e->path, e->dest) != 0 ? ec_xstrdup(e->dest) : NULL,
        .dir = e->type == S_IFDIR,
    };
}

/* Records the path for info/<pkg>.list and decides who owns it (see the file comment).
 * On EC_OK the stripe stays locked until on_done. */
static int on_entry(const ec_extract_entry *e, void *payload, ec_err *err)
{
    pkg_job *job = payload;
    shared *sh = job->sh;
    size_t me = job->d->index;
    (void)err;
    path_add(job->d, e);
    if (e->type == S_IFDIR) {
        pthread_mutex_lock(&sh->mu);
        if (sh->ndirs == sh->capdirs) {
            sh->capdirs = sh->capdirs ? 2 * sh->capdirs : 1024;
            sh->dirs = ec_xrealloc(sh->dirs, sh->capdirs * sizeof *sh->dirs);
        }
        sh->dirs[sh->ndirs++] = (dirmeta){ec_xstrdup(e->dest), me, e->mode, e->uid, e->gid};
        pthread_mutex_unlock(&sh->mu);
        return EC_OK;
    }
    pthread_mutex_lock(stripe(sh, e->dest));
    pthread_mutex_lock(&sh->mu);
    if (2 * (sh->used + 1) > sh->cap)
        slot_grow(sh);
    slot *s = slot_find(sh, e->dest);
    int rc = EC_OK;
    if (!s->dest) {
        *s = (slot){ec_xstrdup(e->dest), me};
        sh->used++;
    } else if (s->owner < me) {
        conflict_add(sh, e->dest, s->owner, me);
        s->owner = me;
    } else if (s->owner > me) {
        conflict_add(sh, e->dest, me, s->owner);
        rc = EC_EXTRACT_SKIP;
    } /* the same package twice: tar semantics, the later entry replaces */
    pthread_mutex_unlock(&sh->mu);
    if (rc == EC_EXTRACT_SKIP)
        pthread_mutex_unlock(stripe(sh, e->dest));
    return rc;
}

static void on_done(const ec_extract_entry *e, bool ok, void *payload)
{
    pkg_job *job = payload;
    (void)ok;
    if (e->type != S_IFDIR)
        pthread_mutex_unlock(stripe(job->sh, e->dest));
}

/* --- workers --- */

static void progress(shared *sh, const ec_apt_deb *d)
{
    if (!sh->ctx->progress)
        return;
    pthread_mutex_lock(&sh->mu);
    ec_progress_event p = {.manager = "apt", .phase = EC_PHASE_INSTALLING, .done = ++sh->done,
                           .total = sh->n, .item = d->name};
    sh->ctx->progress(&p, sh->ctx->progress_ud);
    pthread_mutex_unlock(&sh->mu);
}

/* Package @i into the staging tree, read from the store or, while it still downloads, from
 * its stream. */
static int unpack_one(shared *sh, size_t i, pkg_job *job, ec_err *err)
{
    ec_extract_opts x = sh->x;
    x.on_entry = on_entry;
    x.on_done = on_done;
    x.payload = job;
    ec_apt_stream *in = NULL;
    ec_apt_gate *g = sh->gate;
    int rc = g ? ec_apt_gate_wait_stream(g, sh->ctx->store, &sh->blobs[i], &in, err)
               : EC_OK;
    if (rc == EC_OK)
        rc = ec_apt__deb_unpack(job->d, sh->ctx->store, &sh->blobs[i], in, sh->staging, NULL,
                                &x, err);
    ec_apt_stream_release(in);
    if (rc == EC_ENETWORK && in) { /* the download failed: the gate has its error */
        ec_err why = {0};
        int w = ec_apt_gate_wait(g, sh->ctx->store, &sh->blobs[i], &why);
        if (w < 0 && err)
            *err = why;
        rc = w < 0 ? w : rc;
    }
    return rc;
}

static void *worker(void *arg)
{
    shared *sh = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&sh->next, 1);
        if (k >= sh->n || atomic_load(&sh->failed))
            return NULL;
        size_t i = sh->order[k];
        pkg_job job = {sh, &sh->debs[i]};
        ec_err local = {0};
        int rc = unpack_one(sh, i, &job, &local);
        if (rc < 0) {
            pthread_mutex_lock(&sh->mu);
            /* of the packages that failed, the earliest in lock order names the error */
            if (!sh->first_rc || i < sh->first_idx) {
                sh->first = local;
                sh->first_idx = i;
                sh->first_rc = rc;
            }
            pthread_mutex_unlock(&sh->mu);
            atomic_store(&sh->failed, true);
            return NULL;
        }
        progress(sh, job.d);
    }
}

static int size_desc(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* {size, index} pairs */
    if (x[0] != y[0])
        return x[0] < y[0] ? 1 : -1;
    return x[1] < y[1] ? -1 : 1;
}

/* Decompression (xz, mostly) is the cost, and one big package (an LLVM, ICU) takes
 * seconds alone: started last it would be the whole tail. Biggest first (LPT) keeps every
 * thread busy to the end. Who wins a file conflict does not depend on this order. */
static void order_by_size(shared *sh)
{
    uint64_t (*v)[2] = ec_xcalloc(sh->n ? sh->n : 1, sizeof *v);
    for (size_t i = 0; i < sh->n; i++) {
        EC_AUTOFREE char *p = ec_blob_path(sh->ctx->store, &sh->blobs[i]);
        struct stat sb;
        /* a .deb still downloading: the size Packages gave */
        v[i][0] = stat(p, &sb) == 0 ? (uint64_t)sb.st_size
                                    : (uint64_t)json_integer_value(json_object_get(
                                          json_array_get(json_object_get(sh->lock, "packages"),
                                                         i), "size"));
        v[i][1] = i;
    }
    qsort(v, sh->n, sizeof *v, size_desc);
    sh->order = ec_xcalloc(sh->n ? sh->n : 1, sizeof *sh->order);
    for (size_t i = 0; i < sh->n; i++)
        sh->order[i] = (size_t)v[i][1];
    free(v);
}

static int unpack_all(shared *sh, ec_err *err)
{
    order_by_size(sh);
    /* One thread more than CPUs: an unpacking thread also blocks (the page cache's
     * writeback, a stream's next bytes), and the CPUs idled then. On 2 CPUs, ffmpeg's
     * cold build took 11.3 s against 11.9 s (7 runs each, interleaved). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cpus > 0 ? (size_t)cpus + 1 : 2;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    if (nt > sh->n)
        nt = sh->n;
    pthread_t th[MAX_THREADS];
    size_t started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, worker, sh) != 0)
            break;
    if (started == 0 && sh->n)
        worker(sh); /* no threads at all: do it here */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (sh->first_rc) {
        if (err && err->code == EC_OK)
            *err = sh->first;
        return sh->first_rc;
    }
    return EC_OK;
}

/* --- after the unpack --- */

static int dirmeta_cmp(const void *pa, const void *pb)
{
    const dirmeta *a = pa, *b = pb;
    int c = strcmp(a->dest, b->dest);
    if (c)
        return c;
    return a->owner < b->owner ? -1 : a->owner > b->owner;
}

/* Which thread made a shared directory first is timing; its mode and owner must not be.
 * Each directory gets what the earliest package in lock order lists for it. The paths
 * were walked without symlinks by the extractor, and O_NOFOLLOW guards the last one. */
static int settle_dirs(shared *sh, ec_err *err)
{
    if (sh->ndirs)
        qsort(sh->dirs, sh->ndirs, sizeof *sh->dirs, dirmeta_cmp);
    bool root = geteuid() == 0;
    EC_AUTOFD int rootfd = open(sh->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", sh->staging);
    for (size_t i = 0; i < sh->ndirs; i++) {
        dirmeta *d = &sh->dirs[i];
        if (i && strcmp(d->dest, sh->dirs[i - 1].dest) == 0)
            continue;
        EC_AUTOFD int fd = openat(rootfd, d->dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                       O_CLOEXEC);
        if (fd < 0)
            return ec_fail_sys(err, errno, "cannot open directory %s", d->dest);
        if (root && fchown(fd, (uid_t)d->uid, (gid_t)d->gid) < 0)
            return ec_fail_sys(err, errno, "cannot set the owner of %s", d->dest);
        if (fchmod(fd, d->mode) < 0)
            return ec_fail_sys(err, errno, "cannot set the mode of %s", d->dest);
    }
    return EC_OK;
}

/* Files a later package replaced leave the earlier one's .list; Multi-Arch: same copies
 * with identical content stay in both (dpkg shares them) and are not worth a note. */
static void settle_conflicts(shared *sh, json_t *notes)
{
    for (size_t i = 0; i < sh->nconf; i++) {
        conflict *c = &sh->conf[i];
        ec_apt_deb *l = &sh->debs[c->loser], *w = &sh->debs[c->winner];
        ec_apt_path *lp = NULL, *wp = NULL;
        for (size_t j = 0; j < l->npaths && !lp; j++)
            if (strcmp(l->paths[j].dest ? l->paths[j].dest : l->paths[j].path, c->dest) == 0)
                lp = &l->paths[j];
        for (size_t j = 0; j < w->npaths && !wp; j++)
            if (strcmp(w->paths[j].dest ? w->paths[j].dest : w->paths[j].path, c->dest) == 0)
                wp = &w->paths[j];
        char m1[33], m2[33];
        if (lp && wp && ec_apt__deb_ma_same(l) && ec_apt__deb_ma_same(w) &&
            ec_apt__deb_md5(l, lp->path, m1) && ec_apt__deb_md5(w, wp->path, m2) &&
            strcmp(m1, m2) == 0)
            continue;
        if (lp)
            lp->lost = true;
        json_array_append_new(notes, json_pack("{s:s, s:s+, s:s, s:s}", "kind",
                                               "file_conflict", "path", "/", c->dest, "lost",
                                               l->name, "kept", w->name));
    }
}

static bool has_ctl(const ec_apt_deb *d, int i)
{
    return d->ctl[i] != NULL;
}

static char **strv(size_t n, ...)
{
    va_list ap;
    char **v = ec_xcalloc(n + 1, sizeof *v);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v[i] = ec_xstrdup(va_arg(ap, const char *));
    va_end(ap);
    return v;
}

static ec_build_step *step_add(ec_install_result *out)
{
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    ec_build_step *s = &out->steps[out->nsteps++];
    memset(s, 0, sizeof *s);
    return s;
}

static char **dpkg_env(void)
{
    return strv(4, "DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true",
                "LC_ALL=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

/* "(N packages: a, b, …)" */
static void names_add(ec_buf *b, const char *const *names, size_t n)
{
    (void)ec_buf_addf(b, NULL, "(%zu package%s: ", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        (void)ec_buf_addf(b, NULL, "%s%s", i ? ", " : "", names[i]);
    (void)ec_buf_adds(b, ")", NULL);
}

/*
 * dpkg runs `preinst install` before it unpacks a package; here every package is already
 * unpacked when the sandbox runs the preinsts (in lock order), and only then does
 * `dpkg --configure --pending` run the postinsts in dpkg's own dependency order. Preinsts
 * that only prepare (users, diversions, alternatives) work the same; one that inspects the
 * files it is about to replace sees the new ones.
 */
/* The notes the install gathered as JSON (the dpkg database writer adds to them, and the
 * preinst calls read the upgrades back) become the result's typed notes. */
static void notes_take(ec_install_result *out, const json_t *notes)
{
    size_t i;
    json_t *v;
    json_array_foreach(notes, i, v) {
        ec_note_kind kind;
        if (!ec_note_kind_parse(&kind, json_string_value(json_object_get(v, "kind"))))
            continue; /* every kind written in this folder has a name; see fetcher.c */
        json_t *detail = json_deep_copy(v);
        json_object_del(detail, "kind");
        json_object_del(detail, "package");
        const char *ver = json_string_value(json_object_get(v, "version"));
        if (ver)
            json_object_del(detail, "version");
        ec_install_note(out, kind, json_string_value(json_object_get(v, "package")),
                        ver ? ver : json_string_value(json_object_get(v, "to")), detail);
    }
}

/* The version of the base's package that @name upgrades, from the upgrade notes. */
static const char *upgraded_from(const json_t *notes, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(notes, i, v) {
        const char *k = json_string_value(json_object_get(v, "kind"));
        const char *p = json_string_value(json_object_get(v, "package"));
        if (k && p && strcmp(k, "upgrade") == 0 && strcmp(p, name) == 0)
            return json_string_value(json_object_get(v, "from"));
    }
    return NULL;
}

static void steps_make(ec_install_result *out, const json_t *notes, const ec_apt_deb *debs,
                       size_t n, const bool *unpacked, bool triggers)
{
    const char **names = ec_xcalloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    ec_buf script = EC_BUF_INIT;
    (void)ec_buf_adds(&script, "set -e\n", NULL);
    for (size_t i = 0; i < n; i++) {
        if (!has_ctl(&debs[i], EC_APT_CTL_PREINST))
            continue;
        EC_AUTOFREE char *stem = ec_apt__deb_stem(&debs[i]);
        const char *from = upgraded_from(notes, debs[i].name);
        /* names, arches and versions were checked by lock_read: nothing to quote */
        (void)ec_buf_addf(&script, NULL,
                          "DPKG_MAINTSCRIPT_PACKAGE=%s DPKG_MAINTSCRIPT_ARCH=%s "
                          "DPKG_MAINTSCRIPT_NAME=preinst DPKG_ADMINDIR=/var/lib/dpkg "
                          "DPKG_ROOT= /var/lib/dpkg/info/%s.preinst %s%s%s%s\n",
                          debs[i].name, debs[i].arch ? debs[i].arch : "all", stem,
                          from ? "upgrade " : "install", from ? from : "", from ? " " : "",
                          from && debs[i].version ? debs[i].version : "");
        names[k++] = debs[i].name;
    }
    if (k) {
        ec_buf what = EC_BUF_INIT;
        (void)ec_buf_adds(&what, "preinst install ", NULL);
        names_add(&what, names, k);
        ec_build_step *s = step_add(out);
        s->what = ec_buf_steal(&what);
        s->cwd = ec_xstrdup("/");
        s->argv = strv(3, "sh", "-c", ec_buf_str(&script));
        s->env = dpkg_env();
    }
    ec_buf_fini(&script);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (unpacked[i])
            names[k++] = debs[i].name;
    if (k || triggers) {
        ec_buf what = EC_BUF_INIT;
        (void)ec_buf_adds(&what, k ? "dpkg --configure " : "dpkg trigger processing ", NULL);
        names_add(&what, names, k);
        ec_build_step *s = step_add(out);
        s->what = ec_buf_steal(&what);
        s->cwd = ec_xstrdup("/");
        s->argv = strv(5, "dpkg", "--force-confdef", "--force-confold", "--configure",
                       "--pending");
        s->env = dpkg_env();
    }
    free(names);
}

static void note_scripts(json_t *notes, const ec_apt_deb *d)
{
    static const int scripts[] = {EC_APT_CTL_PREINST, EC_APT_CTL_POSTINST, EC_APT_CTL_PRERM,
                                  EC_APT_CTL_POSTRM, EC_APT_CTL_CONFIG, EC_APT_CTL_TRIGGERS};
    json_t *have = json_array();
    for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++)
        if (has_ctl(d, scripts[i]))
            json_array_append_new(have, json_string(ec_apt__ctl_name(scripts[i])));
    if (json_array_size(have) == 0) {
        json_decref(have);
        return;
    }
    json_array_append_new(notes, json_pack("{s:s, s:s, s:s, s:o}", "kind",
                                           "maintainer_scripts", "package", d->name, "version",
                                           d->version ? d->version : "", "scripts", have));
}

/* --- the base's directory aliases --- */

/* Top-level symlinks of the base that lead to a directory ("lib" -> "usr/lib"): dpkg writes
 * through them on a merged-/usr system, and so do we, or the layer's real /lib would hide
 * the base's link in the overlay. */
static size_t aliases_load(const char *base, char **from, char **to)
{
    size_t n = 0;
    if (!base)
        return 0;
    DIR *dir = opendir(base);
    for (struct dirent *e; dir && (e = readdir(dir)) && n < MAX_ALIASES;) {
        if (e->d_name[0] == '.')
            continue;
        char link[256];
        EC_AUTOFREE char *p = ec_xasprintf("%s/%s", base, e->d_name);
        ssize_t k = readlink(p, link, sizeof link - 1);
        if (k <= 0)
            continue;
        link[k] = '\0';
        const char *t = link + strspn(link, "/");
        while (t[0] == '.' && t[1] == '/')
            t += 2;
        struct stat sb;
        EC_AUTOFREE char *tp = ec_xasprintf("%s/%s", base, t);
        if (!*t || strstr(t, "..") || strchr(e->d_name, '/') || lstat(tp, &sb) < 0 ||
            !S_ISDIR(sb.st_mode))
            continue;
        size_t tl = strlen(t);
        while (tl && t[tl - 1] == '/')
            tl--;
        from[n] = ec_xstrdup(e->d_name);
        to[n] = ec_xstrndup(t, tl);
        n++;
    }
    if (dir)
        closedir(dir);
    return n;
}

/* --- the op --- */

static void staging_empty(const char *staging)
{
    DIR *dir = opendir(staging);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        EC_AUTOFREE char *p = ec_xasprintf("%s/%s", staging, e->d_name);
        ec_rm_rf(p, NULL);
    }
    if (dir)
        closedir(dir);
}

/* Debian's syntax for names and architectures ([a-z0-9][a-z0-9+.-]*) and versions: the
 * build steps put them into a shell line, and info/ file names. */
static bool token_ok(const char *s, bool version)
{
    if (!s || !*s || strlen(s) > 256)
        return false;
    for (const char *c = s; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '+' ||
                  *c == '.' || *c == '-' ||
                  (version && ((*c >= 'A' && *c <= 'Z') || *c == '~' || *c == ':'));
        if (!ok || (c == s && (*c == '-' || *c == '.' || *c == '+')))
            return false;
    }
    return true;
}

static int lock_read(shared *sh, const json_t *lock, ec_err *err)
{
    json_t *pkgs = json_object_get(lock, "packages");
    if (!json_is_array(pkgs))
        return ec_fail(err, EC_EFORMAT, "apt lock has no packages array");
    sh->n = json_array_size(pkgs);
    sh->debs = ec_xcalloc(sh->n ? sh->n : 1, sizeof *sh->debs);
    sh->blobs = ec_xcalloc(sh->n ? sh->n : 1, sizeof *sh->blobs);
    for (size_t i = 0; i < sh->n; i++) {
        json_t *p = json_array_get(pkgs, i);
        ec_apt_deb *d = &sh->debs[i];
        d->index = i;
        d->name = json_string_value(json_object_get(p, "name"));
        d->version = json_string_value(json_object_get(p, "version"));
        d->arch = json_string_value(json_object_get(p, "arch"));
        d->multi_arch = json_string_value(json_object_get(p, "multi_arch"));
        const char *sha = json_string_value(json_object_get(p, "sha256"));
        if (!d->name || !sha || ec_digest_parse(&sh->blobs[i], sha, NULL) < 0)
            return ec_fail(err, EC_EFORMAT, "apt lock: packages[%zu] (%s) has no fetched .deb",
                           i, d->name ? d->name : "?");
        if (!token_ok(d->name, false) || (d->arch && !token_ok(d->arch, false)) ||
            (d->version && !token_ok(d->version, true)))
            return ec_fail(err, EC_EFORMAT,
                           "apt lock: packages[%zu]: name, arch or version is not Debian syntax",
                           i);
    }
    return EC_OK;
}

static void shared_fini(shared *sh)
{
    for (size_t i = 0; i < sh->n && sh->debs; i++)
        ec_apt__deb_fini(&sh->debs[i]);
    free(sh->debs);
    free(sh->blobs);
    free(sh->order);
    for (size_t i = 0; i < sh->cap; i++)
        free(sh->slots[i].dest);
    free(sh->slots);
    for (size_t i = 0; i < sh->nconf; i++)
        free(sh->conf[i].dest);
    free(sh->conf);
    for (size_t i = 0; i < sh->ndirs; i++)
        free(sh->dirs[i].dest);
    free(sh->dirs);
    for (size_t i = 0; i < sh->x.naliases; i++) {
        free((char *)sh->x.alias_from[i]);
        free((char *)sh->x.alias_to[i]);
    }
    free((void *)sh->x.alias_from);
    free((void *)sh->x.alias_to);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&sh->stripes[i]);
    pthread_mutex_destroy(&sh->mu);
}

/* Python's bytecode that the maintainer scripts compile (py3compile: the standard library,
 * each package's modules) stays in the layer. The sandbox sets SOURCE_DATE_EPOCH, which
 * makes py_compile write hash-checked .pyc files: valid whatever times the layer records,
 * so the first import in a session writes nothing. Elsewhere __pycache__ stays noise. The
 * directories are the ones the packages brought. */
static void python_keep(const char *staging, ec_install_result *out)
{
    EC_AUTOFREE char *lib = ec_xasprintf("%s/usr/lib", staging);
    DIR *dir = opendir(lib);
    if (!dir)
        return;
    size_t n = 0;
    while (out->keep && out->keep[n])
        n++;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *v = e->d_name; /* python3, or python3.N */
        const char *minor = v + 7;
        bool is_python = strncmp(v, "python3", 7) == 0 &&
                         (!*minor || (minor[0] == '.' && minor[1] &&
                                      strspn(minor + 1, "0123456789") == strlen(minor + 1)));
        if (!is_python)
            continue;
        out->keep = ec_xrealloc(out->keep, (n + 2) * sizeof *out->keep);
        out->keep[n++] = ec_xasprintf("usr/lib/%s", v);
        out->keep[n] = NULL;
    }
    closedir(dir);
}

static int install_run(shared *sh, const json_t *lock, ec_install_result *out, ec_err *err)
{
    int rc = lock_read(sh, lock, err);
    if (rc < 0)
        return rc;
    char **from = ec_xcalloc(MAX_ALIASES, sizeof *from), **to = ec_xcalloc(MAX_ALIASES,
                                                                            sizeof *to);
    sh->x = (ec_extract_opts){.no_sync = true, .in_place = true, .keep_owners = true,
                              .refuse_whiteouts = true,
                              .alias_from = (const char *const *)from,
                              .alias_to = (const char *const *)to};
    sh->x.naliases = aliases_load(sh->ctx->lowers_root, from, to);
    rc = unpack_all(sh, err);
    if (rc == EC_OK)
        rc = settle_dirs(sh, err);
    if (rc < 0)
        return rc;
    EC_AUTO(json_t) notes = json_array();
    settle_conflicts(sh, notes);
    bool *unpacked = ec_xcalloc(sh->n ? sh->n : 1, sizeof *unpacked);
    bool triggers = false, pending = false;
    for (size_t i = 0; i < sh->n; i++) {
        const ec_apt_deb *d = &sh->debs[i];
        /* postinst (and debconf's config, which it drives) must run: dpkg --configure */
        unpacked[i] = has_ctl(d, EC_APT_CTL_POSTINST) || has_ctl(d, EC_APT_CTL_CONFIG);
        triggers = triggers || has_ctl(d, EC_APT_CTL_TRIGGERS);
        note_scripts(notes, d);
    }
    ec_apt_db_in in = {.base_root = sh->ctx->lowers_root, .staging = sh->staging,
                       .debs = sh->debs, .ndebs = sh->n, .unpacked = unpacked,
                       .notes = notes, .alias_from = sh->x.alias_from,
                       .alias_to = sh->x.alias_to, .naliases = sh->x.naliases};
    rc = ec_apt__dpkgdb_write(&in, &pending, err);
    if (rc == EC_OK) {
        steps_make(out, notes, sh->debs, sh->n, unpacked, pending || triggers);
        python_keep(sh->staging, out);
    }
    if (rc == EC_OK)
        notes_take(out, notes);
    free(unpacked);
    return rc;
}

int ec_apt_install(ec_fetch_ctx *ctx, ec_apt_gate *gate, const json_t *lock,
                   const char *staging, ec_install_result *out, ec_err *err)
{
    if (!ctx || !ctx->store || !lock || !staging || !out)
        return ec_fail(err, EC_EINVAL, "ec_apt_install: missing argument");
    __attribute__((cleanup(shared_fini))) shared sh = {.ctx = ctx, .gate = gate, .lock = lock,
                                                       .staging = staging};
    pthread_mutex_init(&sh.mu, NULL);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&sh.stripes[i], NULL);
    int64_t t0 = ec_mono_us();
    int rc = install_run(&sh, lock, out, err);
    if (rc < 0) {
        /* nothing partial stays: the caller gets an empty staging root back */
        staging_empty(staging);
        ec_install_result_fini(out);
        ec_err_prefix(err, "apt");
        return rc;
    }
    ec_debug("apt: installed %zu packages in %lld ms", sh.n,
             (long long)(ec_mono_us() - t0) / 1000);
    return EC_OK;
}
