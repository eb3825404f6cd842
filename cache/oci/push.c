/* SPDX-License-Identifier: MIT */
/* `envcache push ENV REF`: the stack as an image (tar+zstd layers, a config of diff_ids),
 * the environment's record and each manager's lock and build record as artifacts whose
 * subject is that image. Every byte is canonical, so two machines pushing one environment
 * at once write the same blobs and end with one manifest. */
#include "cache/oci/oci_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* Pushes an artifact of @blobs (JSON values, each with its media type) for @subject. */
static int push_artifact(ec_reg *g, const char *repo, const char *type, json_t *blobs,
                         const char *const *types, json_t *annotations,
                         const ec_digest *subject, size_t subject_size, ec_err *err)
{
    ec_digest empty, d;
    int r = ec_reg_blob_push_buf(g, repo, "{}", 2, &empty, err);
    EC_AUTO(json_t) layers = json_array();
    for (size_t i = 0; r == EC_OK && i < json_array_size(blobs); i++) {
        EC_AUTOFREE char *text = ec_oci_dump(json_array_get(blobs, i));
        r = ec_reg_blob_push_buf(g, repo, text, strlen(text), &d, err);
        json_array_append_new(layers, ec_oci_desc(types[i], &d, strlen(text)));
    }
    if (r < 0) {
        json_decref(annotations);
        return r;
    }
    EC_AUTO(json_t) m = ec_oci_manifest(ec_oci_desc(EC_OCI_EMPTY, &empty, 2),
                                        json_incref(layers), annotations);
    json_object_set_new(m, "artifactType", json_string(type));
    json_object_set_new(m, "subject", ec_oci_desc(EC_OCI_MANIFEST, subject, subject_size));
    EC_AUTOFREE char *text = ec_oci_dump(m);
    return ec_reg_referrer_put(g, repo, subject, text, strlen(text), err);
}

/* What of the warm state is the build's record: the volatile fields (times, reuse) would
 * make two pushes of one environment differ. */
static json_t *build_record(const json_t *state)
{
    json_t *rec = json_deep_copy(state);
    json_object_del(rec, "updated_at");
    json_object_del(rec, "reused");
    json_object_del(rec, "build_ms");
    return rec;
}

static int push_managers(ec_cache *c, ec_reg *g, const char *repo, const char *id,
                         const json_t *packages, const ec_digest *subject, size_t ssize,
                         json_t *pushed, ec_err *err)
{
    const char *mgr;
    json_t *specs;
    json_object_foreach((json_t *)packages, mgr, specs) {
        if (!json_is_array(specs) || json_array_size(specs) == 0)
            continue; /* not a manager of this environment, or no packages of it */
        EC_AUTO(json_t) state = NULL;
        EC_AUTO(json_t) lock = NULL;
        EC_AUTO(ec_txn) txn = NULL;
        int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
        if (r < 0)
            return r;
        const char *st = NULL;
        if (ec_cache__warm_state_get(&state, txn, id, mgr, NULL) == EC_OK)
            st = json_string_value(json_object_get(state, "state"));
        if (!st || strcmp(st, "ready") != 0)
            return ec_fail(err, EC_ECONFLICT, "environment %s: its %s packages are not warmed: "
                           "run 'envcache warm' first", id, mgr);
        const char *ld = json_string_value(json_object_get(state, "lock"));
        if ((r = ec_cache__lock_get(&lock, txn, ld ? ld : "", err)) < 0)
            return r;
        ec_txn_abort(ec_steal(&txn));
        static const char *const types[] = {EC_OCI_LOCK_TYPE, EC_OCI_RECORD_TYPE};
        json_t *blobs = json_pack("[O, o]", lock, build_record(state));
        r = push_artifact(g, repo, EC_OCI_LOCK_TYPE, blobs, types,
                          json_pack("{s:s}", "org.envcache.manager", mgr), subject, ssize, err);
        json_decref(blobs);
        if (r < 0)
            return r;
        json_array_append_new(pushed, json_string(mgr));
    }
    return EC_OK;
}

/* The remote tier's repository on this registry, mounted from when it has a layer. */
static char *mount_source(ec_cache *c, const ec_oci_ref *ref)
{
    ec_oci_remote rem = {0};
    ec_oci_ref rr = {0};
    char *from = NULL;
    if (ec_oci_remote_get(&rem, c, NULL) == EC_OK &&
        ec_oci_ref_parse(&rr, rem.url, true, NULL) == EC_OK && strcmp(rr.host, ref->host) == 0)
        from = ec_xstrdup(rr.repo);
    ec_oci_ref_fini(&rr);
    ec_oci_remote_fini(&rem);
    return from;
}

int ec_oci_push(json_t **out, ec_cache *c, const char *ws, const char *env, const char *ref,
                ec_err *err)
{
    EC_AUTO_REF rf = {0};
    int r = ec_oci_ref_parse(&rf, ref, false, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *id = NULL;
    EC_AUTO(json_t) obj = NULL;
    EC_AUTO(json_t) stack = NULL;
    EC_AUTO(ec_reg) g = NULL;
    EC_AUTOFREE ec_layer_info *layers = NULL;
    size_t n = 0;
    if ((r = ec_env_resolve_id(&id, c, ws, env, err)) < 0 ||
        (r = ec_env_get(&obj, c, ws, id, err)) < 0 ||
        (r = ec_oci_env_ready(c, id, json_object_get(json_object_get(obj, "config"),
                                                     "packages"), err)) < 0 ||
        (r = ec_env_stack(&stack, c, ws, id, err)) < 0)
        return r;
    if (json_array_size(stack) == 0)
        return ec_fail(err, EC_ECONFLICT, "environment %s has no layers to push: run "
                       "'envcache warm %s' first", env, env);
    if ((r = ec_oci_stack_layers(&layers, &n, c->st, stack, err)) < 0 ||
        (r = ec_reg_open(&g, &rf, err)) < 0)
        return r;
    EC_AUTOFREE char *from = mount_source(c, &rf);
    EC_AUTO(json_t) descs = json_array();
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        r = ec_reg_blob_push(g, c->st, rf.repo, &layers[i].digest, from, err);
        json_array_append_new(descs, ec_oci_layer_desc(&layers[i]));
    }
    EC_AUTO(json_t) config = ec_oci_config(layers, n);
    EC_AUTOFREE char *ctext = ec_oci_dump(config);
    ec_digest cd, md;
    if (r == EC_OK)
        r = ec_reg_blob_push_buf(g, rf.repo, ctext, strlen(ctext), &cd, err);
    if (r < 0)
        return r;
    const char *name = json_string_value(json_object_get(obj, "name"));
    EC_AUTO(json_t) m = ec_oci_manifest(ec_oci_desc(EC_OCI_CONFIG, &cd, strlen(ctext)),
                                        json_incref(descs),
                                        json_pack("{s:s}", "org.envcache.environment",
                                                  name ? name : id));
    EC_AUTOFREE char *mtext = ec_oci_dump(m);
    if ((r = ec_reg_manifest_put(g, rf.repo, rf.tag ? rf.tag : rf.digest, EC_OCI_MANIFEST,
                                 mtext, &md, NULL, err)) < 0)
        return r;
    /* The environment as pulled elsewhere: its name, config and metadata. */
    json_t *rec = json_pack("{s:O?, s:O, s:O?}", "name", json_object_get(obj, "name"),
                            "config", json_object_get(obj, "config"), "metadata",
                            json_object_get(obj, "metadata"));
    static const char *const env_types[] = {EC_OCI_ENV_TYPE};
    json_t *blobs = json_pack("[o]", rec);
    r = push_artifact(g, rf.repo, EC_OCI_ENV_TYPE, blobs, env_types, NULL, &md, strlen(mtext),
                      err);
    json_decref(blobs);
    EC_AUTO(json_t) mgrs = json_array();
    if (r == EC_OK)
        r = push_managers(c, g, rf.repo, id,
                          json_object_get(json_object_get(obj, "config"), "packages"), &md,
                          strlen(mtext), mgrs, err);
    if (r == EC_OK) {
        char ds[EC_DIGEST_STR_LEN];
        *out = json_pack("{s:s, s:s, s:s, s:O, s:O, s:o}", "reference", ref, "environment", id,
                         "digest", ec_digest_format(ds, &md), "layers", stack, "managers", mgrs,
                         "stats", ec_oci_stats_json(&g->stats));
    }
    return r;
}
