/* SPDX-License-Identifier: MIT */
/* What the npm mirror reads in upstream's packuments (outside input): tarball URLs pointed
 * at the mirror, and a tarball's dist entry found; apart from the serving code so a fuzz
 * target reaches them. */
#include "fetchers/npm/npm_mirror_doc.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "fetchers/npm/npm_int.h"
#include "store/util/mem.h"

int ec_npm_mirror_rewrite(ec_buf *out, const char *body, size_t len, const char *upstream,
                          const char *base, ec_err *err)
{
    size_t ul = strlen(upstream);
    while (ul && upstream[ul - 1] == '/')
        ul--;
    static const char key[] = "\"tarball\"";
    const char *p = body, *end = body + len;
    int rc = EC_OK;
    for (const char *hit; rc == EC_OK && (hit = memmem(p, (size_t)(end - p), key,
                                                       sizeof key - 1));) {
        const char *v = hit + sizeof key - 1;
        while (v < end && (*v == ' ' || *v == ':' || *v == '\t' || *v == '\n'))
            v++;
        bool ours = v < end && *v == '"' && (size_t)(end - v - 1) > ul &&
                    memcmp(v + 1, upstream, ul) == 0 && v[1 + ul] == '/';
        const char *upto = ours ? v + 1 : v;
        rc = ec_buf_add(out, p, (size_t)(upto - p), err);
        if (rc == EC_OK && ours)
            rc = ec_buf_adds(out, base, err);
        p = ours ? v + 1 + ul : upto;
    }
    return rc == EC_OK ? ec_buf_add(out, p, (size_t)(end - p), err) : rc;
}

int ec_npm_find_in_doc(const char *name, const char *body, size_t len, void *ud, ec_err *err)
{
    ec_npm_find_dist *f = ud;
    json_t *doc = json_loadb(body, len, 0, NULL);
    if (!doc)
        return ec_fail(err, EC_EFORMAT, "the packument of %s is not JSON", name);
    const char *ver;
    json_t *v;
    json_object_foreach(json_object_get(doc, "versions"), ver, v) {
        json_t *dist = json_object_get(v, "dist");
        const char *url = json_string_value(json_object_get(dist, "tarball"));
        if (url && strcmp(ec_npm_url_file(url), f->file) == 0 && !f->url) {
            const char *i = json_string_value(json_object_get(dist, "integrity"));
            const char *s = json_string_value(json_object_get(dist, "shasum"));
            f->url = ec_xstrdup(url);
            f->integrity = i ? ec_xstrdup(i) : NULL;
            f->shasum = s ? ec_xstrdup(s) : NULL;
            f->what = ec_xasprintf("%s@%s tarball", name, ver);
        }
    }
    json_decref(doc);
    return EC_OK;
}
