/* SPDX-License-Identifier: MIT */
/* Sandboxed builds: lower layers from the store in, a layer and its build log out. */
#include "cache/cache_int.h"
#include "cache/sandbox/sandbox.h"
#include "cache/sandbox/sandbox_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

/* Lines of the log's end that a failure's message quotes. */
#define TAIL_LINES 8

struct lowers {
    char **dirs;
    size_t n;
};

static void lowers_fini(struct lowers *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->dirs[i]);
    free(l->dirs);
}

static int lower_add(struct lowers *l, ec_store *st, const ec_digest *d, ec_err *err)
{
    ec_layer_info info;
    EC_AUTO(ec_txn) txn = NULL;
    char s[EC_DIGEST_STR_LEN];
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = ec_layer_lookup(&info, txn, d, err);
    ec_txn_abort(ec_steal(&txn));
    if (r == EC_ENOTFOUND)
        ec_err_prefix(err, "sandbox: layer %s", ec_digest_format(s, d));
    if (r == EC_OK)
        r = ec_layer_ensure_unpacked(&l->dirs[l->n], st, &info, err);
    if (r < 0)
        return r;
    l->n++;
    ec_layer_touch(st, d, NULL);
    return EC_OK;
}

static int lowers_load(struct lowers *l, ec_store *st, const ec_sandbox_build_opts *o,
                       ec_err *err)
{
    l->dirs = ec_xcalloc(o->nlayers + 2, sizeof *l->dirs);
    int r = o->base ? lower_add(l, st, o->base, err) : EC_OK;
    for (size_t i = 0; r == EC_OK && i < o->nlayers; i++)
        r = lower_add(l, st, &o->layers[i], err);
    return r;
}

/* "`sh -c …` exited with status 3" and the like. */
static void describe_end(char *out, size_t n, const ec_sandbox_result *r, int64_t timeout_ms)
{
    if (r->timed_out)
        snprintf(out, n, "timed out after %lld s and was killed",
                 (long long)((timeout_ms > 0 ? timeout_ms : EC_SANDBOX_DEFAULT_TIMEOUT_MS) / 1000));
    else if (r->oom)
        snprintf(out, n, "was killed at the memory limit (%s)", r->limit);
    else if (r->signal)
        snprintf(out, n, "was killed by signal %d (%s)", r->signal, strsignal(r->signal));
    else
        snprintf(out, n, "exited with status %d", r->status);
}

static const char *last_lines(const char *tail, int lines)
{
    const char *end = tail + strlen(tail);
    while (end > tail && end[-1] == '\n')
        end--;
    const char *p = end;
    while (p > tail && lines > 0) {
        p--;
        if (*p == '\n')
            lines--;
    }
    return p == tail ? p : p + 1;
}

static int fail_command(ec_err *err, const ec_sandbox_build_opts *o, const ec_sandbox_result *r)
{
    char cmd[256] = "", how[128];
    size_t len = 0;
    for (size_t i = 0; o->argv[i] && len < sizeof cmd - 1; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, "%s%s", i ? " " : "", o->argv[i]);
    describe_end(how, sizeof how, r, o->timeout_ms);
    const char *tail = last_lines(r->tail, TAIL_LINES);
    int n = (int)strlen(tail);
    while (n > 0 && tail[n - 1] == '\n')
        n--;
    return ec_fail(err, EC_EBUILD, "sandbox: command `%s` %s; memory limit: %s; last lines "
                   "of its log:\n%.*s", cmd, how, r->limit, n ? n : 7, n ? tail : "(empty)");
}

/* The command succeeded: what it wrote, minus noise, becomes the layer. */
static int keep_result(ec_sandbox_build *out, ec_store *st, const char *workdir,
                       const char *log_path, ec_err *err)
{
    EC_AUTOFREE char *upper = ec_xasprintf("%s/upper", workdir);
    int r = ec_sandbox_prune_noise(upper, err);
    if (r == EC_OK)
        r = ec_layer_import(&out->layer, st, upper, 0, NULL, NULL, err);
    if (r == EC_OK)
        r = ec_blob_put_file(&out->log, st, log_path, NULL, err);
    if (r == EC_OK)
        r = ec_sandbox__log_put(st, &out->layer.digest, &out->log, err);
    return r;
}

/* Copies the whole log to stderr, for people watching a build. */
static void echo_log(const char *path)
{
    EC_AUTOFILE FILE *f = fopen(path, "re");
    char buf[8192];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
}

static int run_in(ec_sandbox_build *out, ec_store *st, const ec_sandbox_build_opts *o,
                  const struct lowers *l, const char *workdir, ec_err *err)
{
    EC_AUTOFREE char *log_path = ec_xasprintf("%s/build.log", workdir);
    EC_AUTOFD int log_fd = open(log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot create %s", log_path);
    EC_AUTOFREE char *inner = ec_xasprintf("%s/run", workdir);
    const ec_sandbox_opts so = {
        .lowers = (const char *const *)l->dirs, .nlowers = l->n, .argv = o->argv,
        .env = o->env, .nenv = o->nenv, .cwd = o->cwd, .timeout_ms = o->timeout_ms,
        .memory = o->memory, .mirror_port = o->mirror_port, .workdir = inner,
        .skip_sleeps = o->skip_sleeps, .skip_syncs = o->skip_syncs,
        .log_fd = log_fd,
    };
    int r = ec_sandbox_exec(&out->run, &so, err);
    if (r < 0)
        return r;
    if (o->echo)
        echo_log(log_path);
    if (!ec_sandbox_ok(&out->run))
        return fail_command(err, o, &out->run);
    if (o->discard)
        return EC_OK;
    return keep_result(out, st, inner, log_path, err);
}

/* A run whose writes are thrown away works on a tmpfs when one has room for it: its upper,
 * work directory and log never touch the store's disk, where making and removing them
 * cost more than the whole run (ext4 allocates inodes slowly where many were just freed,
 * as a machine that builds all day has). Not with a memory limit: tmpfs pages count
 * against it, so the run could be killed where it passed on disk. Each run holds a lock
 * on its directory; one whose run died (killed) holds RAM until someone removes it, so
 * every new run removes those it can lock. */
#define SCRATCH_TMPFS "/dev/shm"
#define SCRATCH_MIN_FREE (2ULL << 30)

static bool tmpfs_has_room(const char *dir)
{
    struct statfs sf;
    return statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
           (unsigned long long)sf.f_bavail * (unsigned long long)sf.f_bsize >=
               SCRATCH_MIN_FREE &&
           access(dir, W_OK | X_OK) == 0;
}

#define SCRATCH_PREFIX "envcache-sandbox-"

/* Directories of runs that died: nobody holds their lock. */
static void sweep_scratch(void)
{
    DIR *d = opendir(SCRATCH_TMPFS);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        if (strncmp(de->d_name, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)) != 0)
            continue;
        EC_AUTOFREE char *path = ec_xasprintf(SCRATCH_TMPFS "/%s", de->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat sb;
        if (fstat(fd, &sb) == 0 && sb.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0)
            ec_rm_rf(path, NULL);
        close(fd);
    }
    closedir(d);
}

/* The run's own directory, new (mkdir fails on anything already there: /dev/shm is
 * everyone's); *@lock_fd holds its lock for as long as the run lives. */
static int make_workdir(char **out, int *lock_fd, ec_store *st, const ec_sandbox_build_opts *o,
                        ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    if (o->discard && !o->memory && tmpfs_has_room(SCRATCH_TMPFS)) {
        sweep_scratch();
        char *dir = ec_xasprintf(SCRATCH_TMPFS "/" SCRATCH_PREFIX "%s", rnd);
        int fd = -1;
        if (mkdir(dir, 0700) == 0 &&
            (fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
            flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *out = dir;
            *lock_fd = fd;
            return EC_OK;
        }
        if (fd >= 0) {
            close(fd);
            rmdir(dir);
        }
        free(dir); /* taken or refused: the store's directory will do */
    }
    EC_AUTOFREE char *rel = ec_xasprintf("sandbox/%s", rnd);
    char *dir = ec_store_path(st, rel);
    int r = ec_mkdir_p(dir, 0700, err);
    if (r < 0)
        free(dir);
    else
        *out = dir;
    return r;
}

int ec_sandbox_build_layer(ec_sandbox_build *out, ec_cache *c, const ec_sandbox_build_opts *o,
                           ec_err *err)
{
    if (!out || !c || !o || !o->argv || !o->argv[0])
        return ec_fail(err, EC_EINVAL, "sandbox: a command is required");
    *out = (ec_sandbox_build){0};
    struct lowers l = {0};
    EC_AUTOFREE char *workdir = NULL;
    EC_AUTOFD int lock_fd = -1;
    int r = lowers_load(&l, c->st, o, err);
    if (r == EC_OK)
        r = make_workdir(&workdir, &lock_fd, c->st, o, err);
    if (r == EC_OK)
        r = run_in(out, c->st, o, &l, workdir, err);
    lowers_fini(&l);
    /* Success or not, the tree is either in the store now or not wanted. */
    ec_err rm = {0};
    if (workdir && ec_rm_rf(workdir, &rm) < 0)
        ec_warn("sandbox: cannot remove %s: %s", workdir, rm.msg);
    return r;
}

/* --- an install's build steps, over its staging tree --- */

static int step_fail(ec_err *err, const ec_build_step *s, const ec_sandbox_result *r)
{
    char how[128];
    describe_end(how, sizeof how, r, 0);
    const char *tail = last_lines(r->tail, TAIL_LINES);
    int n = (int)strlen(tail);
    while (n > 0 && tail[n - 1] == '\n')
        n--;
    return ec_fail(err, EC_EBUILD, "%s: `%s` %s; last lines of its log:\n%.*s", s->what,
                   s->argv[0], how, n ? n : 7, n ? tail : "(empty)");
}

static int run_step(ec_store *st, const struct lowers *l, const char *staging,
                    const ec_build_step *s, int mirror_port, int log_fd, const char *workdir,
                    ec_err *err)
{
    size_t nenv = 0;
    while (s->env && s->env[nenv])
        nenv++;
    /* The mirror listens on the same port inside the sandbox; the step is told where. */
    const char **env = ec_xcalloc(nenv + 2, sizeof *env);
    memcpy(env, s->env ? (const char **)s->env : env, nenv * sizeof *env);
    EC_AUTOFREE char *mirror = mirror_port > 0
                                   ? ec_xasprintf("ENVCACHE_MIRROR=http://127.0.0.1:%d/mirror",
                                                  mirror_port)
                                   : NULL;
    if (mirror)
        env[nenv++] = mirror;
    ec_sandbox_result res;
    const ec_sandbox_opts so = {
        .lowers = (const char *const *)l->dirs, .nlowers = l->n,
        .argv = (const char *const *)s->argv, .env = env,
        .nenv = nenv, .cwd = s->cwd, .mirror_port = mirror_port,
        .workdir = workdir, .upper = staging, .log_fd = log_fd, .skip_sleeps = true,
        .skip_syncs = true,
    };
    (void)st;
    dprintf(log_fd, "==> %s\n", s->what);
    int64_t t0 = ec_mono_us();
    int r = ec_sandbox_exec(&res, &so, err);
    free(env);
    if (r < 0)
        return r;
    long long ms = (long long)(ec_mono_us() - t0) / 1000;
    dprintf(log_fd, "<== %lld ms\n", ms);
    ec_debug("sandbox: %.60s%s: %lld ms", s->what, strlen(s->what) > 60 ? "…" : "", ms);
    return ec_sandbox_ok(&res) ? EC_OK : step_fail(err, s, &res);
}

/* A run's own directory under the store's sandbox/, the lowers unpacked, and its log. */
struct run_dir {
    char *path;
    char *log_path;
    int log_fd;
    struct lowers l;
};

static int run_dir_open(struct run_dir *d, ec_cache *c, const char *prefix,
                        const ec_digest *lowers, size_t nlowers, ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *rel = ec_xasprintf("sandbox/%s%s", prefix, rnd);
    *d = (struct run_dir){.path = ec_store_path(c->st, rel), .log_fd = -1};
    d->log_path = ec_xasprintf("%s/out.log", d->path);
    int r = ec_mkdir_p(d->path, 0700, err);
    d->l.dirs = ec_xcalloc(nlowers + 1, sizeof *d->l.dirs);
    for (size_t i = 0; r == EC_OK && i < nlowers; i++)
        r = lower_add(&d->l, c->st, &lowers[i], err);
    if (r == EC_OK &&
        (d->log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        r = ec_fail_sys(err, errno, "sandbox: cannot create %s", d->log_path);
    return r;
}

static void run_dir_close(struct run_dir *d)
{
    if (d->log_fd >= 0)
        close(d->log_fd);
    lowers_fini(&d->l);
    ec_err rm = {0};
    if (d->path && ec_rm_rf(d->path, &rm) < 0)
        ec_warn("sandbox: cannot remove %s: %s", d->path, rm.msg);
    free(d->path);
    free(d->log_path);
}

int ec_sandbox_run_steps(ec_digest *log_out, ec_cache *c, const ec_digest *lowers,
                         size_t nlowers, const char *staging, const ec_build_step *steps,
                         size_t nsteps, int mirror_port, const char *const *keep,
                         ec_err *err)
{
    struct run_dir d;
    int r = run_dir_open(&d, c, "", lowers, nlowers, err);
    for (size_t i = 0; r == EC_OK && i < nsteps; i++) {
        EC_AUTOFREE char *inner = ec_xasprintf("%s/run-%zu", d.path, i);
        r = run_step(c->st, &d.l, staging, &steps[i], mirror_port, d.log_fd, inner, err);
    }
    if (r == EC_OK)
        r = ec_sandbox_prune_noise_keeping(staging, keep, err);
    if (r == EC_OK)
        r = ec_blob_put_file(log_out, c->st, d.log_path, NULL, err);
    run_dir_close(&d);
    return r;
}

/* --- probes: what the layers beneath are (an interpreter's version and tags) --- */

#define PROBE_MAX (64 * 1024)
#define PROBE_TIMEOUT_MS (120 * 1000)

static int probe_read(char **out, const char *path, size_t max, const ec_sandbox_result *res,
                      const char *const *argv, ec_err *err)
{
    EC_AUTOFREE char *text = NULL;
    size_t n = 0;
    int r = ec_read_file(&text, &n, path, max, err);
    if (r < 0)
        return r;
    if (!ec_sandbox_ok(res))
        return ec_fail(err, EC_EBUILD, "`%s` over the layers beneath %s: %.400s", argv[0],
                       res->timed_out ? "timed out" : res->signal ? "was killed"
                                                                  : "failed",
                       last_lines(res->tail, TAIL_LINES));
    *out = ec_steal(&text);
    return EC_OK;
}

/* The environment of a query: its own strings and, with a mirror, where it is. */
static const char **query_env(size_t *n_out, const ec_sandbox_query_opts *o, char **mirror)
{
    size_t n = 0;
    while (o->env && o->env[n])
        n++;
    const char **env = ec_xcalloc(n + 2, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = o->env[i];
    if (o->mirror_port > 0) {
        *mirror = ec_xasprintf("ENVCACHE_MIRROR=http://127.0.0.1:%d/mirror", o->mirror_port);
        env[n++] = *mirror;
    }
    *n_out = n;
    return env;
}

int ec_sandbox_query(char **out, ec_cache *c, const ec_digest *lowers, size_t nlowers,
                     const ec_sandbox_query_opts *o, ec_err *err)
{
    struct run_dir d;
    int r = run_dir_open(&d, c, "probe-", lowers, nlowers, err);
    EC_AUTOFREE char *inner = ec_xasprintf("%s/run", d.path);
    EC_AUTOFREE char *mirror = NULL;
    size_t nenv = 0;
    EC_AUTOFREE const char **env = query_env(&nenv, o, &mirror);
    ec_sandbox_result res;
    ec_sandbox_opts so = {.lowers = (const char *const *)d.l.dirs, .nlowers = d.l.n,
                          .argv = o->argv, .env = env, .nenv = nenv,
                          .mirror_port = o->mirror_port,
                          .timeout_ms = o->timeout_ms ? o->timeout_ms : PROBE_TIMEOUT_MS,
                          .workdir = inner, .log_fd = d.log_fd};
    if (r == EC_OK)
        r = ec_sandbox_exec(&res, &so, err);
    if (r == EC_OK)
        r = probe_read(out, d.log_path, o->max_out ? o->max_out : PROBE_MAX, &res, o->argv,
                       err);
    run_dir_close(&d);
    return r;
}

int ec_sandbox_probe(char **out, ec_cache *c, const ec_digest *lowers, size_t nlowers,
                     const char *const *argv, ec_err *err)
{
    const ec_sandbox_query_opts o = {.argv = argv};
    return ec_sandbox_query(out, c, lowers, nlowers, &o, err);
}
