/* SPDX-License-Identifier: MIT */
/* The image shapes envcache writes (canonical JSON: the same stack gives the same bytes on
 * every machine, so concurrent pushes agree on one manifest), and recording a pulled layer
 * after checking its uncompressed digest. */
#include "cache/oci/oci_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

char *ec_oci_dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

json_t *ec_oci_desc(const char *media_type, const ec_digest *d, uint64_t size)
{
    char ds[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest",
                     ec_digest_format(ds, d), "size", (json_int_t)size);
}

json_t *ec_oci_layer_desc(const ec_layer_info *l)
{
    json_t *d = ec_oci_desc(EC_OCI_LAYER_ZSTD, &l->digest, l->size);
    char ts[32], fs[32];
    snprintf(ts, sizeof ts, "%llu", (unsigned long long)l->tar_size);
    snprintf(fs, sizeof fs, "%llu", (unsigned long long)l->files);
    json_t *a = json_pack("{s:s, s:s}", "org.envcache.layer.uncompressed-size", ts,
                          "org.envcache.layer.files", fs);
    if (l->flags & EC_LAYER_BASE)
        json_object_set_new(a, "org.envcache.layer.base", json_string("true"));
    json_object_set_new(d, "annotations", a);
    return d;
}

json_t *ec_oci_config(const ec_layer_info *layers, size_t n)
{
    json_t *ids = json_array();
    char ds[EC_DIGEST_STR_LEN];
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(ec_digest_format(ds, &layers[i].diff_id)));
    return json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:[s]}}", "architecture", "amd64", "os",
                     "linux", "rootfs", "type", "layers", "diff_ids", ids, "config", "Env",
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

json_t *ec_oci_manifest(json_t *config_desc, json_t *layers, json_t *annotations)
{
    json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
                          EC_OCI_MANIFEST, "config", config_desc, "layers", layers);
    if (annotations)
        json_object_set_new(m, "annotations", annotations);
    return m;
}

/* sha256 and size of the tar inside the zstd blob on @fd. */
static int tar_digest(ec_digest *out, uint64_t *size, int fd, const char *what, ec_err *err)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!z)
        return ec_fail(err, EC_ENOMEM, "cannot make a zstd decoder");
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    size_t inn = ZSTD_DStreamInSize(), outn = ZSTD_DStreamOutSize();
    EC_AUTOFREE char *ib = ec_xmalloc(inn);
    EC_AUTOFREE char *ob = ec_xmalloc(outn);
    int r = EC_OK;
    size_t last = 0;
    *size = 0;
    for (;;) {
        ssize_t got = read(fd, ib, inn);
        if (got < 0) {
            r = ec_fail_sys(err, errno, "cannot read %s", what);
            break;
        }
        if (got == 0)
            break;
        ZSTD_inBuffer in = {ib, (size_t)got, 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer o = {ob, outn, 0};
            last = ZSTD_decompressStream(z, &o, &in);
            if (ZSTD_isError(last)) {
                r = ec_fail(err, EC_EARCHIVE, "%s is not zstd: %s", what,
                            ZSTD_getErrorName(last));
                break;
            }
            ec_sha256_update(h, ob, o.pos);
            *size += o.pos;
        }
        if (r < 0)
            break;
    }
    ZSTD_freeDStream(z);
    if (r == EC_OK && last != 0)
        r = ec_fail(err, EC_EARCHIVE, "%s: the zstd stream is cut short", what);
    if (r == EC_OK)
        ec_sha256_final(ec_steal(&h), out);
    return r;
}

static uint64_t ann_u64(const json_t *desc, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(desc, "annotations"),
                                                      key));
    return v ? strtoull(v, NULL, 10) : 0;
}

int ec_oci_layer_record(ec_layer_info *out, ec_store *st, const ec_digest *digest,
                        const ec_digest *diff_id, const json_t *desc, ec_err *err)
{
    char ds[EC_DIGEST_STR_LEN], want[EC_DIGEST_STR_LEN], got[EC_DIGEST_STR_LEN];
    ec_digest_format(ds, digest);
    EC_AUTOFREE char *what = ec_xasprintf("layer %s", ds);
    EC_AUTOFD int fd = -1;
    ec_layer_info l = {.digest = *digest, .diff_id = *diff_id};
    int r = ec_blob_open(&fd, st, digest, err);
    ec_digest tar;
    if (r == EC_OK)
        r = tar_digest(&tar, &l.tar_size, fd, what, err);
    if (r == EC_OK && !ec_digest_eq(&tar, diff_id))
        r = ec_fail(err, EC_EINTEGRITY, "%s: its tar is %s where the image's config says %s",
                    what, ec_digest_format(got, &tar), ec_digest_format(want, diff_id));
    if (r < 0)
        return r;
    l.size = (uint64_t)lseek(fd, 0, SEEK_END);
    l.files = ann_u64(desc, "org.envcache.layer.files");
    const char *base = json_string_value(json_object_get(json_object_get(desc, "annotations"),
                                                         "org.envcache.layer.base"));
    l.flags = base && strcmp(base, "true") == 0 ? EC_LAYER_BASE : 0;
    l.created = l.last_used = ec_now();
    EC_AUTO(ec_txn) txn = NULL;
    ec_layer_info old;
    if ((r = ec_txn_begin(&txn, st, 0, err)) < 0)
        return r;
    if (ec_layer_lookup(&old, txn, digest, NULL) == EC_OK) {
        l.created = old.created;
        l.flags |= old.flags;
    }
    if ((r = ec_layer_put(txn, &l, err)) < 0 || (r = ec_txn_commit(ec_steal(&txn), err)) < 0)
        return r;
    if (out)
        *out = l;
    return EC_OK;
}

int ec_oci_stack_layers(ec_layer_info **out, size_t *n_out, ec_store *st, const json_t *stack,
                        ec_err *err)
{
    size_t n = json_array_size(stack);
    ec_layer_info *ls = ec_xcalloc(n ? n : 1, sizeof *ls);
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        ec_digest d;
        r = ec_digest_parse(&d, json_string_value(json_array_get(stack, i)), err);
        if (r == EC_OK)
            r = ec_layer_lookup(&ls[i], txn, &d, err);
    }
    if (r < 0) {
        free(ls);
        return r;
    }
    *out = ls;
    *n_out = n;
    return EC_OK;
}

json_t *ec_oci_stats_json(const ec_oci_stats *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)s->requests,
                     "blobs_sent", (json_int_t)s->blobs_sent, "blobs_mounted",
                     (json_int_t)s->blobs_mounted, "blobs_present",
                     (json_int_t)s->blobs_present, "bytes_sent", (json_int_t)s->bytes_sent,
                     "blobs_got", (json_int_t)s->blobs_got, "bytes_got",
                     (json_int_t)s->bytes_got);
}


int ec_oci_env_ready(ec_cache *c, const char *id, const json_t *packages, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    const char *mgr;
    json_t *specs;
    json_object_foreach((json_t *)packages, mgr, specs) {
        if (r < 0 || !json_is_array(specs) || json_array_size(specs) == 0)
            continue; /* not a manager of this environment, or no packages of it */
        EC_AUTO(json_t) state = NULL;
        const char *st = NULL;
        if (ec_cache__warm_state_get(&state, txn, id, mgr, NULL) == EC_OK)
            st = json_string_value(json_object_get(state, "state"));
        if (!st || strcmp(st, "ready") != 0)
            r = ec_fail(err, EC_ECONFLICT, "environment %s: its %s packages are not warmed: "
                        "run 'envcache warm' first", id, mgr);
    }
    return r;
}
