/* SPDX-License-Identifier: MIT */
/* One small GET for cache/: an archive's InRelease, to tell whether it changed. */
#pragma once

#include <stddef.h>

#include "store/store.h"

/**
 * Downloads @url (at most 4 MiB, following redirects) and gives its sha256 and the value of
 * its "Date:" field (a Release file's; "" when absent) in @date. Used to key a bootstrapped
 * base by the archive's state without a build. EC_ENOTFOUND on HTTP 404, EC_ESYS when the
 * host cannot be reached. Until the shared client (fetchers/http/http.h) lands this uses
 * libcurl's easy interface directly.
 */
int ec_release_probe(ec_digest *digest_out, char date[64], const char *url, ec_err *err);
