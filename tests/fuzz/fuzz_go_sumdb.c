/* SPDX-License-Identifier: MIT */
/* The checksum database's lookup answers ("<id>\n<record>\n\n<signed tree note>": outside
 * input) verified as go_sumdb_hashes does (go_sumdb_lookup_verify: the tree note, the
 * tiles, the proof), then read for a module's go.sum lines (go_sumdb_record_line).
 *
 * The target is its own database: it signs notes with a key of its own, and its store
 * holds the full tiles of a log (leaves 0-1023 at level 0, and the level-1 tile over
 * 65536 leaves, whose first 4 hashes are those of the level-0 tiles); the context is
 * offline, so no other tile can be had. Byte 0 picks the form of the rest:
 *  - even: bytes 1-3 the tree size N, 4-6 the record's id (both mod 70000), 7 a bit of the
 *    root to flip when byte 0's bit 1 is set (a lying database), the rest the record.
 *    The target writes and signs the tree head with the root its own model of the log
 *    gives. The answer must verify exactly when the model knows the root (every hash the
 *    proof needs is in the stored tiles), the id is inside the tree, the record is one
 *    record (to a NUL: no blank line in it, no newline at its end) and the root is not
 *    flipped; a refusal says why.
 *  - odd: the rest is the answer, but for a signature line that the target appends to the
 *    part after its first blank line, so that mutations reach the tree head's and the
 *    record's parsing; a refusal says why, and what verifies has an id inside a tree of
 *    at least one leaf.
 * Either way, record_line's "h1:" comes from a line of the record naming the module. */
#include "tests/fuzz/fuzz.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#include "fetchers/go/go_int.h"
#include "store/store.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define NAME "sumdb.fuzz"
#define LEAVES 1024 /* stored at level 0 */
#define H8S 256     /* hashes of 256-leaf subtrees stored (level-1 tile 0) */

static ec_store *store;
static char home[64];
static EVP_PKEY *skey;
static char vkey[128];
static ec_digest leaf[LEAVES], h8[H8S];

static void cleanup(void)
{
    EVP_PKEY_free(skey);
    ec_store_close(store);
    ec_rm_rf(home, NULL);
}

static void node(ec_digest *out, const ec_digest *l, const ec_digest *r)
{
    unsigned char b[65];
    b[0] = 1;
    memcpy(b + 1, l->b, 32);
    memcpy(b + 33, r->b, 32);
    ec_sha256_buf(out, b, sizeof b);
}

/* The root of complete @n hashes (a power of two). */
static void complete(ec_digest *out, const ec_digest *h, size_t n)
{
    ec_digest *t = ec_xmalloc(n * sizeof *t);
    memcpy(t, h, n * sizeof *t);
    for (; n > 1; n /= 2)
        for (size_t i = 0; i < n / 2; i++)
            node(&t[i], &t[2 * i], &t[2 * i + 1]);
    *out = t[0];
    free(t);
}

static void b64(char *out, const unsigned char *p, size_t n)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static void setup(void)
{
    snprintf(home, sizeof home, "/tmp/ec-fuzz-sumdb.XXXXXX");
    if (!mkdtemp(home) || ec_store_open(&store, home, NULL) != EC_OK)
        abort();
    atexit(cleanup);
    unsigned char seed[32], pub[33] = {1};
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(i * 7 + 1);
    size_t pl = 32;
    skey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!skey || EVP_PKEY_get_raw_public_key(skey, pub + 1, &pl) != 1)
        abort();
    unsigned char kh[sizeof NAME + 33];
    memcpy(kh, NAME "\n", sizeof NAME);
    memcpy(kh + sizeof NAME, pub, 33);
    ec_digest d;
    ec_sha256_buf(&d, kh, sizeof kh);
    char kb[64];
    b64(kb, pub, 33);
    snprintf(vkey, sizeof vkey, NAME "+%02x%02x%02x%02x+%s", d.b[0], d.b[1], d.b[2], d.b[3], kb);
    /* the log: arbitrary leaf hashes, and level-1 hashes over them (then arbitrary) */
    for (uint32_t i = 0; i < LEAVES; i++)
        ec_sha256_buf(&leaf[i], &i, sizeof i);
    for (uint32_t k = 0; k < H8S; k++) {
        if (k < LEAVES / 256)
            complete(&h8[k], &leaf[k * 256], 256);
        else
            ec_sha256_buf(&h8[k], (uint32_t[]){k, 8}, 8);
    }
    ec_fetch_ctx ctx = {.store = store, .offline = true};
    go_cfg g = {.ctx = &ctx};
    ec_err err = {0};
    for (int t = 0; t < LEAVES / 256; t++) {
        char rel[64];
        snprintf(rel, sizeof rel, "sumdb/" NAME "/tile/8/0/%03d", t);
        if (go_doc_put(&g, rel, &leaf[t * 256], 256 * 32, NULL, &err) != EC_OK)
            abort();
    }
    if (go_doc_put(&g, "sumdb/" NAME "/tile/8/1/000", h8, sizeof h8, NULL, &err) != EC_OK)
        abort();
}

/* The model: RFC 6962's hash of leaves [lo, hi) with @rec at @id, from the stored hashes
 * only (false when the proof needs one the store lacks). */
static bool model(ec_digest *out, int64_t lo, int64_t hi, int64_t id, const ec_digest *rec)
{
    int64_t n = hi - lo;
    bool has = lo <= id && id < hi;
    if (n == 1 && has) {
        *out = *rec;
        return true;
    }
    if (!(n & (n - 1)) && !has) {
        if (n >= 256) {
            if (n >= 65536 || hi / 256 > H8S)
                return false;
            complete(out, &h8[lo / 256], (size_t)n / 256);
            return true;
        }
        if (hi > LEAVES)
            return false;
        complete(out, &leaf[lo], (size_t)n);
        return true;
    }
    int64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    ec_digest l, r;
    if (!model(&l, lo, lo + k, id, rec) || !model(&r, lo + k, hi, id, rec))
        return false;
    node(out, &l, &r);
    return true;
}

/* @text + "\n— NAME sig\n", appended to @b. */
static void sign(ec_buf *b, const char *text, size_t n)
{
    unsigned char sig[4 + 64];
    size_t sl = 64;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, skey) != 1 ||
        EVP_DigestSign(md, sig + 4, &sl, (const unsigned char *)text, n) != 1)
        abort();
    EVP_MD_CTX_free(md);
    unsigned long h = strtoul(vkey + sizeof NAME, NULL, 16);
    sig[0] = (unsigned char)(h >> 24), sig[1] = (unsigned char)(h >> 16);
    sig[2] = (unsigned char)(h >> 8), sig[3] = (unsigned char)h;
    char sb[100];
    b64(sb, sig, sizeof sig);
    if (ec_buf_add(b, text, n, NULL) != EC_OK ||
        ec_buf_addf(b, NULL, "\n\xe2\x80\x94 " NAME " %s\n", sb) != EC_OK)
        abort();
}

static int verify(const ec_buf *body, ec_err *err)
{
    ec_fetch_ctx ctx = {.store = store, .offline = true};
    go_cfg g = {.ctx = &ctx, .sumdb_name = NAME, .sumdb_vkey = vkey};
    int r = go_sumdb_lookup_verify(&g, "http://127.0.0.1:9/sumdb/" NAME, "fuzz", body,
                                   "sumdb/" NAME, err);
    FUZZ_ASSERT(r == EC_OK || err->msg[0]);
    return r;
}

static void check_record(const char *rec)
{
    static const char *const mods[][2] = {{"example.test/m", "v1.0.0"}, {"a", "v0.0.1"}};
    for (size_t i = 0; i < 2; i++)
        for (int mod = 0; mod < 2; mod++) {
            char h1[64];
            if (!go_sumdb_record_line(h1, rec, mods[i][0], mods[i][1], mod))
                continue;
            FUZZ_ASSERT(strncmp(h1, "h1:", 3) == 0 && !strchr(h1, '\n'));
            char *line = ec_xasprintf("%s %s%s %s", mods[i][0], mods[i][1],
                                      mod ? "/go.mod" : "", h1);
            const char *at = strstr(rec, line);
            while (at && at != rec && at[-1] != '\n') /* where a line starts */
                at = strstr(at + 1, line);
            FUZZ_ASSERT(at);
            free(line);
        }
}

static void structured(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    int64_t n = (int64_t)((uint32_t)data[1] << 16 | data[2] << 8 | data[3]) % 70000;
    int64_t id = (int64_t)((uint32_t)data[4] << 16 | data[5] << 8 | data[6]) % 70000;
    bool lie = data[0] & 2;
    char *rec = fuzz_cstr(data + 8, size - 8);
    size_t rl = strlen(rec);
    /* (the record is the input's up to a NUL: a C string, as the body is built from it) */
    bool one = !strstr(rec, "\n\n") && (rl == 0 || rec[rl - 1] != '\n');
    char *leaf_text = ec_xasprintf("%c%s\n", 0, rec);
    ec_digest rh, root = {{0}};
    ec_sha256_buf(&rh, leaf_text, rl + 2);
    free(leaf_text);
    bool known = n > 0 && id < n && model(&root, 0, n, id, &rh);
    if (lie)
        root.b[data[7] % 32] ^= (unsigned char)(1u << (data[7] / 32 % 8));
    char rb[64];
    b64(rb, root.b, 32);
    char *tree = ec_xasprintf("go.sum database tree\n%lld\n%s\n", (long long)n, rb);
    ec_buf body = EC_BUF_INIT;
    if (ec_buf_addf(&body, NULL, "%lld\n%s\n\n", (long long)id, rec) != EC_OK)
        abort();
    sign(&body, tree, strlen(tree));
    ec_err err = {0};
    int r = verify(&body, &err);
    FUZZ_ASSERT((r == EC_OK) == (known && one && !lie));
    if (r == EC_OK)
        check_record(rec);
    ec_buf_fini(&body);
    free(tree);
    free(rec);
}

static void raw(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data + 1, size - 1);
    size_t n = strlen(in);
    const char *nl = strchr(in, '\n');
    const char *blank = nl ? strstr(nl + 1, "\n\n") : NULL;
    if (!blank) {
        free(in);
        return;
    }
    ec_buf body = EC_BUF_INIT;
    const char *note = blank + 2;
    size_t head = (size_t)(note - in), tl = n - head;
    if (ec_buf_add(&body, in, head, NULL) != EC_OK)
        abort();
    char *text = ec_xasprintf("%s%s", note, tl && note[tl - 1] == '\n' ? "" : "\n");
    sign(&body, text, strlen(text));
    ec_err err = {0};
    if (verify(&body, &err) == EC_OK) {
        long long id = strtoll(in, NULL, 10);
        long long tn = strtoll(text + 21, NULL, 10);
        FUZZ_ASSERT(id >= 0 && tn > 0 && id < tn);
        char *rec = ec_xstrndup(nl + 1, (size_t)(blank - nl));
        check_record(rec);
        free(rec);
    }
    free(text);
    ec_buf_fini(&body);
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        setup();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        raw(data, size);
    else
        structured(data, size);
    return 0;
}
