/* SPDX-License-Identifier: MIT */
/* Layer keys: what a layer was built from, hashed, so an equal build is found again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

typedef struct ec_layer_key_in {
    const char *manager;      /* "apt", "npm", …; required */
    const ec_digest *lock;    /* the lock's digest; required */
    const char *platform;     /* "linux/amd64"; required */
    const char *builder;      /* the builder's version; a new builder never reuses old layers */
    bool runs_code;           /* the build ran code (scripts, compilers) in the sandbox */
    const ec_digest *lowers;  /* the layers beneath, the base first; used only with runs_code */
    size_t nlowers;
} ec_layer_key_in;

/**
 * Computes the layer key of @in into @out: sha256 over a versioned, length-prefixed
 * encoding of every input, so no two different inputs share an encoding. A build that
 * ran code depends on what it ran on, so its key includes the lower layers' digests in
 * order: a different base never reuses a layer built on another. A build that did not
 * run code is the same on any base, and its key ignores @in->lowers.
 * Returns EC_EINVAL when a required input is missing.
 * Threads: pure; callable from any thread.
 */
int ec_layer_key(ec_digest *out, const ec_layer_key_in *in, ec_err *err);
