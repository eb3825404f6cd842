/* SPDX-License-Identifier: MIT */
/* The one interface every package manager fills: parse, resolve, fetch, install, serve.
 *
 * cache/ drives a warm-up as: parse every spec → resolve (specs → lock) →
 * fetch (lock → artifacts in the store) → install (lock → files in an empty
 * staging root, plus build steps that must run code) → cache/ runs the build
 * steps in the prebuild sandbox and packs the staging root into the layer.
 * The mirror calls serve for requests under /mirror/<manager>/.
 *
 * A lock is canonical JSON (jansson, keys sorted, compact) with this shape for
 * every manager:
 *   {"manager":<name>,"version":1,"specs":[…as written…],
 *    "packages":[{"name":…,"version":…,"url":…,"integrity":"sha512-…",
 *                 "sha256":"…" (once fetched, the artifact blob), …manager fields}]}
 * The lock digest (sha256 of those bytes) names the resolution; the layer key
 * is built from it (cache/). Managers add their own fields per package (npm:
 * "path", "scripts"; apt: "arch", "multi_arch"…) but never change the shape.
 *
 * Fetchers never include cache/ and never serve HTTP themselves: serve fills a
 * server-neutral response that cache/ writes out.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetchers/http/http.h"
#include "fetchers/spec.h"
#include "store/store.h"
#include "store/util/auto.h"
#include "store/util/err.h"

EC_DEFINE_AUTO(json_t, json_decref)

/** Progress of long work, for `envcache warm` and the API's warm-up events. */
typedef enum ec_phase {
    EC_PHASE_RESOLVING,
    EC_PHASE_DOWNLOADING,
    EC_PHASE_INSTALLING,
    EC_PHASE_BUILDING, /* build steps in the sandbox (cache/) */
    EC_PHASE_PACKING,
} ec_phase;

typedef struct ec_progress_event {
    const char *manager;
    ec_phase phase;
    uint64_t done, total;             /* items (packages, files) */
    uint64_t bytes_done, bytes_total; /* 0 when unknown */
    const char *item;                 /* what is being worked on, or NULL */
} ec_progress_event;
typedef void (*ec_progress_fn)(const ec_progress_event *p, void *ud);

/** What a fetcher may use; filled by cache/ for one warm-up or one mirror. */
typedef struct ec_fetch_ctx {
    ec_store *store;
    ec_http *http;
    const char *upstream;   /* registry / archive base URL from configuration */
    const json_t *config;   /* the manager's own settings and host facts (may be NULL) */
    const char *lowers_root; /* the layers beneath, merged and read-only (the base alone
                                when there is nothing else), or NULL: apt reads its dpkg
                                status and sources there, pip its Python */
    const char *platform;   /* "linux/amd64" */
    bool offline;           /* resolve from cached metadata only; no network */
    bool cache_only;        /* serve: answer from the store alone, at once (no upstream
                               request, no waiting on a download), else EC_EBUSY */
    ec_progress_fn progress;
    void *progress_ud;
    /* Runs @argv once in the prebuild sandbox over the layers beneath, with the mirror
     * on loopback at $ENVCACHE_MIRROR (http://127.0.0.1:PORT/mirror) and the extra
     * "NAME=value" strings of @env (NULL-terminated, may be NULL): for a resolver that is
     * the real client on the base's interpreter. What it printed (stdout and stderr, at
     * most 32 MiB) comes back in *@out, owned. EC_EBUILD when it fails, with the end of
     * its output. NULL where the caller offers no sandbox (the mirror, tools). */
    int (*sandbox_query)(void *ud, char **out, const char *const *argv,
                         const char *const *env, ec_err *err);
    void *sandbox_ud;
} ec_fetch_ctx;

/** What one resolution works from, in one piece: the specs parsed once (by the manager's
 *  parse) and as written, the layers beneath, the target, the upstream and the progress
 *  sink. Everything is borrowed for the call. */
typedef struct ec_resolve_req {
    const ec_spec *specs;        /* parsed, in the order written */
    const char *const *texts;    /* the same specs as written (they go into the lock) */
    size_t nspecs;
    const ec_digest *lowers;     /* the layers beneath, the base first */
    size_t nlowers;
    const char *lowers_root;     /* their merged tree, read-only, for managers that
                                    resolve against it (EC_MANAGER_RESOLVES_ON_LOWERS);
                                    else NULL */
    const char *platform;        /* "linux/amd64" */
    const char *upstream;
    const char *probe;           /* what the entry's probe printed over the layers beneath,
                                    or NULL when it has none */
    ec_progress_fn progress;     /* may be NULL */
    void *progress_ud;
} ec_resolve_req;

/** A command that must run in the prebuild sandbox after install (npm install
 *  scripts, dpkg maintainer scripts, `cargo install` …). cache/ runs them in
 *  order with the staging root as the writable layer. */
typedef struct ec_build_step {
    char *what;   /* "express@4.18.0 install script" — names it in logs and errors */
    char *cwd;    /* inside the sandbox root, absolute */
    char **argv;  /* NULL-terminated */
    char **env;   /* extra NAME=VALUE, NULL-terminated, may be NULL */
    bool needs_mirror; /* the manager fetches through the mirror on loopback */
} ec_build_step;

/** What a note says; each manager renders its own words (ec_manager.render_note). */
typedef enum ec_note_kind {
    EC_NOTE_SCRIPTS_NOT_RUN,  /* a package's install scripts were not run (warned) */
    EC_NOTE_SCRIPTS,          /* a package's scripts run as build steps */
    EC_NOTE_SKIPPED_OPTIONAL, /* an optional dependency was left out */
    EC_NOTE_UPGRADE,          /* a package of the layers beneath is upgraded */
    EC_NOTE_UPGRADE_LEFTOVER, /* a file the upgrade dropped could not be hidden */
    EC_NOTE_TRIGGER,          /* a trigger of a package beneath was activated */
    EC_NOTE_FILE_CONFLICT,    /* two packages ship one path; one copy was kept */
    EC_NOTE__COUNT
} ec_note_kind;

/** One warning or remark of an install, for people and for the warm-up record. */
typedef struct ec_note {
    ec_note_kind kind;
    char *package;  /* owned; NULL when the note is not about one package */
    char *version;  /* owned; may be NULL */
    json_t *detail; /* owned object of the manager's own fields (path, trigger …), or NULL */
} ec_note;

/** "scripts_not_run", …: the kind's name in records; "note" for an unknown kind. */
const char *ec_note_kind_name(ec_note_kind k);
/** The kind named @name; false when none is. */
bool ec_note_kind_parse(ec_note_kind *out, const char *name);
/** True for kinds a warm-up prints as warnings (people must act or know). */
bool ec_note_kind_warns(ec_note_kind k);

typedef struct ec_install_result {
    ec_build_step *steps;
    size_t nsteps;
    ec_note *notes;
    size_t nnotes;
    /* Directories under the staging root ("usr/local/lib/python3.11/dist-packages",
     * relative) where the sandbox prunes no noise after the steps: what a step made
     * there on purpose that noise lists name elsewhere (bytecode a step compiled for the
     * layer). NULL-terminated, owned; may be NULL. */
    char **keep;
} ec_install_result;
void ec_install_result_fini(ec_install_result *r);
/** Adds a note; consumes @detail (may be NULL). */
void ec_install_note(ec_install_result *r, ec_note_kind kind, const char *package,
                     const char *version, json_t *detail);
/** The notes as a JSON array of {"kind", "package", "version", …detail} for records. */
json_t *ec_install_notes_json(const ec_install_result *r);

/* --- the mirror's server-neutral request and response --- */

typedef struct ec_mirror_req {
    const char *method;   /* "GET" or "HEAD" */
    const char *path;     /* after /mirror/<manager>/, still percent-encoded */
    const char *base_url; /* how the client reached this manager's mirror, for URL
                             rewriting: "http://127.0.0.1:8080/mirror/npm" */
    const char *(*header)(const struct ec_mirror_req *r, const char *name); /* or NULL */
    void *server_ud;
} ec_mirror_req;

typedef struct ec_mirror_resp {
    int status;
    char content_type[128];
    char etag[128];
    /* body: bytes in @body, or a file (a store blob) served from @fd */
    ec_buf body;
    int fd;               /* -1 when the body is in @body; owned by the response */
    uint64_t offset, length;
    bool from_upstream;   /* this answer needed an upstream request (metrics, tests) */
} ec_mirror_resp;
void ec_mirror_resp_init(ec_mirror_resp *r);
void ec_mirror_resp_fini(ec_mirror_resp *r);

/** A manager's operations (curl's handler split: the entry's data lives in manager.h; a
 *  NULL op means "not supported"). */
typedef struct ec_fetcher {
    unsigned builder_version;   /* bump when install output changes; part of the layer key */
    bool serve_cache_only;      /* serve honours ctx->cache_only: the server tries hits on
                                   its own threads and hands only misses to a worker */
    bool fetch_in_install;      /* the lock names every artifact's digest at resolve, and
                                   install fetches them itself, overlapping downloads with
                                   unpacking: the warm-up does not call fetch */

    /** @req → a new canonical lock in *@lock_out. Errors name the spec. */
    int (*resolve)(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out,
                   ec_err *err);
    /** Downloads every artifact of @lock into the store, verifying each; fills each
     *  package's "sha256". Nothing unverified is kept. */
    int (*fetch)(ec_fetch_ctx *ctx, json_t *lock, ec_err *err);
    /** Lays @lock's (fetched) packages out under @staging (empty, exists). */
    int (*install)(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                   ec_install_result *out, ec_err *err);
    /** Answers one mirror request; EC_OK with resp->status set (404 included), or an
     *  error for failures the server reports as 502/500. */
    int (*serve)(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err);
} ec_fetcher;

/** Canonical bytes of @lock (sorted keys, compact) and their sha256. Caller frees. */
char *ec_lock_dump(const json_t *lock);
void ec_lock_digest(const json_t *lock, ec_digest *out);
