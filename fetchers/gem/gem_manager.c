/* SPDX-License-Identifier: MIT */
/* The gem entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/gem/gem_int.h"
#include "fetchers/manager.h"

const ec_manager ec_gem_manager = {
    .name = "gem",
    .spec_what = "gem spec",
    .parse = gem_spec_parse,
};
