/* SPDX-License-Identifier: MIT */
/* npm packuments (abbreviated, "application/vnd.npm.install-v1+json") as compact
 * structs, and npm-pick-manifest's choice of one version for a spec.
 *
 * A packument is parsed once from JSON into one allocation pool; every string
 * and array below is borrowed from the packument and lives until
 * ec_npm_packument_free. Nothing here does I/O.
 *
 * Threads: a parsed packument is immutable; share it freely for reading.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fetchers/npm/semver.h"
#include "store/util/auto.h"
#include "store/util/err.h"

/** One name → text pair: a dependency and its spec, a dist-tag, a bin entry. */
typedef struct ec_npm_kv {
    const char *key;
    const char *value;
} ec_npm_kv;

typedef struct ec_npm_kvs {
    ec_npm_kv *v;
    size_t n;
} ec_npm_kvs;

typedef struct ec_npm_strs {
    const char **v;
    size_t n;
} ec_npm_strs;

/** One version of a package, as the abbreviated packument describes it. */
typedef struct ec_npm_manifest {
    const char *version; /* the key in "versions", a valid semver */
    ec_semver semver;
    ec_npm_kvs deps;          /* dependencies, in document order */
    ec_npm_kvs optional;      /* optionalDependencies */
    ec_npm_kvs peer;          /* peerDependencies */
    ec_npm_strs peer_optional; /* peerDependenciesMeta.<name>.optional == true */
    ec_npm_strs bundled;      /* bundleDependencies / bundledDependencies names */
    bool bundle_all;          /* bundleDependencies: true (every dependency) */
    ec_npm_strs os, cpu, libc; /* platform lists, "!x" negates; empty: any */
    const char *engines_node, *engines_npm; /* NULL when absent */
    const char *deprecated;   /* the message, or NULL */
    ec_npm_kvs bin;           /* command → path, normalised as npm-normalize-package-bin */
    bool has_install_script;
    const char *tarball, *integrity, *shasum; /* dist.*, NULL when absent */
} ec_npm_manifest;

typedef struct ec_npm_packument {
    const char *name;
    ec_npm_kvs tags;             /* dist-tags */
    ec_npm_manifest *versions;   /* sorted by semver, ascending */
    size_t nversions;
    void *pool;                  /* private: the allocations behind everything above */
} ec_npm_packument;

/** Parses an abbreviated (or full) packument of @name from @doc.
 *  Returns an owned packument (ec_npm_packument_free), or EC_EFORMAT naming
 *  @name when the document is not a packument (not an object, "versions" or a
 *  version not an object, "dist-tags" not an object). Odd fields inside a
 *  version (wrong types) are ignored the way npm ignores them; version keys
 *  that are not valid semver are skipped. */
int ec_npm_packument_from_json(ec_npm_packument **out, const char *name, const json_t *doc,
                               ec_err *err);
/** Same from JSON text (@len bytes); EC_EFORMAT also for text that is not JSON. */
int ec_npm_packument_parse(ec_npm_packument **out, const char *name, const char *text,
                           size_t len, ec_err *err);
void ec_npm_packument_free(ec_npm_packument *p);
EC_DEFINE_AUTO(ec_npm_packument, ec_npm_packument_free)

/** The version @version exactly, or NULL. Borrowed from @p. */
const ec_npm_manifest *ec_npm_packument_lookup(const ec_npm_packument *p, const char *version);
/** The value of dist-tag @tag, or NULL. */
const char *ec_npm_packument_tag(const ec_npm_packument *p, const char *tag);

/* --- platform and engines (npm-install-checks) --- */

typedef struct ec_npm_platform {
    const char *os;   /* process.platform: "linux" */
    const char *cpu;  /* process.arch: "x64" */
    const char *libc; /* "glibc", "musl", or NULL when unknown */
    const char *node_version; /* "20.11.1"; NULL: engines.node is not checked */
    const char *npm_version;  /* NULL: engines.npm is not checked */
} ec_npm_platform;

/** linux/x64/glibc and no engine versions. */
#define EC_NPM_PLATFORM_DEFAULT {"linux", "x64", "glibc", NULL, NULL}

/** checkPlatform: os, cpu and libc lists all admit @plat. */
bool ec_npm_platform_ok(const ec_npm_manifest *m, const ec_npm_platform *plat);
/** checkEngine: engines.node and engines.npm admit the versions in @plat (an
 *  unparsable engines range fails, as in npm). */
bool ec_npm_engine_ok(const ec_npm_manifest *m, const ec_npm_platform *plat);

/* --- picking (pick.c) --- */

typedef struct ec_npm_pick_opts {
    ec_npm_platform plat;
    /** Also prefer versions whose os/cpu/libc fit @plat (after engines, before
     *  "not deprecated"). npm-pick-manifest does NOT do this, so it is off to
     *  stay identical to npm. */
    bool prefer_platform;
} ec_npm_pick_opts;

/** npm-pick-manifest for @wanted, which is a dist-tag, an exact version, a
 *  range, or "" (the range "*", where a pre-release "latest" also wins).
 *  A range prefers dist-tags.latest when it satisfies the range, is not
 *  deprecated and fits the engines; otherwise the highest satisfying version,
 *  preferring (in order) not deprecated and engine-fitting, engine-fitting,
 *  not deprecated.
 *  Sets *@out to a manifest borrowed from @p. EC_ENOTFOUND with
 *  `no version of NAME matches "RANGE" (latest is X)` or
 *  `NAME has no dist-tag "TAG"`; EC_EINVAL for a spec that is none of these. */
int ec_npm_pick(const ec_npm_manifest **out, const ec_npm_packument *p, const char *wanted,
                const ec_npm_pick_opts *opts, ec_err *err);
