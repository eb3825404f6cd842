/* SPDX-License-Identifier: MIT */
/* The pip entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/pip/pip_int.h"
#include "fetchers/manager.h"

/* Python's bytecode caches: regenerated on import, and they hold build-time paths and
 * times (also what Debian's py3compile leaves, so every build prunes them). */
static const char *const pip_noise_names[] = {"__pycache__", NULL};

const ec_manager ec_pip_manager = {
    .name = "pip",
    .spec_what = "pip requirement",
    .parse = pip_spec_parse,
    .noise_names = pip_noise_names,
};
