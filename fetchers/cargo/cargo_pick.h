/* SPDX-License-Identifier: MIT */
/* Private to fetchers/cargo/: the crate a spec names, chosen from its index file
 * (cargo_pick.c). */
#pragma once

#include "fetchers/cargo/cargo_int.h"

typedef struct cargo_root {
    const char *name;     /* the spec's crate */
    char vers[160];
    char cksum[65];
    char *edition, *rust_version, *resolver; /* from its manifest, owned, may be NULL */
} cargo_root;

/** As cargo install chooses from the index file @text: the newest version matching @req
 *  that is not yanked, into @rt->vers and @rt->cksum. When its rust-version is newer than
 *  the toolchain's @rustc, cargo install refuses, naming the newest match that the
 *  toolchain supports; so do we (EC_EINVAL). EC_ENOTFOUND naming the spec @spec. */
int cargo_pick(cargo_root *rt, const char *text, const cargo_req *req, const char *rustc,
               const char *spec, ec_err *err);
