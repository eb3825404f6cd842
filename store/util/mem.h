/* SPDX-License-Identifier: MIT */
/* Allocation: small internal allocations abort on OOM; sizes from input are checked. */
#pragma once

#include <stddef.h>

void *ec_xmalloc(size_t n);
void *ec_xcalloc(size_t n, size_t size);
void *ec_xrealloc(void *p, size_t n);
char *ec_xstrdup(const char *s);
char *ec_xstrndup(const char *s, size_t n);
/** Formats into a new string; aborts on OOM. */
char *ec_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
