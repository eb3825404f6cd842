/* SPDX-License-Identifier: MIT */
/* install: the lock as a local registry (cargo's `local-registry` source: an index tree
 * and the .crate files) and one build step per spec: `cargo install --root /usr/local
 * --offline NAME@=VERSION` with crates-io replaced by that registry. The registry's index
 * lists, of every crate in the lock, only the locked versions, so cargo's own resolution
 * (as in a plain `cargo install`) can only come to the lock; crates the resolver asks
 * about but never activates (optional dependencies of disabled features) are listed whole,
 * without their files. Cargo checks each .crate against the index's cksum again as it
 * unpacks it. So the compiler sees exactly the lock, offline. The registry, cargo's home
 * and the target directory live under var/tmp, which the sandbox prunes: the layer keeps
 * /usr/local/bin and cargo's install records (.crates.toml, .crates2.json). */
#include "fetchers/cargo/cargo_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define WORK "/var/tmp/envcache-cargo"

/* The .crate as <name>-<version>.crate: a hard link to its blob (same file system: the
 * staging tree is in the store), else a copy. */
static int place_crate(ec_fetch_ctx *ctx, const char *reg, const json_t *p, ec_err *err)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *vers = json_string_value(json_object_get(p, "version"));
    ec_digest d;
    int r = ec_digest_parse(&d, json_string_value(json_object_get(p, "sha256")), err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *dst = ec_xasprintf("%s/%s-%s.crate", reg, name, vers);
    EC_AUTOFREE char *src = ec_blob_path(ctx->store, &d);
    if (link(src, dst) == 0)
        return EC_OK;
    EC_AUTOFD int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cargo: cannot create %s", dst);
    return ec_blob_copy_verified(ctx->store, &d, fd, err);
}

/* Appends @line to index file @name of the registry. */
static int index_add(const char *reg, const char *name, const char *line, size_t n,
                     ec_err *err)
{
    EC_AUTOFREE char *rel = cargo_index_path(name);
    EC_AUTOFREE char *path = ec_xasprintf("%s/index/%s", reg, rel);
    EC_AUTOFREE char *dir = ec_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    int r = ec_mkdir_p(dir, 0755, err);
    FILE *f = r == EC_OK ? fopen(path, "ae") : NULL;
    if (r == EC_OK && !f)
        return ec_fail_sys(err, errno, "cargo: cannot write %s", path);
    if (f) {
        fwrite(line, 1, n, f);
        fputc('\n', f);
        if (fclose(f) != 0)
            r = ec_fail_sys(err, errno, "cargo: cannot write %s", path);
    }
    return r;
}

int cargo_index_select(const char *text, const json_t *locked, json_t *wanted, bool root,
                       cargo_line_fn keep, void *arg, ec_err *err)
{
    int r = EC_OK;
    for (const char *line = text; r == EC_OK && *line;) {
        size_t n = strcspn(line, "\n");
        json_t *j = json_loadb(line, n, 0, NULL);
        const char *v = json_string_value(json_object_get(j, "vers"));
        if (v && (!locked || json_object_get(locked, v))) {
            r = keep(arg, line, n, err);
            size_t i;
            json_t *dep;
            json_array_foreach(json_object_get(j, "deps"), i, dep) {
                const char *kind = json_string_value(json_object_get(dep, "kind"));
                const char *pk = json_string_value(json_object_get(dep, "package"));
                const char *dn = pk ? pk : json_string_value(json_object_get(dep, "name"));
                if (dn && locked && (root || !kind || strcmp(kind, "dev") != 0))
                    json_object_set_new(wanted, dn, json_true());
            }
        }
        json_decref(j);
        line += n + (line[n] == '\n');
    }
    return r;
}

typedef struct index_dst {
    const char *reg, *name;
} index_dst;

static int keep_line(void *arg, const char *line, size_t n, ec_err *err)
{
    const index_dst *d = arg;
    return index_add(d->reg, d->name, line, n, err);
}

/* The index lines of @name (cargo_index_select) into the registry @reg. */
static int index_crate(ec_fetch_ctx *ctx, const char *reg, const char *name,
                       const json_t *locked, json_t *wanted, bool root, ec_err *err)
{
    ec_digest d;
    bool asked;
    ec_buf text = EC_BUF_INIT;
    int r = cargo_index_get(ctx, name, &d, &asked, err);
    if (r == EC_ENOTFOUND && !locked) { /* a dependency of a feature no one enables */
        ec_err_clear(err);
        return EC_OK;
    }
    if (r == EC_OK)
        r = cargo_blob_read(ctx->store, &d, &text, err);
    index_dst dst = {.reg = reg, .name = name};
    if (r == EC_OK)
        r = cargo_index_select(ec_buf_str(&text), locked, wanted, root, keep_line, &dst, err);
    ec_buf_fini(&text);
    return r;
}

/* The registry's index: the lock's crates at their locked versions, then every crate
 * they name that the lock does not hold. */
static int write_index(ec_fetch_ctx *ctx, const char *reg, const json_t *lock, ec_err *err)
{
    EC_AUTO(json_t) locked = json_object(); /* name -> {version: true} */
    EC_AUTO(json_t) wanted = json_object();
    EC_AUTO(json_t) roots = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(lock, "packages"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!json_object_get(locked, name))
            json_object_set_new(locked, name, json_object());
        json_object_set_new(json_object_get(locked, name),
                            json_string_value(json_object_get(p, "version")), json_true());
    }
    json_array_foreach(json_object_get(lock, "installs"), i, p)
        json_object_set_new(roots, json_string_value(json_object_get(p, "crate")), json_true());
    const char *name;
    json_t *vers;
    int r = EC_OK;
    json_object_foreach(locked, name, vers) {
        if (r == EC_OK)
            r = index_crate(ctx, reg, name, vers, wanted, json_object_get(roots, name), err);
    }
    json_object_foreach(wanted, name, vers) {
        if (r == EC_OK && !json_object_get(locked, name))
            r = index_crate(ctx, reg, name, NULL, NULL, false, err);
    }
    return r;
}

static void add_step(ec_install_result *out, const char *name, const char *vers)
{
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    ec_build_step *s = &out->steps[out->nsteps++];
    memset(s, 0, sizeof *s);
    s->what = ec_xasprintf("cargo install %s@%s", name, vers);
    s->cwd = ec_xstrdup("/");
    const char *const argv[] = {"cargo", "install", "--root", "/usr/local", "--offline",
                                "--target-dir", WORK "/target"};
    size_t n = EC_ARRAY_LEN(argv);
    s->argv = ec_xcalloc(n + 2, sizeof *s->argv);
    for (size_t i = 0; i < n; i++)
        s->argv[i] = ec_xstrdup(argv[i]);
    s->argv[n] = ec_xasprintf("%s@=%s", name, vers);
    s->env = ec_xcalloc(4, sizeof *s->env);
    s->env[0] = ec_xstrdup("CARGO_HOME=" WORK "/home");
    s->env[1] = ec_xstrdup("CARGO_TERM_COLOR=never");
    s->env[2] = ec_xstrdup("CARGO_TERM_PROGRESS_WHEN=never");
}

static int write_text(const char *path, const char *text, ec_err *err)
{
    return ec_write_file_atomic(path, text, strlen(text), 0644, err);
}

int cargo_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                  ec_install_result *out, ec_err *err)
{
    EC_AUTOFREE char *vendor = ec_xasprintf("%s" WORK "/registry", staging);
    EC_AUTOFREE char *home = ec_xasprintf("%s" WORK "/home", staging);
    int r = ec_mkdir_p(vendor, 0755, err);
    if (r == EC_OK)
        r = ec_mkdir_p(home, 0755, err);
    EC_AUTOFREE char *cfg = ec_xasprintf("%s/config.toml", home);
    if (r == EC_OK)
        r = write_text(cfg, "[source.crates-io]\nreplace-with = \"envcache-vendored\"\n"
                            "[source.envcache-vendored]\nlocal-registry = \"" WORK "/registry\"\n"
                            "[net]\noffline = true\n", err);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(lock, "packages"), i, p) {
        if (r == EC_OK)
            r = place_crate(ctx, vendor, p, err);
    }
    if (r == EC_OK)
        r = write_index(ctx, vendor, lock, err);
    json_array_foreach(json_object_get(lock, "installs"), i, p) {
        const char *name = json_string_value(json_object_get(p, "crate"));
        const char *vers = json_string_value(json_object_get(p, "version"));
        if (r == EC_OK && (!name || !vers))
            r = ec_fail(err, EC_EFORMAT, "cargo: a lock install lacks crate or version");
        if (r == EC_OK)
            add_step(out, name, vers);
    }
    return r;
}
