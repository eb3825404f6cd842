/* SPDX-License-Identifier: MIT */
/* What apt_deb.c, apt_dpkgdb.c and apt_install.c share: one .deb as the install step sees
 * it (its control members in memory, the paths of its data), and the database writer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "fetchers/apt/apt_int.h"

/* The control.tar members dpkg keeps (in info/ or in status), by index. */
#define EC_APT_CTL_MEMBERS(X)                                                              \
    X(CONTROL, "control") X(MD5SUMS, "md5sums") X(CONFFILES, "conffiles")                  \
    X(PREINST, "preinst") X(POSTINST, "postinst") X(PRERM, "prerm") X(POSTRM, "postrm")   \
    X(TRIGGERS, "triggers") X(SHLIBS, "shlibs") X(SYMBOLS, "symbols")                     \
    X(TEMPLATES, "templates") X(CONFIG, "config")

enum ec_apt_ctl {
#define EC__APT_CTL_ENUM(id, name) EC_APT_CTL_##id,
    EC_APT_CTL_MEMBERS(EC__APT_CTL_ENUM)
#undef EC__APT_CTL_ENUM
    EC_APT_CTL__COUNT
};

/** The file name of control member @i ("md5sums"). */
const char *ec_apt__ctl_name(int i);

typedef struct ec_apt_path {
    char *path; /* clean, relative, as the package names it: "usr/bin/jq" */
    char *dest; /* where it was written when an alias moved it ("usr/lib/…"), else NULL */
    bool dir;
    bool lost;  /* a later package's file replaced it: not in this package's .list */
} ec_apt_path;

typedef struct ec_apt_deb {
    /* from the lock (borrowed from its JSON) */
    const char *name, *version, *arch, *multi_arch;
    size_t index;               /* lock order: later packages win file conflicts */
    /* control.tar, NUL-terminated, NULL when absent */
    char *ctl[EC_APT_CTL__COUNT];
    size_t ctl_len[EC_APT_CTL__COUNT];
    /* data.tar, in archive order */
    ec_apt_path *paths;
    size_t npaths, cappaths;
} ec_apt_deb;

void ec_apt__deb_fini(ec_apt_deb *d);
/** "libc6:amd64" for Multi-Arch: same, else "jq": the info/ file stem. Caller frees. */
char *ec_apt__deb_stem(const ec_apt_deb *d);
bool ec_apt__deb_ma_same(const ec_apt_deb *d);

/** Reads the .deb blob @blob (verifying its digest as it streams): debian-binary 2.x, the
 *  control.tar into @d->ctl, then extracts the data.tar with @x (in place into @staging;
 *  @x->on_entry is the caller's, and must record @d's paths). With @in, the bytes come from
 *  that stream of a download still running instead of the store, checked the same way.
 *  Errors name the package and the entry: EC_EUNSAFE, EC_ELIMIT, EC_EARCHIVE, EC_EFORMAT,
 *  EC_EINTEGRITY; EC_ENETWORK when the stream's download failed. */
int ec_apt__deb_unpack(ec_apt_deb *d, ec_store *st, const ec_digest *blob,
                       ec_apt_stream *in, const char *staging, const ec_unpack_limits *lim,
                       const ec_extract_opts *x, ec_err *err);

/** The value of control field @field (case-insensitive) in the stanza @text, continuation
 *  lines included, without the trailing newline; NULL when absent. Caller frees. */
char *ec_apt__field(const char *text, const char *field);

/** The md5 ("32 hex") that @d's md5sums lists for @path (relative), or false. */
bool ec_apt__deb_md5(const ec_apt_deb *d, const char *path, char out[33]);

/** What the database writer needs besides the packages. */
typedef struct ec_apt_db_in {
    const char *base_root;  /* or NULL: no base, empty status */
    const char *staging;
    ec_apt_deb *debs;
    size_t ndebs;
    const bool *unpacked;   /* per deb: left "unpacked" for dpkg --configure */
    json_t *notes;          /* upgrades and triggers are noted here (array) */
    const char *const *alias_from, *const *alias_to; /* the base's directory links */
    size_t naliases;
} ec_apt_db_in;

/** Writes staging/var/lib/dpkg: status (the base's, new stanzas merged in, triggers the
 *  new files activate marked pending on their interested packages), info/<stem>.list and
 *  the control members. For an upgrade of a base package, what the old version had and
 *  the new one does not (files outside /etc, info/ members) gets an overlay whiteout.
 *  *@pending_out: some base package now awaits trigger processing. */
int ec_apt__dpkgdb_write(const ec_apt_db_in *in, bool *pending_out, ec_err *err);
