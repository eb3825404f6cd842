/* SPDX-License-Identifier: MIT */
/* Unit tests of opening the store, transactions, key/value walks, verify and gc. */
#include "tests/unit/helpers/ec_test.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

/* Tables of an upper layer, defined here as an owner would define them. */
static const ec_table plain_tbl = {"test_plain", 0};
static const ec_table refs_tbl = {"test_refs", EC_TABLE_REFS_BLOBS};
static const ec_table logs_tbl = {"build_logs", EC_TABLE_REFS_BLOBS | EC_TABLE_LAYER_KEYED};

static void put(ec_store *st, const ec_table *t, const char *k, const char *v)
{
    ec_txn *txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, st, 0, NULL), EC_OK);
    assert_int_equal(ec_kv_put(txn, t, k, strlen(k), v, strlen(v), 0, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
}

static int collect(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    (void)v;
    (void)vl;
    char *out = payload;
    strncat(out, k, kl);
    strcat(out, " ");
    return 0;
}

static unsigned mode_of(const char *home, const char *rel)
{
    struct stat sb;
    EC_AUTOFREE char *p = ec_xasprintf("%s/%s", home, rel);
    assert_int_equal(stat(p, &sb), 0);
    return sb.st_mode & 07777;
}

static char *put_blob(ec_store *st, const char *text)
{
    ec_blob_writer *w = NULL;
    ec_digest d;
    char hex[EC_DIGEST_HEX_LEN];
    assert_int_equal(ec_blob_writer_new(&w, st, NULL), EC_OK);
    assert_int_equal(ec_blob_writer_write(w, text, strlen(text), NULL), EC_OK);
    assert_int_equal(ec_blob_writer_commit(w, NULL, &d, NULL), EC_OK);
    ec_digest_hex(hex, &d);
    return ec_xasprintf("blobs/sha256/%.2s/%s", hex, hex);
}

static void count_modes(const ec_finding *f, void *payload)
{
    if (strcmp(f->kind, "mode") == 0)
        (*(int *)payload)++;
}

/* Private whatever the umask: directories 0700, the index 0600, blobs 0400; verify reports
 * looser modes as problems and --repair sets them back. */
static void store__is_private_whatever_the_umask(void **state)
{
    (void)state;
    char *dir = ect_tmpdir();
    EC_AUTOFREE char *home = ec_xasprintf("%s/store", dir);
    mode_t old = umask(0);
    ec_store *st = NULL;
    assert_int_equal(ec_store_open(&st, home, NULL), EC_OK);
    EC_AUTOFREE char *blob = put_blob(st, "private");
    umask(old);
    assert_int_equal(mode_of(home, ""), 0700);
    assert_int_equal(mode_of(home, "index"), 0700);
    assert_int_equal(mode_of(home, "index/data.mdb"), 0600);
    assert_int_equal(mode_of(home, "index/lock.mdb"), 0600);
    assert_int_equal(mode_of(home, "layers"), 0700);
    assert_int_equal(mode_of(home, "tmp"), 0700);
    assert_int_equal(mode_of(home, blob), 0400);
    EC_AUTOFREE char *fan = ec_xstrdup(blob);
    *strrchr(fan, '/') = '\0';
    assert_int_equal(mode_of(home, fan), 0700);
    /* a store made loose by hand, as an older envcache made them */
    ect_sh("chmod 755 '%s' '%s/%s' && chmod 644 '%s/index/data.mdb' && chmod 444 '%s/%s'",
           home, home, fan, home, home, blob);
    ec_verify_stats vs;
    int n = 0;
    assert_int_equal(ec_store_verify(&vs, st, false, count_modes, &n, NULL), EC_OK);
    assert_int_equal(n, 4);
    assert_int_equal(vs.problems, 4);
    n = 0;
    assert_int_equal(ec_store_verify(&vs, st, true, count_modes, &n, NULL), EC_OK);
    assert_int_equal(n, 4);
    assert_int_equal(vs.removed, 4);
    assert_int_equal(mode_of(home, ""), 0700);
    assert_int_equal(mode_of(home, blob), 0400);
    assert_int_equal(mode_of(home, "index/data.mdb"), 0600);
    n = 0;
    assert_int_equal(ec_store_verify(&vs, st, false, count_modes, &n, NULL), EC_OK);
    assert_int_equal(n, 0);
    ec_store_close(st);
    /* With a group for sessions: blobs and directories open to it, the index not. */
    char gid[16];
    snprintf(gid, sizeof gid, "%u", (unsigned)getgid());
    setenv("ENVCACHE_GROUP", gid, 1);
    EC_AUTOFREE char *home2 = ec_xasprintf("%s/grouped", dir);
    old = umask(077);
    assert_int_equal(ec_store_open(&st, home2, NULL), EC_OK);
    EC_AUTOFREE char *blob2 = put_blob(st, "shared");
    umask(old);
    assert_int_equal(mode_of(home2, ""), 0750);
    assert_int_equal(mode_of(home2, blob2), 0440);
    assert_int_equal(mode_of(home2, "index/data.mdb"), 0600);
    ec_store_close(st);
    setenv("ENVCACHE_GROUP", "no-such-group-here", 1);
    ec_err err = {0};
    assert_int_equal(ec_store_open(&st, home2, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "ENVCACHE_GROUP"));
    unsetenv("ENVCACHE_GROUP");
    ect_rmdir(dir);
}

static int count_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    (void)k;
    (void)kl;
    (void)v;
    (void)vl;
    (*(int *)payload)++;
    return 0;
}

/* LMDB refuses keys over 511 bytes (MDB_BAD_VALSIZE); the store keeps such keys by digest,
 * so a long key reads, conflicts, walks by prefix and deletes like any other. */
static void store__long_keys_are_kept_by_digest(void **state)
{
    struct ect_store_fixture *fx = *state;
    char a[2000], b[2000];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(a, "ws/", 3);
    memcpy(b, a, sizeof b);
    b[1500] = 'y'; /* differs from a only past the part kept in clear */
    put(fx->st, &plain_tbl, a, "A");
    put(fx->st, &plain_tbl, b, "B");
    ec_txn *txn = NULL;
    const void *v;
    size_t n;
    assert_int_equal(ec_txn_begin(&txn, fx->st, 0, NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, a, strlen(a), &v, &n, NULL), EC_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(v, "A", 1);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, b, strlen(b), &v, &n, NULL), EC_OK);
    assert_memory_equal(v, "B", 1);
    assert_int_equal(ec_kv_put(txn, &plain_tbl, a, strlen(a), "C", 1, EC_KV_NOOVERWRITE, NULL),
                     EC_ECONFLICT);
    int count = 0;
    assert_int_equal(ec_kv_each(txn, &plain_tbl, "ws/", 3, false, NULL, 0, count_one, &count,
                                NULL), EC_OK);
    assert_int_equal(count, 2);
    assert_int_equal(ec_kv_del(txn, &plain_tbl, a, strlen(a), NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, a, strlen(a), &v, &n, NULL), EC_ENOTFOUND);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, b, strlen(b), &v, &n, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
}

static void store__each_walks_prefix_both_ways(void **state)
{
    struct ect_store_fixture *fx = *state;
    const char *keys[] = {"a/1", "a/2", "a/3", "b/1", "0"};
    for (size_t i = 0; i < 5; i++)
        put(fx->st, &plain_tbl, keys[i], "x");
    ec_txn *txn = NULL;
    char out[128];
    assert_int_equal(ec_txn_begin(&txn, fx->st, EC_TXN_READ, NULL), EC_OK);
    out[0] = '\0';
    assert_int_equal(ec_kv_each(txn, &plain_tbl, "a/", 2, false, NULL, 0, collect, out, NULL), EC_OK);
    assert_string_equal(out, "a/1 a/2 a/3 ");
    out[0] = '\0';
    assert_int_equal(ec_kv_each(txn, &plain_tbl, "a/", 2, true, NULL, 0, collect, out, NULL), EC_OK);
    assert_string_equal(out, "a/3 a/2 a/1 ");
    out[0] = '\0';
    assert_int_equal(ec_kv_each(txn, &plain_tbl, "a/", 2, true, "a/3", 3, collect, out, NULL), EC_OK);
    assert_string_equal(out, "a/2 a/1 ");
    out[0] = '\0';
    assert_int_equal(ec_kv_each(txn, &plain_tbl, "b/", 2, true, NULL, 0, collect, out, NULL), EC_OK);
    assert_string_equal(out, "b/1 ");
    ec_txn_abort(txn);
}

static void store__nooverwrite_conflicts(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_txn *txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, fx->st, 0, NULL), EC_OK);
    assert_int_equal(ec_kv_put(txn, &plain_tbl, "k", 1, "1", 1, EC_KV_NOOVERWRITE, NULL), EC_OK);
    assert_int_equal(ec_kv_put(txn, &plain_tbl, "k", 1, "2", 1, EC_KV_NOOVERWRITE, NULL),
                     EC_ECONFLICT);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
}

static void store__newer_schema_is_a_clear_error(void **state)
{
    struct ect_store_fixture *fx = *state;
    /* Write a future schema version straight through LMDB, as a newer envcache would. */
    ec_store_close(fx->st);
    fx->st = NULL;
    char *idx = ec_xasprintf("%s/index", fx->home);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    mdb_env_set_mapsize(env, (size_t)16 << 30);
    assert_int_equal(mdb_env_open(env, idx, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    unsigned char v[4] = {99, 0, 0, 0};
    MDB_val k = {6, "schema"}, val = {4, v};
    assert_int_equal(mdb_put(txn, dbi, &k, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ec_err err = {0};
    ec_store *st = NULL;
    assert_int_equal(ec_store_open(&st, fx->home, &err), EC_ESCHEMA);
    assert_non_null(strstr(err.msg, "schema version 99"));
    assert_null(st);
    free(idx); /* teardown closes fx->st, which is NULL now: that is fine */
}

static void store__verify_finds_corruption_and_orphans(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_digest d;
    ect_write(fx->home, "src", "verify me", 0644);
    char *src = ec_xasprintf("%s/src", fx->home);
    assert_int_equal(ec_blob_put_file(&d, fx->st, src, NULL, &err), EC_OK);
    ec_verify_stats vs;
    assert_int_equal(ec_store_verify(&vs, fx->st, false, NULL, NULL, &err), EC_OK);
    assert_int_equal(vs.problems, 0);
    assert_int_equal(vs.blobs, 1);
    /* An orphan whose name does not match its bytes, and a corrupted indexed blob. */
    ect_write(fx->home, "blobs/sha256/ab/abababababababababababababababababababababababababababababababab", "junk", 0400);
    ect_sh("chmod 700 '%s/blobs/sha256/ab'", fx->home); /* only the bytes are wrong here */
    char *path = ec_blob_path(fx->st, &d);
    unlink(path);
    ect_write(fx->home, path + strlen(fx->home) + 1, "tampered", 0400);
    assert_int_equal(ec_store_verify(&vs, fx->st, false, NULL, NULL, &err), EC_OK);
    assert_int_equal(vs.problems, 2);
    assert_int_equal(ec_store_verify(&vs, fx->st, true, NULL, NULL, &err), EC_OK);
    assert_int_equal(vs.removed, 2);
    assert_int_equal(ec_store_verify(&vs, fx->st, false, NULL, NULL, &err), EC_OK);
    assert_int_equal(vs.problems, 0);
    assert_false(ec_store_has_blob(fx->st, &d));
    free(path);
    free(src);
}

static void store__gc_keeps_roots_and_sweeps_the_rest(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_digest a, b;
    ect_write(fx->home, "a", "blob a", 0644);
    ect_write(fx->home, "b", "blob b", 0644);
    char *pa = ec_xasprintf("%s/a", fx->home), *pb = ec_xasprintf("%s/b", fx->home);
    assert_int_equal(ec_blob_put_file(&a, fx->st, pa, NULL, &err), EC_OK);
    assert_int_equal(ec_blob_put_file(&b, fx->st, pb, NULL, &err), EC_OK);
    ec_gc_stats gs;
    ec_store_gc_opts o = {.roots = &a, .nroots = 1, .dry_run = true, .grace = 0};
    /* Within the grace period nothing goes. */
    o.grace = 3600;
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_int_equal(gs.size_after, gs.size_before);
    o.grace = -10; /* everything is older than "now + 10s" */
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_true(ec_store_has_blob(fx->st, &b)); /* dry run */
    o.dry_run = false;
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_true(ec_store_has_blob(fx->st, &a));
    assert_false(ec_store_has_blob(fx->st, &b));
    free(pa);
    free(pb);
}

/* A layer's build log (build_logs: layer -> log blob) lives as long as the layer, and goes
 * with it, record and all. */
static void store__gc_keeps_a_build_log_with_its_layer(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ect_write(fx->home, "t/f", "layer content", 0644);
    ect_write(fx->home, "log", "==> build step\nok\n", 0644);
    char *dir = ec_xasprintf("%s/t", fx->home), *lp = ec_xasprintf("%s/log", fx->home);
    ec_layer_info l;
    ec_digest log;
    assert_int_equal(ec_layer_import(&l, fx->st, dir, 0, NULL, NULL, &err), EC_OK);
    assert_int_equal(ec_blob_put_file(&log, fx->st, lp, NULL, &err), EC_OK);
    ec_txn *txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, fx->st, 0, NULL), EC_OK);
    assert_int_equal(ec_kv_put(txn, &logs_tbl, l.digest.b, 32, log.b, 32, 0, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
    ec_gc_stats gs;
    ec_store_gc_opts o = {.roots = &l.digest, .nroots = 1, .grace = -10};
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_true(ec_store_has_blob(fx->st, &l.digest));
    assert_true(ec_store_has_blob(fx->st, &log));
    o = (ec_store_gc_opts){.grace = -10}; /* no environment uses the layer any more */
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_false(ec_store_has_blob(fx->st, &l.digest));
    assert_false(ec_store_has_blob(fx->st, &log));
    const void *v;
    size_t vl;
    assert_int_equal(ec_txn_begin(&txn, fx->st, EC_TXN_READ, NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &logs_tbl, l.digest.b, 32, &v, &vl, NULL),
                     EC_ENOTFOUND);
    ec_txn_abort(txn);
    free(dir);
    free(lp);
}

/* A table nobody wrote yet reads as empty; its first write makes it. */
static void store__missing_table_reads_empty_until_written(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_txn *txn = NULL;
    const void *v;
    size_t vl;
    char out[64] = "";
    assert_int_equal(ec_txn_begin(&txn, fx->st, EC_TXN_READ, NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, "k", 1, &v, &vl, NULL), EC_ENOTFOUND);
    assert_int_equal(ec_kv_each(txn, &plain_tbl, NULL, 0, false, NULL, 0, collect, out, NULL),
                     EC_OK);
    ec_txn_abort(txn);
    put(fx->st, &plain_tbl, "k", "v");
    assert_int_equal(ec_txn_begin(&txn, fx->st, EC_TXN_READ, NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &plain_tbl, "k", 1, &v, &vl, NULL), EC_OK);
    assert_int_equal(vl, 1);
    ec_txn_abort(txn);
}

/* Writers queue for LMDB's lock while each of them makes a table: a writer whose turn
 * comes after others made theirs must still see every committed table, its own new one
 * and the one they all share, however long it waited. */
enum { RACERS = 16, ROUNDS = 4 };
struct table_racer {
    ec_store *st;
    ec_table own;
    char name[32];
    int failures;
    char why[256];
};

static void *make_tables(void *arg)
{
    struct table_racer *r = arg;
    for (int round = 0; round < ROUNDS; round++) {
        ec_err err = {0};
        ec_txn *txn = NULL;
        char key[16];
        snprintf(key, sizeof key, "%d", round);
        int rc = ec_txn_begin(&txn, r->st, 0, &err);
        if (rc == EC_OK)
            rc = ec_kv_put(txn, &r->own, key, strlen(key), "x", 1, 0, &err);
        if (rc == EC_OK)
            rc = ec_kv_put(txn, &plain_tbl, r->name, strlen(r->name), "x", 1, 0, &err);
        if (rc == EC_OK) {
            rc = ec_txn_commit(txn, &err);
        } else if (txn) {
            ec_txn_abort(txn);
        }
        if (rc != EC_OK && r->failures++ == 0)
            snprintf(r->why, sizeof r->why, "%.200s", err.msg);
        /* Each round a new table, so every round bumps the generation again. */
        snprintf(r->name + strlen(r->name) - 1, 2, "%c", 'a' + round + 1);
    }
    return NULL;
}

static void store__queued_writers_see_tables_made_while_they_waited(void **state)
{
    struct ect_store_fixture *fx = *state;
    pthread_t t[RACERS];
    struct table_racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct table_racer){.st = fx->st};
        snprintf(r[i].name, sizeof r[i].name, "race_%02d_a", i);
        r[i].own = (ec_table){r[i].name, 0};
    }
    for (int i = 0; i < RACERS; i++)
        pthread_create(&t[i], NULL, make_tables, &r[i]);
    int failures = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        if (r[i].failures)
            print_message("racer %d: %d failed, first: %s\n", i, r[i].failures, r[i].why);
        failures += r[i].failures;
    }
    assert_int_equal(failures, 0);
}

/* Another process makes a table whose records reference blobs. This process opened the
 * store before that table existed and never uses its definition; its gc learns the flags
 * from meta and keeps the blob, and still sweeps a blob nothing references. */
static void store__gc_keeps_blobs_of_a_table_it_never_defined(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_digest kept, swept;
    assert_int_equal(ec_blob_put_buf(&kept, fx->st, "referenced", 10, &err), EC_OK);
    assert_int_equal(ec_blob_put_buf(&swept, fx->st, "loose", 5, &err), EC_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ec_store *st = NULL;
        ec_txn *txn = NULL;
        bool ok = ec_store_open(&st, fx->home, NULL) == EC_OK &&
                  ec_txn_begin(&txn, st, 0, NULL) == EC_OK &&
                  ec_kv_put(txn, &refs_tbl, "k", 1, kept.b, 32, 0, NULL) == EC_OK &&
                  ec_txn_commit(txn, NULL) == EC_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ec_gc_stats gs;
    ec_store_gc_opts o = {.grace = -10};
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_true(ec_store_has_blob(fx->st, &kept));
    assert_false(ec_store_has_blob(fx->st, &swept));
    /* The table made after this store was opened is readable here too. */
    ec_txn *txn = NULL;
    const void *v;
    size_t vl;
    assert_int_equal(ec_txn_begin(&txn, fx->st, EC_TXN_READ, NULL), EC_OK);
    assert_int_equal(ec_kv_get(txn, &refs_tbl, "k", 1, &v, &vl, NULL), EC_OK);
    assert_memory_equal(v, kept.b, 32);
    ec_txn_abort(txn);
}

/* A store written by schema 1 had no "table/" records: opening it seeds the mirror's and
 * build_logs' flags, so gc keeps what an old mirror record references. */
static void store__old_store_keeps_its_mirror_references(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_digest d;
    assert_int_equal(ec_blob_put_buf(&d, fx->st, "a tarball", 9, &err), EC_OK);
    ec_store_close(fx->st);
    fx->st = NULL;
    /* Turn it into what schema 1 left: version 1, and a mirror record written raw. */
    char *idx = ec_xasprintf("%s/index", fx->home);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, mirror;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    mdb_env_set_mapsize(env, (size_t)16 << 30);
    assert_int_equal(mdb_env_open(env, idx, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "mirror", MDB_CREATE, &mirror), 0);
    unsigned char one[4] = {1, 0, 0, 0};
    MDB_val k = {6, "schema"}, v = {4, one};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    MDB_val mk = {14, "npm/x/1.0.0/x1"}, mv = {32, d.b};
    assert_int_equal(mdb_put(txn, mirror, &mk, &mv, 0), 0);
    MDB_val tk = {12, "table/mirror"};
    assert_int_equal(mdb_get(txn, meta, &tk, &v), MDB_NOTFOUND);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(idx);
    assert_int_equal(ec_store_open(&fx->st, fx->home, &err), EC_OK);
    ec_gc_stats gs;
    ec_store_gc_opts o = {.grace = -10};
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_true(ec_store_has_blob(fx->st, &d));
    ec_txn *et = NULL;
    const void *val;
    size_t vl;
    assert_int_equal(ec_txn_begin(&et, fx->st, EC_TXN_READ, NULL), EC_OK);
    assert_int_equal(ec_kv_get(et, &ec_tbl_meta, "schema", 6, &val, &vl, NULL), EC_OK);
    assert_int_equal(((const unsigned char *)val)[0], EC_SCHEMA_VERSION);
    assert_int_equal(ec_kv_get(et, &ec_tbl_meta, "table/mirror", 12, &val, &vl, NULL), EC_OK);
    assert_int_equal(vl, 5);
    assert_int_equal(((const unsigned char *)val)[1], EC_TABLE_REFS_BLOBS);
    ec_txn_abort(et);
}

static void store__budget_evicts_least_recently_used_first(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_err err = {0};
    ec_layer_info l[3];
    char *dirs[3];
    for (int i = 0; i < 3; i++) {
        dirs[i] = ec_xasprintf("%s/t%d", fx->home, i);
        char rel[16];
        snprintf(rel, sizeof rel, "t%d/f", i);
        ect_write(fx->home, rel, i == 0 ? "zero" : i == 1 ? "one" : "two", 0644);
        assert_int_equal(ec_layer_import(&l[i], fx->st, dirs[i], 0, NULL, NULL, &err), EC_OK);
    }
    /* Ages: l[1] oldest, then l[0], then l[2]; l[2] is pinned by a session. */
    int64_t ages[3] = {200, 300, 100};
    for (int i = 0; i < 3; i++) {
        ec_txn *txn = NULL;
        assert_int_equal(ec_txn_begin(&txn, fx->st, 0, NULL), EC_OK);
        l[i].last_used = ec_now() - ages[i];
        assert_int_equal(ec_layer_put(txn, &l[i], NULL), EC_OK);
        assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
    }
    ec_digest roots[2] = {l[0].digest, l[1].digest};
    uint64_t total = 0;
    assert_int_equal(ec_store_size(&total, fx->st, &err), EC_OK);
    /* One byte over: only the least recently used referenced layer goes. */
    ec_store_gc_opts o = {.roots = roots, .nroots = 2, .pins = &l[2].digest, .npins = 1,
                          .max_size = total - 1, .grace = 10};
    ec_gc_stats gs;
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_int_equal(gs.removed, 1);
    assert_true(ec_store_has_blob(fx->st, &l[0].digest));
    assert_false(ec_store_has_blob(fx->st, &l[1].digest));
    /* A budget of one byte takes every layer but the pinned one. */
    o.max_size = 1;
    assert_int_equal(ec_store_gc(&gs, fx->st, &o, NULL, NULL, &err), EC_OK);
    assert_false(ec_store_has_blob(fx->st, &l[0].digest));
    assert_true(ec_store_has_blob(fx->st, &l[2].digest));
    for (int i = 0; i < 3; i++)
        free(dirs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store__each_walks_prefix_both_ways, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__long_keys_are_kept_by_digest, ect_store_setup, ect_store_teardown),
        cmocka_unit_test(store__is_private_whatever_the_umask),
        cmocka_unit_test_setup_teardown(store__nooverwrite_conflicts, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__newer_schema_is_a_clear_error, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__verify_finds_corruption_and_orphans, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__gc_keeps_roots_and_sweeps_the_rest, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__gc_keeps_a_build_log_with_its_layer, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__queued_writers_see_tables_made_while_they_waited,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__missing_table_reads_empty_until_written, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__gc_keeps_blobs_of_a_table_it_never_defined,
                                        ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__old_store_keeps_its_mirror_references, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(store__budget_evicts_least_recently_used_first, ect_store_setup, ect_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
