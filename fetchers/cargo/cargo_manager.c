/* SPDX-License-Identifier: MIT */
/* The cargo entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/cargo/cargo_int.h"
#include "fetchers/manager.h"

const ec_manager ec_cargo_manager = {
    .name = "cargo",
    .spec_what = "cargo crate spec",
    .parse = cargo_spec_parse,
};
