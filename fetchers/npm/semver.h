/* SPDX-License-Identifier: MIT */
/* node-semver, as npm uses it: versions, ranges, satisfies, maxSatisfying.
 *
 * Versions and ranges follow node-semver 7 with loose=false and
 * includePrerelease=false, which is how npm-pick-manifest and arborist read
 * package.json ranges. A range is parsed once into comparator sets (the `||`
 * alternatives); each set is the AND of its comparators, after node-semver's
 * desugaring (hyphen, x, tilde, caret), and ec_semver_range_format prints it
 * exactly as node-semver's `new Range(r).range` does.
 *
 * Caveats: numbers above 2^53-1 are refused (node-semver's MAX_SAFE_INTEGER);
 * text longer than 256 characters is refused (its MAX_LENGTH). In a comparator
 * with a full version node-semver accepts only an optional `v` after the
 * operator; we also accept `=` there (`>==1.2.3`), which it refuses.
 *
 * Threads: every function is pure and reentrant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/util/auto.h"
#include "store/util/err.h"

/** Longest version or range text accepted (node-semver MAX_LENGTH). */
#define EC_SEMVER_MAX 256

typedef struct ec_semver {
    uint64_t major, minor, patch;
    char pre[EC_SEMVER_MAX + 1]; /* "alpha.1", "" for a release; build metadata dropped */
} ec_semver;

typedef enum ec_semver_op {
    EC_SEMVER_EQ,
    EC_SEMVER_LT,
    EC_SEMVER_LE,
    EC_SEMVER_GT,
    EC_SEMVER_GE,
} ec_semver_op;

typedef struct ec_semver_cmp {
    ec_semver_op op;
    ec_semver v;
} ec_semver_cmp;

typedef struct ec_semver_range ec_semver_range;

/** Parses a strict version (`1.2.3-pre+build`, an optional leading `v`, outer
 *  whitespace ignored). EC_EINVAL names the text. */
int ec_semver_parse(ec_semver *out, const char *text, ec_err *err);
/** True when @text is a valid version (semver.valid). */
bool ec_semver_valid(const char *text);
/** -1, 0 or 1 by SemVer 2.0 precedence (build ignored). */
int ec_semver_compare(const ec_semver *a, const ec_semver *b);
/** Formats @v as "1.2.3[-pre]" into @buf (at least EC_SEMVER_MAX + 64 bytes). */
void ec_semver_format(const ec_semver *v, char *buf, size_t size);

/** Parses a range (`^1.2 || >=3 <4`, `1.x`, `1.2.3 - 2`, "" = any).
 *  Returns an owned range (ec_semver_range_free), or EC_EINVAL naming the text. */
int ec_semver_range_parse(ec_semver_range **out, const char *text, ec_err *err);
void ec_semver_range_free(ec_semver_range *r);
EC_DEFINE_AUTO(ec_semver_range, ec_semver_range_free)
/** satisfies(v, range) with includePrerelease=false: a pre-release version
 *  matches a set only when some comparator of that set has the same
 *  major.minor.patch and a pre-release itself. */
bool ec_semver_range_test(const ec_semver_range *r, const ec_semver *v);
/** Like node-semver's `new Range(text).range`: sets joined by "||", comparators
 *  by " ", "" for any. Writes into @buf; returns false if it does not fit. */
bool ec_semver_range_format(const ec_semver_range *r, char *buf, size_t size);

/** semver.satisfies(version, range): false when either does not parse. */
bool ec_semver_satisfies(const char *version, const char *range);
/** semver.maxSatisfying: the index of the highest of @versions that
 *  satisfies @r, or -1. Invalid versions are skipped. */
long ec_semver_max_satisfying(const char *const *versions, size_t n, const ec_semver_range *r);
