/* SPDX-License-Identifier: MIT */
/* A growable, always NUL-terminated byte buffer with a hard cap (curl dynbuf). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store/util/err.h"

typedef struct ec_buf {
    char *p;    /* NUL-terminated; NULL until the first append */
    size_t n;   /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on n; 0 means 64 MiB */
} ec_buf;

#define EC_BUF_INIT {NULL, 0, 0, 0}

/** Appends @n bytes; EC_ELIMIT past the cap (the buffer is then freed). */
int ec_buf_add(ec_buf *b, const void *data, size_t n, ec_err *err);
int ec_buf_adds(ec_buf *b, const char *s, ec_err *err);
int ec_buf_addf(ec_buf *b, ec_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ec_buf_reset(ec_buf *b);
void ec_buf_fini(ec_buf *b);
/** Hands the string to the caller (free with free()); the buffer is empty afterwards. */
char *ec_buf_steal(ec_buf *b);
/** The contents, "" when empty; borrowed until the next change. */
const char *ec_buf_str(const ec_buf *b);
