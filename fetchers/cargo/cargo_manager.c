/* SPDX-License-Identifier: MIT */
/* The cargo entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/cargo/cargo_int.h"
#include "fetchers/manager.h"

/* The registry index and crate sources cargo downloads; a build fetches them again. */
static const char *const cargo_noise[] = {"root/.cargo/registry", "root/.cargo/git", NULL};

const ec_manager ec_cargo_manager = {
    .name = "cargo",
    .spec_what = "cargo crate spec",
    .parse = cargo_spec_parse,
    .noise = cargo_noise,
};
