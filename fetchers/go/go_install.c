/* SPDX-License-Identifier: MIT */
/* install: one build step per program, `go install PKG@VERSION` in the prebuild sandbox
 * with the toolchain beneath, GOPROXY the mirror (which serves the modules fetch stored,
 * verified) and the configured checksum database, GOBIN=/usr/local/bin. The module and
 * build caches live in a scratch directory the step removes. The step then compares the
 * binary's build info with the lock: a resolution that differs from go's fails the build. */
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

static char *step_script(const go_cfg *g, const json_t *t)
{
    const char *pkg = json_string_value(json_object_get(t, "package"));
    const char *ver = json_string_value(json_object_get(t, "version"));
    const char *bin = json_string_value(json_object_get(t, "binary"));
    ec_buf b = EC_BUF_INIT;
    (void)ec_buf_adds(&b, "set -eu\n"
        "export PATH=/usr/local/go/bin:/usr/lib/go/bin:/usr/local/bin:/usr/bin:/bin:$PATH\n"
        "export HOME=/root GOPATH=" GO_SCRATCH " GOMODCACHE=" GO_SCRATCH "/mod "
        "GOCACHE=" GO_SCRATCH "/cache GOENV=off GOTELEMETRY=off GOTOOLCHAIN=auto\n"
        "export GOBIN=/usr/local/bin GOPROXY=\"$ENVCACHE_MIRROR/go\" GONOPROXY= GOPRIVATE=\n", NULL);
    (void)ec_buf_adds(&b, "export GOSUMDB=", NULL);
    shq(&b, g->sumdb_vkey ? g->sumdb_vkey : "off");
    (void)ec_buf_adds(&b, " GONOSUMDB=", NULL);
    shq(&b, g->nosumdb);
    (void)ec_buf_adds(&b, " GOFLAGS=", NULL);
    EC_AUTOFREE char *flags = ec_xasprintf("-mod=mod%s%s", *g->goflags ? " " : "", g->goflags);
    shq(&b, flags);
    (void)ec_buf_addf(&b, NULL, "\nmkdir -p /usr/local/bin\ngo install '%s@%s'\n", pkg, ver);
    /* what go selected must be what the lock says */
    (void)ec_buf_adds(&b, "cat > " GO_SCRATCH "/want <<'EOF'\n", NULL);
    const char *path;
    json_t *v;
    json_object_foreach(json_object_get(t, "build_list"), path, v)
        (void)ec_buf_addf(&b, NULL, "%s %s\n", path, json_string_value(v));
    (void)ec_buf_addf(&b, NULL, "EOF\n"
        "go version -m /usr/local/bin/%s | while read -r kind p v rest; do\n"
        "  case $kind in mod|dep) grep -qxF \"$p $v\" " GO_SCRATCH "/want || "
        "{ echo \"envcache: go selected $p $v, the lock does not (resolution differs from go's)\" >&2; exit 1; };; esac\n"
        "done\n"
        "go clean -modcache\nrm -rf " GO_SCRATCH "\n", bin);
    return ec_buf_steal(&b);
}

int go_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
               ec_install_result *out, ec_err *err)
{
    (void)staging;
    go_cfg g;
    int r = go_cfg_init(&g, ctx, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(lock, "targets"), i, t) {
        out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
        ec_build_step *s = &out->steps[out->nsteps++];
        memset(s, 0, sizeof *s);
        s->what = ec_xasprintf("go install %s@%s",
                               json_string_value(json_object_get(t, "package")),
                               json_string_value(json_object_get(t, "version")));
        s->cwd = ec_xstrdup("/");
        s->needs_mirror = true;
        s->argv = ec_xcalloc(4, sizeof *s->argv);
        s->argv[0] = ec_xstrdup("sh");
        s->argv[1] = ec_xstrdup("-c");
        s->argv[2] = step_script(&g, t);
    }
    go_cfg_fini(&g);
    return EC_OK;
}
