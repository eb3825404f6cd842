/* SPDX-License-Identifier: MIT */
/* One manager's part of a warm-up: its lock (reused while the specs are unchanged), its
 * layer key, and the layer, built at most once per key across threads and processes. */
#include "cache/warm/layer_key.h"
#include "cache/sandbox/sandbox.h"
#include "cache/warm/warm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define PLATFORM "linux/amd64"

static char *digest_str(const ec_digest *d)
{
    char s[EC_DIGEST_STR_LEN];
    return ec_xstrdup(ec_digest_format(s, d));
}

/* --- locks --- */

/* What a lock was resolved from; equal specs against the same upstream share a lock. */
static char *specs_key(const ec_warm_mgr *m)
{
    EC_AUTO(json_t) j = json_pack("{s:s, s:s, s:O, s:s, s:O?}", "manager", m->f->name,
                                  "upstream", m->ctx.upstream, "specs", m->specs, "platform",
                                  PLATFORM, "config", (json_t *)m->ctx.config);
    if (m->f->runs_code) /* apt solves against the base's installed packages */
        json_object_set(j, "lowers", (json_t *)m->lowers);
    ec_digest d;
    ec_lock_digest(j, &d);
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("specs/%s", ec_digest_hex(hex, &d));
}

static int lock_load(json_t **out, ec_store *st, const char *skey)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, EC_TBL_LOCKS, skey, strlen(skey), &v, &n, NULL) < 0)
        return EC_ENOTFOUND;
    EC_AUTOFREE char *lkey = ec_xasprintf("lock/%.*s", (int)n, (const char *)v);
    if (ec_kv_get(txn, EC_TBL_LOCKS, lkey, strlen(lkey), &v, &n, NULL) < 0)
        return EC_ENOTFOUND;
    *out = json_loadb(v, n, 0, NULL);
    return *out ? EC_OK : EC_ENOTFOUND;
}

/* Stores the lock under its digest and points the specs at it. */
static int lock_save(ec_store *st, const char *skey, const json_t *lock, ec_digest *d,
                     ec_err *err)
{
    EC_AUTOFREE char *text = ec_lock_dump(lock);
    ec_sha256_buf(d, text, strlen(text));
    EC_AUTOFREE char *ds = digest_str(d);
    EC_AUTOFREE char *lkey = ec_xasprintf("lock/%s", ds);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, EC_TBL_LOCKS, lkey, strlen(lkey), text, strlen(text), 0, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, EC_TBL_LOCKS, skey, strlen(skey), ds, strlen(ds), 0, err);
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

static int lock_resolve(ec_warm_mgr *m, json_t **lock_out, ec_err *err)
{
    size_t n = json_array_size(m->specs);
    const char **specs = ec_xcalloc(n + 1, sizeof *specs);
    for (size_t i = 0; i < n; i++)
        specs[i] = json_string_value(json_array_get(m->specs, i));
    int r = m->f->resolve(&m->ctx, specs, n, lock_out, err);
    free(specs);
    m->resolved = r == EC_OK;
    return r;
}

/* --- layer keys --- */

int ec_warm__layer_key(ec_digest *out, const ec_warm_mgr *m, const json_t *lowers,
                       ec_err *err)
{
    size_t n = json_array_size(lowers);
    ec_digest *ds = ec_xcalloc(n ? n : 1, sizeof *ds);
    char builder[32];
    snprintf(builder, sizeof builder, "%u", m->f->builder_version);
    int r = EC_OK;
    for (size_t i = 0; i < n && r == EC_OK; i++)
        r = ec_digest_parse(&ds[i], json_string_value(json_array_get(lowers, i)), err);
    ec_layer_key_in in = {.manager = m->f->name, .lock = &m->lock_digest,
                          .platform = PLATFORM, .builder = builder,
                          .runs_code = m->f->runs_code ||
                                       json_is_true(json_object_get(m->lock, "runs_code")),
                          .lowers = ds, .nlowers = n};
    if (r == EC_OK)
        r = ec_layer_key(out, &in, err);
    free(ds);
    return r;
}

static bool layer_for_key(ec_store *st, const ec_digest *key, ec_layer_info *out)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, EC_TBL_LAYER_KEYS, key->b, sizeof key->b, &v, &n, NULL) < 0 ||
        n != sizeof out->digest.b)
        return false;
    ec_digest d;
    memcpy(d.b, v, n);
    return ec_layer_lookup(out, txn, &d, NULL) == EC_OK && ec_store_has_blob(st, &d);
}

static int record_layer(ec_store *st, const ec_digest *key, const ec_layer_info *l, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r == EC_OK)
        r = ec_layer_put(txn, l, err);
    if (r == EC_OK)
        r = ec_kv_put(txn, EC_TBL_LAYER_KEYS, key->b, sizeof key->b, l->digest.b,
                      sizeof l->digest.b, 0, err);
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

/* --- building --- */

static void progress(ec_warm_mgr *m, ec_phase phase)
{
    if (!m->ctx.progress)
        return;
    ec_progress_event p = {.manager = m->f->name, .phase = phase};
    m->ctx.progress(&p, m->ctx.progress_ud);
}

static void warn_notes(ec_warm_mgr *m, const json_t *notes)
{
    size_t i;
    json_t *n;
    json_array_foreach(notes, i, n) {
        if (strcmp(json_string_value(json_object_get(n, "kind")), "scripts_not_run") == 0)
            ec_warn("%s: %s@%s has install scripts; they were not run (the prebuild sandbox "
                    "will run them) — the lock marks it", m->f->name,
                    json_string_value(json_object_get(n, "name")),
                    json_string_value(json_object_get(n, "version")));
    }
}

/* Scripts and maintainer scripts run once, here, on the layers beneath, writing into the
 * staging tree; no session ever runs them. */
static int run_steps(ec_warm_mgr *m, const char *staging, const ec_install_result *res,
                     ec_err *err)
{
    size_t n = json_array_size(m->lowers);
    ec_digest *ds = ec_xcalloc(n ? n : 1, sizeof *ds);
    int r = EC_OK;
    for (size_t i = 0; i < n && r == EC_OK; i++)
        r = ec_digest_parse(&ds[i], json_string_value(json_array_get(m->lowers, i)), err);
    progress(m, EC_PHASE_BUILDING);
    if (r == EC_OK)
        r = ec_sandbox_run_steps(&m->log, m->c, ds, n, staging, res->steps, res->nsteps, 0,
                                 err);
    m->ran_code = r == EC_OK;
    free(ds);
    return r;
}

/* The staging tree is written to disk while the steps run and the pack reads it back, so
 * that the adopt's own sync (the tree is published as the unpacked layer) finds little
 * left to write. Only a head start: adopt syncs again whatever happens here. */
struct flush {
    pthread_t th;
    int fd;
    bool started;
};

static void *flush_main(void *arg)
{
    struct flush *f = arg;
    if (syncfs(f->fd) < 0)
        ec_debug("warm: early sync of the staging tree: %s", strerror(errno));
    return NULL;
}

static void flush_start(struct flush *f, const char *staging)
{
    f->fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->started = f->fd >= 0 && pthread_create(&f->th, NULL, flush_main, f) == 0;
}

static void flush_join(struct flush *f)
{
    if (f->started)
        pthread_join(f->th, NULL);
    f->started = false;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static int build_in(ec_warm_mgr *m, json_t *lock, const char *staging, ec_layer_info *out,
                    ec_err *err)
{
    ec_install_result res = {0};
    struct flush fl = {.fd = -1};
    /* a lock resolved just now was fetched before it was saved */
    int r = m->f->fetch_in_install || m->resolved ? EC_OK : m->f->fetch(&m->ctx, lock, err);
    if (r == EC_OK)
        r = m->f->install(&m->ctx, lock, staging, &res, err);
    /* The times the layer will have (0), before the steps run: caches that scripts build
     * and key on directory mtimes (fontconfig's, made by fc-cache) then match the layer.
     * fc-cache even drops a cache at once when its directory changed this second. */
    if (r == EC_OK && res.nsteps)
        r = ec_zero_times(staging, err);
    if (r == EC_OK)
        flush_start(&fl, staging);
    if (r == EC_OK && res.nsteps) {
        int64_t t0 = ec_mono_us();
        r = run_steps(m, staging, &res, err);
        ec_debug("warm: %s build steps ran in %lld ms", m->f->name,
                 (long long)(ec_mono_us() - t0) / 1000);
    }
    if (r == EC_OK) {
        warn_notes(m, res.notes);
        json_decref(m->notes);
        m->notes = json_incref(res.notes);
        progress(m, EC_PHASE_PACKING);
        int64_t t0 = ec_mono_us();
        r = ec_layer_pack_dir(out, m->ctx.store, staging, NULL, err);
        ec_debug("warm: %s layer packed in %lld ms", m->f->name,
                 (long long)(ec_mono_us() - t0) / 1000);
    }
    int64_t t1 = ec_mono_us();
    flush_join(&fl);
    if (r == EC_OK) /* the first mount then has nothing to extract */
        r = ec_layer_adopt_dir(m->ctx.store, out, staging, err);
    ec_debug("warm: %s layer adopted in %lld ms", m->f->name,
             (long long)(ec_mono_us() - t1) / 1000);
    ec_install_result_fini(&res);
    return r;
}

static int build_layer(ec_warm_mgr *m, json_t *lock, ec_layer_info *out, ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *staging = ec_xasprintf("%s/tmp/stage-%s-%s",
                                             ec_store_home(m->ctx.store), m->f->name, rnd);
    int r = ec_mkdir_p(staging, 0755, err);
    if (r == EC_OK)
        r = build_in(m, lock, staging, out, err);
    ec_rm_rf(staging, NULL);
    return r;
}

/* One builder per key, across processes: the others wait on the lock, then find the
 * layer recorded. */
static char *key_lock_path(ec_store *st, const ec_digest *key)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("%s/tmp/build-%s.lock", ec_store_home(st), ec_digest_hex(hex, key));
}

static int key_lock(int *fd_out, ec_store *st, const ec_digest *key, ec_err *err)
{
    EC_AUTOFREE char *path = key_lock_path(st, key);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", path);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            close(fd);
            return ec_fail_sys(err, errno, "cannot lock %s", path);
        }
    *fd_out = fd;
    return EC_OK;
}

static int build_and_record(ec_warm_mgr *m, json_t *lock, const ec_digest *key, ec_err *err)
{
    int64_t t0 = ec_mono_us();
    int r = build_layer(m, lock, &m->layer, err);
    if (r < 0)
        return r;
    m->layer.created = m->layer.last_used = ec_now();
    m->build_us = ec_mono_us() - t0;
    r = record_layer(m->ctx.store, key, &m->layer, err);
    if (r == EC_OK && m->ran_code)
        r = ec_sandbox_record_log(m->c, &m->layer.digest, &m->log, err);
    return r;
}

int ec_warm__manager(ec_warm_mgr *m, const json_t *lowers, bool refresh, ec_err *err)
{
    m->lowers = lowers;
    EC_AUTOFREE char *skey = specs_key(m);
    EC_AUTO(json_t) lock = NULL;
    int r = EC_OK;
    if (refresh || lock_load(&lock, m->ctx.store, skey) < 0) {
        progress(m, EC_PHASE_RESOLVING);
        json_decref(ec_steal(&lock));
        if ((r = lock_resolve(m, &lock, err)) < 0)
            return r;
        /* Fetch before saving: the saved lock names every artifact's blob (unless the
         * resolution named them already). */
        if ((!m->f->fetch_in_install && (r = m->f->fetch(&m->ctx, lock, err)) < 0) ||
            (r = lock_save(m->ctx.store, skey, lock, &m->lock_digest, err)) < 0)
            return r;
    } else
        ec_lock_digest(lock, &m->lock_digest);
    m->lock = json_incref(lock);

    ec_digest key;
    if ((r = ec_warm__layer_key(&key, m, lowers, err)) < 0)
        return r;
    if (layer_for_key(m->ctx.store, &key, &m->layer)) {
        m->reused = true;
        return EC_OK;
    }
    EC_AUTOFD int lfd = -1;
    if ((r = key_lock(&lfd, m->ctx.store, &key, err)) < 0)
        return r;
    if (layer_for_key(m->ctx.store, &key, &m->layer)) /* built while we waited */
        m->reused = true;
    else
        r = build_and_record(m, lock, &key, err);
    /* Unlinked while held: a waiter on the old file re-checks the key before building, so
     * at worst a failed build is retried, never a finished one repeated. */
    EC_AUTOFREE char *path = key_lock_path(m->ctx.store, &key);
    unlink(path);
    return r;
}
