/* SPDX-License-Identifier: MIT */
/* Private to cache/oci/: the distribution-spec client (one registry, one thread at a time),
 * image references, and the image shapes push, pull, the tier and export share. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_int.h"
#include "cache/oci/oci.h"
#include "store/util/buf.h"

/* --- media types --- */

#define EC_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define EC_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define EC_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define EC_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define EC_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define EC_OCI_EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define EC_OCI_LOCK_TYPE "application/vnd.envcache.lock.v1+json"
#define EC_OCI_RECORD_TYPE "application/vnd.envcache.build-record.v1+json"
#define EC_OCI_ENV_TYPE "application/vnd.envcache.environment.v1+json"
#define EC_OCI_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* --- references: [http://|https://]host[:port]/name[:tag][@sha256:…] --- */

typedef struct ec_oci_ref {
    char *base;   /* "https://host:port": the scheme says TLS or not */
    char *host;   /* "host:port" as credentials files key it */
    char *repo;   /* "team/env" */
    char *tag;    /* or NULL */
    char *digest; /* "sha256:…" or NULL */
} ec_oci_ref;

/** Parses @text; EC_EINVAL names what is wrong. A reference needs a host (no registry is
 *  implied) and a tag or a digest unless @repo_only. */
int ec_oci_ref_parse(ec_oci_ref *out, const char *text, bool repo_only, ec_err *err);
void ec_oci_ref_fini(ec_oci_ref *r);
/* A reference finished when it leaves scope (zeroed until parsed). */
#define EC_AUTO_REF __attribute__((cleanup(ec_oci_ref_fini))) ec_oci_ref

/* --- the client --- */

typedef struct ec_reg {
    char *base, *host;
    char *ca_file;           /* trust anchors for TLS, or NULL for the system's */
    char *basic;             /* "Basic …" once credentials are known, or NULL */
    char *user, *pass;       /* from the environment or an auth file, or NULL */
    char *bearer;            /* "Bearer …" for the scope it was issued for */
    char *bearer_scope;
    CURL *curl;              /* one handle: its connection is kept between requests */
    uint64_t chunk;          /* upload chunk size */
    ec_oci_stats stats;
} ec_reg;

/** Opens a client for @ref's registry: credentials from $ENVCACHE_REGISTRY_USER /
 *  $ENVCACHE_REGISTRY_PASSWORD, else $REGISTRY_AUTH_FILE, the containers auth file or
 *  ~/.docker/config.json; the CA from $ENVCACHE_REGISTRY_CA or certs.d/<host>/ca.crt. */
int ec_reg_open(ec_reg **out, const ec_oci_ref *ref, ec_err *err);
void ec_reg_close(ec_reg *g);
EC_DEFINE_AUTO(ec_reg, ec_reg_close)

typedef struct ec_reg_req {
    const char *method;        /* GET, HEAD, PUT, POST, PATCH */
    const char *url;           /* absolute, or a path under the registry's base */
    const char *accept;
    const char *content_type;
    const void *body;          /* a memory body, or */
    size_t body_n;
    bool from_fd;              /* a file range: */
    int body_fd;
    uint64_t body_off, body_len;
    const char *content_range; /* "START-END" for chunked PATCH */
    ec_blob_writer *sink;      /* 2xx body into this blob, else into the memory body */
    const char *scope;         /* "repository:NAME:pull,push" asked of a token service */
    const char *what;          /* names the request in errors */
} ec_reg_req;

typedef struct ec_reg_resp {
    long status;
    ec_buf body;
    char *location, *digest, *range, *challenge, *content_type, *subject;
} ec_reg_resp;
void ec_reg_resp_fini(ec_reg_resp *rs);

/** Sends @rq, answering one authentication challenge (basic or a bearer token from the
 *  challenge's realm) and retrying once. Any status comes back in @rs: callers decide what
 *  a 404 means. EC_ENETWORK only when no answer came, or authentication was refused. */
int ec_reg_do(ec_reg *g, const ec_reg_req *rq, ec_reg_resp *rs, ec_err *err);
/** The registry's error for an unexpected answer: "WHAT: HTTP 400 (MANIFEST_INVALID: …)". */
int ec_reg_fail(ec_err *err, const ec_reg_req *rq, const ec_reg_resp *rs);
/** Resolves a Location header against the base; caller frees. */
char *ec_reg_url(const ec_reg *g, const char *loc);

/* auth */
/** One parameter of a challenge's value: key="value" (quotes optional); NULL when absent.
 *  Caller frees. */
char *ec_reg__challenge_param(const char *ch, const char *key);
int ec_reg__creds(ec_reg *g, ec_err *err);
/** Answers @challenge (a WWW-Authenticate value): sets g->basic or fetches g->bearer.
 *  EC_ENETWORK naming the registry when there is nothing to answer with. */
int ec_reg__answer(ec_reg *g, const char *challenge, const char *scope, ec_err *err);

/* --- blobs and manifests --- */

/** EC_OK when @repo has the blob, EC_ENOTFOUND when not. */
int ec_reg_blob_has(ec_reg *g, const char *repo, const char *digest, ec_err *err);
/** Uploads the store's blob @d to @repo unless there (HEAD first), by cross-repository mount
 *  from @from (may be NULL) where the registry offers it, else in chunks, resuming after
 *  a failed chunk from what the registry says it has. */
int ec_reg_blob_push(ec_reg *g, ec_store *st, const char *repo, const ec_digest *d,
                     const char *from, ec_err *err);
/** Uploads @n bytes (a config, a lock) to @repo unless there; *@out is their digest. */
int ec_reg_blob_push_buf(ec_reg *g, const char *repo, const void *p, size_t n, ec_digest *out,
                         ec_err *err);
/** Downloads blob @digest of @repo into the store unless there, verified against it. */
int ec_reg_blob_pull(ec_reg *g, ec_store *st, const char *repo, const ec_digest *d,
                     ec_err *err);
/** Reads a small blob into memory, verified; caller frees *@out. */
int ec_reg_blob_get(char **out, size_t *n_out, ec_reg *g, const char *repo, const char *digest,
                    ec_err *err);

/** PUTs @manifest (bytes as given) under @ref (a tag or its digest); *@digest_out its digest.
 *  *@subject_ok (may be NULL) tells that the registry answered OCI-Subject. */
int ec_reg_manifest_put(ec_reg *g, const char *repo, const char *ref, const char *media_type,
                        const char *manifest, ec_digest *digest_out, bool *subject_ok,
                        ec_err *err);
/** GETs manifest @ref of @repo and checks its digest (against @ref when it is one, and the
 *  registry's Docker-Content-Digest). EC_ENOTFOUND. */
int ec_reg_manifest_get(json_t **out, ec_digest *digest_out, ec_reg *g, const char *repo,
                        const char *ref, ec_err *err);
/** Attaches artifact @manifest (whose subject is @subject) to it: PUT by digest, then, unless
 *  the registry answered OCI-Subject, the tag schema's index "sha256-<hex>" updated. */
int ec_reg_referrer_put(ec_reg *g, const char *repo, const ec_digest *subject,
                        const char *manifest, size_t size, ec_err *err);
/** The referrers of @subject (an index's "manifests"), from the referrers API or else the
 *  tag schema; an empty array when there are none. */
int ec_reg_referrers(json_t **out, ec_reg *g, const char *repo, const ec_digest *subject,
                     ec_err *err);

/* --- image shapes (image.c) --- */

/** Canonical JSON (sorted keys, compact): the bytes pushed and hashed. Caller frees. */
char *ec_oci_dump(const json_t *j);
/** The layer's descriptor: media type, digest, size, and annotations carrying what a
 *  puller records (uncompressed size, files, base). New reference. */
json_t *ec_oci_layer_desc(const ec_layer_info *l);
/** The config of an image of @layers (diff_ids in order, architecture and os). */
json_t *ec_oci_config(const ec_layer_info *layers, size_t n);
/** A manifest of @config_desc and @layers (descriptors), with @annotations (may be NULL). */
json_t *ec_oci_manifest(json_t *config_desc, json_t *layers, json_t *annotations);
json_t *ec_oci_desc(const char *media_type, const ec_digest *d, uint64_t size);
/** Records a pulled layer blob: checks the tar's digest against @diff_id (decompressing),
 *  then records it with what @desc's annotations say. */
int ec_oci_layer_record(ec_layer_info *out, ec_store *st, const ec_digest *digest,
                        const ec_digest *diff_id, const json_t *desc, ec_err *err);
/** The layers of environment record's stack @stack as layer infos; caller frees *@out. */
int ec_oci_stack_layers(ec_layer_info **out, size_t *n_out, ec_store *st, const json_t *stack,
                        ec_err *err);
/** What a client did, as JSON; new reference. */
json_t *ec_oci_stats_json(const ec_oci_stats *s);
/** EC_ECONFLICT naming the first manager of @packages whose layer environment @id lacks
 *  (its warm-up has not run, or failed). */
int ec_oci_env_ready(ec_cache *c, const char *id, const json_t *packages, ec_err *err);
