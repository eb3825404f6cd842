/* SPDX-License-Identifier: MIT */
/* Private to fetchers/npm/: the npm mirror's reading of packuments (npm_mirror_doc.c). */
#pragma once

#include <stddef.h>

#include "store/util/buf.h"
#include "store/util/err.h"

/** @body with every `"tarball": "<upstream>/…"` pointed at @base instead (compact or
 *  spaced JSON, as the registry sends full documents spaced) into @out; integrity stays
 *  untouched, so npm's signature checks still pass. */
int ec_npm_mirror_rewrite(ec_buf *out, const char *body, size_t len, const char *upstream,
                          const char *base, ec_err *err);

/** What ec_npm_find_in_doc looks for (@file) and finds (owned strings, NULL when not). */
typedef struct ec_npm_find_dist {
    const char *file;
    char *url, *integrity, *shasum, *what;
} ec_npm_find_dist;

/** A packument callback (ec_npm_meta_fetch's): the dist of the version whose tarball is
 *  named @ud's file. EC_EFORMAT when @body is not JSON. */
int ec_npm_find_in_doc(const char *name, const char *body, size_t len, void *ud, ec_err *err);
