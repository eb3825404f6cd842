/* SPDX-License-Identifier: MIT */
/* Shared fixtures for unit tests: temporary directories and stores, small file helpers. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"

/** A fresh temporary directory under $EC_TEST_TMP (or /tmp); caller frees the string. */
char *ect_tmpdir(void);
/** Removes a directory tree made by ect_tmpdir and frees @dir. */
void ect_rmdir(char *dir);
/** Writes @text to "<dir>/<rel>", creating parents. Asserts on failure. */
void ect_write(const char *dir, const char *rel, const char *text, unsigned mode);
/** Counts the entries of "<dir>/<rel>" recursively (files, links, dirs below it). */
int ect_count(const char *dir, const char *rel);
/** Runs a shell command, asserting exit status 0. */
void ect_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct ect_store_fixture {
    char *home;
    ec_store *st;
};
/** cmocka group setup/teardown that give each test a fresh store in *state. */
int ect_store_setup(void **state);
int ect_store_teardown(void **state);
