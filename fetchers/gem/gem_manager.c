/* SPDX-License-Identifier: MIT */
/* The gem entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/gem/gem_int.h"
#include "fetchers/manager.h"

/* The specs cache gem keeps of its sources. */
static const char *const gem_noise[] = {"root/.gem/specs", NULL};

const ec_manager ec_gem_manager = {
    .name = "gem",
    .spec_what = "gem spec",
    .parse = gem_spec_parse,
    .noise = gem_noise,
};
