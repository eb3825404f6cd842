/* SPDX-License-Identifier: MIT */
/* One manager's part of a warm-up: its lock (reused while the specs are unchanged), its
 * layer key, and the layer, built at most once per key across threads and processes. */
#include "cache/warm/layer_key.h"
#include "cache/oci/oci.h"
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

/* --- locks --- */

/* What a lock was resolved from; equal specs against the same upstream share a lock. */
static void specs_digest(ec_digest *out, const ec_warm_mgr *m)
{
    EC_AUTO(json_t) j = json_pack("{s:s, s:s, s:O, s:s, s:O?}", "manager", m->mgr->name,
                                  "upstream", m->ctx.upstream, "specs", m->specs, "platform",
                                  PLATFORM, "config", (json_t *)m->ctx.config);
    if (m->mgr->flags & EC_MANAGER_RESOLVES_ON_LOWERS) /* what is installed beneath counts */
        json_object_set(j, "lowers", (json_t *)m->lower_stack);
    if (m->probe) /* the interpreter or toolchain beneath, as it describes itself */
        json_object_set_new(j, "probe", json_string(m->probe));
    ec_lock_digest(j, out);
}

static int lock_resolve(ec_warm_mgr *m, json_t **lock_out, ec_err *err)
{
    bool on_lowers = m->mgr->flags & EC_MANAGER_RESOLVES_ON_LOWERS;
    ec_resolve_req req = {.specs = m->parsed, .texts = m->texts, .nspecs = m->nspecs,
                          .lowers = m->lowers.digests, .nlowers = m->lowers.n,
                          .lowers_root = on_lowers ? m->lowers.root : NULL,
                          .platform = PLATFORM, .upstream = m->ctx.upstream,
                          .probe = m->probe, .progress = m->ctx.progress,
                          .progress_ud = m->ctx.progress_ud};
    int r = m->mgr->ops->resolve(&m->ctx, &req, lock_out, err);
    m->resolved = r == EC_OK;
    return r;
}

/* Fetch is decided here alone: a fetcher that fetches in install never is; a lock
 * resolved now is fetched before it is saved (so the saved lock names every artifact's
 * blob); a reused lock is fetched when its layer is built. */
static bool fetch_needed(const ec_warm_mgr *m, bool at_resolve)
{
    return !m->mgr->ops->fetch_in_install && at_resolve == m->resolved;
}

static int fetch_if_needed(ec_warm_mgr *m, json_t *lock, bool at_resolve, ec_err *err)
{
    return fetch_needed(m, at_resolve) ? m->mgr->ops->fetch(&m->ctx, lock, err) : EC_OK;
}

/* --- layer keys --- */

int ec_warm__layer_key(ec_digest *out, const ec_warm_mgr *m, ec_err *err)
{
    char builder[32];
    snprintf(builder, sizeof builder, "%u", m->mgr->ops->builder_version);
    ec_layer_key_in in = {.manager = m->mgr->name, .lock = &m->lock_digest,
                          .platform = PLATFORM, .builder = builder,
                          .runs_code = (m->mgr->flags & EC_MANAGER_RUNS_CODE) ||
                                       json_is_true(json_object_get(m->lock, "runs_code")),
                          .lowers = m->lowers.digests, .nlowers = m->lowers.n};
    return ec_layer_key(out, &in, err);
}

static int record_layer(ec_store *st, const ec_digest *key, const ec_layer_info *l, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r == EC_OK)
        r = ec_layer_put(txn, l, err);
    if (r == EC_OK)
        r = ec_cache__layer_key_put(txn, key, &l->digest, err);
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

/* --- building --- */

static void progress(ec_warm_mgr *m, ec_phase phase)
{
    if (!m->ctx.progress)
        return;
    ec_progress_event p = {.manager = m->mgr->name, .phase = phase};
    m->ctx.progress(&p, m->ctx.progress_ud);
}

static void warn_notes(const ec_warm_mgr *m, const ec_install_result *res)
{
    for (size_t i = 0; i < res->nnotes; i++) {
        if (!ec_note_kind_warns(res->notes[i].kind))
            continue;
        ec_buf line = EC_BUF_INIT;
        ec_note_render(&line, m->mgr, &res->notes[i]);
        ec_warn("%s: %s", m->mgr->name, line.n ? line.p : "?");
        ec_buf_fini(&line);
    }
}

static bool steps_need_mirror(const ec_warm_mgr *m, const ec_install_result *res)
{
    bool need = m->mgr->flags & EC_MANAGER_BUILD_NEEDS_MIRROR;
    for (size_t i = 0; i < res->nsteps; i++)
        need |= res->steps[i].needs_mirror;
    return need;
}

/* Scripts and maintainer scripts run once, here, on the layers beneath, writing into the
 * staging tree; no session ever runs them. */
static int run_steps(ec_warm_mgr *m, const char *staging, const ec_install_result *res,
                     ec_err *err)
{
    uint16_t port = 0;
    int r = EC_OK;
    if (steps_need_mirror(m, res))
        r = ec_cache__mirror_port(&port, m->c, err);
    progress(m, EC_PHASE_BUILDING);
    if (r == EC_OK)
        r = ec_sandbox_run_steps(&m->log, m->c, m->lowers.digests, m->lowers.n, staging,
                                 res->steps, res->nsteps, port,
                                 (const char *const *)res->keep, err);
    m->ran_code = r == EC_OK;
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
    int r = fetch_if_needed(m, lock, false, err);
    if (r == EC_OK)
        r = m->mgr->ops->install(&m->ctx, lock, staging, &res, err);
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
        ec_debug("warm: %s build steps ran in %lld ms", m->mgr->name,
                 (long long)(ec_mono_us() - t0) / 1000);
    }
    if (r == EC_OK) {
        warn_notes(m, &res);
        json_decref(m->notes);
        m->notes = res.nnotes ? ec_install_notes_json(&res) : NULL;
        progress(m, EC_PHASE_PACKING);
        int64_t t0 = ec_mono_us();
        r = ec_layer_pack_dir(out, m->ctx.store, staging, NULL, err);
        ec_debug("warm: %s layer packed in %lld ms", m->mgr->name,
                 (long long)(ec_mono_us() - t0) / 1000);
    }
    int64_t t1 = ec_mono_us();
    flush_join(&fl);
    if (r == EC_OK) /* the first mount then has nothing to extract */
        r = ec_layer_adopt_dir(m->ctx.store, out, staging, err);
    ec_debug("warm: %s layer adopted in %lld ms", m->mgr->name,
             (long long)(ec_mono_us() - t1) / 1000);
    ec_install_result_fini(&res);
    return r;
}

static int build_layer(ec_warm_mgr *m, json_t *lock, ec_layer_info *out, ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *staging = ec_xasprintf("%s/tmp/stage-%s-%s",
                                             ec_store_home(m->ctx.store), m->mgr->name, rnd);
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

/* --- the remote tier (cache/oci/): consulted before resolving and building, told after;
 * its failures cost a build, never the warm-up --- */

static void remote_warn(const ec_warm_mgr *m, const char *what, int r, ec_err *e)
{
    if (r < 0 && r != EC_ENOTFOUND)
        ec_warn("%s: %s on the remote failed (%s)", m->mgr->name, what, e->msg);
    ec_err_clear(e);
}

static int remote_lock(ec_warm_mgr *m, const ec_digest *specs, json_t **lock)
{
    ec_err e = {0};
    int r = ec_oci_tier_lock_get(lock, m->c, specs, &e);
    if (r == EC_OK)
        r = ec_warm__lock_save(&m->lock_digest, m->ctx.store, specs, *lock, &e);
    remote_warn(m, "looking up the lock", r, &e);
    if (r < 0)
        json_decref(ec_steal(lock));
    return r;
}

static int remote_layer(ec_warm_mgr *m, const ec_digest *key)
{
    ec_err e = {0};
    int r = ec_oci_tier_layer_for_key(&m->layer, m->c, key, &e);
    remote_warn(m, "pulling the layer", r, &e);
    if (r == EC_OK)
        ec_info("%s: layer pulled from the remote", m->mgr->name);
    return r;
}

int ec_warm__manager(ec_warm_mgr *m, bool refresh, ec_err *err)
{
    ec_digest specs;
    specs_digest(&specs, m);
    EC_AUTO(json_t) lock = NULL;
    ec_err rerr = {0};
    int r = EC_OK;
    if (!refresh && ec_warm__lock_find(&lock, m->ctx.store, &specs) < 0 &&
        remote_lock(m, &specs, &lock) == EC_OK)
        ec_lock_digest(lock, &m->lock_digest);
    else if (refresh || !lock) {
        progress(m, EC_PHASE_RESOLVING);
        json_decref(ec_steal(&lock));
        if ((r = lock_resolve(m, &lock, err)) < 0)
            return r;
        if ((r = fetch_if_needed(m, lock, true, err)) < 0 ||
            (r = ec_warm__lock_save(&m->lock_digest, m->ctx.store, &specs, lock, err)) < 0)
            return r;
        remote_warn(m, "publishing the lock", ec_oci_tier_lock_put(m->c, &specs, lock, &rerr),
                    &rerr);
    } else
        ec_lock_digest(lock, &m->lock_digest);
    m->lock = json_incref(lock);
    if (m->lock_only)
        return EC_OK;

    ec_digest key;
    if ((r = ec_warm__layer_key(&key, m, err)) < 0)
        return r;
    if (ec_cache__layer_for_key(&m->layer, m->ctx.store, &key)) {
        m->reused = true;
        return EC_OK;
    }
    EC_AUTOFD int lfd = -1;
    if ((r = key_lock(&lfd, m->ctx.store, &key, err)) < 0)
        return r;
    if (ec_cache__layer_for_key(&m->layer, m->ctx.store, &key)) /* built while we waited */
        m->reused = true;
    else if (remote_layer(m, &key) == EC_OK) /* built on another node */
        m->reused = true;
    else if ((r = build_and_record(m, lock, &key, err)) == EC_OK)
        remote_warn(m, "publishing the layer",
                    ec_oci_tier_publish(m->c, &key, &m->layer, m->lowers.digests,
                                        m->lowers.n, &rerr), &rerr);
    /* Unlinked while held: a waiter on the old file re-checks the key before building, so
     * at worst a failed build is retried, never a finished one repeated. */
    EC_AUTOFREE char *path = key_lock_path(m->ctx.store, &key);
    unlink(path);
    return r;
}
