/* SPDX-License-Identifier: MIT */
/* Running a program to its end: an argument vector through posix_spawn, never a shell. */
#pragma once

#include <stddef.h>

#include "store/util/err.h"

typedef struct ec_spawn_opts {
    /* Where the program's stdout and stderr go: this file (created 0600, truncated), or
     * /dev/null when NULL. */
    const char *log;
    /* When set: stderr is read instead, its first line (at most @why_cap - 1 bytes) kept
     * here for the caller's message; stdout still goes to @log or /dev/null. */
    char *why;
    size_t why_cap;
} ec_spawn_opts;

/** Runs @argv (argv[0] looked up on PATH; stdin /dev/null) and waits for it; @o may be
 *  NULL. *@status: its exit status, or 128 + the signal that ended it. Fails only when it
 *  cannot be started (EC_ESYS naming argv[0]) or waited for. */
int ec_spawn_wait(int *status, const char *const *argv, const ec_spawn_opts *o, ec_err *err);
