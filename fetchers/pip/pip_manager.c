/* SPDX-License-Identifier: MIT */
/* The pip entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/pip/pip_int.h"
#include "fetchers/manager.h"

const ec_manager ec_pip_manager = {
    .name = "pip",
    .spec_what = "pip requirement",
    .parse = pip_spec_parse,
};
