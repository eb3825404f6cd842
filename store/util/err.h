/* SPDX-License-Identifier: MIT */
/* Error codes and the caller-owned error record every fallible function takes. */
#pragma once

#include <stdarg.h>

/* One list gives the codes, their names and their default text (apk print.c). */
#define EC_CODES(X)                                                        \
    X(EC_OK, 0, "ok", "success")                                           \
    X(EC_ENOMEM, -1, "nomem", "out of memory")                             \
    X(EC_EINVAL, -2, "invalid", "invalid argument or input")               \
    X(EC_ENOTFOUND, -3, "not_found", "not found")                          \
    X(EC_ECONFLICT, -4, "conflict", "conflict with existing state")        \
    X(EC_EINTEGRITY, -5, "integrity", "content does not match its digest") \
    X(EC_ELIMIT, -6, "limit", "a configured limit was exceeded")           \
    X(EC_ESYS, -7, "system", "system call failed")                         \
    X(EC_EUNSUPPORTED, -8, "unsupported", "not supported")                 \
    X(EC_EBUSY, -9, "busy", "resource is in use")                          \
    X(EC_ESCHEMA, -10, "schema", "store schema is not supported")          \
    X(EC_EUNSAFE, -11, "unsafe", "unsafe archive entry")                   \
    X(EC_EDB, -12, "database", "index database error")                     \
    X(EC_EARCHIVE, -13, "archive", "archive could not be read or written") \
    X(EC_EARCHIVED, -14, "archived", "object is archived")                 \
    X(EC_EFORMAT, -15, "format", "malformed data")                         \
    X(EC_ENETWORK, -16, "network", "an upstream server failed or could not be reached") \
    X(EC_EBUILD, -17, "build", "a sandboxed build command failed")

enum ec_code {
#define EC__ENUM(name, value, short_name, text) name = value,
    EC_CODES(EC__ENUM)
#undef EC__ENUM
};

typedef struct ec_err {
    int code;       /* the ec_code of the first failure */
    int sys;        /* errno / MDB code / library code behind it, 0 if none */
    char msg[1024]; /* one line, names the object and the rule broken */
    char detail[48]; /* optional machine-readable case ("invalid_metadata"), for the API */
} ec_err;

/** Records the first failure in @err (NULL is fine) and returns @code.
 *  A message already present is kept: the first message wins. */
int ec_fail(ec_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ec_failv(ec_err *err, int code, const char *fmt, va_list ap);
/** Like ec_fail with EC_ESYS, appending strerror(@errnum) and keeping it in err->sys. */
int ec_fail_sys(ec_err *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Prepends "PREFIX: " to the message (context added by a caller). */
void ec_err_prefix(ec_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Sets the machine-readable case of the recorded failure (first one wins too). */
void ec_err_detail(ec_err *err, const char *detail);
/** Clears @err so it can be reused. */
void ec_err_clear(ec_err *err);
/** The short stable name of a code ("not_found"), for JSON output and logs. */
const char *ec_code_name(int code);
/** The default text of a code, for messages with nothing better. */
const char *ec_code_text(int code);
