/* SPDX-License-Identifier: MIT */
/* `envcache pull REF`: an image pushed by envcache becomes an environment here: layers
 * downloaded and checked (blob digest, then the tar's against the config's diff_id), locks
 * and build records from its referrers, and the environment recorded ready to mount. */
#include "cache/oci/oci_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

static int pull_layers(ec_reg *g, ec_store *st, const char *repo, const json_t *manifest,
                       const json_t *config, json_t *stack, ec_err *err)
{
    json_t *descs = json_object_get(manifest, "layers");
    json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(descs) || json_array_size(descs) != json_array_size(ids))
        return ec_fail(err, EC_EFORMAT, "%s: the manifest has %zu layers and its config %zu "
                       "diff_ids", repo, json_array_size(descs), json_array_size(ids));
    size_t i;
    json_t *desc;
    json_array_foreach(descs, i, desc) {
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        ec_digest d, di;
        int r = ec_digest_parse(&d, json_string_value(json_object_get(desc, "digest")), err);
        if (r == EC_OK)
            r = ec_digest_parse(&di, json_string_value(json_array_get(ids, i)), err);
        if (r < 0)
            return r;
        if (!mt || strcmp(mt, EC_OCI_LAYER_ZSTD) != 0)
            return ec_fail(err, EC_EUNSUPPORTED, "%s: layer %zu is %s; envcache mounts "
                           "tar+zstd layers (%s) only", repo, i, mt ? mt : "untyped",
                           EC_OCI_LAYER_ZSTD);
        if ((r = ec_reg_blob_pull(g, st, repo, &d, err)) < 0 ||
            (r = ec_oci_layer_record(NULL, st, &d, &di, desc, err)) < 0)
            return r;
        json_array_append_new(stack, json_string(json_string_value(json_object_get(desc,
                                                                                   "digest"))));
    }
    return EC_OK;
}

/* The first blob of referrer @desc, parsed. */
static int artifact_blob(json_t **out, ec_reg *g, const char *repo, const json_t *desc,
                         size_t idx, json_t **art_out, ec_err *err)
{
    EC_AUTO(json_t) art = NULL;
    const char *ad = json_string_value(json_object_get(desc, "digest"));
    int r = ec_reg_manifest_get(&art, NULL, g, repo, ad ? ad : "", err);
    if (r < 0)
        return r;
    const char *bd = json_string_value(json_object_get(json_array_get(json_object_get(art,
                                                                       "layers"), idx),
                                                       "digest"));
    EC_AUTOFREE char *text = NULL;
    size_t n;
    if (!bd)
        return ec_fail(err, EC_EFORMAT, "%s: artifact %s has no blob %zu", repo, ad, idx);
    if ((r = ec_reg_blob_get(&text, &n, g, repo, bd, err)) < 0)
        return r;
    json_error_t je;
    *out = json_loadb(text, n, 0, &je);
    if (!*out)
        return ec_fail(err, EC_EFORMAT, "%s: blob %s is not JSON: %s", repo, bd, je.text);
    if (art_out)
        *art_out = ec_steal(&art);
    return EC_OK;
}

struct pulled {
    json_t *env;   /* {"name", "config", "metadata"} */
    json_t *locks; /* manager -> lock */
    json_t *recs;  /* manager -> build record */
};

static int pull_referrers(struct pulled *p, ec_reg *g, const char *repo, const ec_digest *md,
                          ec_err *err)
{
    EC_AUTO(json_t) refs = NULL;
    int r = ec_reg_referrers(&refs, g, repo, md, err);
    size_t i;
    json_t *desc;
    json_array_foreach(refs, i, desc) {
        const char *type = json_string_value(json_object_get(desc, "artifactType"));
        if (r < 0 || !type)
            continue;
        if (strcmp(type, EC_OCI_ENV_TYPE) == 0 && !p->env)
            r = artifact_blob(&p->env, g, repo, desc, 0, NULL, err);
        else if (strcmp(type, EC_OCI_LOCK_TYPE) == 0) {
            EC_AUTO(json_t) lock = NULL;
            EC_AUTO(json_t) rec = NULL;
            EC_AUTO(json_t) art = NULL;
            r = artifact_blob(&lock, g, repo, desc, 0, &art, err);
            if (r == EC_OK)
                r = artifact_blob(&rec, g, repo, desc, 1, NULL, err);
            const char *mgr = json_string_value(json_object_get(json_object_get(art,
                                                                "annotations"),
                                                                "org.envcache.manager"));
            if (r == EC_OK && mgr) {
                json_object_set(p->locks, mgr, lock);
                json_object_set(p->recs, mgr, rec);
            }
        }
    }
    if (r == EC_OK && !p->env)
        r = ec_fail(err, EC_EFORMAT, "%s@sha256:…: no environment record is attached to it "
                    "(was it pushed by 'envcache push'?)", repo);
    return r;
}

/* Finds or creates the environment: an existing one of that name must have the same
 * config (a pull never changes what an environment asks for). */
static int env_here(char **id_out, ec_cache *c, const char *ws, const char *name,
                    const json_t *rec, const json_t *stack, const ec_store *st, ec_err *err)
{
    (void)st;
    EC_AUTO(json_t) obj = NULL;
    if (ec_env_resolve_id(id_out, c, ws, name, NULL) == EC_OK) {
        int r = ec_env_get(&obj, c, ws, *id_out, err);
        if (r < 0)
            return r;
        if (!json_equal(json_object_get(obj, "config"), json_object_get(rec, "config")))
            return ec_fail(err, EC_ECONFLICT, "environment \"%s\" exists here with another "
                           "config: pull with --name NEW, or delete it first", name);
        return EC_OK;
    }
    EC_AUTO(json_t) body = json_pack("{s:s, s:O}", "name", name, "config",
                                     json_object_get(rec, "config"));
    if (json_object_get(rec, "metadata") && !json_is_null(json_object_get(rec, "metadata")))
        json_object_set(body, "metadata", json_object_get(rec, "metadata"));
    ec_env_base_choice base = {.mode = EC_ENV_BASE_NONE};
    json_t *first = json_array_get(stack, 0);
    ec_layer_info l;
    EC_AUTO(ec_txn) txn = NULL;
    if (first && ec_digest_parse(&base.digest, json_string_value(first), NULL) == EC_OK &&
        ec_txn_begin(&txn, c->st, EC_TXN_READ, NULL) == EC_OK &&
        ec_layer_lookup(&l, txn, &base.digest, NULL) == EC_OK && (l.flags & EC_LAYER_BASE))
        base.mode = EC_ENV_BASE_EXPLICIT;
    ec_txn_abort(ec_steal(&txn));
    int r = ec_env_create_on(&obj, c, ws, body, &base, err);
    if (r == EC_OK)
        *id_out = ec_xstrdup(json_string_value(json_object_get(obj, "id")));
    return r;
}

/* Locks, ready states and the stack in one transaction: the environment is mountable at
 * once, and never half so. */
static int record(ec_cache *c, const char *ws, const char *id, const struct pulled *p,
                  const json_t *stack, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) env = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    const char *mgr;
    json_t *lock;
    json_object_foreach(p->locks, mgr, lock) {
        ec_digest ld;
        char ds[EC_DIGEST_STR_LEN], now[32];
        if (r == EC_OK)
            r = ec_cache__lock_put(&ld, txn, lock, err);
        EC_AUTO(json_t) st = json_deep_copy(json_object_get(p->recs, mgr));
        if (!json_is_object(st))
            st = json_object();
        ec_cache__rfc3339(now, ec_now());
        json_object_set_new(st, "state", json_string("ready"));
        json_object_set_new(st, "manager", json_string(mgr));
        json_object_set_new(st, "lock", json_string(ec_digest_format(ds, &ld)));
        json_object_set_new(st, "updated_at", json_string(now));
        json_object_set_new(st, "reused", json_true());
        json_object_set_new(st, "pulled", json_true());
        if (r == EC_OK)
            r = ec_cache__warm_state_put(txn, id, mgr, st, err);
    }
    if (r == EC_OK)
        r = ec_cache__env_load(&env, txn, ws, id, err);
    if (r == EC_OK) {
        json_object_set(env, "stack", (json_t *)stack);
        r = ec_cache__env_save(txn, ws, id, env, err);
    }
    return r == EC_OK ? ec_txn_commit(ec_steal(&txn), err) : r;
}

int ec_oci_pull(json_t **out, ec_cache *c, const char *ws, const char *ref,
                const ec_oci_pull_opts *opts, ec_err *err)
{
    EC_AUTO_REF rf = {0};
    int r = ec_oci_ref_parse(&rf, ref, false, err);
    if (r < 0)
        return r;
    EC_AUTO(ec_reg) g = NULL;
    EC_AUTO(json_t) m = NULL;
    EC_AUTO(json_t) config = NULL;
    EC_AUTO(json_t) stack = json_array();
    EC_AUTOFREE char *ctext = NULL;
    EC_AUTOFREE char *id = NULL;
    struct pulled p = {.locks = json_object(), .recs = json_object()};
    ec_digest md;
    size_t cn;
    r = ec_reg_open(&g, &rf, err);
    if (r == EC_OK)
        r = ec_reg_manifest_get(&m, &md, g, rf.repo, rf.digest ? rf.digest : rf.tag, err);
    if (r == EC_ENOTFOUND)
        ec_err_prefix(err, "%s", ref);
    const char *mt = json_string_value(json_object_get(m, "mediaType"));
    if (r == EC_OK && mt && strcmp(mt, EC_OCI_MANIFEST) != 0)
        r = ec_fail(err, EC_EUNSUPPORTED, "%s is a %s; envcache pulls the OCI image manifests "
                    "'envcache push' writes", ref, mt);
    const char *cdig = json_string_value(json_object_get(json_object_get(m, "config"),
                                                         "digest"));
    if (r == EC_OK)
        r = ec_reg_blob_get(&ctext, &cn, g, rf.repo, cdig ? cdig : "", err);
    if (r == EC_OK && !(config = json_loadb(ctext, cn, 0, NULL)))
        r = ec_fail(err, EC_EFORMAT, "%s: its config is not JSON", ref);
    if (r == EC_OK)
        r = pull_referrers(&p, g, rf.repo, &md, err);
    if (r == EC_OK)
        r = pull_layers(g, c->st, rf.repo, m, config, stack, err);
    const char *name = opts && opts->name ? opts->name
                                          : json_string_value(json_object_get(p.env, "name"));
    if (r == EC_OK && !name)
        r = ec_fail(err, EC_EFORMAT, "%s: its environment record has no name: pull with "
                    "--name NAME", ref);
    if (r == EC_OK)
        r = env_here(&id, c, ws, name, p.env, stack, c->st, err);
    if (r == EC_OK)
        r = record(c, ws, id, &p, stack, err);
    if (r == EC_OK) {
        char ds[EC_DIGEST_STR_LEN];
        *out = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o}", "reference", ref, "id", id, "name",
                         name, "digest", ec_digest_format(ds, &md), "layers", stack, "stats",
                         ec_oci_stats_json(&g->stats));
    }
    json_decref(p.env);
    json_decref(p.locks);
    json_decref(p.recs);
    return r;
}
