/* SPDX-License-Identifier: MIT */
/* The checksum database client, as go's (golang.org/x/mod/sumdb): a module version's
 * record is looked up, its signed tree head verified with the configured public key, and
 * the record proved to be in that tree from the log's tiles: the tree's root is computed
 * from the record's own hash and the tiles' stored hashes, and must equal the signed one.
 * Verified lookups and full tiles are kept in the store (the mirror serves them too). */
#include "fetchers/go/go_int.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define TILE_H 8
#define TILE_W (1u << TILE_H)

/* --- signed notes --- */

/* Strict standard base64 (with padding); returns the length, or -1. EVP_DecodeBlock
 * writes n / 4 * 3 bytes, padding included: all of them must fit (a key of 88 characters
 * wrote 66 bytes into a 64-byte buffer). */
static long b64_decode(unsigned char *out, size_t cap, const char *s, size_t n)
{
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0)
        return -1;
    size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
    return (long)((size_t)k - pad);
}

typedef struct vkey {
    char name[256];
    uint32_t hash;
    unsigned char key[32];
} vkey;

static int vkey_parse(vkey *v, const char *text, ec_err *err)
{
    const char *p1 = strchr(text, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
    unsigned char raw[64];
    long n = p2 ? b64_decode(raw, sizeof raw, p2 + 1, strlen(p2 + 1)) : -1;
    if (!p2 || p2 - p1 != 9 || (size_t)(p1 - text) >= sizeof v->name || n != 33 || raw[0] != 1)
        return ec_fail(err, EC_EINVAL, "GOSUMDB key \"%s\" is not name+hash+ed25519-key", text);
    snprintf(v->name, sizeof v->name, "%.*s", (int)(p1 - text), text);
    char hex[9];
    snprintf(hex, sizeof hex, "%.8s", p1 + 1);
    v->hash = (uint32_t)strtoul(hex, NULL, 16);
    memcpy(v->key, raw + 1, 32);
    /* the hash names the key: sha256(name "\n" 0x01 key)[:4] */
    ec_sha256 *h = ec_sha256_new();
    ec_sha256_update(h, v->name, strlen(v->name));
    ec_sha256_update(h, "\n", 1);
    ec_sha256_update(h, raw, 33);
    ec_digest d;
    ec_sha256_final(h, &d);
    uint32_t want = (uint32_t)d.b[0] << 24 | (uint32_t)d.b[1] << 16 | (uint32_t)d.b[2] << 8 | d.b[3];
    if (want != v->hash)
        return ec_fail(err, EC_EINVAL, "GOSUMDB key \"%s\": its hash does not match the key",
                       text);
    return EC_OK;
}

static bool ed25519_ok(const unsigned char key[32], const unsigned char sig[64],
                       const void *msg, size_t n)
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = pk && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
              EVP_DigestVerify(md, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return ok;
}

int go_note_verify(const char *vkey_text, const char *note, size_t n, size_t *text_len,
                   const char *what, ec_err *err)
{
    vkey v;
    int r = vkey_parse(&v, vkey_text, err);
    if (r < 0)
        return r;
    const char *split = NULL;
    for (const char *p = note; p + 1 < note + n; p++)
        if (p[0] == '\n' && p[1] == '\n')
            split = p;
    if (!split)
        return ec_fail(err, EC_EINTEGRITY, "%s: not a signed note", what);
    size_t tl = (size_t)(split - note) + 1;
    static const char dash[] = "\xe2\x80\x94 ";
    for (const char *line = split + 2, *end; line < note + n; line = end + 1) {
        end = memchr(line, '\n', (size_t)(note + n - line));
        if (!end)
            break;
        size_t nl = strlen(v.name);
        if ((size_t)(end - line) < 4 + nl || memcmp(line, dash, 4) != 0 ||
            memcmp(line + 4, v.name, nl) != 0 || line[4 + nl] != ' ')
            continue;
        const char *b = line + 5 + nl;
        unsigned char sig[72];
        if (b64_decode(sig, sizeof sig, b, (size_t)(end - b)) != 68)
            continue;
        uint32_t h = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 | sig[3];
        if (h == v.hash && ed25519_ok(v.key, sig + 4, note, tl)) {
            *text_len = tl;
            return EC_OK;
        }
        return ec_fail(err, EC_EINTEGRITY, "%s: the signature of %s does not verify", what,
                       v.name);
    }
    return ec_fail(err, EC_EINTEGRITY, "%s: not signed by %s", what, v.name);
}

/* --- the tree --- */

typedef struct tree {
    int64_t n;
    ec_digest root;
} tree;

static int tree_parse(tree *t, const char *text, size_t n, const char *what, ec_err *err)
{
    static const char head[] = "go.sum database tree\n";
    EC_AUTOFREE char *s = ec_xstrndup(text, n);
    char *end = NULL;
    if (strncmp(s, head, sizeof head - 1) != 0)
        return ec_fail(err, EC_EINTEGRITY, "%s: not a checksum database tree", what);
    t->n = strtoll(s + sizeof head - 1, &end, 10);
    unsigned char raw[40];
    char *h = end && *end == '\n' ? end + 1 : NULL;
    size_t hl = h ? strcspn(h, "\n") : 0;
    if (!h || t->n <= 0 || b64_decode(raw, sizeof raw, h, hl) != 32)
        return ec_fail(err, EC_EINTEGRITY, "%s: malformed tree", what);
    memcpy(t->root.b, raw, 32);
    return EC_OK;
}

static void node_hash(ec_digest *out, const ec_digest *l, const ec_digest *r)
{
    unsigned char buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l->b, 32);
    memcpy(buf + 33, r->b, 32);
    ec_sha256_buf(out, buf, sizeof buf);
}

static void record_hash(ec_digest *out, const char *data, size_t n)
{
    ec_sha256 *h = ec_sha256_new();
    ec_sha256_update(h, "", 1);
    ec_sha256_update(h, data, n);
    ec_sha256_final(h, out);
}

/* tile/8/L/NNN[.p/W], the index in groups of three digits ("x001/x234/067"). */
static char *tile_path(int level, int64_t idx, int64_t w)
{
    char num[64] = "";
    int groups[8];
    int ng = 0;
    do {
        groups[ng++] = (int)(idx % 1000);
        idx /= 1000;
    } while (idx > 0 && ng < 8);
    size_t o = 0;
    for (int i = ng - 1; i >= 0; i--)
        o += (size_t)snprintf(num + o, sizeof num - o, "%s%s%03d", i < ng - 1 ? "/" : "",
                              i > 0 ? "x" : "", groups[i]);
    return w == TILE_W ? ec_xasprintf("tile/%d/%d/%s", TILE_H, level, num)
                       : ec_xasprintf("tile/%d/%d/%s.p/%lld", TILE_H, level, num, (long long)w);
}

typedef struct prover {
    go_cfg *g;
    const char *base;   /* the database's URL (through the proxy or its own) */
    char *rel_base;     /* "sumdb/<name>" for the store's keys */
    tree t;
    int64_t id;
    ec_digest leaf;
    struct memo { char *rel; ec_buf data; } *memo; /* this proof's tiles */
    size_t nmemo;
    ec_err *err;
    int rc;
} prover;

/* A database drops a partial tile once its full tile exists; go then reads the full one
 * and keeps its first @w hashes (x/mod/sumdb's readTile). The rest is not proved by this
 * tree, so the full tile is not stored from here. */
static int full_tile_prefix(prover *p, const char *full, int64_t w, ec_buf *out)
{
    EC_AUTOFREE char *url = ec_xasprintf("%s/%s", p->base, full);
    ec_buf_reset(out);
    ec_err_clear(p->err);
    int r = go_url_get(p->g, url, out, p->err);
    if (r == EC_OK && out->n != TILE_W * 32)
        return ec_fail(p->err, EC_EINTEGRITY, "checksum database tile %s has %zu bytes, not %d",
                       full, out->n, TILE_W * 32);
    if (r == EC_OK)
        out->n = (size_t)w * 32;
    return r;
}

static int tile_get(prover *p, int level, int64_t tidx, int64_t w, ec_buf *out)
{
    EC_AUTOFREE char *path = tile_path(level, tidx, w);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/%s", p->rel_base, path);
    for (size_t i = 0; i < p->nmemo; i++)
        if (strcmp(p->memo[i].rel, rel) == 0)
            return ec_buf_add(out, p->memo[i].data.p, p->memo[i].data.n, p->err);
    /* a partial tile is the start of its full tile, when that one is stored (proved) */
    EC_AUTOFREE char *full = tile_path(level, tidx, TILE_W);
    EC_AUTOFREE char *full_rel = ec_xasprintf("%s/%s", p->rel_base, full);
    ec_digest d;
    if (go_doc_lookup(p->g->ctx->store, full_rel, &d, NULL) == EC_OK &&
        go_blob_read(p->g->ctx->store, &d, out, NULL) == EC_OK && out->n == TILE_W * 32) {
        out->n = (size_t)w * 32;
        return EC_OK;
    }
    ec_buf_reset(out);
    EC_AUTOFREE char *url = ec_xasprintf("%s/%s", p->base, path);
    int r = go_url_get(p->g, url, out, p->err);
    if (r == EC_ENOTFOUND && w < TILE_W)
        r = full_tile_prefix(p, full, w, out);
    if (r == EC_OK && out->n != (size_t)w * 32)
        r = ec_fail(p->err, EC_EINTEGRITY, "checksum database tile %s has %zu bytes, not %lld",
                    path, out->n, (long long)w * 32);
    if (r == EC_OK) {
        p->memo = ec_xrealloc(p->memo, (p->nmemo + 1) * sizeof *p->memo);
        p->memo[p->nmemo].rel = ec_xstrdup(rel);
        p->memo[p->nmemo].data = (ec_buf)EC_BUF_INIT;
        r = ec_buf_add(&p->memo[p->nmemo++].data, out->p, out->n, p->err);
    }
    return r;
}

/* The stored hash of the complete subtree of 2^level leaves at index @k. */
static void stored_hash(prover *p, ec_digest *out, int level, int64_t k)
{
    memset(out, 0, sizeof *out);
    if (p->rc < 0)
        return;
    int tl = level / TILE_H, r = level % TILE_H;
    int64_t first = k << r, last = ((k + 1) << r) - 1; /* indices at level tl*8 */
    int64_t tidx = first / TILE_W;
    int64_t count = p->t.n >> (tl * TILE_H);
    int64_t w = count - tidx * TILE_W >= TILE_W ? TILE_W : count - tidx * TILE_W;
    ec_buf b = EC_BUF_INIT;
    b.max = TILE_W * 32 + 1;
    p->rc = tile_get(p, tl, tidx, w, &b);
    if (p->rc == EC_OK && (last - tidx * TILE_W) * 32 + 32 > (int64_t)b.n)
        p->rc = ec_fail(p->err, EC_EINTEGRITY, "checksum database tile too short");
    if (p->rc == EC_OK) {
        int64_t n = (int64_t)1 << r;
        ec_digest *h = ec_xcalloc((size_t)n, sizeof *h);
        memcpy(h, b.p + (first - tidx * TILE_W) * 32, (size_t)n * 32);
        for (; n > 1; n /= 2)
            for (int64_t i = 0; i < n / 2; i++)
                node_hash(&h[i], &h[2 * i], &h[2 * i + 1]);
        *out = h[0];
        free(h);
    }
    ec_buf_fini(&b);
}

/* RFC 6962's tree hash of leaves [lo, hi), the record's hash standing for leaf @id. */
static void subtree(prover *p, ec_digest *out, int64_t lo, int64_t hi)
{
    int64_t n = hi - lo;
    bool has = lo <= p->id && p->id < hi;
    if (n == 1 && has) {
        *out = p->leaf;
        return;
    }
    if (!(n & (n - 1)) && !has) {
        int level = 0;
        while (((int64_t)1 << level) < n)
            level++;
        stored_hash(p, out, level, lo >> level);
        return;
    }
    int64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    ec_digest l, r;
    subtree(p, &l, lo, lo + k);
    subtree(p, &r, lo + k, hi);
    node_hash(out, &l, &r);
}

/* --- lookups --- */

const char *go_sumdb_base(go_cfg *g)
{
    if (g->sumdb_via == 0) {
        g->sumdb_via = -1;
        for (size_t i = 0; i < g->nproxies && g->proxies[i].url; i++) {
            EC_AUTOFREE char *url = ec_xasprintf("%s/sumdb/%s/supported", g->proxies[i].url,
                                                 g->sumdb_name);
            ec_buf b = EC_BUF_INIT;
            int r = go_url_get(g, url, &b, NULL);
            ec_buf_fini(&b);
            if (r == EC_OK) {
                g->sumdb_via = 1;
                free(g->sumdb_url);
                g->sumdb_url = ec_xasprintf("%s/sumdb/%s", g->proxies[i].url, g->sumdb_name);
            }
            break; /* go asks the first proxy only */
        }
    }
    return g->sumdb_url;
}

bool go_sumdb_record_line(char out[64], const char *text, const char *module,
                          const char *version, bool mod)
{
    EC_AUTOFREE char *want = ec_xasprintf("%s %s%s h1:", module, version, mod ? "/go.mod" : "");
    size_t wl = strlen(want);
    for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
        if (strncmp(l, want, wl) == 0) {
            size_t n = strcspn(l + wl - 3, "\n");
            snprintf(out, 64, "%.*s", (int)(n < 63 ? n : 63), l + wl - 3);
            return true;
        }
    return false;
}

int go_sumdb_lookup_verify(go_cfg *g, const char *base, const char *what, const ec_buf *body,
                           const char *rel_base, ec_err *err)
{
    const char *s = ec_buf_str(body);
    char *end = NULL;
    int64_t id = strtoll(s, &end, 10);
    const char *text = end && *end == '\n' ? end + 1 : NULL;
    const char *blank = text ? strstr(text, "\n\n") : NULL;
    if (!blank || id < 0)
        return ec_fail(err, EC_EINTEGRITY, "%s: malformed checksum database record", what);
    const char *note = blank + 2;
    size_t note_n = body->n - (size_t)(note - s), tl = 0;
    int r = go_note_verify(g->sumdb_vkey, note, note_n, &tl, what, err);
    prover p = {.g = g, .base = base, .rel_base = (char *)rel_base, .id = id, .err = err};
    if (r == EC_OK)
        r = tree_parse(&p.t, note, tl, what, err);
    if (r == EC_OK && id >= p.t.n)
        r = ec_fail(err, EC_EINTEGRITY, "%s: record %lld is beyond the signed tree of %lld",
                    what, (long long)id, (long long)p.t.n);
    if (r == EC_OK) {
        ec_digest root;
        record_hash(&p.leaf, text, (size_t)(blank + 1 - text));
        subtree(&p, &root, 0, p.t.n);
        r = p.rc;
        if (r == EC_OK && !ec_digest_eq(&root, &p.t.root))
            r = ec_fail(err, EC_EINTEGRITY, "%s: the checksum database record is not in its "
                        "signed tree (the proof from the tiles fails)", what);
    }
    for (size_t i = 0; i < p.nmemo; i++) { /* proved together: full tiles are kept */
        if (r == EC_OK && !strstr(p.memo[i].rel, ".p/"))
            r = go_doc_put(g, p.memo[i].rel, p.memo[i].data.p, p.memo[i].data.n, NULL, err);
        free(p.memo[i].rel);
        ec_buf_fini(&p.memo[i].data);
    }
    free(p.memo);
    return r;
}

int go_sumdb_hashes(go_cfg *g, const char *module, const char *version, char zip_h1[64],
                    char mod_h1[64], ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *ever = go_escape(version);
    EC_AUTOFREE char *rel_base = ec_xasprintf("sumdb/%s", g->sumdb_name);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/lookup/%s@%s", rel_base, emod, ever);
    EC_AUTOFREE char *what = ec_xasprintf("%s@%s", module, version);
    ec_buf body = EC_BUF_INIT;
    ec_digest d;
    int r;
    if (go_doc_lookup(g->ctx->store, rel, &d, NULL) == EC_OK &&
        go_blob_read(g->ctx->store, &d, &body, NULL) == EC_OK)
        r = EC_OK; /* stored only once verified */
    else {
        ec_buf_reset(&body);
        const char *base = go_sumdb_base(g);
        EC_AUTOFREE char *url = ec_xasprintf("%s/lookup/%s@%s", base, emod, ever);
        r = go_url_get(g, url, &body, err);
        if (r == EC_ENOTFOUND)
            ec_err_prefix(err, "%s is not in the checksum database %s", what, g->sumdb_name);
        if (r == EC_OK)
            r = go_sumdb_lookup_verify(g, base, what, &body, rel_base, err);
        if (r == EC_OK)
            r = go_doc_put(g, rel, body.p, body.n, NULL, err);
    }
    if (r == EC_OK) {
        const char *text = strchr(ec_buf_str(&body), '\n');
        bool okz = text && go_sumdb_record_line(zip_h1, text + 1, module, version, false);
        bool okm = text && go_sumdb_record_line(mod_h1, text + 1, module, version, true);
        if (!okz || !okm)
            r = ec_fail(err, EC_EINTEGRITY, "the checksum database record of %s does not name "
                        "it", what);
    }
    ec_buf_fini(&body);
    return r;
}

int go_verify_mod(go_cfg *g, const char *module, const char *version, const void *mod,
                  size_t n, ec_err *err)
{
    if (!go_cfg_checks(g, module))
        return EC_OK;
    char zh[64], mh[64], got[64];
    int r = go_sumdb_hashes(g, module, version, zh, mh, err);
    if (r < 0)
        return r;
    go_h1_mod(got, mod, n);
    if (strcmp(got, mh) != 0)
        return ec_fail(err, EC_EINTEGRITY, "%s@%s: go.mod has %s but the checksum database "
                       "%s says %s: nothing was stored", module, version, got, g->sumdb_name, mh);
    return EC_OK;
}

int go_verify_zip(go_cfg *g, const char *module, const char *version, const void *zip,
                  size_t n, char h1_out[64], ec_err *err)
{
    EC_AUTOFREE char *prefix = ec_xasprintf("%s@%s/", module, version);
    int r = go_h1_zip(h1_out, zip, n, prefix, err);
    if (r < 0 || !go_cfg_checks(g, module))
        return r;
    char zh[64], mh[64];
    if ((r = go_sumdb_hashes(g, module, version, zh, mh, err)) < 0)
        return r;
    if (strcmp(h1_out, zh) != 0)
        return ec_fail(err, EC_EINTEGRITY, "%s@%s: the module zip has %s but the checksum "
                       "database %s says %s: nothing was stored", module, version, h1_out,
                       g->sumdb_name, zh);
    return EC_OK;
}

/* --- verified downloads --- */

int go_get_mod(go_cfg *g, const char *module, const char *version, ec_buf *out, ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *ever = go_escape(version);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/%s.mod", emod, ever);
    ec_digest d;
    if (go_doc_lookup(g->ctx->store, rel, &d, NULL) == EC_OK &&
        go_blob_read(g->ctx->store, &d, out, NULL) == EC_OK)
        return EC_OK;
    ec_buf_reset(out);
    int r = go_proxy_get(g, rel, out, err);
    if (r == EC_OK)
        r = go_verify_mod(g, module, version, out->p ? out->p : "", out->n, err);
    if (r == EC_OK)
        r = go_doc_put(g, rel, out->p, out->n, NULL, err);
    return r;
}

int go_get_zip(go_cfg *g, const char *module, const char *version, ec_digest *blob,
               char h1[64], ec_err *err)
{
    EC_AUTOFREE char *emod = go_escape(module);
    EC_AUTOFREE char *ever = go_escape(version);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/@v/%s.zip", emod, ever);
    ec_buf b = EC_BUF_INIT;
    b.max = (size_t)600 << 20; /* go's limit is 500 MiB */
    int r = go_proxy_get(g, rel, &b, err);
    if (r == EC_OK)
        r = go_verify_zip(g, module, version, b.p ? b.p : "", b.n, h1, err);
    if (r == EC_OK)
        r = go_doc_put(g, rel, b.p, b.n, blob, err);
    ec_buf_fini(&b);
    return r;
}
