/* SPDX-License-Identifier: MIT */
/* Syntax checks for package list entries, one checker per manager, dispatched by name.
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
/** Number of managers; ec_spec_managers has this many entries. */
#define EC_SPEC_MANAGER_COUNT 6

/** The managers in stack order (apt, cargo, gem, go, npm, pip), as used for
 *  config keys, list names and mirror routes. */
extern const char *const ec_spec_managers[EC_SPEC_MANAGER_COUNT];

/** The parsed form of a spec, filled by each manager's parser. Fields are
 *  slices of the text copied out, "" when absent. The fetcher `parse` op will
 *  return this; the checkers below already build it, so they cannot drift. */
typedef struct ec_spec {
    char name[EC_SPEC_TEXT_MAX + 1];       /* package, crate, gem, module path, npm name */
    char qualifier[EC_SPEC_TEXT_MAX + 1];  /* apt architecture, pip extras ("a,b") */
    char constraint[EC_SPEC_TEXT_MAX + 1]; /* version, range, tag or query; "" = latest */
    char marker[EC_SPEC_TEXT_MAX + 1];     /* pip environment marker */
} ec_spec;

/** True when @manager is one of ec_spec_managers (case-sensitive). */
bool ec_spec_manager_known(const char *manager);

/** Checks @text against @manager's syntax.
 *  Returns EC_OK, or EC_EINVAL for an unknown manager or malformed text (the
 *  message quotes the text and says why). */
int ec_spec_check(const char *manager, const char *text, ec_err *err);

/* --- one checker per manager (fetchers/<mgr>/<mgr>_spec.c); same contract --- */

/** `name`, `name=version`, `name:arch`, `name:arch=version` (Debian rules). */
int ec_apt_spec_check(const char *text, ec_err *err);
/** `crate` or `crate@version-or-requirement` (semver, comma-separated comparators). */
int ec_cargo_spec_check(const char *text, ec_err *err);
/** `gem` or `gem:version-or-requirement` (RubyGems, e.g. `rails:~> 7.1`). */
int ec_gem_spec_check(const char *text, ec_err *err);
/** `module/path[/cmd][@version]` with version latest, vX.Y.Z[-pre][+build] or a commit hash. */
int ec_go_spec_check(const char *text, ec_err *err);
/** `name`, `@scope/name`, either with `@version-range-or-tag`; git/url/file/alias specs
 *  are EC_EINVAL too ("is not supported"). */
int ec_npm_spec_check(const char *text, ec_err *err);
/** A PEP 508 requirement without a URL: name[extras] specifiers ; marker. */
int ec_pip_spec_check(const char *text, ec_err *err);

/* --- helpers shared by the managers' checkers --- */

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
