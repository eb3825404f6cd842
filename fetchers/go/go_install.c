/* SPDX-License-Identifier: MIT */
/* install: one build step, `go install PKG@VERSION` for each program in the prebuild
 * sandbox with the toolchain beneath, GOPROXY the mirror (which serves the modules fetch
 * stored, verified) and the configured checksum database, GOBIN=/usr/local/bin. The module and
 * build caches live in a scratch directory the step removes. After each install the step
 * compares the binary's build info with the lock: a resolution that differs from go's
 * fails the build. */
#include "fetchers/go/go_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define GO_SCRATCH "/tmp/envcache-go"

/* Single-quoted for sh. */
static void shq(ec_buf *b, const char *s)
{
    (void)ec_buf_adds(b, "'", NULL);
    for (; *s; s++)
        (void)ec_buf_adds(b, *s == '\'' ? "'\\''" : (char[2]){*s, 0}, NULL);
    (void)ec_buf_adds(b, "'", NULL);
}

/* The environment every `go install` of the step shares. */
static void script_env(ec_buf *b, const go_cfg *g)
{
    (void)ec_buf_adds(b, "set -eu\n"
        "export PATH=/usr/local/go/bin:/usr/lib/go/bin:/usr/local/bin:/usr/bin:/bin:$PATH\n"
        "export HOME=/root GOPATH=" GO_SCRATCH " GOMODCACHE=" GO_SCRATCH "/mod "
        "GOCACHE=" GO_SCRATCH "/cache GOENV=off GOTELEMETRY=off GOTOOLCHAIN=auto\n"
        "export GOBIN=/usr/local/bin GOPROXY=\"$ENVCACHE_MIRROR/go\" GONOPROXY= GOPRIVATE=\n", NULL);
    (void)ec_buf_adds(b, "export GOSUMDB=", NULL);
    shq(b, g->sumdb_vkey ? g->sumdb_vkey : "off");
    (void)ec_buf_adds(b, " GONOSUMDB=", NULL);
    shq(b, g->nosumdb);
    (void)ec_buf_adds(b, " GOFLAGS=", NULL);
    EC_AUTOFREE char *flags = ec_xasprintf("-mod=mod%s%s", *g->goflags ? " " : "", g->goflags);
    shq(b, flags);
    (void)ec_buf_adds(b, "\nmkdir -p /usr/local/bin " GO_SCRATCH "\n", NULL);
}

/* Target @i's `go install`, then what go selected must be what the lock says. */
static void script_target(ec_buf *b, size_t i, const json_t *t)
{
    const char *pkg = json_string_value(json_object_get(t, "package"));
    const char *ver = json_string_value(json_object_get(t, "version"));
    const char *bin = json_string_value(json_object_get(t, "binary"));
    EC_AUTOFREE char *spec = ec_xasprintf("%s@%s", pkg, ver);
    (void)ec_buf_adds(b, "go install ", NULL);
    shq(b, spec);
    (void)ec_buf_adds(b, "\n", NULL);
    (void)ec_buf_addf(b, NULL, "cat > " GO_SCRATCH "/want%zu <<'EOF'\n", i);
    const char *path;
    json_t *v;
    json_object_foreach(json_object_get(t, "build_list"), path, v)
        (void)ec_buf_addf(b, NULL, "%s %s\n", path, json_string_value(v));
    (void)ec_buf_addf(b, NULL, "EOF\n"
        "go version -m /usr/local/bin/%s | while read -r kind p v rest; do\n"
        "  case $kind in mod|dep) grep -qxF \"$p $v\" " GO_SCRATCH "/want%zu || "
        "{ echo \"envcache: \"", bin, i);
    shq(b, spec); /* the package path reaches the shell single-quoted, never expanded */
    (void)ec_buf_adds(b, "\": go selected $p $v, the lock does not (resolution differs from "
                         "go's)\" >&2; exit 1; };; esac\n"
                         "done\n", NULL);
}

int go_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
               ec_install_result *out, ec_err *err)
{
    (void)staging;
    go_cfg g;
    int r = go_cfg_init(&g, ctx, err);
    if (r < 0)
        return r;
    /* One step for every program: the `go install`s share one module and build cache,
     * so what several programs have in common (x/tools for gopls and goimports) is
     * extracted and compiled once. */
    ec_buf script = EC_BUF_INIT, what = EC_BUF_INIT;
    script_env(&script, &g);
    (void)ec_buf_adds(&what, "go install", NULL);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(lock, "targets"), i, t) {
        script_target(&script, i, t);
        (void)ec_buf_addf(&what, NULL, "%s %s@%s", i ? "," : "",
                          json_string_value(json_object_get(t, "package")),
                          json_string_value(json_object_get(t, "version")));
    }
    (void)ec_buf_adds(&script, "go clean -modcache\nrm -rf " GO_SCRATCH "\n", NULL);
    go_cfg_fini(&g);
    if (i == 0) {
        ec_buf_fini(&script);
        ec_buf_fini(&what);
        return EC_OK;
    }
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    ec_build_step *s = &out->steps[out->nsteps++];
    memset(s, 0, sizeof *s);
    s->what = ec_buf_steal(&what);
    s->cwd = ec_xstrdup("/");
    s->needs_mirror = true;
    s->argv = ec_xcalloc(4, sizeof *s->argv);
    s->argv[0] = ec_xstrdup("sh");
    s->argv[1] = ec_xstrdup("-c");
    s->argv[2] = ec_buf_steal(&script);
    return EC_OK;
}
