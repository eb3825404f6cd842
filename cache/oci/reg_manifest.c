/* SPDX-License-Identifier: MIT */
/* Manifests on a registry, and artifacts attached to them: the referrers API where the
 * registry has it, else the tag schema ("sha256-<hex>" tags an index of the referrers). */
#include "cache/oci/oci_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define ACCEPT_MANIFESTS EC_OCI_MANIFEST ", " EC_OCI_INDEX ", " EC_OCI_DOCKER_MANIFEST
/* Read-modify-write of a fallback tag races with another pusher; a write that lost is seen
 * on re-reading and done again. */
#define FALLBACK_TRIES 5

int ec_reg_manifest_put(ec_reg *g, const char *repo, const char *ref, const char *media_type,
                        const char *manifest, ec_digest *digest_out, bool *subject_ok,
                        ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("/v2/%s/manifests/%s", repo, ref);
    EC_AUTOFREE char *scope = ec_xasprintf("repository:%s:pull,push", repo);
    EC_AUTOFREE char *what = ec_xasprintf("pushing manifest %s:%s", repo, ref);
    ec_reg_req rq = {.method = "PUT", .url = url, .content_type = media_type, .body = manifest,
                     .body_n = strlen(manifest), .scope = scope, .what = what};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    if (r == EC_OK && rs.status != 201)
        r = ec_reg_fail(err, &rq, &rs);
    if (r == EC_OK && digest_out)
        ec_sha256_buf(digest_out, manifest, strlen(manifest));
    if (subject_ok)
        *subject_ok = r == EC_OK && rs.subject;
    ec_reg_resp_fini(&rs);
    return r;
}

static int manifest_get(json_t **out, ec_digest *digest_out, ec_reg *g, const char *repo,
                        const char *ref, const char *accept, bool quiet_404, ec_err *err)
{
    EC_AUTOFREE char *url = ec_xasprintf("/v2/%s/manifests/%s", repo, ref);
    EC_AUTOFREE char *scope = ec_xasprintf("repository:%s:pull", repo);
    EC_AUTOFREE char *what = ec_xasprintf("manifest %s:%s", repo, ref);
    ec_reg_req rq = {.method = "GET", .url = url, .accept = accept, .scope = scope,
                     .what = what};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    if (r == EC_OK && rs.status == 404 && quiet_404)
        r = ec_fail(err, EC_ENOTFOUND, "%s: not found on %s", what, g->host);
    else if (r == EC_OK && rs.status != 200)
        r = ec_reg_fail(err, &rq, &rs);
    ec_digest got, want;
    if (r == EC_OK) {
        ec_sha256_buf(&got, rs.body.p ? rs.body.p : "", rs.body.n);
        /* By digest: the bytes must be those; by tag: they must be what the registry says. */
        const char *claim = strncmp(ref, "sha256:", 7) == 0 ? ref : rs.digest;
        if (claim && (ec_digest_parse(&want, claim, NULL) < 0 || !ec_digest_eq(&want, &got)))
            r = ec_fail(err, EC_EINTEGRITY, "%s: the manifest's bytes do not match %s", what,
                        claim);
    }
    if (r == EC_OK) {
        json_error_t je;
        *out = json_loadb(rs.body.p ? rs.body.p : "", rs.body.n, 0, &je);
        if (!*out || !json_is_object(*out))
            r = ec_fail(err, EC_EFORMAT, "%s: not a JSON manifest (%s)", what, je.text);
        else if (digest_out)
            *digest_out = got;
    }
    ec_reg_resp_fini(&rs);
    return r;
}

int ec_reg_manifest_get(json_t **out, ec_digest *digest_out, ec_reg *g, const char *repo,
                        const char *ref, ec_err *err)
{
    return manifest_get(out, digest_out, g, repo, ref, ACCEPT_MANIFESTS, true, err);
}

static char *fallback_tag(const ec_digest *subject)
{
    char hex[EC_DIGEST_HEX_LEN];
    return ec_xasprintf("sha256-%s", ec_digest_hex(hex, subject));
}

static bool index_has(const json_t *index, const char *digest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(index, "manifests"), i, m)
        if (strcmp(json_string_value(json_object_get(m, "digest")) ?: "", digest) == 0)
            return true;
    return false;
}

int ec_reg_referrer_put(ec_reg *g, const char *repo, const ec_digest *subject,
                        const char *manifest, size_t size, ec_err *err)
{
    ec_digest d;
    bool api = false;
    char ds[EC_DIGEST_STR_LEN];
    ec_sha256_buf(&d, manifest, size);
    ec_digest_format(ds, &d);
    int r = ec_reg_manifest_put(g, repo, ds, EC_OCI_MANIFEST, manifest, NULL, &api, err);
    if (r < 0 || api)
        return r;
    EC_AUTO(json_t) art = json_loads(manifest, 0, NULL);
    EC_AUTO(json_t) desc = ec_oci_desc(EC_OCI_MANIFEST, &d, size);
    json_t *at = json_object_get(art, "artifactType");
    if (at)
        json_object_set(desc, "artifactType", at);
    json_t *ann = json_object_get(art, "annotations");
    if (ann)
        json_object_set(desc, "annotations", ann);
    EC_AUTOFREE char *tag = fallback_tag(subject);
    for (int i = 0; i < FALLBACK_TRIES; i++) {
        EC_AUTO(json_t) index = NULL;
        ec_err e = {0};
        r = manifest_get(&index, NULL, g, repo, tag, EC_OCI_INDEX, true, &e);
        if (r == EC_ENOTFOUND)
            index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                              EC_OCI_INDEX, "manifests");
        else if (r < 0) {
            if (err)
                *err = e;
            return r;
        }
        if (index_has(index, ds))
            return EC_OK;
        json_array_append(json_object_get(index, "manifests"), desc);
        EC_AUTOFREE char *text = ec_oci_dump(index);
        if ((r = ec_reg_manifest_put(g, repo, tag, EC_OCI_INDEX, text, NULL, NULL, err)) < 0)
            return r;
    }
    return ec_fail(err, EC_ECONFLICT, "%s: the referrers tag %s kept changing under this push; "
                   "push again", repo, tag);
}

int ec_reg_referrers(json_t **out, ec_reg *g, const char *repo, const ec_digest *subject,
                     ec_err *err)
{
    char ds[EC_DIGEST_STR_LEN];
    ec_digest_format(ds, subject);
    EC_AUTOFREE char *url = ec_xasprintf("/v2/%s/referrers/%s", repo, ds);
    EC_AUTOFREE char *scope = ec_xasprintf("repository:%s:pull", repo);
    ec_reg_req rq = {.method = "GET", .url = url, .accept = EC_OCI_INDEX, .scope = scope,
                     .what = "referrers"};
    ec_reg_resp rs = {0};
    int r = ec_reg_do(g, &rq, &rs, err);
    EC_AUTO(json_t) index = NULL;
    if (r == EC_OK && rs.status == 200 && rs.content_type &&
        strncmp(rs.content_type, EC_OCI_INDEX, strlen(EC_OCI_INDEX)) == 0)
        index = json_loadb(rs.body.p ? rs.body.p : "", rs.body.n, 0, NULL);
    ec_reg_resp_fini(&rs);
    if (r < 0)
        return r;
    if (!index) { /* no referrers API: the tag schema */
        EC_AUTOFREE char *tag = fallback_tag(subject);
        r = manifest_get(&index, NULL, g, repo, tag, EC_OCI_INDEX, true, err);
        if (r == EC_ENOTFOUND) {
            ec_err_clear(err);
            *out = json_array();
            return EC_OK;
        }
        if (r < 0)
            return r;
    }
    json_t *m = json_object_get(index, "manifests");
    *out = json_is_array(m) ? json_incref(m) : json_array();
    return EC_OK;
}
