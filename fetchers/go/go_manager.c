/* SPDX-License-Identifier: MIT */
/* The go entry of the manager table: `go install PKG@VERSION` as an environment's list. */
#include "fetchers/go/go_int.h"
#include "fetchers/manager.h"

const ec_fetcher ec_go_ops = {
    .builder_version = 1,
    .resolve = go_resolve,
    .fetch = go_fetch,
    .install = go_install,
    .serve = go_serve,
};

/* The host's go settings, with go's meaning (its environment first, then its env file).
 * A checksum database named without its key takes the key the host's go knows for it
 * (a go built-in, read from the host's go source tree). */
static const ec_host_fact go_facts[] = {
    {"gosumdb", "GOSUMDB", "go", "go env GOSUMDB"},
    {"gonosumdb", "GONOSUMDB", "go", "go env GONOSUMDB"},
    {"goprivate", "GOPRIVATE", "go", "go env GOPRIVATE"},
    {"goflags", "GOFLAGS", "go", "go env GOFLAGS"},
    {"gosumdb_known", NULL, "go",
     "grep -ho '\"[a-z0-9.-]*+[0-9a-f]\\{8\\}+[A-Za-z0-9+/=]*\"' "
     "\"$(go env GOROOT)/src/cmd/go/internal/modfetch/\"*.go 2>/dev/null | head -n 1"},
    {NULL, NULL, NULL, NULL},
};

/* The toolchain beneath: its version (resolve checks a module's go line against it) and
 * target. */
static const char *const go_probe[] = {
    "sh", "-c",
    "PATH=/usr/local/go/bin:/usr/lib/go/bin:$PATH; GOENV=off GOTOOLCHAIN=local "
    "go env GOVERSION GOOS GOARCH",
    NULL};

/* Build scratch (module and build caches) and what go writes under a home. */
static const char *const go_noise[] = {"tmp/envcache-go", "root/go", "root/.cache/go-build",
                                       "root/.config/go", NULL};

static const char *const go_session_env[] = {"GOPROXY=@MIRROR@/go", NULL};

const ec_manager ec_go_manager = {
    .name = "go",
    .spec_what = GO_WHAT,
    /* the compiler beneath builds every layer, through the mirror */
    .flags = EC_MANAGER_NEEDS_BASE | EC_MANAGER_RUNS_CODE | EC_MANAGER_BUILD_NEEDS_MIRROR,
    .base_needs = "a Go toolchain: go on the PATH, or in /usr/local/go or /usr/lib/go",
    .parse = go_spec_parse,
    .ops = &ec_go_ops,
    .upstream = {.env = {"ENVCACHE_GOPROXY", "GOPROXY", NULL},
                 .client = "go",
                 .client_query = "go env GOPROXY"},
    .facts = go_facts,
    .probe = go_probe,
    .noise = go_noise,
    .session_env = go_session_env,
};
