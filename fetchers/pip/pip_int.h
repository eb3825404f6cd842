/* SPDX-License-Identifier: MIT */
/* Private to fetchers/pip/: what its files share. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "fetchers/fetcher.h"
#include "fetchers/spec.h"
#include "store/util/buf.h"
#include "store/util/err.h"

/* How long a project page from upstream is used without asking again (seconds). */
#define PIP_PAGE_TTL 300
#define PIP_CTYPE_JSON "application/vnd.pypi.simple.v1+json"

/** A pip list entry → its parsed form; EC_EINVAL naming the rule broken. */
int pip_spec_parse(ec_spec *out, const char *text, ec_err *err);

/** index-url from pip's configuration files, in pip's order (the last one set wins, and
 *  [install] over [global] within a file); owned, or NULL. */
char *pip_index_configured(void);

/* --- the index (pip_index.c) --- */

/** PEP 503 normalization: lowercase, runs of "-_." as one "-". Caller frees. */
char *pip_name_normalize(const char *name);
/** True for a normalized project name (what may become a key or a path). */
bool pip_name_ok(const char *name);

/** The project page of @name (normalized) as upstream's PEP 691 JSON: from the store
 *  while fresh (any age when ctx->offline), else asked upstream (If-None-Match) and kept
 *  with its ETag. *@asked is set when upstream was asked. EC_ENOTFOUND when the project
 *  does not exist; EC_EBUSY with ctx->cache_only and no fresh copy. Caller owns *@out. */
int pip_page_get(json_t **out, ec_fetch_ctx *ctx, const char *name, bool *asked,
                 ec_err *err);
/** True when the store holds @name's page and it is fresh (PIP_PAGE_TTL). */
bool pip_page_fresh(ec_store *st, const char *name);
/** The entry of @page's "files" named @filename, or NULL. Borrowed from @page. */
json_t *pip_page_file(const json_t *page, const char *filename);
/** The sha256 @page gives for @filename, or for its PEP 658 metadata when @metadata.
 *  EC_EINTEGRITY when there is none to check against (nothing unverified is kept). */
int pip_page_sha256(ec_digest *out, const json_t *page, const char *name,
                    const char *filename, bool metadata, ec_err *err);
/** The absolute upstream URL of @file (a "files" entry) of project @name. Caller frees. */
char *pip_file_url(const char *upstream, const char *name, const json_t *file);

/** The blob of @filename of project @name (or of its PEP 658 metadata when @filename ends
 *  in ".metadata"): from the store, else downloaded once, however many callers ask at
 *  the same moment, and verified against the page's sha256; a mismatch stores nothing
 *  (EC_EINTEGRITY naming the file). *@asked is set when upstream was asked. */
int pip_file_get(ec_digest *out, ec_fetch_ctx *ctx, const char *name, const char *filename,
                 bool *asked, ec_err *err);
/** The store's record of @filename of @name; EC_ENOTFOUND when it has none. */
int pip_file_lookup(ec_digest *out, ec_store *st, const char *name, const char *filename);
int pip_file_record(ec_store *st, const char *name, const char *filename,
                    const ec_digest *d, ec_err *err);

/* --- metadata files the index lists no hash for (pip_metadata.c) --- */

/** Gives every wheel of @page (in place) whose metadata file the page does not list a PEP
 *  714 "core-metadata": true: this mirror answers them all (pip_metadata_get). */
void pip_metadata_advertise(json_t *page);
/** <wheel>.metadata of project @name, when the page gives no hash for it, into @out: the
 *  stored wheel's METADATA, else upstream's file (held in memory only, unverified, until
 *  pip_metadata_check; its wheel is then downloaded in the background), else the METADATA
 *  of the whole wheel downloaded and verified. *@asked is set when upstream was asked. */
int pip_metadata_get(ec_buf *out, ec_fetch_ctx *ctx, const char *name, const char *wheel,
                     bool *asked, ec_err *err);
/** For every wheel of @lock (stored, verified): an unverified metadata file served for it
 *  must be byte for byte its own METADATA; EC_EINTEGRITY naming the file otherwise. */
int pip_metadata_check(ec_fetch_ctx *ctx, const json_t *lock, ec_err *err);
/** "Requires-Dist: name [extras] (spec) ; marker" (one line of a METADATA file): the name
 *  (normalized), the specifier (owned, or NULL) and whether a marker follows; false for a
 *  line that is no requirement. */
bool pip_requires_dist(const char *line, char **name, char **spec, bool *marker);
/** The METADATA member of the stored wheel @wheel (named @file in errors). */
int pip_wheel_metadata(ec_buf *out, ec_store *st, const ec_digest *wheel, const char *file,
                       ec_err *err);
/** Starts downloading @wheel of @name in the background (a head start for fetch). */
void pip_prefetch_wheel(const ec_fetch_ctx *ctx, const char *name, const char *wheel);
/** Waits until the background downloads begun while pip resolved have ended. */
void pip_prefetch_wait(void);
/** A resolve for the Python @probe (the probe's JSON) begins / ends: while one runs, the
 *  mirror guesses the wheel pip will pick from each page it fetches (pip_guess_wheel)
 *  and fetches that wheel's metadata ahead of pip, then the same for what it requires. */
void pip_ahead_begin(const char *probe);
void pip_ahead_end(void);
/** Fetches @name's page ahead of pip and, while a resolve runs, the metadata of the wheel
 *  pip will most likely pick under @spec (a PEP 440 specifier or NULL), once per resolve. */
void pip_ahead_project(const ec_fetch_ctx *ctx, const char *name, const char *spec);

/* --- what pip will most likely pick (pip_guess.c) --- */

/** The wheel of @page pip would most likely pick for the Python the probe @probe
 *  describes, under @spec: owned, or NULL (no fitting wheel, or an sdist is newer). */
char *pip_guess_wheel(const json_t *page, const json_t *probe, const char *spec);
/** Whether @version satisfies the PEP 440 specifier @spec, for final and post releases;
 *  true for what this code cannot read (a guess loses nothing by it). */
bool pip_guess_spec_ok(const char *version, const char *spec);

/* --- sdists built once per base (pip_sdist.c) --- */

/** The lock's "built_on" for layers @lowers: what keys the wheels built from its sdists.
 *  Caller frees. */
char *pip_built_on(const ec_digest *lowers, size_t n);
/** The wheel built from the sdist @pkg of @lock on the layers its "built_on" names: from the
 *  store, else built now (in the sandbox) and kept. *@out: a lock entry for that wheel
 *  (name, version, file, sha256, requested). A failed build names the sdist and shows the
 *  end of its log. */
int pip_sdist_wheel(json_t **out, ec_fetch_ctx *ctx, const json_t *lock, const json_t *pkg,
                    ec_err *err);

/* --- the operations --- */

int pip_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err);
int pip_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err);
int pip_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                ec_install_result *out, ec_err *err);
int pip_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err);
/** The mirror's answer for upstream's project @page of @name (pip_mirror.c): every wheel's
 *  metadata advertised (pip_metadata_advertise), every file URL pointed at
 *  req->base_url, as PEP 691 JSON when @json, else PEP 503 HTML. Changes @page. */
int pip_page_render(ec_buf *b, const ec_mirror_req *req, const char *name, json_t *page,
                    bool json);

/** Appends the step that compiles the lock's packages' bytecode with the Python beneath
 *  (pip_compile.c); it runs after any sdist's step. */
int pip_compile_step(const json_t *lock, const char *purelib, const char *platlib,
                     ec_install_result *out);
