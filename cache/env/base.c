/* SPDX-License-Identifier: MIT */
/* Base images: import, bootstrap with mmdebstrap (keyed by the archive's state), default. */
#include "cache/env/base.h"
#include "cache/cache_int.h"
#include "fetchers/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/buf.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"
#include "store/util/spawn.h"


static const char base_key_tag[] = "envcache-base-v1";

int ec_base_import(ec_layer_info *out, ec_cache *c, const char *path, ec_err *err)
{
    return ec_layer_import(out, c->st, path, EC_LAYER_BASE, NULL, NULL, err);
}

/* --- default base --- */


/* --- bootstrap --- */

struct boot {
    const char *suite, *variant;
    const char *customize;   /* the provider's, or NULL */
    char *mirror, *includes; /* includes sorted and comma-joined */
    ec_digest release;
    char date[64];
    char *security;          /* the security archive's URL, or NULL */
    ec_digest sec_release;
    char sec_date[64];
    ec_digest key;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "b,a,,b" -> "a,b": the order and repetition of --include do not change the base. */
static char *sort_includes(const char *list)
{
    if (!list || !*list)
        return ec_xstrdup("");
    EC_AUTOFREE char *copy = ec_xstrdup(list);
    EC_AUTOFREE char **v = ec_xcalloc(strlen(list) + 1, sizeof *v);
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        v[n++] = t;
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    ec_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(v[i], v[i - 1]) == 0)
            continue;
        ec_buf_addf(&b, NULL, "%s%s", b.n ? "," : "", v[i]);
    }
    return b.p ? ec_buf_steal(&b) : ec_xstrdup("");
}

static void put_str(ec_sha256 *h, const char *s)
{
    size_t n = strlen(s);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)n >> (8 * i));
    ec_sha256_update(h, le, sizeof le);
    ec_sha256_update(h, s, n);
}

static void boot_key(struct boot *b)
{
    char rel[EC_DIGEST_STR_LEN];
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    put_str(h, base_key_tag);
    put_str(h, b->suite);
    put_str(h, b->variant);
    put_str(h, b->includes);
    put_str(h, b->mirror);
    put_str(h, ec_digest_format(rel, &b->release));
    put_str(h, b->date);
    if (b->customize)
        put_str(h, b->customize);
    if (b->security) { /* bases from before the security archive keep their keys */
        put_str(h, b->security);
        put_str(h, ec_digest_format(rel, &b->sec_release));
        put_str(h, b->sec_date);
    }
    ec_sha256_final(ec_steal(&h), &b->key);
}

/* The layer recorded under the key, if it and its blob are still there. */
static bool boot_lookup(ec_layer_info *out, ec_cache *c, const struct boot *b)
{
    return ec_cache__layer_for_key(out, c->st, &b->key);
}

static int boot_record(ec_cache *c, const struct boot *b, const ec_layer_info *l, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r == EC_OK)
        r = ec_cache__layer_key_put(txn, &b->key, &l->digest, err);
    if (r < 0)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}

/* The last few lines of mmdebstrap's log, for the error message. */
static void log_tail(char *out, size_t n, const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (ec_read_file(&text, &len, path, 64 << 20, NULL) < 0)
        return;
    const char *p = text + len;
    for (int lines = 0; p > text && lines < 9; p--)
        lines += p[-1] == '\n';
    snprintf(out, n, "%s", p);
}

static int run_mmdebstrap(const struct boot *b, const char *tar, const char *log,
                          bool quiet, ec_err *err)
{
    EC_AUTOFREE char *variant = ec_xasprintf("--variant=%s", b->variant);
    EC_AUTOFREE char *include = ec_xasprintf("--include=%s", b->includes);
    /* --skip=output/dev: the store refuses device nodes; the sandbox makes its own /dev. */
    EC_AUTOFREE char *sec = b->security ? ec_xasprintf("deb %s %s-security main", b->security,
                                                       b->suite)
                                        : NULL;
    EC_AUTOFREE char *customize =
        b->customize ? ec_xasprintf("--customize-hook=%s", b->customize) : NULL;
    const char *argv[13] = {"mmdebstrap", "--mode=root", variant, "--format=tar",
                            "--skip=output/dev"};
    size_t k = 5;
    if (customize)
        argv[k++] = customize;
    if (b->includes[0])
        argv[k++] = include;
    argv[k++] = b->suite;
    argv[k++] = tar;
    argv[k++] = b->mirror;
    if (sec)
        argv[k++] = sec;
    int st;
    ec_spawn_opts so = {.log = log};
    int r = ec_spawn_wait(&st, argv, &so, err);
    if (r < 0) { /* ec_spawn_wait's message says what; this says what to do */
        ec_err_prefix(err, "bootstrapping a base (install the Debian package mmdebstrap)");
        return r;
    }
    if (!quiet) {
        char tail[900];
        log_tail(tail, sizeof tail, log);
        ec_info("mmdebstrap: %s", tail);
    }
    if (st == 0)
        return EC_OK;
    char tail[700];
    log_tail(tail, sizeof tail, log);
    return ec_fail(err, EC_EBUILD, "mmdebstrap %s %s %s failed (status %d); last lines of "
                   "its log:\n%s", b->variant, b->suite, b->mirror, st, tail);
}

static int boot_build(ec_layer_info *out, ec_cache *c, const struct boot *b, bool quiet,
                      ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *rel = ec_xasprintf("sandbox/bootstrap-%s", rnd);
    EC_AUTOFREE char *dir = ec_store_path(c->st, rel);
    EC_AUTOFREE char *tar = ec_xasprintf("%s/rootfs.tar", dir);
    EC_AUTOFREE char *log = ec_xasprintf("%s/mmdebstrap.log", dir);
    int r = ec_mkdir_p(dir, 0700, err);
    if (r == EC_OK)
        r = run_mmdebstrap(b, tar, log, quiet, err);
    if (r == EC_OK)
        r = ec_base_import(out, c, tar, err);
    if (r == EC_OK)
        r = boot_record(c, b, out, err);
    ec_rm_rf(dir, NULL);
    return r;
}

/* The manager whose entry provides bases; the table has at most one. */
static const ec_base_provider *base_provider(ec_err *err)
{
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++)
        if (m[i]->bases)
            return m[i]->bases;
    ec_fail(err, EC_EUNSUPPORTED, "no package manager of this build provides bases");
    return NULL;
}

/* The archive: --mirror, else the host's sources for the suite. */
static int boot_mirror(struct boot *b, const ec_base_provider *p,
                       const ec_base_bootstrap_opts *o, ec_err *err)
{
    if (o->mirror) {
        b->mirror = ec_xstrdup(o->mirror);
        return EC_OK;
    }
    int r = p->archive_find(&b->mirror, o->sources_dir, b->suite, err);
    if (r < 0)
        ec_err_prefix(err, "no --mirror given");
    return r;
}

/* The suite's security archive from the host's sources, as an installed Debian has it:
 * Debian's current toolchains (rustc-web) and fixes are updated there only. None when
 * the archive is given by --mirror, or the host has none. */
static int boot_security(struct boot *b, const ec_base_provider *p,
                         const ec_base_bootstrap_opts *o, ec_err *err)
{
    if (o->mirror || o->no_security)
        return EC_OK;
    EC_AUTOFREE char *suite = ec_xasprintf("%s-security", b->suite);
    int r = p->archive_find(&b->security, o->sources_dir, suite, NULL);
    if (r < 0) {
        b->security = NULL;
        return EC_OK;
    }
    r = p->release_probe(&b->sec_release, b->sec_date, b->security, suite, err);
    if (r < 0)
        ec_err_prefix(err, "cannot read the state of the security archive %s", b->security);
    return r;
}

/* --include, and the runtimes when asked: Rust from the security archive if it is in. */
static char *boot_includes(const ec_base_bootstrap_opts *o, const struct boot *b,
                           const ec_base_provider *p)
{
    if (!o->runtimes)
        return sort_includes(o->include);
    EC_AUTOFREE char *all = ec_xasprintf("%s%s%s",
                                         b->security ? p->runtimes_with_security : p->runtimes,
                                         o->include ? "," : "", o->include ? o->include : "");
    return sort_includes(all);
}

static int boot_prepare(struct boot *b, const ec_base_bootstrap_opts *o, ec_err *err)
{
    const ec_base_provider *p = base_provider(err);
    if (!p)
        return EC_EUNSUPPORTED;
    b->suite = o->suite ? o->suite : "bookworm";
    b->variant = o->variant ? o->variant : "minbase";
    int r = boot_mirror(b, p, o, err);
    if (r < 0)
        return r;
    r = p->release_probe(&b->release, b->date, b->mirror, b->suite, err);
    if (r < 0) {
        ec_err_prefix(err, "cannot read the archive's state");
        return r;
    }
    if ((r = boot_security(b, p, o, err)) < 0)
        return r;
    b->includes = boot_includes(o, b, p);
    b->customize = p->customize;
    boot_key(b);
    return EC_OK;
}

int ec_base_bootstrap(ec_layer_info *out, bool *reused_out, ec_cache *c,
                      const ec_base_bootstrap_opts *o, ec_err *err)
{
    static const ec_base_bootstrap_opts defaults = {0};
    struct boot b = {0};
    bool reused = false;
    if (!out || !c)
        return ec_fail(err, EC_EINVAL, "base bootstrap: missing argument");
    int r = boot_prepare(&b, o ? o : &defaults, err);
    if (r == EC_OK && !(o && o->force) && boot_lookup(out, c, &b)) {
        reused = true;
        ec_layer_touch(c->st, &out->digest, NULL);
    } else if (r == EC_OK) {
        r = boot_build(out, c, &b, o && o->quiet, err);
    }
    free(b.mirror);
    free(b.security);
    free(b.includes);
    if (r == EC_OK && reused_out)
        *reused_out = reused;
    return r;
}

int ec_base_default_ensure(ec_digest *out, ec_cache *c, bool quiet, ec_err *err)
{
    ec_err e = {0};
    int r = ec_base_default_get(out, c, &e);
    if (r != EC_ENOTFOUND) {
        if (r < 0 && err)
            *err = e;
        return r;
    }
    const char *auto_base = getenv("ENVCACHE_AUTO_BASE");
    if (auto_base && (strcmp(auto_base, "0") == 0 || strcmp(auto_base, "off") == 0))
        return ec_fail(err, EC_ENOTFOUND, "no default base is set, and $ENVCACHE_AUTO_BASE=%s "
                       "says not to make one: set one with `envcache base default`",
                       auto_base);
    if (!quiet)
        ec_info("no default base is set: bootstrapping one with the common runtimes "
                "(`envcache base bootstrap --runtimes`); this takes minutes, once");
    const ec_base_bootstrap_opts o = {.runtimes = true, .quiet = quiet};
    ec_layer_info l;
    r = ec_base_bootstrap(&l, NULL, c, &o, err);
    if (r == EC_OK)
        r = ec_base_default_set(c, &l.digest, err);
    if (r < 0) {
        ec_err_prefix(err, "no default base is set, and making one failed");
        return r;
    }
    char d[EC_DIGEST_STR_LEN];
    if (!quiet)
        ec_info("default base set: %s", ec_digest_format(d, &l.digest));
    *out = l.digest;
    return EC_OK;
}
