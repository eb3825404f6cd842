/* SPDX-License-Identifier: MIT */
/* Sessions: a stack of unpacked layers mounted at a target with a private upper, recorded
 * in LMDB so that GC keeps its layers and deleting its environment is refused. */
#include "cache/session/session_int.h"
#include "store/util/fault.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SESSION_ID_MAX 128

static int check_session_id(const char *id, ec_err *err)
{
    size_t n = strlen(id);
    if (n == 0 || n > SESSION_ID_MAX || id[0] == '.' ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return ec_fail(err, EC_EINVAL,
                       "session id \"%s\": use 1-%d letters, digits, '.', '_' or '-'", id,
                       SESSION_ID_MAX);
    return EC_OK;
}

/* The environment's stack, refusing archived environments (no new session may use them)
 * and those whose packages are not warmed (the root would be missing them). */
static int env_layers(json_t **stack_out, ec_cache *c, const char *ws, const char *env_id,
                      ec_err *err)
{
    EC_AUTO(json_t) env = NULL;
    int r = ec_env_get(&env, c, ws, env_id, err);
    if (r < 0)
        return r;
    if (!json_is_null(json_object_get(env, "archived_at")))
        return ec_cache__env_archived(err, env_id, "no new session may use it");
    if ((r = ec_session__env_ready(c, env, err)) < 0)
        return r;
    return ec_env_stack(stack_out, c, ws, env_id, err);
}

static int resolve_layers(json_t **digests_out, ec_cache *c, const ec_session_opts *o,
                          ec_err *err)
{
    if (o->env_id)
        return env_layers(digests_out, c, o->ws, o->env_id, err);
    EC_AUTO(json_t) digests = json_array();
    for (size_t i = 0; i < o->nlayers; i++) {
        ec_layer_info l;
        char s[EC_DIGEST_STR_LEN];
        int r = ec_layer_resolve(&l, c->st, o->layers[i], err);
        if (r < 0)
            return r;
        json_array_append_new(digests, json_string(ec_digest_format(s, &l.digest)));
    }
    *digests_out = ec_steal(&digests);
    return EC_OK;
}

/* The session's layers, looked up in one read txn; *@unpacked_out says whether every one
 * is unpacked already (the usual case: warm-ups leave them so). */
static int lookup_layers(ec_layer_info **out, bool *unpacked_out, ec_cache *c,
                         const json_t *digests, ec_err *err)
{
    size_t n = json_array_size(digests);
    EC_AUTOFREE ec_layer_info *v = ec_xcalloc(n ? n : 1, sizeof *v);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    bool unpacked = true;
    EC_AUTOFREE bool *missing = ec_xcalloc(n ? n : 1, sizeof *missing);
    ec_err miss = {0};
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        ec_digest d;
        r = ec_digest_parse(&d, json_string_value(json_array_get(digests, i)), err);
        if (r == EC_OK && (r = ec_layer_lookup(&v[i], txn, &d, &miss)) < 0 &&
            !(r == EC_ENOTFOUND && c->remote_layer) && err)
            *err = miss;
        if (r == EC_ENOTFOUND && c->remote_layer) { /* not here: asked of the remote below */
            v[i].digest = d;
            missing[i] = true;
            unpacked = false;
            r = EC_OK;
            continue;
        }
        if (r == EC_OK && unpacked) {
            EC_AUTOFREE char *dir = ec_layer_unpacked_path(c->st, &v[i]);
            unpacked = dir != NULL;
        }
    }
    ec_txn_abort(ec_steal(&txn)); /* the remote's pull writes */
    for (size_t i = 0; r == EC_OK && i < n; i++)
        if (missing[i] && c->remote_layer(&v[i], c, &v[i].digest, NULL) < 0) {
            if (err)
                *err = miss;
            r = miss.code;
        }
    if (r == EC_OK) {
        *out = ec_steal(&v);
        *unpacked_out = unpacked;
    }
    return r;
}

/* Unpacks (if needed) each layer and returns the lower directories, lowest first. */
static int lower_dirs(char ***dirs_out, size_t *n_out, ec_cache *c, const ec_layer_info *layers,
                      size_t nlayers, const char *base_dir, ec_err *err)
{
    size_t n = nlayers + (base_dir ? 1 : 0), k = 0;
    char **dirs = ec_xcalloc(n + 1, sizeof *dirs);
    int r = EC_OK;
    if (base_dir)
        dirs[k++] = ec_xstrdup(base_dir);
    for (size_t i = 0; r == EC_OK && i < nlayers; i++) {
        r = ec_layer_ensure_unpacked(&dirs[k], c->st, &layers[i], err);
        ec_layer_info l;
        if (r == EC_ENOTFOUND && c->remote_layer &&
            c->remote_layer(&l, c, &layers[i].digest, NULL) == EC_OK) {
            ec_err_clear(err); /* this node lacked the layer's blob: the remote had it */
            r = ec_layer_ensure_unpacked(&dirs[k], c->st, &l, err);
        }
        if (r == EC_OK)
            k++;
    }
    if (r < 0) {
        for (size_t i = 0; i < k; i++)
            free(dirs[i]);
        free(dirs);
        return r;
    }
    *dirs_out = dirs;
    *n_out = k;
    return EC_OK;
}

static void free_dirs(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

static json_t *session_object(const char *id, const ec_session_opts *o, const char *target,
                              const json_t *digests)
{
    char now[32];
    ec_cache__rfc3339(now, ec_now());
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:O, s:s?, s:s, s:s, s:O*, s:O*}", "id", id,
                     "type", "session", "environment_id", o->env_id, "workspace",
                     o->ws ? o->ws : EC_DEFAULT_WORKSPACE, "status", "idle", "target", target,
                     "layers", digests, "base", o->base_dir, "mode", "pending", "created_at",
                     now, "agent", o->agent, "mcp_servers", o->mcp_servers);
}

static int find_in(json_t **out, ec_cache *c, ec_txn *txn, const char *ws, const char *key,
                   ec_err *err);

/* Two sessions on one target would stack a second overlay over the first (or copy into
 * it), and unmounting either would pull the root from under the other. */
static int check_target_free(ec_cache *c, ec_txn *txn, const char *target, ec_err *err)
{
    EC_AUTO(json_t) holder = NULL;
    int r = find_in(&holder, c, txn, NULL, target, err);
    if (r < 0)
        return r;
    if (!holder)
        return EC_OK;
    const char *other = json_string_value(json_object_get(holder, "id"));
    r = ec_fail(err, EC_ECONFLICT, "%s is already the target of session %s; unmount it first "
                "(`envcache umount --session %s`) or pick another target", target, other, other);
    ec_err_detail(err, "target_in_use");
    return r;
}

/* Layers a session mounts were used now: last_used is GC's LRU hint. */
static int touch_layers(ec_txn *txn, const ec_layer_info *layers, size_t n, ec_err *err)
{
    int64_t now = ec_now();
    int r = EC_OK;
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        ec_layer_info l = layers[i];
        l.last_used = now;
        r = ec_layer_put(txn, &l, err);
    }
    return r;
}

/* Commits @txn, first indexing the records that wait as files (session_deferred.c): a
 * txn that syncs anyway takes them along. */
static int commit_adopting(ec_cache *c, ec_txn *txn, ec_err *err)
{
    int r = ec_session__deferred_adopt(c, txn, err);
    if (r < 0) {
        ec_txn_abort(txn);
        return r;
    }
    return ec_txn_commit(txn, err);
}

/* The first put checks the target again in its write txn (makers of one target also hold
 * its lock, see ec_session_create). One txn, one sync: the record, the layers' last use
 * and the records waiting as files. */
static int put_session(ec_cache *c, const char *id, const json_t *s, unsigned flags,
                       const ec_layer_info *layers, size_t nlayers, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    const char *target = json_string_value(json_object_get(s, "target"));
    int r = ec_txn_begin(&txn, c->st, EC_TXN_LAZY, err);
    if (r == EC_OK && (flags & EC_KV_NOOVERWRITE))
        r = check_target_free(c, txn, target, err);
    if (r < 0)
        return r;
    r = ec_session__put(txn, id, s, flags, err);
    if (r == EC_ECONFLICT)
        return ec_fail(err, EC_ECONFLICT, "session %s already exists; pick another id or "
                                          "`envcache umount --session %s` first", id, id);
    if (r == EC_OK)
        r = touch_layers(txn, layers, nlayers, err);
    return r < 0 ? r : commit_adopting(c, ec_steal(&txn), err);
}

static char *session_dir(ec_cache *c, const char *id)
{
    return ec_xasprintf("%s/sessions/%s", ec_store_home(c->st), id);
}

void ec_session__discard_dir(ec_cache *c, const char *id)
{
    EC_AUTOFREE char *sdir = session_dir(c, id);
    ec_rm_rf(sdir, NULL);
}

static void forget_session(ec_cache *c, const char *id)
{
    EC_AUTO(ec_txn) txn = NULL;
    if (ec_txn_begin(&txn, c->st, EC_TXN_LAZY, NULL) < 0)
        return;
    /* Its record file goes before the commit, while we are the only writer: once the
     * index forgets it, no adopter may find the file and index it again. */
    int r = ec_session__deferred_adopt(c, txn, NULL);
    if (r == EC_OK && (r = ec_session__del(txn, id, NULL)) == EC_ENOTFOUND)
        r = EC_OK;
    if (r == EC_OK) {
        ec_session__deferred_drop(c, id);
        ec_txn_commit(ec_steal(&txn), NULL);
    }
}


int ec_session__forget(ec_cache *c, const char *id, ec_err *err)
{
    EC_AUTOFREE char *sdir = session_dir(c, id);
    int r = ec_rm_rf(sdir, err);
    if (r == EC_OK)
        forget_session(c, id);
    return r;
}

/* Which mount namespace mounted it: a session mounted in another (a service's private
 * one) is not visible here, and must not be taken for a vanished one. */
static void note_mount_ns(const char *sdir, const char *target)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/" EC_SESSION_MOUNT_NS, sdir);
    EC_AUTOFREE char *text =
        ec_xasprintf("%llu\n%s\n", (unsigned long long)ec_session__mount_ns(), target);
    /* Not synced: it means nothing after a reboot, when the mount is gone too. */
    ec_write_file_volatile(path, text, strlen(text), 0600, NULL);
}

static int mount_session(enum ec_mount_mode *mode, ec_cache *c, const char *id, char **dirs,
                         size_t n, const char *target, unsigned flags, ec_err *err)
{
    EC_AUTOFREE char *sdir = session_dir(c, id);
    EC_AUTOFREE char *upper = ec_xasprintf("%s/upper", sdir);
    EC_AUTOFREE char *work = ec_xasprintf("%s/work", sdir);
    /* The upper, made exclusively, claims the id: two makers of one id (a retried request,
     * a reused container id) on two targets take two target locks, and only one gets it.
     * (The directory itself may exist already: an API session's target is in it.) */
    int r = ec_mkdir_p(sdir, 0755, err);
    if (r == EC_OK && mkdir(upper, 0755) < 0)
        return errno == EEXIST
                   ? ec_fail(err, EC_ECONFLICT, "session %s already exists; pick another id "
                             "or `envcache umount --session %s` first", id, id)
                   : ec_fail_sys(err, errno, "cannot create %s", upper);
    if (r == EC_OK)
        r = ec_mkdir_p(work, 0700, err);
    if (r == EC_OK)
        note_mount_ns(sdir, target);
    if (r == EC_OK)
        r = ec_mkdir_p(target, 0755, err);
    if (r == EC_OK)
        r = ec_mount_stack(mode, (const char *const *)dirs, n, upper, work, target,
                           flags | EC_MOUNT_VOLATILE, err);
    if (r < 0)
        ec_rm_rf(sdir, NULL);
    return r;
}

void ec_session__net_free(ec_session_net *sn)
{
    for (size_t i = 0; i < sn->nbinds; i++) {
        free((char *)sn->binds[i].src);
        free((char *)sn->binds[i].dst);
    }
    free(sn->binds);
    for (size_t i = 0; sn->env && sn->env[i]; i++)
        free(sn->env[i]);
    free(sn->env);
    free(sn->netns);
    memset(sn, 0, sizeof *sn);
}

/* The caller's variables first; the network's only where the caller set none of its own. */
static const char **merge_env(const char *const *mine, char *const *net)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; mine && mine[i]; i++)
        n++;
    for (size_t i = 0; net && net[i]; i++)
        n++;
    const char **v = ec_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; mine && mine[i]; i++)
        v[k++] = mine[i];
    size_t own = k;
    for (size_t i = 0; net && net[i]; i++) {
        size_t len = strcspn(net[i], "=") + 1;
        bool set = false;
        for (size_t j = 0; j < own && !set; j++)
            set = strncmp(v[j], net[i], len) == 0;
        if (!set)
            v[k++] = net[i];
    }
    return v;
}

/* The bundle, in the network the environment allows (prepared here, torn down with the
 * session). */
static int add_bundle(ec_cache *c, json_t *s, const char *id, const char *root,
                      const ec_session_opts *o, ec_err *err)
{
    EC_AUTOFREE char *sdir = session_dir(c, id);
    EC_AUTOFREE char *bundle = NULL;
    EC_AUTO(json_t) env = NULL;
    ec_session_net sn = {0};
    int r = o->env_id && c->net_prepare ? ec_env_get(&env, c, o->ws, o->env_id, err) : EC_OK;
    if (r == EC_OK && c->net_prepare)
        r = c->net_prepare(&sn, c, id, root,
                           json_object_get(json_object_get(env, "config"), "networking"),
                           o->mcp_servers, err);
    if (r < 0)
        return r;
    ec_bundle_opts bo = *o->bundle;
    EC_AUTOFREE ec_bundle_bind *binds = ec_xcalloc(bo.nbinds + sn.nbinds + 1, sizeof *binds);
    if (bo.nbinds)
        memcpy(binds, bo.binds, bo.nbinds * sizeof *binds);
    if (sn.nbinds)
        memcpy(binds + bo.nbinds, sn.binds, sn.nbinds * sizeof *binds);
    EC_AUTOFREE const char **envv = merge_env(bo.env, sn.env);
    bo.binds = binds;
    bo.nbinds += sn.nbinds;
    bo.env = envv;
    bo.netns = sn.netns;
    r = ec_session__bundle_write(&bundle, sdir, id, root, &bo, err);
    ec_session__net_free(&sn);
    if (r == EC_OK)
        json_object_set_new(s, "bundle", json_string(bundle));
    else if (c->net_teardown)
        c->net_teardown(c, id, NULL);
    return r;
}

/* Before anything is made: the id is free (no record, no directory of a session being
 * made). The record's txn checks again. */
static int check_id_free(ec_cache *c, const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) other = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = find_in(&other, c, txn, NULL, id, err);
    if (r == EC_OK && !other)
        ec_session__reap_orphan(c, id);
    EC_AUTOFREE char *sdir = session_dir(c, id);
    struct stat sb;
    if (r == EC_OK && (other || lstat(sdir, &sb) == 0))
        return ec_fail(err, EC_ECONFLICT, "session %s already exists; pick another id or "
                                          "`envcache umount --session %s` first", id, id);
    return r;
}

static int check_target_free_now(ec_cache *c, const char *target, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    return r == EC_OK ? check_target_free(c, txn, target, err) : r;
}

/* A session whose layers are all unpacked has its record written once its mount exists,
 * as a file that the index adopts later (session_deferred.c): until then its directory
 * alone says it is being made (reaped when its maker died, see session_reap.c), and a
 * mount from the start-up hook costs no index sync. */
static int record_mounted(ec_cache *c, const char *id, const json_t *s,
                          const ec_layer_info *layers, size_t nlayers, ec_err *err)
{
    if (EC_FAULT("session.record"))
        return ec_fail(err, EC_ESYS, "fault injected: session.record");
    EC_AUTO(ec_txn) txn = NULL;
    size_t waiting = 0;
    if (ec_txn_begin(&txn, c->st, EC_TXN_READ, NULL) == EC_OK)
        waiting = ec_session__deferred_count(c, txn);
    if (waiting < EC_SESSION_DEFERRED_MAX)
        return ec_session__deferred_put(c, id, s, err);
    ec_txn_abort(ec_steal(&txn));
    return put_session(c, id, s, EC_KV_NOOVERWRITE, layers, nlayers, err);
}

/* Recorded, mounted and recorded again (its mode). One that must unpack is recorded
 * first, so that GC sees its layers as roots while they unpack; one whose layers are all
 * unpacked is recorded after its mount (record_mounted). The caller holds @target's lock
 * (*@lock); it is let go once the index holds the session. */
static int create_mounted(json_t *s, ec_cache *c, const ec_session_opts *o, const char *id,
                          const char *target, const ec_layer_info *layers, size_t nlayers,
                          bool unpacked, int *lock, ec_err *err)
{
    int r = EC_OK;
    if (!unpacked) {
        if ((r = put_session(c, id, s, EC_KV_NOOVERWRITE, NULL, 0, err)) < 0)
            return r;
        ec_session__target_unlock(*lock); /* unpacking may take long; the index holds it */
        *lock = -1;
    }
    char **dirs = NULL;
    size_t n = 0;
    enum ec_mount_mode mode = 0;
    r = lower_dirs(&dirs, &n, c, layers, nlayers, o->base_dir, err);
    if (r == EC_OK) {
        r = mount_session(&mode, c, id, dirs, n, target, o->flags, err);
        free_dirs(dirs, n);
    }
    if (r < 0) {
        if (!unpacked)
            forget_session(c, id);
        return r;
    }
    json_object_set_new(s, "mode", json_string(ec_mount_mode_name(mode)));
    if (o->bundle)
        r = add_bundle(c, s, id, target, o, err);
    if (r == EC_OK)
        r = unpacked ? record_mounted(c, id, s, layers, nlayers, err)
                     : put_session(c, id, s, 0, layers, nlayers, err);
    if (r < 0) {
        if (o->bundle && c->net_teardown)
            c->net_teardown(c, id, NULL);
        ec_umount_target(target, mode, NULL);
        if (unpacked)
            ec_session__discard_dir(c, id);
        else
            forget_session(c, id);
    }
    return r;
}

int ec_session_create(json_t **out, ec_cache *c, const ec_session_opts *o, ec_err *err)
{
    char idbuf[64];
    const char *id = o->session_id;
    if (!id) {
        ec_id_new(idbuf, "sesn");
        id = idbuf;
    }
    int r = check_session_id(id, err);
    EC_AUTO(json_t) digests = NULL;
    if (r < 0 || (r = resolve_layers(&digests, c, o, err)) < 0 ||
        (r = check_id_free(c, id, err)) < 0)
        return r;
    char target[PATH_MAX];
    if (ec_mkdir_p(o->target, 0755, err) < 0 || !realpath(o->target, target))
        return ec_fail_sys(err, errno, "cannot use %s as the session's target", o->target);
    EC_AUTO(json_t) s = session_object(id, o, target, digests);
    EC_AUTOFREE ec_layer_info *layers = NULL;
    bool unpacked = false;
    int lock = ec_session__target_lock(c, target, err);
    if (lock < 0)
        return lock;
    ec_session__reap_target(c, target);
    if ((r = lookup_layers(&layers, &unpacked, c, digests, err)) == EC_OK &&
        (r = check_target_free_now(c, target, err)) == EC_OK)
        r = create_mounted(s, c, o, id, target, layers, json_array_size(digests), unpacked,
                           &lock, err);
    ec_session__target_unlock(lock);
    if (r == EC_OK)
        *out = ec_steal(&s);
    return r;
}

/* --- lookup --- */

struct find_ctx {
    const char *ws;
    const char *key; /* an id, or a target path */
    json_t *found;
    json_t *all;
};

static int find_one(const json_t *rec, void *payload)
{
    struct find_ctx *f = payload;
    json_t *s = (json_t *)rec; /* jansson takes references through non-const pointers */
    if (!s)
        return 0;
    const char *ws = json_string_value(json_object_get(s, "workspace"));
    if (f->ws && (!ws || strcmp(ws, f->ws) != 0))
        return 0;
    if (f->all) {
        json_array_append(f->all, s);
        return 0;
    }
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *target = json_string_value(json_object_get(s, "target"));
    if ((id && strcmp(id, f->key) == 0) || (target && strcmp(target, f->key) == 0)) {
        f->found = json_incref(s);
        return 1;
    }
    return 0;
}

static int scan_for(json_t **out, ec_cache *c, ec_txn *txn, const char *ws, const char *key,
                    ec_err *err)
{
    struct find_ctx f = {ws, key, NULL, NULL};
    int r = ec_cache__session_each(c, txn, find_one, &f, err);
    if (r < 0)
        return r;
    *out = f.found;
    return EC_OK;
}

/* Among the records not indexed yet (session_deferred.c). */
static int find_deferred(json_t **out, ec_cache *c, ec_txn *txn, const char *ws,
                         const char *key)
{
    struct find_ctx f = {ws, key, NULL, NULL};
    ec_session__deferred_each(c, txn, find_one, &f);
    *out = f.found;
    return EC_OK;
}

/* The session of @ws (NULL = any) with id or target (an absolute path) @key; *@out is NULL
 * when none has. One record read: targets are indexed (idx_sessions.c). */
static int find_in(json_t **out, ec_cache *c, ec_txn *txn, const char *ws, const char *key,
                   ec_err *err)
{
    *out = NULL;
    EC_AUTOFREE char *id = NULL;
    int r;
    if (key[0] == '/') {
        bool indexed;
        r = ec_session__by_target(&id, &indexed, txn, key, err);
        if (!indexed)
            return scan_for(out, c, txn, ws, key, err);
        if (r == EC_ENOTFOUND)
            return find_deferred(out, c, txn, ws, key);
        if (r < 0)
            return r;
        key = id;
    }
    EC_AUTO(json_t) s = NULL;
    r = ec_session__get(&s, txn, key, err);
    if (r == EC_ENOTFOUND)
        return find_deferred(out, c, txn, ws, key);
    if (r < 0)
        return r;
    const char *sws = json_string_value(json_object_get(s, "workspace"));
    if (!ws || (sws && strcmp(sws, ws) == 0))
        *out = ec_steal(&s);
    return EC_OK;
}

int ec_session_get(json_t **out, ec_cache *c, const char *ws, const char *id_or_target,
                   ec_err *err)
{
    char abs[PATH_MAX];
    const char *key = id_or_target;
    if (strchr(id_or_target, '/') && realpath(id_or_target, abs))
        key = abs;
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0 || (r = find_in(out, c, txn, ws, key, err)) < 0)
        return r;
    if (!*out)
        return ec_fail(err, EC_ENOTFOUND, "session %s not found", id_or_target);
    return EC_OK;
}

int ec_session_list(json_t **out, ec_cache *c, const char *ws, ec_err *err)
{
    struct find_ctx f = {ws, NULL, NULL, json_array()};
    EC_AUTO(json_t) all = f.all;
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0 || (r = ec_cache__session_each(c, txn, find_one, &f, err)) < 0)
        return r;
    *out = ec_steal(&all);
    return EC_OK;
}

enum ec_mount_mode ec_session__mode(const json_t *s)
{
    const char *m = json_string_value(json_object_get(s, "mode"));
    if (m && strcmp(m, "copy") == 0)
        return EC_MOUNT_COPY;
    if (m && strcmp(m, "overlay") == 0)
        return EC_MOUNT_OVERLAY;
    return 0;
}

static int session_delete(json_t **out, ec_cache *c, const char *ws, const char *id_or_target,
                          bool stopped, ec_err *err)
{
    EC_AUTO(json_t) s = NULL;
    int r = ec_session_get(&s, c, ws, id_or_target, err);
    if (r < 0)
        return r;
    const char *id = json_string_value(json_object_get(s, "id"));
    if (!stopped && json_object_get(s, "bundle"))
        ec_session__runtime_delete(id);
    if (json_object_get(s, "bundle") && c->net_teardown &&
        (r = c->net_teardown(c, id, err)) < 0)
        return r;
    const char *target = json_string_value(json_object_get(s, "target"));
    enum ec_mount_mode mode = ec_session__mode(s);
    if (mode) {
        r = ec_umount_target(target, mode, err);
        /* Already gone (a reboot, a manual umount) is fine: forget the session anyway. */
        if (r < 0 && r != EC_ENOTFOUND)
            return r;
        ec_err_clear(err);
    }
    if ((r = ec_session__forget(c, id, err)) < 0)
        return r;
    *out = json_pack("{s:s, s:s}", "id", id, "type", "session_deleted");
    return EC_OK;
}

int ec_session_delete(json_t **out, ec_cache *c, const char *ws, const char *id_or_target,
                      ec_err *err)
{
    return session_delete(out, c, ws, id_or_target, false, err);
}

int ec_session_delete_stopped(json_t **out, ec_cache *c, const char *ws,
                              const char *id_or_target, ec_err *err)
{
    return session_delete(out, c, ws, id_or_target, true, err);
}

struct in_use_ctx {
    const char *env_id;
    bool used;
};

static int env_used(const json_t *s, void *payload)
{
    struct in_use_ctx *u = payload;
    const char *e = json_string_value(json_object_get(s, "environment_id"));
    u->used = e && strcmp(e, u->env_id) == 0;
    return u->used;
}

bool ec_cache__env_in_use(ec_cache *c, ec_txn *txn, const char *id)
{
    struct in_use_ctx u = {id, false};
    ec_cache__session_each(c, txn, env_used, &u, NULL);
    return u.used;
}
