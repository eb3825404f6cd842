/* SPDX-License-Identifier: MIT */
/* The install tree of `npm install -g --prefix P --ignore-scripts` (npm 11,
 * @npmcli/arborist, install-strategy "shallow"), computed without I/O.
 *
 * Each requested package becomes a root at lib/node_modules/<name>; its
 * dependencies are placed inside its own node_modules with arborist's rules:
 * nodes are visited breadth-first (depth, then path in "en" collation), each
 * node's missing or invalid edges are resolved in name order, and each new
 * node goes to the shallowest node_modules between the dependent and the
 * top-level package where arborist's canPlace says OK/REPLACE/KEEP before the
 * first CONFLICT. Peers go with their dependent's peer set; missing optional
 * peers are not installed; optional dependencies that fail to resolve or do
 * not fit the platform/engines are dropped with the part of the tree only they
 * need; bundled dependencies are listed but not resolved (they come from the
 * parent's tarball).
 *
 * Packuments come from an ec_npm_registry the caller implements; the builder
 * calls prefetch with every name of the next breadth-first level before it
 * calls get on any of them, so the caller can fetch a level in parallel.
 *
 * Threads: one build at a time per registry object; the callbacks are called
 * on the builder's thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fetchers/npm/packument.h"
#include "fetchers/spec.h"
#include "store/util/auto.h"
#include "store/util/err.h"

typedef struct ec_npm_registry {
    /** The packument of @name, borrowed: it must stay valid until the tree is
     *  freed. EC_ENOTFOUND when the package does not exist; other codes are
     *  passed through. */
    int (*get)(void *ud, const char *name, const ec_npm_packument **out, ec_err *err);
    /** A hint: these packuments will be asked for next. May be NULL. An error
     *  here aborts the build. */
    int (*prefetch)(void *ud, const char *const *names, size_t n, ec_err *err);
    void *ud;
} ec_npm_registry;

typedef struct ec_npm_node {
    char *path;       /* "node_modules/express/node_modules/debug", relative to lib/ */
    char *name;       /* the folder name (an alias's own name) */
    char *package;    /* the registry package (differs from name for npm: aliases) */
    char *version;    /* "" for a bundled node (known once the parent is unpacked) */
    char *tarball, *integrity, *shasum; /* NULL when the registry gave none */
    bool has_install_script;
    bool optional;    /* only reachable through optional dependencies */
    bool peer;        /* only reachable through peer dependencies */
    bool bundled;     /* comes inside its parent's tarball */
    ec_npm_kvs bin;   /* command → path (strings owned by the tree) */
    ec_npm_strs os, cpu;
} ec_npm_node;

typedef struct ec_npm_tree {
    ec_npm_node *nodes; /* sorted by path */
    size_t n;
    json_t *notes;      /* array of strings: skipped optionals and the like */
} ec_npm_tree;

/** Resolves @specs (parsed by ec_npm_spec_parse: a name, "@scope/name", and a range,
 *  version or tag, "" for the latest) into the install tree. Returns an owned tree
 *  (ec_npm_tree_free). Errors: EC_ENOTFOUND (no such package or version: the
 *  message names the package, the range and its dependent), EC_ECONFLICT (no
 *  place satisfies arborist's rules: npm's ERESOLVE), EC_EINVAL (a spec or a
 *  dependency spec that is not a registry spec), and whatever the registry
 *  returns. */
int ec_npm_tree_build(ec_npm_tree **out, const ec_npm_registry *reg, const ec_spec *specs,
                      size_t nspecs, const ec_npm_pick_opts *opts, ec_err *err);
void ec_npm_tree_free(ec_npm_tree *t);
EC_DEFINE_AUTO(ec_npm_tree, ec_npm_tree_free)

/** The lock's "packages" array (fetcher.h): one object per node in path
 *  order with "path", "name", "version", "url", "integrity", "scripts"
 *  (hasInstallScript), "bin" (object), and when set "package" (alias target),
 *  "shasum", "optional", "peer", "bundled", "os", "cpu". New reference. */
json_t *ec_npm_tree_lock_packages(const ec_npm_tree *t);
