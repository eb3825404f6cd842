/* SPDX-License-Identifier: MIT */
/* Private to fetchers/cargo/: what its files share. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fetchers/fetcher.h"
#include "fetchers/spec.h"
#include "store/util/buf.h"
#include "store/util/err.h"

/** A cargo list entry → its parsed form; EC_EINVAL naming the rule broken. */
int cargo_spec_parse(ec_spec *out, const char *text, ec_err *err);

/* --- versions and requirements, as the semver crate reads them (cargo_semver.c) --- */

typedef struct cargo_version {
    uint64_t major, minor, patch;
    char pre[128]; /* "" for a release; build metadata is dropped */
} cargo_version;

/** "1.2.3[-pre][+build]" → @v; false when @s is not one. */
bool cargo_version_parse(cargo_version *v, const char *s);
/** SemVer precedence: <0, 0, >0. */
int cargo_version_cmp(const cargo_version *a, const cargo_version *b);

#define CARGO_REQ_MAX 32
typedef struct cargo_req {
    struct cargo_cmp {
        char op;              /* '=', '>', 'G' (>=), '<', 'L' (<=), '~', '^', '*' */
        int parts;            /* how many of major, minor, patch were written (0 for "*") */
        cargo_version v;
    } c[CARGO_REQ_MAX];
    int n;
} cargo_req;

/** A spec's requirement as `cargo install NAME@REQ` reads it: "" is any release, a bare
 *  version an exact pin, anything else a semver requirement. EC_EINVAL naming it. */
int cargo_req_parse(cargo_req *out, const char *text, ec_err *err);
/** True when @v satisfies @r, pre-releases only where a comparator names one of the same
 *  MAJOR.MINOR.PATCH (the semver crate's rule). */
bool cargo_req_matches(const cargo_req *r, const cargo_version *v);

/* --- the sparse index and its cache (cargo_index.c) --- */

#define CARGO_INDEX_TTL 300 /* seconds an index file is used before it is revalidated */

/** The index path of @name: "1/a", "2/ab", "3/a/abc", "ab/cd/abcd…" (lowercase). Owned. */
char *cargo_index_path(const char *name);
/** True for a crate name the index can hold (letters, digits, '-', '_'; 1-64). */
bool cargo_name_ok(const char *name);
/** The index file of @name from the cache, revalidated upstream after CARGO_INDEX_TTL
 *  (ctx->cache_only: EC_EBUSY instead; ctx->offline: whatever is cached). *@blob is its
 *  blob; *@asked_upstream says whether this call made a request. EC_ENOTFOUND when the
 *  registry has no such crate. */
int cargo_index_get(ec_fetch_ctx *ctx, const char *name, ec_digest *blob, bool *asked_upstream,
                    ec_err *err);
/** A blob's bytes (verified against its digest), NUL-terminated, into @out. */
int cargo_blob_read(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err);
/** The registry's config.json "dl" template, from the cache as index files are. Owned. */
int cargo_dl_template(char **out, ec_fetch_ctx *ctx, ec_err *err);
/** The download URL of NAME@VERS by @dl's markers ({crate}, {version}, {prefix},
 *  {lowerprefix}, {sha256-checksum}), or "/{crate}/{version}/download" appended. Owned. */
char *cargo_dl_url(const char *dl, const char *name, const char *vers, const char *cksum);
/** MIRROR key of a .crate of @ctx's registry: "cargo/<16 hex of the upstream's
 *  sha256>/crate/<name>/<vers>" (index files and config.json are keyed the same way, so
 *  two registries never share records). Owned. */
char *cargo_crate_key(const ec_fetch_ctx *ctx, const char *name, const char *vers);
/** The line of @vers in an index file's text (a JSON object, owned), or NULL. */
json_t *cargo_index_find(const char *text, const char *vers);

/** Downloads NAME@VERS (.crate) into the store, checked against @cksum (sha256 hex) as it
 *  streams, and records it; nothing unverified is kept. EC_EINTEGRITY names the crate. */
int cargo_crate_pull(ec_fetch_ctx *ctx, const char *name, const char *vers, const char *cksum,
                     ec_digest *out, ec_err *err);

/* --- the rest --- */

char *cargo_index_configured(void);          /* cargo_upstream.c */
int cargo_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out,
                  ec_err *err);              /* cargo_resolve.c */
int cargo_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err); /* cargo_fetch.c */
/** Called with each index line kept (@n bytes, without its newline). */
typedef int (*cargo_line_fn)(void *arg, const char *line, size_t n, ec_err *err);
/** The lines of an index file's text that the install's local registry lists
 *  (cargo_install.c): those of the @locked versions (a JSON object "version" → true), every
 *  version's when @locked is NULL; each to @keep, in order. With @locked, the crates the
 *  kept lines depend on (dev-dependencies only for a @root) are named into @wanted. */
int cargo_index_select(const char *text, const json_t *locked, json_t *wanted, bool root,
                       cargo_line_fn keep, void *arg, ec_err *err);
int cargo_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                  ec_install_result *out, ec_err *err);       /* cargo_install.c */
int cargo_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                ec_err *err);                                 /* cargo_mirror.c */
/** The string value of @key in [@table] of a TOML text as cargo writes its config and
 *  normalized manifests (one `key = "value"` a line), or NULL. Owned. */
char *cargo_toml_get(const char *text, const char *table, const char *key);

/** The upstream index URL without a "sparse+" prefix (borrowed from @ctx). */
static inline const char *cargo_upstream(const ec_fetch_ctx *ctx)
{
    return ctx->upstream + (__builtin_strncmp(ctx->upstream, "sparse+", 7) == 0 ? 7 : 0);
}
