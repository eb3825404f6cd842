/* SPDX-License-Identifier: MIT */
/* resolve: the crate each spec names is chosen here (the index, Cargo's semver rules,
 * yanked versions skipped, the newest match; refused, as cargo install refuses, when the
 * toolchain beneath is older than its rust-version);
 * its closure is resolved by the toolchain's own cargo over the layers beneath, against
 * the mirror, exactly as `cargo install NAME@=VERSION` resolves without --locked: the
 * crate as a dependency of an empty root with its default features, no dev-dependencies,
 * every target's dependencies, the root's edition and resolver (the feature resolver),
 * and rust-versions not honoured (cargo install's ephemeral workspace does not). DESIGN.md
 * allows the real client where it is the faithful resolver; Cargo's resolver (features,
 * links, backtracking) is one. */
#include "fetchers/cargo/cargo_int.h"
#include "fetchers/cargo/cargo_pick.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define ROOT_NAME "envcache-install-root"
#define LOCK_MARK "@@envcache-cargo-lock "

typedef cargo_root root;

/* "release: 1.96.0" and "host: x86_64-unknown-linux-gnu" from `rustc -vV`. */
static bool probe_field(const char *probe, const char *key, char *out, size_t n)
{
    const char *p = probe ? strstr(probe, key) : NULL;
    if (!p)
        return false;
    p += strlen(key);
    snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
    return out[0] != '\0';
}

/* A manifest value we put into a generated manifest: digits and dots only. */
static char *plain(char *v)
{
    if (v && (strspn(v, "0123456789.") != strlen(v) || !*v)) {
        free(v);
        return NULL;
    }
    return v;
}

static int only_manifest(const ec_extract_entry *e, void *payload, ec_err *err)
{
    (void)err;
    return strcmp(e->dest, payload) == 0 ? EC_OK : EC_EXTRACT_SKIP;
}

/* The root crate's edition, resolver and rust-version: they choose how cargo install
 * resolves (its ephemeral workspace is the crate). */
static int root_manifest(root *rt, ec_fetch_ctx *ctx, ec_err *err)
{
    ec_digest d;
    int r = cargo_crate_pull(ctx, rt->name, rt->vers, rt->cksum, &d, err);
    if (r < 0)
        return r;
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *rel = ec_xasprintf("tmp/cargo-manifest-%s", rnd);
    EC_AUTOFREE char *dir = ec_store_path(ctx->store, rel);
    EC_AUTOFREE char *path = ec_xasprintf("%s/Cargo.toml", dir);
    EC_AUTOFD int fd = -1;
    ec_extract_opts o = {.strip_components = 1, .no_sync = true, .on_entry = only_manifest,
                         .payload = "Cargo.toml"};
    r = ec_blob_open(&fd, ctx->store, &d, err);
    if (r == EC_OK)
        r = ec_archive_extract_fd(fd, dir, NULL, &o, err);
    EC_AUTOFREE char *text = NULL;
    size_t n;
    if (r == EC_OK)
        r = ec_read_file(&text, &n, path, 4 << 20, err);
    if (r < 0)
        ec_err_prefix(err, "cargo: crate %s@%s", rt->name, rt->vers);
    else {
        rt->edition = plain(cargo_toml_get(text, "package", "edition"));
        rt->rust_version = plain(cargo_toml_get(text, "package", "rust-version"));
        rt->resolver = plain(cargo_toml_get(text, "package", "resolver"));
        if (!rt->resolver)
            rt->resolver = plain(cargo_toml_get(text, "workspace", "resolver"));
    }
    ec_rm_rf(dir, NULL);
    return r;
}

/* --- the run beneath --- */

static void script_root(ec_buf *s, size_t i, const root *rt)
{
    EC_AUTOFREE char *m = ec_xasprintf(
        "[package]\nname = \"" ROOT_NAME "\"\nversion = \"0.0.0\"\nedition = \"%s\"\n%s%s%s"
        "%s%s%spublish = false\n[lib]\npath = \"lib.rs\"\n[dependencies]\n%s = \"=%s\"\n"
        "[workspace]\n",
        rt->edition ? rt->edition : "2015", rt->rust_version ? "rust-version = \"" : "",
        rt->rust_version ? rt->rust_version : "", rt->rust_version ? "\"\n" : "",
        rt->resolver ? "resolver = \"" : "", rt->resolver ? rt->resolver : "",
        rt->resolver ? "\"\n" : "", rt->name, rt->vers);
    EC_AUTOFREE char *cmd = ec_xasprintf(
        "d=/tmp/envcache-resolve/%zu; mkdir -p $d; : > $d/lib.rs\n"
        "cat > $d/Cargo.toml <<'EOM'\n%sEOM\n"
        "cargo generate-lockfile --manifest-path $d/Cargo.toml > $d/log 2>&1 || "
        "{ cat $d/log; exit 1; }\n"
        "echo '" LOCK_MARK "%zu'; cat $d/Cargo.lock\n", i, m, i);
    ec_buf_adds(s, cmd, NULL);
}

static char *script(const root *roots, size_t n)
{
    ec_buf s = EC_BUF_INIT;
    /* cargo install's ephemeral workspace does not honour rust-versions when it resolves
     * (an edition 2024 crate still locks "to latest compatible versions"), where a
     * workspace root of edition 2024 would: "allow" makes ours resolve as it does. */
    ec_buf_adds(&s, "set -e\nexport CARGO_HOME=/tmp/envcache-cargo-home CARGO_TERM_COLOR=never\n"
                    "export CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=allow\n"
                    "mkdir -p $CARGO_HOME\n"
                    "cat > $CARGO_HOME/config.toml <<EOC\n"
                    "[source.crates-io]\nreplace-with = \"envcache-mirror\"\n"
                    "[source.envcache-mirror]\n"
                    "registry = \"sparse+$ENVCACHE_MIRROR/cargo/index/\"\nEOC\n", NULL);
    for (size_t i = 0; i < n; i++)
        script_root(&s, i, &roots[i]);
    return ec_buf_steal(&s);
}

/* --- Cargo.lock → the lock --- */

static char *quoted(const char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || strncmp(line + k, " = \"", 4) != 0)
        return NULL;
    const char *p = line + k + 4, *e = strchr(p, '"');
    return e ? ec_xasprintf("%.*s", (int)(e - p), p) : NULL;
}

typedef struct pkg {
    char *name, *version, *source, *checksum;
} pkg;

static void pkg_fini(pkg *p)
{
    free(p->name);
    free(p->version);
    free(p->source);
    free(p->checksum);
    memset(p, 0, sizeof *p);
}

/* One [[package]] block ended: a registry crate joins @pkgs (once); the synthetic root's
 * block is left out of @kept, the lock the build uses. */
static int block_end(pkg *p, const char *block, size_t bn, ec_buf *kept, json_t *pkgs,
                     const char *dl, ec_err *err)
{
    int r = EC_OK;
    bool synthetic = p->name && strcmp(p->name, ROOT_NAME) == 0 && !p->source;
    if (!synthetic)
        ec_buf_add(kept, block, bn, NULL);
    if (p->name && !synthetic) {
        if (!p->source || strncmp(p->source, "registry+", 9) != 0 || !p->checksum)
            r = ec_fail(err, EC_EUNSUPPORTED, "cargo: crate %s@%s comes from %s, not the "
                        "registry: only registry crates can be installed", p->name,
                        p->version ? p->version : "?", p->source ? p->source : "a path");
        EC_AUTOFREE char *id = ec_xasprintf("%s@%s", p->name, p->version ? p->version : "");
        if (r == EC_OK && !json_object_get(pkgs, id)) {
            EC_AUTOFREE char *url = cargo_dl_url(dl, p->name, p->version, p->checksum);
            EC_AUTOFREE char *sha = ec_xasprintf("sha256:%s", p->checksum);
            json_object_set_new(pkgs, id, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name",
                                                    p->name, "version", p->version, "cksum",
                                                    p->checksum, "sha256", sha, "source",
                                                    p->source, "url", url));
        }
    }
    pkg_fini(p);
    return r;
}

static int parse_lock(const char *text, size_t n, ec_buf *kept, json_t *pkgs, const char *dl,
                      ec_err *err)
{
    pkg p = {0};
    const char *block = NULL;
    int r = EC_OK;
    for (const char *line = text; r == EC_OK && line < text + n;) {
        size_t ln = strcspn(line, "\n");
        if (line + ln > text + n)
            ln = (size_t)(text + n - line);
        const char *next = line + ln + (line + ln < text + n);
        if (strncmp(line, "[[package]]", 11) == 0 || line[0] == '[') {
            if (block)
                r = block_end(&p, block, (size_t)(line - block), kept, pkgs, dl, err);
            block = strncmp(line, "[[package]]", 11) == 0 ? line : NULL;
            if (!block)
                ec_buf_add(kept, line, (size_t)(next - line), NULL);
        } else if (block) {
            char *v;
            if ((v = quoted(line, "name")))
                free(p.name), p.name = v;
            else if ((v = quoted(line, "version")))
                free(p.version), p.version = v;
            else if ((v = quoted(line, "source")))
                free(p.source), p.source = v;
            else if ((v = quoted(line, "checksum")))
                free(p.checksum), p.checksum = v;
        } else
            ec_buf_add(kept, line, (size_t)(next - line), NULL);
        line = next;
    }
    if (r == EC_OK && block)
        r = block_end(&p, block, (size_t)(text + n - block), kept, pkgs, dl, err);
    pkg_fini(&p);
    return r;
}

/* The run's output: after each LOCK_MARK i, root i's Cargo.lock. */
static int parse_output(const char *out, root *roots, size_t n, json_t *installs,
                        json_t *pkgs, const char *dl, ec_err *err)
{
    for (size_t i = 0; i < n; i++) {
        char mark[64];
        snprintf(mark, sizeof mark, "%s%zu\n", LOCK_MARK, i);
        const char *s = strstr(out, mark);
        if (!s)
            return ec_fail(err, EC_EFORMAT, "cargo: the resolution of %s@%s printed no "
                           "Cargo.lock", roots[i].name, roots[i].vers);
        s += strlen(mark);
        const char *e = strstr(s, LOCK_MARK);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        ec_buf kept = EC_BUF_INIT;
        int r = parse_lock(s, len, &kept, pkgs, dl, err);
        if (r == EC_OK)
            json_array_append_new(installs, json_pack("{s:s, s:s, s:s}", "crate",
                                                      roots[i].name, "version", roots[i].vers,
                                                      "cargo_lock", ec_buf_str(&kept)));
        ec_buf_fini(&kept);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The packages in name@version order, so that one resolution is one lock digest. */
static json_t *sorted(json_t *pkgs)
{
    size_t n = json_object_size(pkgs), i = 0;
    const char **ids = ec_xcalloc(n ? n : 1, sizeof *ids);
    const char *id;
    json_t *p;
    json_object_foreach(pkgs, id, p)
        ids[i++] = id;
    qsort(ids, n, sizeof *ids, by_id);
    json_t *list = json_array();
    for (i = 0; i < n; i++)
        json_array_append(list, json_object_get(pkgs, ids[i]));
    free(ids);
    return list;
}

/* --- resolve --- */

static int pick_roots(ec_fetch_ctx *ctx, const ec_resolve_req *req, root *roots,
                      const char *rustc, ec_err *err)
{
    for (size_t i = 0; i < req->nspecs; i++) {
        root *rt = &roots[i];
        rt->name = req->specs[i].name;
        cargo_req cr;
        ec_digest d;
        bool asked;
        ec_buf text = EC_BUF_INIT;
        int r = cargo_req_parse(&cr, req->specs[i].constraint, err);
        if (r == EC_OK)
            r = cargo_index_get(ctx, rt->name, &d, &asked, err);
        if (r == EC_OK)
            r = cargo_blob_read(ctx->store, &d, &text, err);
        if (r == EC_OK)
            r = cargo_pick(rt, ec_buf_str(&text), &cr, rustc, req->texts[i], err);
        ec_buf_fini(&text);
        if (r == EC_OK)
            r = root_manifest(rt, ctx, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int no_toolchain(ec_err *err)
{
    return ec_fail(err, EC_EINVAL, "cargo packages are built with the Rust toolchain beneath "
                   "their layer, and there is none: give the environment a base or apt "
                   "packages with rustc and cargo (on Debian 12: apt: [cargo-web])");
}

int cargo_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out,
                  ec_err *err)
{
    char rustc[64], host[128];
    if (!ctx->sandbox_query || !probe_field(req->probe, "release: ", rustc, sizeof rustc) ||
        !probe_field(req->probe, "host: ", host, sizeof host))
        return no_toolchain(err);
    root *roots = ec_xcalloc(req->nspecs ? req->nspecs : 1, sizeof *roots);
    EC_AUTOFREE char *dl = NULL, *out = NULL, *sh = NULL;
    int r = cargo_dl_template(&dl, ctx, err);
    if (r == EC_OK)
        r = pick_roots(ctx, req, roots, rustc, err);
    if (r == EC_OK) {
        sh = script(roots, req->nspecs);
        const char *argv[] = {"sh", "-c", sh, NULL};
        r = ctx->sandbox_query(ctx->sandbox_ud, &out, argv, NULL, err);
        if (r < 0)
            ec_err_prefix(err, "cargo: resolving with the toolchain's cargo");
    }
    json_t *installs = json_array(), *pkgs = json_object(), *specs = json_array();
    if (r == EC_OK)
        r = parse_output(out, roots, req->nspecs, installs, pkgs, dl, err);
    for (size_t i = 0; i < req->nspecs; i++) {
        json_array_append_new(specs, json_string(req->texts[i]));
        free(roots[i].edition);
        free(roots[i].rust_version);
        free(roots[i].resolver);
    }
    free(roots);
    json_t *list = sorted(pkgs);
    json_decref(pkgs);
    if (r < 0) {
        json_decref(installs);
        json_decref(list);
        json_decref(specs);
        return r;
    }
    *lock_out = json_pack("{s:s, s:i, s:o, s:o, s:o, s:{s:s, s:s}, s:s}", "manager", "cargo",
                          "version", 1, "specs", specs, "packages", list, "installs",
                          installs, "toolchain", "rustc", rustc, "host", host, "resolved_by",
                          "the toolchain's cargo generate-lockfile, as cargo install resolves "
                          "without --locked");
    return EC_OK;
}
