/* SPDX-License-Identifier: MIT */
/* install: a lock's tarballs laid out as `npm install -g` lays them out under
 * /usr/local (packages in lib/node_modules/<path>, bins as relative symlinks), natively:
 * no npm, no node, no scripts. Packages with install scripts become build steps. */
#include "fetchers/npm/npm_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define NPM_LIB "usr/local/lib"
#define NPM_BIN "usr/local/bin"

/* A bin name becomes a file name: nothing that could leave the bin directory. */
static bool bin_name_ok(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* The target, made relative and clean; NULL when it would leave the package. */
static char *bin_target_clean(const char *t)
{
    EC_AUTOFREE char *out = ec_xmalloc(strlen(t) + 1);
    size_t n = 0;
    for (const char *c = t; *c; c += strspn(c, "/")) {
        size_t k = strcspn(c, "/");
        if (k == 2 && c[0] == '.' && c[1] == '.')
            return NULL;
        if (k && !(k == 1 && c[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, c, k);
            n += k;
        }
        c += k;
    }
    out[n] = '\0';
    return n ? ec_steal(&out) : NULL;
}

static const char *unscoped(const char *name)
{
    const char *s = name[0] == '@' ? strchr(name, '/') : NULL;
    return s ? s + 1 : name;
}

/* {cmd: target} from package.json's bin (string or object) or directories.bin. */
static json_t *read_bins(const char *pkgdir, const char *name)
{
    EC_AUTOFREE char *pj = ec_xasprintf("%s/package.json", pkgdir);
    json_t *doc = json_load_file(pj, 0, NULL);
    json_t *bin = json_object_get(doc, "bin"), *out = json_object();
    if (json_is_string(bin))
        json_object_set(out, unscoped(name), bin);
    else if (json_is_object(bin))
        json_object_update(out, bin);
    else if (json_is_string(json_object_get(json_object_get(doc, "directories"), "bin"))) {
        /* Only the top of directories.bin; npm also walks below it, which nobody uses. */
        const char *dir = json_string_value(json_object_get(json_object_get(doc,
                                                                            "directories"),
                                                            "bin"));
        EC_AUTOFREE char *clean = bin_target_clean(dir);
        EC_AUTOFREE char *abs = clean ? ec_xasprintf("%s/%s", pkgdir, clean) : NULL;
        DIR *d = abs ? opendir(abs) : NULL;
        for (struct dirent *e; d && (e = readdir(d));)
            if (e->d_name[0] != '.' && e->d_type == DT_REG)
                json_object_set_new(out, e->d_name,
                                    json_sprintf("%s/%s", clean, e->d_name));
        if (d)
            closedir(d);
    }
    json_decref(doc);
    return out;
}

/* One symlink @linkdir/@cmd -> @rel_pkg/@target, with the target made executable. */
static int link_bin(const char *linkdir, const char *cmd, const char *rel_pkg,
                    const char *pkgdir, const char *target, ec_err *err)
{
    EC_AUTOFREE char *clean = bin_target_clean(target);
    if (!bin_name_ok(cmd) || !clean) {
        ec_warn("npm: skipping bin \"%s\" -> \"%s\" of %s: it would leave its package", cmd,
                target, pkgdir);
        return EC_OK;
    }
    EC_AUTOFREE char *file = ec_xasprintf("%s/%s", pkgdir, clean);
    struct stat sb;
    if (lstat(file, &sb) == 0 && S_ISREG(sb.st_mode))
        chmod(file, (sb.st_mode & 07777) | 0111);
    int rc = ec_mkdir_p(linkdir, 0755, err);
    if (rc < 0)
        return rc;
    EC_AUTOFREE char *link = ec_xasprintf("%s/%s", linkdir, cmd);
    EC_AUTOFREE char *to = ec_xasprintf("%s/%s", rel_pkg, clean);
    unlink(link); /* the later package wins, as with npm's own linking order */
    if (symlink(to, link) < 0)
        return ec_fail_sys(err, errno, "cannot link bin %s", link);
    return EC_OK;
}

/* Roots ("node_modules/x") link into /usr/local/bin; the rest into the .bin of the
 * node_modules that holds them, as arborist does. */
static int link_bins(const char *staging, const char *path, const char *name, ec_err *err)
{
    EC_AUTOFREE char *pkgdir = ec_xasprintf("%s/" NPM_LIB "/%s", staging, path);
    json_t *bins = read_bins(pkgdir, name);
    bool root = strncmp(path, "node_modules/", 13) == 0 && strcmp(path + 13, name) == 0;
    EC_AUTOFREE char *linkdir = NULL, *rel = NULL;
    if (root) {
        linkdir = ec_xasprintf("%s/" NPM_BIN, staging);
        rel = ec_xasprintf("../lib/%s", path);
    } else {
        size_t plen = strlen(path) - strlen(name); /* ".../node_modules/" */
        linkdir = ec_xasprintf("%s/" NPM_LIB "/%.*s.bin", staging, (int)plen, path);
        rel = ec_xasprintf("../%s", name);
    }
    const char *cmd;
    json_t *t;
    int rc = EC_OK;
    json_object_foreach(bins, cmd, t) {
        if (json_is_string(t) && rc == EC_OK)
            rc = link_bin(linkdir, cmd, rel, pkgdir, json_string_value(t), err);
    }
    json_decref(bins);
    return rc;
}

static int extract_one(ec_fetch_ctx *ctx, const char *staging, json_t *pkg, ec_err *err)
{
    const char *path = json_string_value(json_object_get(pkg, "path"));
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *sha = json_string_value(json_object_get(pkg, "sha256"));
    ec_digest d;
    if (!path || !name || !sha || ec_digest_parse(&d, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "npm lock entry %s has no fetched tarball",
                       path ? path : "?");
    EC_AUTOFREE char *dest = ec_xasprintf("%s/" NPM_LIB "/%s", staging, path);
    struct stat sb;
    if (lstat(dest, &sb) == 0) /* shipped inside its parent's tarball */
        return EC_OK;
    EC_AUTOFREE char *parent = ec_xstrdup(dest);
    *strrchr(parent, '/') = '\0';
    EC_AUTOFD int fd = -1;
    ec_extract_opts o = {.strip_components = 1, .no_sync = true, .package_modes = true};
    int rc = ec_mkdir_p(parent, 0755, err);
    if (rc == EC_OK)
        rc = ec_blob_open(&fd, ctx->store, &d, err);
    if (rc == EC_OK)
        rc = ec_archive_extract_fd(fd, dest, NULL, &o, err);
    if (rc < 0)
        return ec_err_prefix(err, "npm: %s", path), rc;
    return EC_OK;
}

/* --- install scripts: build steps for the prebuild sandbox --- */

static char **strv(size_t n)
{
    return ec_xcalloc(n + 1, sizeof(char *));
}

/* node_modules/.bin of the package and of every package above it, nearest first. */
static char *bin_path(const char *path)
{
    ec_buf b = EC_BUF_INIT;
    EC_AUTOFREE char *p = ec_xstrdup(path); /* "node_modules/a/node_modules/b" */
    for (;;) {
        ec_buf_addf(&b, NULL, "%s/" NPM_LIB "/%s/node_modules/.bin", b.n ? ":" : "", p);
        char *last = NULL;
        for (char *q = p; (q = strstr(q, "/node_modules/")) != NULL; q++)
            last = q;
        if (!last)
            break;
        *last = '\0'; /* the package that holds this one */
    }
    ec_buf_adds(&b, ":/" NPM_BIN, NULL);
    return ec_buf_steal(&b);
}

static void add_step(ec_install_result *out, json_t *pkg, const char *event, const char *script)
{
    const char *path = json_string_value(json_object_get(pkg, "path"));
    const char *name = json_string_value(json_object_get(pkg, "name"));
    const char *version = json_string_value(json_object_get(pkg, "version"));
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    ec_build_step *st = &out->steps[out->nsteps++];
    *st = (ec_build_step){0};
    st->what = ec_xasprintf("%s@%s %s script", name, version, event);
    st->cwd = ec_xasprintf("/" NPM_LIB "/%s", path);
    st->argv = strv(5);
    st->argv[0] = ec_xstrdup("/bin/sh");
    st->argv[1] = ec_xstrdup("-c");
    /* as npm runs it: sh -c SCRIPT with the package's bins first on PATH */
    st->argv[2] = ec_xstrdup("PATH=\"$0:$PATH\"; export PATH; eval \"$1\"");
    st->argv[3] = bin_path(path);
    st->argv[4] = ec_xstrdup(script);
    st->env = strv(5);
    st->env[0] = ec_xasprintf("npm_lifecycle_event=%s", event);
    st->env[1] = ec_xasprintf("npm_package_name=%s", name);
    st->env[2] = ec_xasprintf("npm_package_version=%s", version);
    st->env[3] = ec_xstrdup("npm_config_global=true");
    st->env[4] = ec_xasprintf("INIT_CWD=/" NPM_LIB "/%s", path);
}

/* preinstall, install, postinstall, as package.json has them; binding.gyp without an
 * install or preinstall script means `node-gyp rebuild`, as npm does. */
static void script_steps(ec_install_result *out, const char *staging, json_t *pkg)
{
    const char *path = json_string_value(json_object_get(pkg, "path"));
    EC_AUTOFREE char *pj = ec_xasprintf("%s/" NPM_LIB "/%s/package.json", staging, path);
    EC_AUTOFREE char *gyp = ec_xasprintf("%s/" NPM_LIB "/%s/binding.gyp", staging, path);
    json_t *doc = json_load_file(pj, 0, NULL);
    json_t *scripts = json_object_get(doc, "scripts");
    static const char *const events[] = {"preinstall", "install", "postinstall"};
    for (size_t i = 0; i < EC_ARRAY_LEN(events); i++) {
        const char *text = json_string_value(json_object_get(scripts, events[i]));
        if (i == 1 && !text && !json_object_get(scripts, "preinstall") && access(gyp, F_OK) == 0)
            text = "node-gyp rebuild";
        if (text && *text) {
            add_step(out, pkg, events[i], text);
        }
    }
    json_decref(doc);
}

static void note_scripts(ec_install_result *out, json_t *pkg)
{
    ec_install_note(out, EC_NOTE_SCRIPTS_NOT_RUN,
                    json_string_value(json_object_get(pkg, "name")),
                    json_string_value(json_object_get(pkg, "version")),
                    json_pack("{s:O}", "path", json_object_get(pkg, "path")));
}

static int path_cmp(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "path"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "path"));
    return strcmp(x ? x : "", y ? y : "");
}

int ec_npm_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                   ec_install_result *out, ec_err *err)
{
    json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs);
    json_t **order = ec_xcalloc(n ? n : 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = json_array_get(pkgs, i);
    qsort(order, n, sizeof *order, path_cmp); /* parents before what nests inside them */
    int rc = EC_OK;
    for (size_t i = 0; i < n && rc == EC_OK; i++) {
        if (ctx->progress) {
            ec_progress_event p = {.manager = "npm", .phase = EC_PHASE_INSTALLING, .done = i,
                             .total = n,
                             .item = json_string_value(json_object_get(order[i], "path"))};
            ctx->progress(&p, ctx->progress_ud);
        }
        if (!json_is_true(json_object_get(order[i], "bundled")))
            rc = extract_one(ctx, staging, order[i], err);
    }
    for (size_t i = 0; i < n && rc == EC_OK; i++) {
        json_t *p = order[i];
        rc = link_bins(staging, json_string_value(json_object_get(p, "path")),
                       json_string_value(json_object_get(p, "name")), err);
    }
    /* Scripts run deepest first, so dependencies are built before what uses them. They
     * need a base to run on (a shell, node); without one they are named, not run. */
    for (size_t i = n; i-- > 0 && rc == EC_OK;) {
        if (!json_is_true(json_object_get(order[i], "scripts")))
            continue;
        if (ctx->lowers_root)
            script_steps(out, staging, order[i]);
        else
            note_scripts(out, order[i]);
    }
    free(order);
    return rc;
}
