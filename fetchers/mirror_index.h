/* SPDX-License-Identifier: MIT */
/* What every fetcher's cache and mirror share: records in the mirror table, and one
 * download per file however many callers miss it at the same moment.
 *
 * Two kinds of record: a file's blob digest (immutable artifacts: tarballs, .debs,
 * by-hash indexes), and a document record (mutable metadata: packuments, InRelease)
 * with its blob, ETag and fetch time, revalidated after a freshness window.
 * Threads: every function may be called from several threads at once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/** A request path percent-decoded, up to any query ('?'): npm clients escape a scope's
 *  slash as %2f or %2F, apt escapes some characters of pool file names. %00 stays as it
 *  is. Caller frees. */
char *ec_mirror_path_decode(const char *path);

/** The blob recorded under @key; EC_ENOTFOUND when there is none or it is not stored. */
int ec_mirror_digest_get(ec_store *st, const char *key, ec_digest *out, ec_err *err);
/** A hit as a mirror answers it: the blob that @key's record names, opened (@fd_out, its
 *  @size), with one read txn and one path lookup. EC_ENOTFOUND when the record, the blob
 *  or its file is missing, or the file is not the indexed size: fetch it again. */
int ec_mirror_blob_open(ec_store *st, const char *key, ec_digest *out, int *fd_out,
                        uint64_t *size, ec_err *err);
int ec_mirror_digest_put(ec_store *st, const char *key, const ec_digest *d, ec_err *err);

typedef struct ec_mirror_doc {
    ec_digest blob;
    char etag[256];
    int64_t fetched; /* seconds since the epoch */
} ec_mirror_doc;

/** False when absent, damaged or its blob is gone: all of them mean "fetch it". */
bool ec_mirror_doc_get(ec_store *st, const char *key, ec_mirror_doc *out);
int ec_mirror_doc_put(ec_store *st, const char *key, const ec_mirror_doc *d, ec_err *err);

/** True: the caller now owns @key's download and must call ec_flight_leave. False:
 *  another caller's download of @key just ended; look in the store again. */
bool ec_flight_enter(const char *key);
void ec_flight_leave(const char *key);
