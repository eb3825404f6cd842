/* SPDX-License-Identifier: MIT */
/* What a sandboxed build leaves behind that never belongs in a layer: the generic list
 * here and each manager's (its table entry), pruned from the upper. */
#include "cache/sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fetchers/manager.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

enum noise_kind {
    NOISE_PATH, /* a path under the root; the last component may be a glob */
    NOISE_NAME, /* a file or directory of this name anywhere */
};

/* Mount points of the sandbox, then what any build leaves whatever it installs: logs,
 * shell history, the user's cache directory, glibc's ldconfig cache. Each manager's own
 * caches are in its table entry (ec_manager.noise). Everything here is fetched again or
 * regenerated at run time, and nothing a program needs. */
static const char *const generic_noise[] = {
    "tmp", "proc", "dev", "sys", "run", "var/tmp", "var/log",
    "var/cache/ldconfig/aux-cache", "root/.cache", "root/.bash_history", "root/.wget-hsts",
    NULL,
};

/* Called per pattern; a non-zero return stops the walk and is returned. */
typedef int (*noise_fn)(enum noise_kind kind, const char *pattern, void *ud);

static int list_each(const char *const *list, enum noise_kind kind, noise_fn fn, void *ud)
{
    int r = 0;
    for (size_t i = 0; r == 0 && list && list[i]; i++)
        r = fn(kind, list[i], ud);
    return r;
}

/* The generic list, then each manager's paths and names, in table order. */
static int noise_each(noise_fn fn, void *ud)
{
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    int r = list_each(generic_noise, NOISE_PATH, fn, ud);
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = list_each(m[i]->noise, NOISE_PATH, fn, ud);
        if (r == 0)
            r = list_each(m[i]->noise_names, NOISE_NAME, fn, ud);
    }
    return r;
}

struct nth {
    size_t left;
    const char *hit;
};

static int count_to(enum noise_kind kind, const char *pattern, void *ud)
{
    struct nth *n = ud;
    (void)kind;
    if (n->left-- > 0)
        return 0;
    n->hit = pattern;
    return 1;
}

const char *ec_sandbox_noise_pattern(size_t i)
{
    struct nth n = {.left = i};
    noise_each(count_to, &n);
    return n.hit;
}

/* A directory that held only noise was made for it (mkdir -p /var/log): it goes too, up to
 * the root. rmdir refuses non-empty ones; opaque ones mean "hide the lower" and stay. */
static void prune_parents(const char *upper, const char *path)
{
    EC_AUTOFREE char *p = ec_xstrdup(path);
    size_t root = strlen(upper);
    for (char *slash = strrchr(p, '/'); slash && (size_t)(slash - p) > root;
         slash = strrchr(p, '/')) {
        *slash = '\0';
        char v[2];
        if (getxattr(p, "trusted.overlay.opaque", v, sizeof v) > 0 || rmdir(p) < 0)
            return;
    }
}

/* Whether @path (under @upper) lies in one of the directories of @keep. */
static bool kept(const char *upper, const char *path, const char *const *keep)
{
    const char *rel = path + strlen(upper);
    while (*rel == '/')
        rel++;
    for (size_t i = 0; keep && keep[i]; i++) {
        size_t n = strlen(keep[i]);
        if (n && strncmp(rel, keep[i], n) == 0 && (rel[n] == '/' || rel[n] == '\0'))
            return true;
    }
    return false;
}

static int prune_path(const char *upper, const char *pattern, const char *const *keep,
                      ec_err *err)
{
    EC_AUTOFREE char *full = ec_xasprintf("%s/%s", upper, pattern);
    glob_t g;
    int r = glob(full, GLOB_NOSORT | GLOB_PERIOD, NULL, &g);
    if (r == GLOB_NOMATCH)
        return EC_OK;
    if (r != 0)
        return ec_fail(err, EC_ESYS, "cannot list %s", full);
    int rc = EC_OK;
    for (size_t i = 0; rc == EC_OK && i < g.gl_pathc; i++) {
        if (kept(upper, g.gl_pathv[i], keep))
            continue;
        rc = ec_rm_rf(g.gl_pathv[i], err);
        if (rc == EC_OK)
            prune_parents(upper, g.gl_pathv[i]);
    }
    globfree(&g);
    return rc;
}

/* nftw has no payload: the walk is single-threaded, so one static context is enough.
 * Matching names are collected first and removed after the walk, not under it. */
static struct {
    const char *name;
    char **hits;
    size_t n, cap;
} walk;

static int walk_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    if (type == FTW_D && strcmp(path + ftw->base, walk.name) == 0) {
        if (walk.n == walk.cap)
            walk.hits = ec_xrealloc(walk.hits, (walk.cap = walk.cap ? 2 * walk.cap : 8) *
                                                   sizeof *walk.hits);
        walk.hits[walk.n++] = ec_xstrdup(path);
    }
    return 0;
}

static int prune_name(const char *upper, const char *name, const char *const *keep,
                      ec_err *err)
{
    walk.name = name;
    walk.n = 0;
    int rc = EC_OK;
    if (nftw(upper, walk_one, 32, FTW_PHYS) < 0)
        rc = ec_fail_sys(err, errno, "cannot walk %s", upper);
    for (size_t i = 0; i < walk.n; i++) {
        if (kept(upper, walk.hits[i], keep)) {
            free(walk.hits[i]);
            continue;
        }
        if (rc == EC_OK)
            rc = ec_rm_rf(walk.hits[i], err);
        if (rc == EC_OK)
            prune_parents(upper, walk.hits[i]);
        free(walk.hits[i]);
    }
    free(walk.hits);
    walk.hits = NULL;
    walk.cap = walk.n = 0;
    return rc;
}

struct prune {
    const char *upper;
    const char *const *keep;
    ec_err *err;
};

static int prune_one(enum noise_kind kind, const char *pattern, void *ud)
{
    struct prune *p = ud;
    return kind == NOISE_PATH ? prune_path(p->upper, pattern, p->keep, p->err)
                              : prune_name(p->upper, pattern, p->keep, p->err);
}

int ec_sandbox_prune_noise_keeping(const char *upper, const char *const *keep, ec_err *err)
{
    struct prune p = {upper, keep, err};
    return noise_each(prune_one, &p);
}

int ec_sandbox_prune_noise(const char *upper, ec_err *err)
{
    return ec_sandbox_prune_noise_keeping(upper, NULL, err);
}
