/* SPDX-License-Identifier: MIT */
/* The cargo entry of the manager table: `cargo install` of registry crates, compiled once in
 * the sandbox with the Rust toolchain of the layers beneath. */
#include "fetchers/cargo/cargo_int.h"
#include "fetchers/manager.h"

/* The registry index and crate sources cargo downloads; a build fetches them again. */
static const char *const cargo_noise[] = {"root/.cargo/registry", "root/.cargo/git",
                                          "usr/local/.package-cache", NULL};

/* The toolchain beneath, as it describes itself: its release gates rust-version choices and
 * joins the specs key, so another toolchain resolves anew. */
static const char *const cargo_probe[] = {"sh", "-c", "rustc -vV && cargo --version", NULL};

static const ec_fetcher cargo_ops = {
    .builder_version = 1,
    .resolve = cargo_resolve,
    .fetch = cargo_fetch,
    .install = cargo_install,
    .serve = cargo_serve,
};

/* Cargo reads .cargo/config.toml in every ancestor of its working directory: the root's
 * one applies to every project in the session. */
static const ec_session_file cargo_session_files[] = {
    {".cargo/config.toml", "[source.crates-io]\nreplace-with = \"envcache-mirror\"\n"
                           "[source.envcache-mirror]\n"
                           "registry = \"sparse+@MIRROR@/cargo/index/\"\n"},
    {NULL, NULL}};

const ec_manager ec_cargo_manager = {
    .name = "cargo",
    .spec_what = "cargo crate spec",
    /* Every build compiles: the layer key names the layers beneath (the toolchain, and
     * the libraries a crate links against). */
    .flags = EC_MANAGER_RUNS_CODE,
    .base_needs = "a Rust toolchain (rustc and cargo; on Debian 12 the apt package cargo-web)",
    .parse = cargo_spec_parse,
    .ops = &cargo_ops,
    /* The default of the host's cargo, asked without a network: it logs the index it would
     * fetch config.json from, and the proxy it is given refuses at once. The log line
     * differs between builds ("fetch URL" from rustup's, url="URL" from Debian's
     * cargo-web): any URL ending in config.json is taken. */
    .upstream = {.env = {"ENVCACHE_CARGO_INDEX", NULL},
                 .from_client_config = cargo_index_configured,
                 .client = "cargo",
                 .client_query = "h=$(mktemp -d) && CARGO_HOME=$h CARGO_HTTP_PROXY=127.0.0.1:9 "
                                 "CARGO_NET_RETRY=0 CARGO_LOG=network=debug cargo info "
                                 "envcache-upstream-probe 2>&1 | sed -n 's|.*\\(https\\{0,1\\}://"
                                 "[^\" ]*/\\)config\\.json.*|\\1|p' | head -n 1; "
                                 "rm -rf \"$h\""},
    .probe = cargo_probe,
    .noise = cargo_noise,
    .session_files = cargo_session_files,
};
