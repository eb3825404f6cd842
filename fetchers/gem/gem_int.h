/* SPDX-License-Identifier: MIT */
/* Private to fetchers/gem/: what its files share. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetchers/fetcher.h"
#include "fetchers/spec.h"
#include "store/util/buf.h"
#include "store/util/err.h"

/** A gem list entry → its parsed form; EC_EINVAL naming the rule broken. */
int gem_spec_parse(ec_spec *out, const char *text, ec_err *err);

/* --- Gem::Version, Gem::Requirement, Gem::Platform (gem_version.c) --- */

#define GEM_VER_MAX 64
#define GEM_SEG_MAX 24

/** A parsed Gem::Version: its text, and its canonical segments (runs of digits or
 *  letters, trailing zeros of the release and pre-release parts dropped). */
typedef struct gem_ver {
    char text[GEM_VER_MAX];
    char canon[GEM_VER_MAX]; /* the text with '-' read as ".pre." */
    unsigned n;
    struct { bool str; uint64_t num; uint8_t off, len; } seg[GEM_SEG_MAX];
    bool pre;                /* has a letter: a pre-release */
} gem_ver;

/** False when @s is not a version in Gem::Version's pattern (or too long). */
bool gem_ver_parse(gem_ver *out, const char *s, size_t n);
/** Gem::Version#<=>: -1, 0 or 1. */
int gem_ver_cmp(const gem_ver *a, const gem_ver *b);

typedef enum gem_op { GEM_EQ, GEM_NE, GEM_GT, GEM_LT, GEM_GE, GEM_LE, GEM_TILDE } gem_op;

typedef struct gem_req {
    unsigned n;
    struct { gem_op op; gem_ver v; } c[8];
} gem_req;

/** A requirement list: constraints joined by @sep ("," from -v, "&" from info lines),
 *  each `[op] version`. "" is ">= 0". False when malformed. */
bool gem_req_parse(gem_req *out, const char *s, char sep);
bool gem_req_match(const gem_req *r, const gem_ver *v);
/** True when any constraint names a pre-release (then pre-releases may match). */
bool gem_req_pre(const gem_req *r);

/** Gem::Platform#=== of a gem's platform against the local one ("x86_64-linux"); "ruby"
 *  always installs. */
bool gem_platform_installable(const char *gem_platform, const char *local);

/* --- the compact index (gem_index.c) --- */

/** Seconds a cached /versions or /info document is used without asking upstream. */
#define GEM_INDEX_TTL 300

/** One line of an /info file: a version of a gem. Borrowed from the gem_info that holds it. */
typedef struct gem_entry {
    gem_ver ver;
    char platform[64];      /* "ruby" for pure gems */
    char checksum[65];      /* sha256 hex of the .gem */
    struct { char *name; gem_req req; } *deps;
    size_t ndeps;
    gem_req ruby, rubygems; /* required_ruby_version, required_rubygems_version */
} gem_entry;

typedef struct gem_info {
    char *name;
    gem_entry *e;
    size_t n;
} gem_info;

void gem_info_free(gem_info *gi);
/** Parses an /info file of @name. EC_EFORMAT naming the line. */
int gem_info_parse(gem_info *out, const char *name, const char *body, size_t n, ec_err *err);
/** The MD5 the compact index's /versions text lists for @name's info file (the last line
 *  of the gem wins) into @out, or false when /versions does not name it. */
bool gem_versions_md5(const char *versions, const char *name, char out[33]);

/** The body of a compact index document (@path: "versions", "info/NAME", "names"), from
 *  the store when fetched less than @ttl seconds ago, else from upstream (revalidated
 *  with its ETag) and stored. *@upstream_out is set when upstream was asked (may be
 *  NULL). Caller frees *@body. EC_ENOTFOUND when upstream has no such document. */
int gem_index_doc(ec_fetch_ctx *ctx, const char *path, int64_t ttl, ec_buf *body,
                  bool *upstream_out, ec_err *err);
/** The info file of @name, checked against the MD5 that /versions lists for it
 *  (EC_EINTEGRITY naming the gem when they differ; nothing is kept). */
int gem_index_info(ec_fetch_ctx *ctx, const char *versions, const char *name, gem_info *out,
                   ec_err *err);
/** The store key of a file of the mirror ("gem/gems/rack-2.2.22.gem"). Caller frees. */
char *gem_file_key(const char *path);

/* --- a .gem (gem_package.c) --- */

/** What a native install needs of a .gem: its specification's name, bindir, programs and
 *  whether it has extensions, and its data.tar.gz. */
typedef struct gem_pkg {
    char *name, *bindir;
    char **exec;
    size_t nexec, nextensions;
    const char *not_plain; /* why the data cannot be laid out natively, or NULL */
    ec_buf data;           /* data.tar.gz */
} gem_pkg;

/** Reads the .gem at @path (@full names it in messages). EC_EARCHIVE / EC_EFORMAT naming
 *  the gem when it is not a gem. */
int gem_pkg_read(gem_pkg *out, const char *path, const char *full, ec_err *err);
/** Unpacks the data into the existing directory @dir as Gem::Package#extract_files does;
 *  EC_EUNSAFE naming the gem and path for a path or symlink that leaves it. */
int gem_pkg_unpack(const gem_pkg *p, const char *dir, const char *full, ec_err *err);
void gem_pkg_fini(gem_pkg *p);

/* --- program wrappers (gem_binstub.c) --- */

/** True when the wrapper template here is the one of this RubyGems version. */
bool gem_binstub_known(const char *rubygems_version);
/** True for a program name written into a wrapper as it is (no quoting needed). */
bool gem_binstub_name_ok(const char *name);
/** The wrapper of @gem's @program: @ruby is Gem.ruby beneath, @first_line the program's
 *  first line. Caller frees. */
char *gem_binstub_text(const char *ruby, const char *first_line, const char *gem,
                       const char *program);

/* --- the operations --- */
int gem_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err);
int gem_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err);
int gem_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                ec_install_result *out, ec_err *err);
int gem_serve(ec_fetch_ctx *ctx, const ec_mirror_req *req, ec_mirror_resp *resp, ec_err *err);
/** The first source of the host's gem configuration (~/.gemrc, /etc/gemrc), or NULL. */
char *gem_source_configured(void);
