/* SPDX-License-Identifier: MIT */
/* The remote tier: one repository on a registry that every node of a fleet consults before
 * it resolves or builds. Layer keys and specs digests map to content through tags there:
 *   key-<layer key hex>     an image of the one layer built for that key
 *   layer-<digest hex>      the same image, found by the layer's digest (sessions)
 *   spec-<specs hex>        an artifact holding the lock resolved for those specs
 * Tags, not referrers: a tag is one GET on every registry, and writing one is idempotent
 * (the same key built anywhere gives the same bytes), so nodes agree without talking. */
#include "cache/metrics.h"
#include "cache/oci/oci_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

/* /metrics: what the tier found and published, and the requests it sent the registry. */
#define M_OBJECTS "envcache_remote_objects_total" /* kind=layer|lock, result */
#define M_REQUESTS "envcache_remote_requests_total"

static void counted(const ec_reg *g, const char *kind, int r, const char *ok)
{
    char labels[64];
    snprintf(labels, sizeof labels, "kind=\"%s\",result=\"%s\"", kind,
             r == EC_OK ? ok : r == EC_ENOTFOUND ? "missing" : "failed");
    ec_metrics_inc(M_OBJECTS, labels, 1);
    ec_metrics_inc(M_REQUESTS, NULL, g->stats.requests);
}

/* In the store's meta table: this file alone knows the key. */
static const char remote_key[] = "oci/remote";

void ec_oci_remote_fini(ec_oci_remote *r)
{
    if (r) {
        free(r->url);
        r->url = NULL;
    }
}

int ec_oci_remote_get(ec_oci_remote *out, ec_cache *c, ec_err *err)
{
    memset(out, 0, sizeof *out);
    const char *env = getenv("ENVCACHE_REMOTE"), *push = getenv("ENVCACHE_REMOTE_PUSH");
    if (env && *env) {
        out->url = ec_xstrdup(env);
        out->push = !push || strcmp(push, "0") != 0;
        return EC_OK;
    }
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    if (ec_kv_get(txn, &ec_tbl_meta, remote_key, strlen(remote_key), &v, &n, NULL) < 0)
        return EC_ENOTFOUND;
    EC_AUTO(json_t) j = json_loadb(v, n, 0, NULL);
    const char *url = json_string_value(json_object_get(j, "url"));
    if (!url)
        return ec_fail(err, EC_EFORMAT, "meta.%s: not a remote record", remote_key);
    out->url = ec_xstrdup(url);
    out->push = !json_is_false(json_object_get(j, "push"));
    if (push && *push)
        out->push = strcmp(push, "0") != 0;
    return EC_OK;
}

int ec_oci_remote_set(ec_cache *c, const char *url, bool push, ec_err *err)
{
    ec_oci_ref rf;
    if (url) {
        int r = ec_oci_ref_parse(&rf, url, true, err);
        if (r < 0)
            return r;
        bool tagged = rf.tag || rf.digest;
        ec_oci_ref_fini(&rf);
        if (tagged)
            return ec_fail(err, EC_EINVAL, "\"%s\": a remote is a repository "
                           "(HOST:PORT/NAME), without a tag or digest", url);
    }
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0)
        return r;
    if (!url) {
        r = ec_kv_del(txn, &ec_tbl_meta, remote_key, strlen(remote_key), NULL);
    } else {
        EC_AUTOFREE char *text = NULL;
        EC_AUTO(json_t) j = json_pack("{s:s, s:b}", "url", url, "push", push);
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        r = ec_kv_put(txn, &ec_tbl_meta, remote_key, strlen(remote_key), text, strlen(text), 0,
                      err);
    }
    if (r < 0 && r != EC_ENOTFOUND)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}

/* The remote's client and repository, or EC_ENOTFOUND when there is no remote. */
static int open_remote(ec_reg **g, ec_oci_ref *rf, bool *push, ec_cache *c, ec_err *err)
{
    ec_oci_remote rem;
    int r = ec_oci_remote_get(&rem, c, err);
    if (r < 0)
        return r;
    *push = rem.push;
    r = ec_oci_ref_parse(rf, rem.url, true, err);
    ec_oci_remote_fini(&rem);
    if (r == EC_OK && (r = ec_reg_open(g, rf, err)) < 0)
        ec_oci_ref_fini(rf);
    return r;
}

static char *tag_of(const char *prefix, const ec_digest *d)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("%s-%s", prefix, ec_digest_hex(hex, d));
}

/* Pulls the one-layer image tagged @tag and records its layer. */
static int layer_from_tag(ec_layer_info *out, ec_reg *g, ec_store *st, const char *repo,
                          const char *tag, ec_err *err)
{
    EC_AUTO(json_t) m = NULL;
    EC_AUTOFREE char *ctext = NULL;
    size_t cn;
    int r = ec_reg_manifest_get(&m, NULL, g, repo, tag, err);
    if (r == EC_ENOTFOUND)
        return ec_err_clear(err), EC_ENOTFOUND;
    json_t *desc = json_array_get(json_object_get(m, "layers"), 0);
    const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
    if (r == EC_OK && (!desc || !cd))
        r = ec_fail(err, EC_EFORMAT, "%s:%s is not a layer image", repo, tag);
    if (r == EC_OK)
        r = ec_reg_blob_get(&ctext, &cn, g, repo, cd, err);
    EC_AUTO(json_t) config = r == EC_OK ? json_loadb(ctext, cn, 0, NULL) : NULL;
    const char *di = json_string_value(
        json_array_get(json_object_get(json_object_get(config, "rootfs"), "diff_ids"), 0));
    ec_digest d, dd;
    if (r == EC_OK && (!di || ec_digest_parse(&dd, di, err) < 0))
        r = ec_fail(err, EC_EFORMAT, "%s:%s: its config names no diff_id", repo, tag);
    if (r == EC_OK)
        r = ec_digest_parse(&d, json_string_value(json_object_get(desc, "digest")), err);
    if (r == EC_OK)
        r = ec_reg_blob_pull(g, st, repo, &d, err);
    if (r == EC_OK)
        r = ec_oci_layer_record(out, st, &d, &dd, desc, err);
    return r;
}

static void count(const ec_reg *g, const char *what)
{
    ec_debug("oci: %s: %llu requests, %llu blobs got (%llu bytes), %llu sent", what,
             (unsigned long long)g->stats.requests, (unsigned long long)g->stats.blobs_got,
             (unsigned long long)g->stats.bytes_got, (unsigned long long)g->stats.blobs_sent);
}

int ec_oci_tier_layer_for_key(ec_layer_info *out, ec_cache *c, const ec_digest *key,
                              ec_err *err)
{
    EC_AUTO(ec_reg) g = NULL;
    ec_oci_ref rf;
    bool push;
    int r = open_remote(&g, &rf, &push, c, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *tag = tag_of("key", key);
    r = layer_from_tag(out, g, c->st, rf.repo, tag, err);
    if (r == EC_OK) {
        EC_AUTO(ec_txn) txn = NULL;
        r = ec_txn_begin(&txn, c->st, 0, err);
        if (r == EC_OK)
            r = ec_cache__layer_key_put(txn, key, &out->digest, err);
        if (r == EC_OK)
            r = ec_txn_commit(ec_steal(&txn), err);
        count(g, tag);
    }
    counted(g, "layer", r, "pulled");
    ec_oci_ref_fini(&rf);
    return r;
}

int ec_oci_tier_layer(ec_layer_info *out, ec_cache *c, const ec_digest *digest, ec_err *err)
{
    EC_AUTO(ec_reg) g = NULL;
    ec_oci_ref rf;
    bool push;
    int r = open_remote(&g, &rf, &push, c, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *tag = tag_of("layer", digest);
    r = layer_from_tag(out, g, c->st, rf.repo, tag, err);
    if (r == EC_OK)
        count(g, tag);
    counted(g, "layer", r, "pulled");
    ec_oci_ref_fini(&rf);
    return r;
}

/* Tags the one-layer image of @layer as layer-<digest> and, with @key, key-<key>. */
static int publish_one(ec_reg *g, ec_store *st, const char *repo, const ec_digest *key,
                       const ec_layer_info *layer, ec_err *err)
{
    EC_AUTO(json_t) config = ec_oci_config(layer, 1);
    EC_AUTOFREE char *ctext = ec_oci_dump(config);
    ec_digest cd;
    int r = ec_reg_blob_push(g, st, repo, &layer->digest, NULL, err);
    if (r == EC_OK)
        r = ec_reg_blob_push_buf(g, repo, ctext, strlen(ctext), &cd, err);
    EC_AUTO(json_t) m = ec_oci_manifest(ec_oci_desc(EC_OCI_CONFIG, &cd, strlen(ctext)),
                                        json_pack("[o]", ec_oci_layer_desc(layer)), NULL);
    EC_AUTOFREE char *mtext = ec_oci_dump(m);
    EC_AUTOFREE char *ltag = tag_of("layer", &layer->digest);
    if (r == EC_OK)
        r = ec_reg_manifest_put(g, repo, ltag, EC_OCI_MANIFEST, mtext, NULL, NULL, err);
    if (r == EC_OK && key) {
        EC_AUTOFREE char *ktag = tag_of("key", key);
        r = ec_reg_manifest_put(g, repo, ktag, EC_OCI_MANIFEST, mtext, NULL, NULL, err);
    }
    return r;
}

int ec_oci_tier_publish(ec_cache *c, const ec_digest *key, const ec_layer_info *layer,
                        const ec_digest *lowers, size_t nlowers, ec_err *err)
{
    EC_AUTO(ec_reg) g = NULL;
    ec_oci_ref rf;
    bool push;
    int r = open_remote(&g, &rf, &push, c, err);
    if (r < 0 || !push) {
        if (r == EC_OK)
            ec_oci_ref_fini(&rf);
        return r == EC_ENOTFOUND ? EC_OK : r;
    }
    for (size_t i = 0; r == EC_OK && i < nlowers; i++) {
        EC_AUTOFREE char *ltag = tag_of("layer", &lowers[i]);
        EC_AUTO(json_t) m = NULL;
        ec_layer_info l;
        EC_AUTO(ec_txn) txn = NULL;
        if (ec_reg_manifest_get(&m, NULL, g, rf.repo, ltag, NULL) == EC_OK)
            continue; /* there already */
        r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
        if (r == EC_OK)
            r = ec_layer_lookup(&l, txn, &lowers[i], err);
        ec_txn_abort(ec_steal(&txn));
        if (r == EC_OK)
            r = publish_one(g, c->st, rf.repo, NULL, &l, err);
    }
    if (r == EC_OK)
        r = publish_one(g, c->st, rf.repo, key, layer, err);
    if (r == EC_OK)
        count(g, "publish");
    counted(g, "layer", r, "published");
    ec_oci_ref_fini(&rf);
    return r;
}

int ec_oci_tier_lock_get(json_t **out, ec_cache *c, const ec_digest *specs, ec_err *err)
{
    EC_AUTO(ec_reg) g = NULL;
    ec_oci_ref rf;
    bool push;
    int r = open_remote(&g, &rf, &push, c, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *tag = tag_of("spec", specs);
    EC_AUTO(json_t) m = NULL;
    EC_AUTOFREE char *text = NULL;
    size_t n;
    r = ec_reg_manifest_get(&m, NULL, g, rf.repo, tag, err);
    if (r == EC_ENOTFOUND)
        ec_err_clear(err);
    const char *bd = json_string_value(
        json_object_get(json_array_get(json_object_get(m, "layers"), 0), "digest"));
    if (r == EC_OK && !bd)
        r = ec_fail(err, EC_EFORMAT, "%s:%s holds no lock", rf.repo, tag);
    if (r == EC_OK)
        r = ec_reg_blob_get(&text, &n, g, rf.repo, bd, err);
    if (r == EC_OK && !(*out = json_loadb(text, n, 0, NULL)))
        r = ec_fail(err, EC_EFORMAT, "%s:%s: the lock is not JSON", rf.repo, tag);
    counted(g, "lock", r, "pulled");
    ec_oci_ref_fini(&rf);
    return r;
}

int ec_oci_tier_lock_put(ec_cache *c, const ec_digest *specs, const json_t *lock, ec_err *err)
{
    EC_AUTO(ec_reg) g = NULL;
    ec_oci_ref rf;
    bool push;
    int r = open_remote(&g, &rf, &push, c, err);
    if (r < 0 || !push) {
        if (r == EC_OK)
            ec_oci_ref_fini(&rf);
        return r == EC_ENOTFOUND ? EC_OK : r;
    }
    EC_AUTOFREE char *text = ec_lock_dump(lock);
    ec_digest empty, ld;
    r = ec_reg_blob_push_buf(g, rf.repo, "{}", 2, &empty, err);
    if (r == EC_OK)
        r = ec_reg_blob_push_buf(g, rf.repo, text, strlen(text), &ld, err);
    EC_AUTO(json_t) m = ec_oci_manifest(ec_oci_desc(EC_OCI_EMPTY, &empty, 2),
                                        json_pack("[o]", ec_oci_desc(EC_OCI_LOCK_TYPE, &ld,
                                                                     strlen(text))),
                                        NULL);
    json_object_set_new(m, "artifactType", json_string(EC_OCI_LOCK_TYPE));
    EC_AUTOFREE char *mtext = ec_oci_dump(m);
    EC_AUTOFREE char *tag = tag_of("spec", specs);
    if (r == EC_OK)
        r = ec_reg_manifest_put(g, rf.repo, tag, EC_OCI_MANIFEST, mtext, NULL, NULL, err);
    counted(g, "lock", r, "published");
    ec_oci_ref_fini(&rf);
    return r;
}

void ec_oci_attach(ec_cache *c)
{
    /* libcurl initialises itself once, on first use, from any thread (fetchers/http/
     * curl_load.c): not here, where every command would load it. */
    c->remote_layer = ec_oci_tier_layer;
}
