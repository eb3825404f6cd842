/* SPDX-License-Identifier: MIT */
/* Abbreviated packument JSON → compact structs in one pool; platform and engine checks. */
#include "fetchers/npm/packument.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

/* --- a bump pool: everything of one packument, freed at once --- */

typedef struct pool_block {
    struct pool_block *next;
    size_t used, size;
    max_align_t data[];
} pool_block;

static void *pool_alloc(pool_block **head, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    pool_block *b = *head;
    if (!b || b->size - b->used < n) {
        size_t size = n > 32768 ? n : 32768;
        b = ec_xmalloc(sizeof(*b) + size);
        b->next = *head;
        b->used = 0;
        b->size = size;
        *head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static const char *pool_strdup(pool_block **pool, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(pool_alloc(pool, n), s, n);
}

static void pool_free(pool_block *b)
{
    while (b) {
        pool_block *next = b->next;
        free(b);
        b = next;
    }
}

/* --- field readers: wrong types read as absent --- */

static const char *get_str(pool_block **pool, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? pool_strdup(pool, json_string_value(v)) : NULL;
}

static ec_npm_kvs get_map(pool_block **pool, const json_t *o)
{
    ec_npm_kvs m = {0};
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return m;
    m.v = pool_alloc(pool, json_object_size(o) * sizeof(*m.v) + 1);
    json_object_foreach((json_t *)o, k, v) {
        if (json_is_string(v))
            m.v[m.n++] = (ec_npm_kv){pool_strdup(pool, k), pool_strdup(pool, json_string_value(v))};
    }
    return m;
}

static ec_npm_strs get_list(pool_block **pool, const json_t *a)
{
    ec_npm_strs l = {0};
    if (json_is_string(a)) { /* "os": "linux" is accepted by npm-install-checks */
        l.v = pool_alloc(pool, sizeof(*l.v));
        l.v[l.n++] = pool_strdup(pool, json_string_value(a));
        return l;
    }
    if (!json_is_array(a))
        return l;
    l.v = pool_alloc(pool, json_array_size(a) * sizeof(*l.v) + 1);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (json_is_string(v))
            l.v[l.n++] = pool_strdup(pool, json_string_value(v));
    }
    return l;
}

/* --- bin: npm-normalize-package-bin --- */

/* path.join('/', p).slice(1): resolves ".", ".." and repeated slashes. */
static const char *bin_clean_path(pool_block **pool, const char *p)
{
    char *out = pool_alloc(pool, strlen(p) + 1);
    size_t n = 0;
    while (*p) {
        size_t len = strcspn(p, "/\\");
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n && out[n - 1] != '/')
                n--;
            if (n)
                n--;
        } else if (len && !(len == 1 && p[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
        if (*p)
            p++;
    }
    out[n] = '\0';
    return out;
}

/* basename(key with "\" and ":" as "/"), then cleaned like a path. */
static const char *bin_clean_name(pool_block **pool, const char *key)
{
    const char *base = key;
    for (const char *p = key; *p; p++)
        if (*p == '/' || *p == '\\' || *p == ':')
            base = p + 1;
    return bin_clean_path(pool, base);
}

static void bin_add(pool_block **pool, ec_npm_kvs *m, const char *key, const char *path)
{
    const char *name = bin_clean_name(pool, key), *target = bin_clean_path(pool, path);
    if (!*name || !*target)
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->v[i].key, name)) {
            m->v[i].value = target;
            return;
        }
    }
    m->v[m->n++] = (ec_npm_kv){name, target};
}

static ec_npm_kvs get_bin(pool_block **pool, const char *pkg, const json_t *bin)
{
    ec_npm_kvs m = {0};
    const char *k;
    json_t *v;
    if (json_is_string(bin)) {
        m.v = pool_alloc(pool, sizeof(*m.v));
        bin_add(pool, &m, pkg, json_string_value(bin));
    } else if (json_is_array(bin)) {
        m.v = pool_alloc(pool, json_array_size(bin) * sizeof(*m.v) + 1);
        for (size_t i = 0; i < json_array_size(bin); i++)
            if (json_is_string(json_array_get(bin, i)))
                bin_add(pool, &m, json_string_value(json_array_get(bin, i)),
                        json_string_value(json_array_get(bin, i)));
    } else if (json_is_object(bin)) {
        m.v = pool_alloc(pool, json_object_size(bin) * sizeof(*m.v) + 1);
        json_object_foreach((json_t *)bin, k, v) {
            if (json_is_string(v))
                bin_add(pool, &m, k, json_string_value(v));
        }
    }
    return m;
}

/* --- one version --- */

static void read_peer_meta(pool_block **pool, ec_npm_manifest *m, const json_t *meta)
{
    const char *k;
    json_t *v;
    if (!json_is_object(meta))
        return;
    m->peer_optional.v = pool_alloc(pool, json_object_size(meta) * sizeof(char *) + 1);
    json_object_foreach((json_t *)meta, k, v) {
        if (json_is_true(json_object_get(v, "optional")))
            m->peer_optional.v[m->peer_optional.n++] = pool_strdup(pool, k);
    }
}

static void read_bundled(pool_block **pool, ec_npm_manifest *m, const json_t *v)
{
    const json_t *bd = json_object_get(v, "bundleDependencies");
    if (!bd)
        bd = json_object_get(v, "bundledDependencies");
    if (json_is_true(bd))
        m->bundle_all = true;
    else
        m->bundled = get_list(pool, bd);
}

static void read_manifest(pool_block **pool, ec_npm_manifest *m, const char *name, const json_t *v)
{
    const json_t *engines = json_object_get(v, "engines");
    const json_t *dist = json_object_get(v, "dist");
    const json_t *dep = json_object_get(v, "deprecated");

    m->deps = get_map(pool, json_object_get(v, "dependencies"));
    m->optional = get_map(pool, json_object_get(v, "optionalDependencies"));
    m->peer = get_map(pool, json_object_get(v, "peerDependencies"));
    read_peer_meta(pool, m, json_object_get(v, "peerDependenciesMeta"));
    read_bundled(pool, m, v);
    m->os = get_list(pool, json_object_get(v, "os"));
    m->cpu = get_list(pool, json_object_get(v, "cpu"));
    m->libc = get_list(pool, json_object_get(v, "libc"));
    m->engines_node = json_is_object(engines) ? get_str(pool, engines, "node") : NULL;
    m->engines_npm = json_is_object(engines) ? get_str(pool, engines, "npm") : NULL;
    /* a deprecation of "" means "un-deprecated" (npm deprecate pkg "") */
    m->deprecated = json_is_string(dep) && *json_string_value(dep)
                        ? pool_strdup(pool, json_string_value(dep))
                        : NULL;
    m->bin = get_bin(pool, name, json_object_get(v, "bin"));
    m->has_install_script = json_is_true(json_object_get(v, "hasInstallScript"));
    if (json_is_object(dist)) {
        m->tarball = get_str(pool, dist, "tarball");
        m->integrity = get_str(pool, dist, "integrity");
        m->shasum = get_str(pool, dist, "shasum");
    }
}

static int manifest_cmp(const void *a, const void *b)
{
    return ec_semver_compare(&((const ec_npm_manifest *)a)->semver,
                             &((const ec_npm_manifest *)b)->semver);
}

static int read_versions(ec_npm_packument *p, pool_block **pool, const json_t *vs, ec_err *err)
{
    const char *k;
    json_t *v;
    if (!vs)
        return EC_OK; /* an unpublished package: no versions */
    if (!json_is_object(vs))
        return ec_fail(err, EC_EFORMAT, "packument of %s: \"versions\" is not an object", p->name);
    p->versions = pool_alloc(pool, json_object_size(vs) * sizeof(*p->versions) + 1);
    json_object_foreach((json_t *)vs, k, v) {
        ec_npm_manifest *m = &p->versions[p->nversions];
        if (!json_is_object(v))
            return ec_fail(err, EC_EFORMAT, "packument of %s: version \"%.64s\" is not an object",
                           p->name, k);
        if (ec_semver_parse(&m->semver, k, NULL) < 0)
            continue; /* npm cannot select it either */
        m->version = pool_strdup(pool, k);
        read_manifest(pool, m, p->name, v);
        p->nversions++;
    }
    if (p->nversions) /* qsort wants a real array, even for none */
        qsort(p->versions, p->nversions, sizeof(*p->versions), manifest_cmp);
    return EC_OK;
}

int ec_npm_packument_from_json(ec_npm_packument **out, const char *name, const json_t *doc,
                               ec_err *err)
{
    if (!json_is_object(doc))
        return ec_fail(err, EC_EFORMAT, "packument of %s is not a JSON object", name);
    const json_t *tags = json_object_get(doc, "dist-tags");
    if (tags && !json_is_object(tags))
        return ec_fail(err, EC_EFORMAT, "packument of %s: \"dist-tags\" is not an object", name);
    pool_block *pool = NULL;
    ec_npm_packument *p = pool_alloc(&pool, sizeof(*p));
    p->name = pool_strdup(&pool, name);
    p->tags = get_map(&pool, tags);
    int r = read_versions(p, &pool, json_object_get(doc, "versions"), err);
    if (r < 0) {
        pool_free(pool);
        return r;
    }
    p->pool = pool;
    *out = p;
    return EC_OK;
}

int ec_npm_packument_parse(ec_npm_packument **out, const char *name, const char *text,
                           size_t len, ec_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!doc)
        return ec_fail(err, EC_EFORMAT, "packument of %s is not JSON: %s (line %d)", name,
                       jerr.text, jerr.line);
    int r = ec_npm_packument_from_json(out, name, doc, err);
    json_decref(doc);
    return r;
}

void ec_npm_packument_free(ec_npm_packument *p)
{
    if (p)
        pool_free(p->pool); /* p itself lives in the pool */
}

const ec_npm_manifest *ec_npm_packument_lookup(const ec_npm_packument *p, const char *version)
{
    for (size_t i = 0; i < p->nversions; i++)
        if (!strcmp(p->versions[i].version, version))
            return &p->versions[i];
    return NULL;
}

const char *ec_npm_packument_tag(const ec_npm_packument *p, const char *tag)
{
    for (size_t i = 0; i < p->tags.n; i++)
        if (!strcmp(p->tags.v[i].key, tag))
            return p->tags.v[i].value;
    return NULL;
}

/* --- npm-install-checks --- */

/* checkList: "any" alone admits all; a matching "!x" refuses; otherwise a
 * plain match, or a list made only of negations, admits. */
static bool check_list(const char *value, const ec_npm_strs *l)
{
    size_t negated = 0;
    bool match = false;
    if (!l->n || (l->n == 1 && !strcmp(l->v[0], "any")))
        return true;
    for (size_t i = 0; i < l->n; i++) {
        bool neg = l->v[i][0] == '!';
        const char *t = l->v[i] + neg;
        if (neg) {
            if (value && !strcmp(value, t))
                return false;
            negated++;
        } else if (value && !strcmp(value, t)) {
            match = true;
        }
    }
    return match || negated == l->n;
}

bool ec_npm_platform_ok(const ec_npm_manifest *m, const ec_npm_platform *plat)
{
    if (m->libc.n && !plat->libc)
        return false;
    return check_list(plat->os, &m->os) && check_list(plat->cpu, &m->cpu) &&
           check_list(plat->libc, &m->libc);
}

/* includePrerelease=true in npm; it changes nothing for a release version of
 * node or npm, which is all we are given. */
bool ec_npm_engine_ok(const ec_npm_manifest *m, const ec_npm_platform *plat)
{
    if (plat->node_version && m->engines_node &&
        !ec_semver_satisfies(plat->node_version, m->engines_node))
        return false;
    if (plat->npm_version && m->engines_npm &&
        !ec_semver_satisfies(plat->npm_version, m->engines_npm))
        return false;
    return true;
}
