/* SPDX-License-Identifier: MIT */
/* Shared libraries loaded on first use rather than linked (libcurl,
 * libarchive): what their loaders share. Each loader keeps its own typed pointers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct ec_dl_lib {
    const char *soname;  /* "libcurl.so.4" */
    const char *role;    /* what it is to us, for the message: "the HTTP client …" */
    const char *package; /* the Debian package that has it */
} ec_dl_lib;

/** Opens @lib and stores the address of each of @names[i] into *@slots[i]. On failure
 *  writes into @why (@why_cap bytes) a sentence naming the library, what is missing and
 *  the package to install, and returns false. */
bool ec_dl_load(const ec_dl_lib *lib, const char *const *names, void **const *slots, size_t n,
                char *why, size_t why_cap);
