/* SPDX-License-Identifier: MIT */
/* What the npm fetcher's files share: the metadata cache, the mirror index, URLs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fetchers/fetcher.h"

/* Accept headers: pacote's own, so upstream answers us exactly as it answers npm. */
#define EC_NPM_ACCEPT_ABBREV \
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
#define EC_NPM_ACCEPT_FULL "application/json"
#define EC_NPM_CTYPE_ABBREV "application/vnd.npm.install-v1+json"

/** Metadata older than this is revalidated (ETag) before use; npm's registry says
 *  max-age=300 for packuments. */
#define EC_NPM_META_TTL 300

typedef enum ec_npm_doc { EC_NPM_ABBREV, EC_NPM_FULL } ec_npm_doc;

/** Called once per name with the document's bytes (borrowed for the call). */
typedef int (*ec_npm_meta_fn)(const char *name, const char *body, size_t len, void *ud,
                              ec_err *err);

/** Gets the packuments of @names (in parallel), each from the store when it is fresher
 *  than @ttl seconds (or ctx->offline), else revalidated or fetched upstream and kept.
 *  @upstream_out (may be NULL) counts the requests that went upstream. Stops at the first
 *  error, which names the package. */
int ec_npm_meta_fetch(ec_fetch_ctx *ctx, ec_npm_doc kind, const char *const *names, size_t n,
                      int64_t ttl, ec_npm_meta_fn fn, void *ud, unsigned *upstream_out,
                      ec_err *err);

/** A fetch run whose callback may add more names while it runs (the resolver's
 *  speculative closure). Cached documents are delivered on the caller's thread too. */
typedef struct ec_npm_meta_run ec_npm_meta_run;
int ec_npm_meta_run_new(ec_npm_meta_run **out, ec_fetch_ctx *ctx, ec_npm_doc kind,
                        int64_t ttl, ec_npm_meta_fn fn, void *ud);
/** From now on a document that cannot be had is skipped instead of failing the run
 *  (speculative fetches: whoever really needs it asks again and reports). */
void ec_npm_meta_run_tolerate(ec_npm_meta_run *run);
/** Queues @name (copied); errors are kept for ec_npm_meta_run_go. */
void ec_npm_meta_run_add(ec_npm_meta_run *run, const char *name);
/** Runs until every queued name, including those added by callbacks, was delivered. */
int ec_npm_meta_run_go(ec_npm_meta_run *run, ec_err *err);
/** Frees @run; returns how many requests went upstream. */
unsigned ec_npm_meta_run_free(ec_npm_meta_run *run);

/** True when the store holds @name's document fetched less than @ttl seconds ago. */
bool ec_npm_meta_fresh(ec_store *st, ec_npm_doc kind, const char *name, int64_t ttl);
/** ec_npm_meta_fresh, also giving the stored document's blob when it is fresh. */
bool ec_npm_meta_current(ec_store *st, ec_npm_doc kind, const char *name, int64_t ttl,
                         ec_digest *blob_out);

/** "<upstream>/<escaped name>" (scoped names as @scope%2fname); caller frees. */
char *ec_npm_meta_url(const char *upstream, const char *name);

/* --- the mirror index (MIRROR table), shared by fetch and serve --- */

/** Key of a tarball in the MIRROR table: "npm/tgz/<name>/<file>". Caller frees. */
char *ec_npm_tgz_key(const char *name, const char *file);
/** The basename of a tarball URL ("express-4.18.0.tgz"), borrowed from @url. */
const char *ec_npm_url_file(const char *url);
int ec_npm_tgz_lookup(ec_store *st, const char *name, const char *file, ec_digest *out,
                      ec_err *err);
int ec_npm_tgz_record(ec_store *st, const char *name, const char *file, const ec_digest *d,
                      ec_err *err);

/* --- packuments parsed on worker threads (npm_parse_pool.c) --- */

#include "fetchers/npm/packument.h"

typedef struct ec_npm_parse_pool ec_npm_parse_pool;
typedef struct ec_npm_parse_result {
    char *name;             /* owned by the taker */
    ec_npm_packument *doc;  /* owned by the taker; NULL when rc < 0 */
    int rc;
    ec_err err;
} ec_npm_parse_result;

/** One worker per CPU (at most 8). */
ec_npm_parse_pool *ec_npm_parse_pool_new(void);
/** Queues @body (copied) for parsing as the packument of @name. */
void ec_npm_parse_pool_put(ec_npm_parse_pool *p, const char *name, const char *body,
                           size_t len);
/** Takes one finished parse; with @wait, waits while any is pending. False when none. */
bool ec_npm_parse_pool_take(ec_npm_parse_pool *p, bool wait, ec_npm_parse_result *out);
void ec_npm_parse_pool_free(ec_npm_parse_pool *p);

/* --- integrity (SRI) --- */

/** Picks the strongest hash of an SRI string ("sha512-…", several allowed) or, when there
 *  is none, the hex sha1 @shasum. EC_EINVAL when neither is usable. */
int ec_npm_integrity_parse(const char *sri, const char *shasum, ec_http_hash *algo,
                           unsigned char want[64], ec_err *err);

/* --- the fetcher's operations (npm_fetch.c, npm_install.c, npm_mirror.c) --- */

int ec_npm_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err);
int ec_npm_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                   ec_install_result *out, ec_err *err);
int ec_npm_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err);

/** The npm spec parser (npm_spec.c): the `parse` op. */
int ec_npm_spec_parse(ec_spec *out, const char *text, ec_err *err);

/** The registry the host's npm configuration names (npm_config_userconfig, ~/.npmrc,
 *  /etc/npmrc, /usr/etc/npmrc, the first that sets one), or NULL; caller frees. */
char *ec_npm_registry_configured(void);
