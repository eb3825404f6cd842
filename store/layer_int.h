/* SPDX-License-Identifier: MIT */
/* What layer_pack.c, layer_unpack.c and layer_import.c share and nothing else sees. */
#pragma once

#include <locale.h>
#include <stdbool.h>

#include "store/store.h"

/* Unpack options beyond the public ec_layer_unpack_fd. */
struct ec_layer__unpack_opts {
    /* Hash every byte read from the fd (to its end) and fail with EC_EINTEGRITY naming the
     * blob when it is not this digest; the temporary tree is then removed as on any error. */
    const ec_digest *verify;
    /* Owners 0:0 and mtime 0 for everything, as the packed layer will record them, so a tree
     * unpacked for import already matches the extraction of its own blob. */
    bool normalise;
    /* @dest existing already (another process unpacked it first) is success, not
     * EC_ECONFLICT. */
    bool exist_ok;
    /* The rest serve ec_archive_extract_fd (package archives, not layers). */
    unsigned strip;    /* leading path components dropped; shallower entries skipped */
    bool no_sync;      /* a staging tree that is packed later: skip syncfs and fsync */
    bool package;      /* a package archive's rules: links and whiteout names skipped,
                          files at least 0644 and dirs 0755 */
    /* ec_archive_extract_cb: read through this instead of @fd (then -1), and the
     * extract options beyond the ones above (in place, aliases, hooks). */
    ec_archive_read_fn read;
    void *read_ud;
    const ec_extract_opts *x;
};

/** ec_layer_unpack_fd with options; @o NULL means none. EC_EUNSAFE, EC_ELIMIT, EC_EARCHIVE,
 *  EC_EINTEGRITY (only with @o->verify), EC_ECONFLICT when @dest exists (unless exist_ok). */
int ec_layer__unpack(int fd, const char *dest, const ec_unpack_limits *limits,
                     const struct ec_layer__unpack_opts *o, ec_err *err);

/** True when the relative symlink target @target, resolved lexically from the directory of
 *  @path (a clean relative path), climbs above the layer root. Absolute targets never do:
 *  they resolve inside the container root when the layer is mounted. Pack and unpack apply
 *  the same rule, so a packed layer is never one that unpacking refuses. */
bool ec_layer__symlink_escapes(const char *path, const char *target);

/** The C.UTF-8 character type locale, created once and never freed, or (locale_t)0 when the
 *  C library has none. Tar headers are written and read under it (uselocale, this thread
 *  only) so file names never depend on the locale of the process that packs them. */
locale_t ec_layer__utf8_locale(void);
