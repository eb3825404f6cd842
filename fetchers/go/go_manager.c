/* SPDX-License-Identifier: MIT */
/* The go entry of the manager table: specs are checked; there is no fetcher yet. */
#include "fetchers/go/go_int.h"
#include "fetchers/manager.h"

/* The module download cache; the extracted modules beside it stay. */
static const char *const go_noise[] = {"root/go/pkg/mod/cache", NULL};

const ec_manager ec_go_manager = {
    .name = "go",
    .spec_what = "go module spec",
    .parse = go_spec_parse,
    .noise = go_noise,
};
