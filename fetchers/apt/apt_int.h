/* SPDX-License-Identifier: MIT */
/* What the apt fetcher's parts share: sources, verified indexes, the solver's output
 * (the lock's packages) and the install step. One job per file:
 *   apt_sources.c   sources from the fetch config / the base's sources.list and deb822
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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetchers/fetcher.h"

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
 *  when set, else the base's (ctx->base_root) /etc/apt/sources.list(.d) in both the
 *  one-line and deb822 forms, else the host's. EC_ENOTFOUND when there is none. */
int ec_apt_sources_load(ec_apt_sources *out, const ec_fetch_ctx *ctx, ec_err *err);
void ec_apt_sources_fini(ec_apt_sources *s);

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

/** Fetches and verifies InRelease (signature, Date not in the future, Valid-Until not
 *  passed) and each component's Packages index for @s->arch (compressed form chosen from
 *  the release, by-hash when the release offers it), checking sizes and SHA256 against
 *  the release. Errors name the URL and the check that failed; nothing unverified is
 *  stored. Caller frees with ec_apt_indexes_free. */
int ec_apt_indexes_get(ec_apt_index **out, size_t *n_out, ec_fetch_ctx *ctx,
                       const ec_apt_sources *s, ec_err *err);
void ec_apt_indexes_free(ec_apt_index *v, size_t n);

/* --- resolution --- */

typedef struct ec_apt_solve_opts {
    bool recommends;        /* install Recommends too (default false: --no-install-recommends) */
    const char *status;     /* the base's /var/lib/dpkg/status, or NULL (nothing installed) */
    const char *arch;       /* native architecture */
} ec_apt_solve_opts;

/** Solves @specs ("name", "name=version", "name:arch") against @idx with libsolv, the
 *  base's installed packages taken as installed. *@out is the lock's "packages" array:
 *  one object per package to install, sorted by name then arch, with
 *  "name", "version", "arch", "multi_arch", "url" (source uri + Filename), "filename",
 *  "sha256" (from Packages: also the .deb's blob digest), "size", "essential" (bool),
 *  "source" (the archive route name). Errors: unknown package, virtual package with
 *  several providers (the message lists them), unsatisfiable (libsolv's problem text). */
int ec_apt_solve(json_t **out, const ec_apt_index *idx, size_t nidx,
                 const char *const *specs, size_t nspecs, const ec_apt_solve_opts *o,
                 ec_err *err);

/* --- install --- */

/** Unpacks every .deb of @lock (blobs named by "sha256") into @staging and writes the dpkg
 *  database there: the base's status (from ctx->base_root) plus one stanza per package,
 *  info/<pkg>.list (".." arch-qualified for Multi-Arch: same), .md5sums, .conffiles and
 *  the maintainer scripts. Packages whose scripts must run are left "unpacked" and a build
 *  step `dpkg --configure --pending` is returned for the prebuild sandbox. */
int ec_apt_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                   ec_install_result *out, ec_err *err);

/* --- mirror --- */

int ec_apt_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp,
                 ec_err *err);
