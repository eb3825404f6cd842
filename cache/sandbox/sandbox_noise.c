/* SPDX-License-Identifier: MIT */
/* The one table of what a sandboxed build leaves behind that never belongs in a layer. */
#include "cache/sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

enum noise_kind {
    NOISE_PATH, /* a path under the root; the last component may be a glob */
    NOISE_NAME, /* a file or directory of this name anywhere */
};

struct noise {
    enum noise_kind kind;
    const char *pattern;
};

/* Mount points of the sandbox, then caches and logs of each manager. Everything a
 * build would fetch again or regenerate at run time, and nothing a program needs. */
static const struct noise noise_table[] = {
    {NOISE_PATH, "tmp"},
    {NOISE_PATH, "proc"},
    {NOISE_PATH, "dev"},
    {NOISE_PATH, "sys"},
    {NOISE_PATH, "run"},
    {NOISE_PATH, "var/tmp"},
    {NOISE_PATH, "var/log"},
    {NOISE_PATH, "var/cache/apt"},
    {NOISE_PATH, "var/lib/apt/lists"},
    {NOISE_PATH, "var/cache/debconf/*-old"},
    {NOISE_PATH, "var/lib/dpkg/*-old"},
    {NOISE_PATH, "var/cache/ldconfig/aux-cache"},
    {NOISE_PATH, "root/.npm"},
    {NOISE_PATH, "root/.cache"},
    {NOISE_PATH, "root/.cargo/registry"},
    {NOISE_PATH, "root/.cargo/git"},
    {NOISE_PATH, "root/.gem/specs"},
    {NOISE_PATH, "root/go/pkg/mod/cache"},
    {NOISE_PATH, "root/.bash_history"},
    {NOISE_PATH, "root/.wget-hsts"},
    {NOISE_NAME, "__pycache__"},
};

const char *ec_sandbox_noise_pattern(size_t i)
{
    return i < EC_ARRAY_LEN(noise_table) ? noise_table[i].pattern : NULL;
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

static int prune_path(const char *upper, const char *pattern, ec_err *err)
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

static int prune_name(const char *upper, const char *name, ec_err *err)
{
    walk.name = name;
    walk.n = 0;
    int rc = EC_OK;
    if (nftw(upper, walk_one, 32, FTW_PHYS) < 0)
        rc = ec_fail_sys(err, errno, "cannot walk %s", upper);
    for (size_t i = 0; i < walk.n; i++) {
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

int ec_sandbox_prune_noise(const char *upper, ec_err *err)
{
    for (size_t i = 0; i < EC_ARRAY_LEN(noise_table); i++) {
        const struct noise *n = &noise_table[i];
        int r = n->kind == NOISE_PATH ? prune_path(upper, n->pattern, err)
                                      : prune_name(upper, n->pattern, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}
