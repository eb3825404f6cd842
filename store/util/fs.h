/* SPDX-License-Identifier: MIT */
/* File system helpers shared by every layer: directories, removal, whole-file I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/util/err.h"

/** Creates @path and its parents with @mode; existing directories are fine. */
int ec_mkdir_p(const char *path, unsigned mode, ec_err *err);
/** Removes @path recursively without following symlinks; a missing path is fine.
 *  Clears immutable-free read-only modes on the way so 0444/0555 trees go too. */
int ec_rm_rf(const char *path, ec_err *err);
/** fsyncs the directory @path (after a rename into it). */
int ec_fsync_dir(const char *path, ec_err *err);
/** Sets the access and modification times of @dir and everything below it (symlinks
 *  themselves, never their targets) to the epoch, as layers keep them. */
int ec_zero_times(const char *dir, ec_err *err);
/** Reads a whole file of at most @max bytes into a new NUL-terminated string. */
int ec_read_file(char **out, size_t *len_out, const char *path, size_t max, ec_err *err);
/** Writes @data to @path through a temporary file + fsync + rename. */
int ec_write_file_atomic(const char *path, const void *data, size_t n, unsigned mode, ec_err *err);
/** Like ec_write_file_atomic without the fsync: readers see the old or the new file, but a
 *  system crash may lose it (for files that mean nothing after a reboot). */
int ec_write_file_volatile(const char *path, const void *data, size_t n, unsigned mode,
                           ec_err *err);
/** Fills @out (2*n+1 chars) with @n random bytes as hex, from getrandom. */
void ec_random_hex(char *out, size_t n);
/** Wall-clock seconds since the epoch. */
int64_t ec_now(void);
/** Monotonic time in microseconds. */
int64_t ec_mono_us(void);
