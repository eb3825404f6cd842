/* SPDX-License-Identifier: MIT */
/* What the apt fetcher's parts share: sources, verified indexes, the solver's output
 * (the lock's packages) and the install step. One job per file:
 *   apt_sources.c   sources from the fetch config / the base's sources.list and deb822
 *   apt_base.c      the bases hooks of the manager entry (archive of a suite, its state)
 *   apt_release_probe.c  an archive's InRelease digest and Date, unverified, to key a base
 *   apt_gate.c      downloads overlapping install: the gate and the artifact streams
 *   apt_release.c   InRelease: fetch, verify (gpgv/sqv + keyring), Date/Valid-Until, hashes
 *   apt_index.c     Packages indexes: fetched (by-hash when offered), checked, stored
 *   apt_version.c   dpkg version comparison (for tests and tie-breaks; libsolv has its own)
 *   apt_solve.c     the closure with libsolv against the base's dpkg status
 *   apt_deb.c       .deb reading (ar + control.tar.* + data.tar.*) with libarchive
 *   apt_dpkgdb.c    the dpkg database of the layer: status, info/<pkg>.list, md5sums, conffiles
 *   apt_install.c   the install op: unpack every .deb, write the database, build steps
 *   apt_mirror.c    the serve op: /mirror/apt/<archive>/dists/… and /pool/…
 *   apt_fetcher.c   the fetcher table, resolve and fetch
 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fetchers/fetcher.h"
#include "fetchers/manager.h"

/* --- sources --- */

typedef struct ec_apt_source {
    char *uri;          /* "http://host/debian" (no trailing slash) */
    char *suite;        /* "bookworm", "bookworm-security" */
    char **components;  /* "main", … */
    size_t ncomponents;
    char *signed_by;    /* keyring path, or NULL for the default keyring */
    char *name;         /* the mirror's route name: the URI path's last part ("debian") */
} ec_apt_source;

typedef struct ec_apt_sources {
    ec_apt_source *v;
    size_t n;
    char *arch;         /* "amd64" */
    char *keyring;      /* default keyring (config "keyring", else Debian's archive keyring) */
} ec_apt_sources;

/** Reads the sources: ctx->config "sources" ([{uri, suite, components[], signed_by?}])
 *  when set, else the base's (ctx->lowers_root) /etc/apt/sources.list(.d) in both the
 *  one-line and deb822 forms, else the host's. EC_ENOTFOUND when there is none. */
int ec_apt_sources_load(ec_apt_sources *out, const ec_fetch_ctx *ctx, ec_err *err);
/** Reads the sources in @apt_dir's sources.list and sources.list.d/ alone (no config, no
 *  fallback), keeping those for @arch. EC_ENOTFOUND when there is none. */
int ec_apt_sources_load_dir(ec_apt_sources *out, const char *apt_dir, const char *arch,
                            ec_err *err);
void ec_apt_sources_fini(ec_apt_sources *s);
/** The host's dpkg architecture ("amd64"). */
const char *ec_apt__host_arch(void);
/** The manager entry's session_render: the root's sources through the mirror
 *  (apt_session.c). */
int ec_apt_session_render(const char *root, const char *mirror, ec_session_put_fn put,
                          void *ud, ec_err *err);

/* --- verified indexes --- */

/** One Packages index, verified against its signed release and kept in the store
 *  (uncompressed), ready for libsolv. */
typedef struct ec_apt_index {
    const ec_apt_source *source; /* borrowed */
    char *component;
    ec_digest blob;              /* the uncompressed Packages file in the store */
    char *path;                  /* its path (ec_blob_path) */
    char *release_date;          /* the InRelease Date, for the lock */
} ec_apt_index;

typedef struct ec_apt_pool ec_apt_pool;

/** Fetches and verifies InRelease (signature, Date not in the future, Valid-Until not
 *  passed) and each component's Packages index for @s->arch (compressed form chosen from
 *  the release, by-hash when the release offers it), checking sizes and SHA256 against
 *  the release. Errors name the URL and the check that failed; nothing unverified is
 *  stored. With @first, the first source's first index is also fed to that pool as it
 *  downloads (ec_apt_pool_feed_begin). Caller frees with ec_apt_indexes_free. */
int ec_apt_indexes_get(ec_apt_index **out, size_t *n_out, ec_fetch_ctx *ctx,
                       const ec_apt_sources *s, ec_apt_pool *first, ec_err *err);
void ec_apt_indexes_free(ec_apt_index *v, size_t n);

/* --- resolution --- */

/** Parses an apt list entry (`name`, `name=version`, `name:arch`, `name:arch=version`) into @out: name, qualifier
 *  (architecture, "" when absent) and constraint (exact version, "" for the candidate).
 *  EC_EINVAL naming the rule broken. */
int ec_apt_spec_parse(ec_spec *out, const char *text, ec_err *err);

/** The libsolv pool a resolution solves in, begun before the indexes arrive: the base's
 *  installed packages from @status (NULL: none). The first index can be parsed into it
 *  while it downloads: begin, feed the plain bytes, then end with the digest they were
 *  verified as (NULL: they were not, and nothing of them stays). A retry begins again. */
int ec_apt_pool_new(ec_apt_pool **out, const char *status, ec_err *err);
void ec_apt_pool_free(ec_apt_pool *p);
void ec_apt_pool_feed_begin(ec_apt_pool *p);
void ec_apt_pool_feed(ec_apt_pool *p, const void *buf, size_t n);
void ec_apt_pool_feed_end(ec_apt_pool *p, const ec_digest *verified);
EC_DEFINE_AUTO(ec_apt_pool, ec_apt_pool_free)

typedef struct ec_apt_solve_opts {
    bool recommends;        /* install Recommends too (default false: --no-install-recommends) */
    const char *status;     /* the base's /var/lib/dpkg/status, or NULL (nothing installed) */
    const char *arch;       /* native architecture */
    ec_apt_pool *pool;      /* begun by the caller (status then ignored), or NULL; spent */
} ec_apt_solve_opts;

/** Solves @specs (parsed by ec_apt_spec_parse) against @idx with libsolv, the
 *  base's installed packages taken as installed. *@out is the lock's "packages" array:
 *  one object per package to install, sorted by name then arch, with
 *  "name", "version", "arch", "multi_arch", "url" (source uri + Filename), "filename",
 *  "sha256" (from Packages: also the .deb's blob digest), "size", "essential" (bool),
 *  "source" (the archive route name). Errors: unknown package, virtual package with
 *  several providers (the message lists them), unsatisfiable (libsolv's problem text). */
int ec_apt_solve(json_t **out, const ec_apt_index *idx, size_t nidx,
                 const ec_spec *specs, size_t nspecs, const ec_apt_solve_opts *o,
                 ec_err *err);
/** ec_apt_solve of specs as written (drivers and tests: the warm-up parses them once). */
int ec_apt_solve_texts(json_t **out, const ec_apt_index *idx, size_t nidx,
                       const char *const *texts, size_t n, const ec_apt_solve_opts *o,
                       ec_err *err);

/* --- downloads overlapping install (apt_gate.c) --- */

/** Downloads still arriving on another thread while install runs (they overlap): install
 *  waits here for an artifact it does not have yet, or reads it while it downloads.
 *  apt_install in apt_fetcher.c makes one per install and hands it to both sides. */
typedef struct ec_apt_stream ec_apt_stream;
typedef struct ec_apt_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* the downloads ended; @rc says how */
    int rc;
    ec_err err;
    ec_apt_stream **streams; /* artifacts readable while they download */
    size_t nstreams;
} ec_apt_gate;
void ec_apt_gate_init(ec_apt_gate *g);
void ec_apt_gate_fini(ec_apt_gate *g);
/** An artifact arrived (called by the downloading thread). */
void ec_apt_gate_signal(ec_apt_gate *g);
/** The downloads ended with @rc (and @err when it failed). */
void ec_apt_gate_finish(ec_apt_gate *g, int rc, const ec_err *err);
/** Waits until blob @d is in the store: EC_OK, or the downloads' error when they ended
 *  without it. */
int ec_apt_gate_wait(ec_apt_gate *g, ec_store *st, const ec_digest *d, ec_err *err);
/** As ec_apt_gate_wait, but returns as soon as @d can be read while it downloads:
 *  then *@s is set (release it with ec_apt_stream_release) and the blob may not be
 *  stored yet; else *@s is NULL and the blob is in the store. */
int ec_apt_gate_wait_stream(ec_apt_gate *g, ec_store *st, const ec_digest *d,
                            ec_apt_stream **s, ec_err *err);

/*
 * A stream holds one artifact's body as it arrives, for one reader that starts before the
 * download ends: a large .deb then unpacks while it downloads instead of after. The bytes
 * are unverified: the reader hashes what it read and compares with the digest it expects
 * (a retried download restarts the body, so the bytes a reader sees may come from two
 * attempts; only a match proves them). Memory: what the reader has not consumed yet.
 */
/** Offers @d as a stream (the downloading thread, before the transfer starts). */
ec_apt_stream *ec_apt_gate_stream_new(ec_apt_gate *g, const ec_digest *d);
/** The producer's side: body bytes, a restart (a retry), the end. @ok false: the download
 *  failed and the reader's next read fails. Each takes the producer's reference at _end. */
void ec_apt_stream_append(ec_apt_stream *s, const void *p, size_t n);
void ec_apt_stream_restart(ec_apt_stream *s);
void ec_apt_stream_end(ec_apt_stream *s, bool ok);
/** The reader's side: up to @cap bytes, waiting for them; 0 at the end, -1 (errno EIO)
 *  when the download failed. */
ssize_t ec_apt_stream_read(ec_apt_stream *s, void *buf, size_t cap);
void ec_apt_stream_release(ec_apt_stream *s);

/* --- install --- */

/** Unpacks every .deb of @lock (blobs named by "sha256") into @staging and writes the dpkg
 *  database there: the base's status (from ctx->lowers_root) plus one stanza per package,
 *  info/<pkg>.list (".." arch-qualified for Multi-Arch: same), .md5sums, .conffiles and
 *  the maintainer scripts. Packages whose scripts must run are left "unpacked" and a build
 *  step `dpkg --configure --pending` is returned for the prebuild sandbox. With @gate
 *  (not NULL) the .debs may still be downloading: each unpack waits for its own there, or
 *  reads it as it arrives. */
int ec_apt_install(ec_fetch_ctx *ctx, ec_apt_gate *gate, const json_t *lock,
                   const char *staging, ec_install_result *out, ec_err *err);

/* --- release files (apt_release.c): shared by the indexes and the mirror --- */

/** One entry of a Release hash section: " <hex> <size> <path>". */
typedef struct ec_apt_relfile {
    char *path;        /* relative to dists/<suite>/ ("main/binary-amd64/Packages.xz") */
    ec_digest sha256;
    uint64_t size;
} ec_apt_relfile;

/** A verified, parsed Release (from InRelease). */
typedef struct ec_apt_release {
    char *text;           /* the signed text as the verifier printed it */
    char *date;           /* the Date field as written */
    int64_t date_t;       /* seconds since the epoch */
    int64_t valid_until;  /* 0 when absent */
    bool by_hash;         /* Acquire-By-Hash: yes */
    ec_digest inrelease;  /* the InRelease blob (byte-for-byte as upstream sent it) */
    ec_apt_relfile *files; /* the SHA256 section */
    size_t nfiles;
    bool from_upstream;   /* getting it needed an upstream request */
} ec_apt_release;

/** Fetches {uri}/dists/{suite}/InRelease through the metadata cache (MIRROR key
 *  "apt/<uri>/dists/<suite>/InRelease", revalidated with its ETag after config
 *  "release_ttl" seconds, default 300), verifies it with gpgv (sqv when gpgv is missing)
 *  against @src->signed_by or @s->keyring before anything is stored, and checks Date
 *  (not in the future) and Valid-Until (config "check_valid_until": false disables).
 *  EC_EINTEGRITY for a bad signature or date, EC_ENOTFOUND when upstream has no InRelease.
 *  Caller frees with ec_apt_release_fini. */
int ec_apt_release_get(ec_apt_release *out, ec_fetch_ctx *ctx, const ec_apt_sources *s,
                       const ec_apt_source *src, const char *suite, ec_err *err);
void ec_apt_release_fini(ec_apt_release *r);
/** The SHA256 entry for @path, or NULL; borrowed from @r. */
const ec_apt_relfile *ec_apt_release_find(const ec_apt_release *r, const char *path);
/** Parses a Release text (no signature check) into @out's date, valid_until, by_hash and
 *  files; the fuzzable part. EC_EFORMAT names the bad line. */
int ec_apt_release_parse(ec_apt_release *out, const char *text, size_t len, ec_err *err);

/** A mutable upstream document (Release, Release.gpg) through the same metadata cache as
 *  InRelease, stored as sent without any check: *@out is its blob. MIRROR key "apt/<url>".
 *  Sets *@upstream when a request was made. */
int ec_apt_doc_get(ec_digest *out, bool *upstream, ec_fetch_ctx *ctx, const char *url,
                   ec_err *err);

/** Config "release_ttl" (seconds, default 300). */
int64_t ec_apt_release_ttl(const ec_fetch_ctx *ctx);

/** The state of @url's @suite for keying a base: the sha256 and Date of
 *  {url}/dists/{suite}/InRelease, fetched in one request (at most 4 MiB) and not verified.
 *  EC_ENOTFOUND on HTTP 404, EC_ESYS when the host cannot be reached. */
int ec_apt_release_probe(ec_digest *digest_out, char date[64], const char *url,
                         const char *suite, ec_err *err);

/** The entry's bases hooks (apt_base.c). */
extern const ec_base_provider ec_apt_bases;

/* --- indexes (apt_index.c) --- */

/** Makes sure the index file @f of @rel (from {uri}/dists/{suite}/) is in the store, fetching
 *  it by-hash when the release offers it (else by name) with its Release SHA256 checked
 *  while streaming. No request when the blob is already stored. */
int ec_apt_relfile_fetch(ec_fetch_ctx *ctx, const ec_apt_source *src, const char *suite,
                         const ec_apt_release *rel, const ec_apt_relfile *f, bool *upstream,
                         ec_err *err);

/* --- pool files: the MIRROR records the mirror and the fetch op share --- */

/** MIRROR key of a pool file: "apt/<route>/<filename>" where @filename is the Packages
 *  Filename ("pool/main/h/hello/hello_2.10-3_amd64.deb"). Value: the 32 raw sha256
 *  bytes of the .deb (its blob). Caller frees. */
char *ec_apt_pool_key(const char *route, const char *filename);
/** The blob of a pool file. EC_ENOTFOUND when unknown or no longer stored. */
int ec_apt_pool_lookup(ec_digest *out, ec_store *st, const char *route, const char *filename,
                       ec_err *err);
/** Records that @filename of archive @route is blob @d (already stored and verified). */
int ec_apt_pool_record(ec_store *st, const char *route, const char *filename,
                       const ec_digest *d, ec_err *err);
/** Finds @filename's SHA256 and Size in the uncompressed Packages file at @path (a line
 *  scan of the stanza whose Filename matches). EC_ENOTFOUND when no stanza has it. */
int ec_apt_packages_find(ec_digest *sha_out, uint64_t *size_out, const char *path,
                         const char *filename, ec_err *err);

/* --- mirror --- */

/** Routes under /mirror/apt/<route>/: dists/<suite>/{InRelease,Release,Release.gpg} (as
 *  upstream sent them, cached with the release TTL), dists/<suite>/<file listed in the
 *  Release> (served as the verified Release names it), …/by-hash/SHA256/<hex> (immutable,
 *  checked against the hex) and pool/… (.debs checked against the verified Packages
 *  indexes, one download however many clients miss at once). Unknown paths: 404. */
int ec_apt_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err);
