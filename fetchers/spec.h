/* SPDX-License-Identifier: MIT */
/* The parsed form of package list entries, checks by manager name, and the scanners the
 * managers' parsers share.
 *
 * A spec is one entry of an environment's package list as the user wrote it
 * (`pandas==2.2.0`, `jq=1.6-2.1`). These checkers only decide whether the text
 * is well formed in its manager's syntax; whether the package and version exist
 * is found when the specs are resolved. Each rejection is EC_EINVAL with a
 * one-line message `"TEXT" is not a valid <what>: <reason>` that cache/ can hand
 * to API clients after prefixing the field path.
 *
 * Threads: every function here is pure and reentrant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store/util/err.h"

/** Longest spec text accepted, in characters (API.md: 512 per entry). */
#define EC_SPEC_TEXT_MAX 512
/** The parsed form of a spec, filled by the manager's parse (fetchers/manager.h), the
 *  one parser of its specs. Fields are slices of the text copied out, "" when absent. */
typedef struct ec_spec {
    char name[EC_SPEC_TEXT_MAX + 1];       /* package, crate, gem, module path, npm name */
    char qualifier[EC_SPEC_TEXT_MAX + 1];  /* apt architecture, pip extras ("a,b") */
    char constraint[EC_SPEC_TEXT_MAX + 1]; /* version, range, tag or query; "" = latest */
    char marker[EC_SPEC_TEXT_MAX + 1];     /* pip environment marker */
} ec_spec;

/** True when @manager names an entry of the manager table (case-sensitive). */
bool ec_spec_manager_known(const char *manager);

/** Checks @text against @manager's syntax.
 *  Returns EC_OK, or EC_EINVAL for an unknown manager or malformed text (the
 *  message quotes the text and says why). */
int ec_spec_check(const char *manager, const char *text, ec_err *err);

/* --- helpers shared by the managers' parsers --- */

/** Records `"TEXT" is not a valid WHAT: REASON` (the text escaped and cut to
 *  EC_SPEC_TEXT_MAX characters) and returns EC_EINVAL. */
int ec_spec_fail(ec_err *err, const char *text, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** The checks every manager shares: not empty, at most EC_SPEC_TEXT_MAX
 *  characters, printable ASCII only (no manager's syntax needs more, and it
 *  keeps error messages one clean line). EC_EINVAL names @what. */
int ec_spec_check_text(const char *text, const char *what, ec_err *err);

/** Copies the @n bytes at @p into @dst (EC_SPEC_TEXT_MAX + 1 bytes), NUL-terminated;
 *  longer input is cut, which callers prevent with ec_spec_check_text. */
void ec_spec_copy(char *dst, const char *p, size_t n);

/* Scanners: each advances *pp past what it accepts and returns true, or returns
 * false and leaves *pp alone. @loose allows leading zeros in numbers (npm). */

/** A decimal number; without @loose no leading zero unless it is "0". */
bool ec_spec_scan_number(const char **pp, bool loose);
/** SemVer identifiers `id(.id)*`, each [0-9A-Za-z-]+; with @numeric_strict a
 *  purely numeric id may not have a leading zero (pre-release rule). */
bool ec_spec_scan_idents(const char **pp, bool numeric_strict);
/** MAJOR.MINOR.PATCH[-pre][+build] (SemVer 2.0). */
bool ec_spec_scan_semver(const char **pp, bool loose);
/** Scans an optional "-prerelease" then an optional "+build" (semver 2.0 qualifiers);
 *  @strict_pre refuses leading zeros in numeric prerelease identifiers. */
bool ec_spec_scan_qualifiers(const char **pp, bool strict_pre);
