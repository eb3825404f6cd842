/* SPDX-License-Identifier: MIT */
/* Private to fetchers/go/: what its files share. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fetchers/fetcher.h"
#include "fetchers/spec.h"
#include "store/util/buf.h"
#include "store/util/err.h"

#define GO_WHAT "go module spec"

/** A go list entry → its parsed form; EC_EINVAL naming the rule broken. */
int go_spec_parse(ec_spec *out, const char *text, ec_err *err);

extern const ec_fetcher ec_go_ops;

/* --- versions (go_version.c): golang.org/x/mod/semver's rules --- */

/** True for a canonical "vMAJOR.MINOR.PATCH[-pre][+incompatible]" version. */
bool go_version_valid(const char *v);
/** semver order; build metadata ("+incompatible") is ignored, as go does. Invalid
 *  versions sort below valid ones and equal to each other. */
int go_vcmp(const char *a, const char *b);
bool go_version_prerelease(const char *v);
bool go_version_pseudo(const char *v);
/** The major version "v2" of @v into @out (8 bytes). */
void go_version_major(char out[16], const char *v);
/** A module path or version with each upper-case letter as '!' + lower case
 *  ("github.com/!azure/x"). Caller frees. */
char *go_escape(const char *s);
/** The inverse; NULL when @s is not a valid escaped string. Caller frees. */
char *go_unescape(const char *s);
/** True when @path matches one of the comma-separated path-prefix globs of @globs
 *  (GONOSUMDB, GOPRIVATE: each glob matches a prefix of as many path elements). */
bool go_glob_match(const char *globs, const char *path);

/* --- go.mod (go_modfile.c) --- */

typedef struct go_req {
    char *path, *version;
} go_req;

typedef struct go_retract {
    char *lo, *hi; /* one version: lo == hi */
} go_retract;

typedef struct go_modfile {
    char *module;
    char go[32];        /* "1.22.0" or "" */
    char toolchain[48]; /* "go1.23.4" or "" */
    go_req *reqs;
    size_t nreqs;
    go_retract *retracts;
    size_t nretracts;
    size_t nreplace, nexclude;
} go_modfile;

/** Parses go.mod text (the subset the selection needs: module, go, toolchain, require,
 *  retract, and counts of replace and exclude). EC_EFORMAT naming @what and the line. */
int go_modfile_parse(go_modfile *out, const char *text, size_t n, const char *what,
                     ec_err *err);
void go_modfile_fini(go_modfile *m);
bool go_modfile_retracted(const go_modfile *m, const char *version);

/** Go release order of "1.17", "1.21.0", "1.22rc1" (go lines and toolchains). */
int go_gover_cmp(const char *a, const char *b);

/* --- the configuration and the upstream (go_proxy.c) --- */

typedef struct go_proxy {
    char *url;      /* a proxy base URL; NULL for "direct" or "off" */
    bool direct, off;
    bool any_error; /* '|' after it: fall through on any error, not only 404/410 */
} go_proxy;

typedef struct go_cfg {
    ec_fetch_ctx *ctx;
    go_proxy *proxies;
    size_t nproxies;
    char *sumdb_name;  /* NULL when checking is off */
    char *sumdb_vkey;  /* "name+hash+key" */
    char *sumdb_url;   /* the database's own URL (its name's https address by default) */
    int sumdb_via;     /* 0 unknown, 1 through the first proxy's /sumdb/, -1 direct */
    char *nosumdb;     /* GONOSUMDB, else GOPRIVATE: globs not checked */
    char *goflags;     /* the host's GOFLAGS */
    char *govkey_known; /* a built-in name+key of the host's go */
} go_cfg;

/** Reads ctx->upstream (go's GOPROXY list) and ctx->config (the host facts). EC_EINVAL
 *  naming the setting. */
int go_cfg_init(go_cfg *g, ec_fetch_ctx *ctx, ec_err *err);
void go_cfg_fini(go_cfg *g);
/** True when @module is checked against the checksum database. */
bool go_cfg_checks(const go_cfg *g, const char *module);

/** err->detail of an upstream's 4xx answer (but 408 and 429, which are retried):
 *  "upstream_http_NNN". 404 and 410 come with EC_ENOTFOUND, other refusals (403 "not
 *  available") with EC_ENETWORK; both are remembered like a "not found", and the mirror
 *  answers with the same status (go's fallbacks depend on it). */
#define GO_UPSTREAM_HTTP "upstream_http_"
/** The upstream status recorded in @e's detail, or 0. */
int go_upstream_status(const ec_err *e);
/** GET "<proxy>/<rel>" from the GOPROXY list, with go's fallbacks, into @out (MEM sink).
 *  EC_ENOTFOUND when every source said not found; when the next source is "direct",
 *  EC_ENOTFOUND naming the module and saying version control is not supported;
 *  EC_ENETWORK otherwise. */
int go_proxy_get(go_cfg *g, const char *rel, ec_buf *out, ec_err *err);
/** GET @url once (no proxy list): the checksum database's own endpoints. */
int go_url_get(go_cfg *g, const char *url, ec_buf *out, ec_err *err);

/** Cached proxy documents. Immutable ones (.mod, .zip, a canonical version's .info,
 *  checksum database records and full tiles) are kept for good once verified; mutable
 *  ones (list, @latest, the database's latest tree) are revalidated after @ttl. The
 *  store key is "go/" + the proxy-relative path, which the mirror serves as it is. */
#define GO_META_TTL 600
int go_doc_get(go_cfg *g, const char *rel, bool immutable, ec_buf *out, ec_err *err);
/** Stores @body under @rel (immutable), after whatever verification the caller did. */
int go_doc_put(go_cfg *g, const char *rel, const void *body, size_t n, ec_digest *out,
               ec_err *err);
/** The stored immutable document @rel, or EC_ENOTFOUND. */
int go_doc_lookup(ec_store *st, const char *rel, ec_digest *out, ec_err *err);
char *go_doc_key(const char *rel);
int go_blob_read(ec_store *st, const ec_digest *d, ec_buf *out, ec_err *err);

/* --- integrity (go_sumdb.c, go_hash.c) --- */

/** dirhash Hash1 of a module zip in memory: "h1:<base64>". EC_EFORMAT for a zip that
 *  breaks go's rules (a name with a newline, no module@version/ prefix). */
int go_h1_zip(char out[64], const void *zip, size_t n, const char *prefix, ec_err *err);
/** Hash1 of a go.mod: one file named "go.mod". */
void go_h1_mod(char out[64], const void *mod, size_t n);
/** True when the zip holds a package directory @dir (module-relative, "" for the root):
 *  a .go file directly in it. */
bool go_zip_has_package(const void *zip, size_t n, const char *prefix, const char *dir);

/** Verifies a signed note against @vkey ("name+hash+base64(0x01||ed25519 key)"); sets
 *  *@text_len to the length of the signed text. EC_EINTEGRITY naming @what. */
int go_note_verify(const char *vkey, const char *note, size_t n, size_t *text_len,
                   const char *what, ec_err *err);
/** The go.sum hashes of @module@@version from the checksum database, verified: the record
 *  proved in a tree signed with the configured key. */
int go_sumdb_hashes(go_cfg *g, const char *module, const char *version, char zip_h1[64],
                    char mod_h1[64], ec_err *err);
/** The checksum database's URL: "<first proxy>/sumdb/<name>" when that proxy says it
 *  serves it (asked once), else the database's own. */
const char *go_sumdb_base(go_cfg *g);
/** A lookup answer @body ("<id>\n<record text>\n<signed tree note>") verified: the note
 *  signed with g->sumdb_vkey, the record proved in its tree from the tiles (the store's
 *  full ones, else asked at @base), and the full tiles it used kept under @rel_base
 *  ("sumdb/<name>"). EC_EINTEGRITY naming @what. */
int go_sumdb_lookup_verify(go_cfg *g, const char *base, const char *what, const ec_buf *body,
                           const char *rel_base, ec_err *err);
/** The go.sum hash "h1:…" of module@version (of its go.mod when @mod) in a record's text
 *  ("<module> <version>[/go.mod] h1:…" lines) into @out; false when none names it. */
bool go_sumdb_record_line(char out[64], const char *text, const char *module,
                          const char *version, bool mod);
/** Checks @mod or @zip (one of them; the other NULL) of module@version against the
 *  database (nothing when the module is not checked). EC_EINTEGRITY naming the module. */
int go_verify_mod(go_cfg *g, const char *module, const char *version, const void *mod,
                  size_t n, ec_err *err);
int go_verify_zip(go_cfg *g, const char *module, const char *version, const void *zip,
                  size_t n, char h1_out[64], ec_err *err);

/** Fetches module@version's .mod (verified), into @out. */
int go_get_mod(go_cfg *g, const char *module, const char *version, ec_buf *out, ec_err *err);
/** Fetches module@version's .zip, verified, into the store: its blob and its h1. */
int go_get_zip(go_cfg *g, const char *module, const char *version, ec_digest *blob,
               char h1[64], ec_err *err);

/* --- the operations --- */

/** The "Version" of a proxy's .info or @latest answer (JSON), when it is a valid one:
 *  owned, or NULL (go_resolve.c). */
char *go_info_version(const void *body, size_t n);
int go_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err);
int go_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err);
int go_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
               ec_install_result *out, ec_err *err);
int go_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err);
