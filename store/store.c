/* SPDX-License-Identifier: MIT */
/* Opening the store: home directory, sub-directories, the LMDB environment, schema check. */
#include "store/record.h"
#include "store/store_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Virtual size of the index map; LMDB files are sparse, so this costs nothing until used. */
#define EC_MAP_SIZE_DEFAULT ((size_t)16 << 30)

/* Named databases (tables) of all layers together; a table costs LMDB a few bytes. */
#define EC_MAX_TABLES 128

const char *ec_store_default_home(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *envh = getenv("ENVCACHE_HOME");
    if (envh && *envh)
        return envh;
    return "/var/lib/envcache";
}

const char *ec_store_home(const ec_store *st)
{
    return st->home;
}

char *ec_store_path(const ec_store *st, const char *rel)
{
    return ec_xasprintf("%s/%s", st->home, rel);
}

int ec_fail_mdb(ec_err *err, int rc, const char *what)
{
    int code = rc == MDB_MAP_FULL ? EC_ELIMIT : rc == MDB_NOTFOUND ? EC_ENOTFOUND : EC_EDB;
    int r = ec_fail(err, code, "%s: %s%s", what, mdb_strerror(rc),
                    rc == MDB_MAP_FULL ? " (raise ENVCACHE_MAP_SIZE)" : "");
    if (err && err->sys == 0)
        err->sys = rc;
    return r;
}

/* The home's parents are ordinary directories; the home and the store's own directories
 * are private (modes.c) when this call makes them. */
static int make_dirs(const ec_store *st, const char *home, ec_err *err)
{
    static const char *const subdirs[] = {"", "/index", "/blobs", "/" EC_DIR_BLOBS,
                                          "/" EC_DIR_TMP, "/" EC_DIR_LAYERS,
                                          "/" EC_DIR_SESSIONS};
    EC_AUTOFREE char *parent = ec_xstrdup(home);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int r = ec_mkdir_p(parent, 0755, err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < EC_ARRAY_LEN(subdirs); i++) {
        EC_AUTOFREE char *p = ec_xasprintf("%s%s", home, subdirs[i]);
        int r = ec_store__mkdir_private(st, p, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int put_u32(MDB_txn *txn, MDB_dbi dbi, const char *key, uint32_t v)
{
    unsigned char le[4];
    ec_le32_put(le, v);
    MDB_val k = {strlen(key), (void *)key}, nv = {sizeof le, le};
    return mdb_put(txn, dbi, &k, &nv, 0);
}

/* Schema 1 named every table in store.h, and gc knew the two whose records reference
 * blobs. From 2 on their owners' definitions record that in meta when they first write;
 * a store of 1 gets those records here, so that gc honours them before (or without) any
 * process of the owners writing again. The flags are the owners' (fetchers/mirror_index.c,
 * cache/sandbox/idx_build_logs.c); an existing record is newer and stays. */
static int migrate_1_to_2(ec_store *st, MDB_txn *txn)
{
    static const struct { const char *name; unsigned flags; } known[] = {
        {"mirror", EC_TABLE_REFS_BLOBS},
        {"build_logs", EC_TABLE_REFS_BLOBS | EC_TABLE_LAYER_KEYED},
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(known); i++) {
        EC_AUTOFREE char *key = ec_xasprintf(EC_TABLE_KEY_PREFIX "%s", known[i].name);
        unsigned char rec[EC_TABLE_REC_LEN] = {EC_TABLE_REC_V1};
        ec_le32_put(rec + 1, known[i].flags);
        MDB_val k = {strlen(key), key}, v = {sizeof rec, rec};
        int rc = mdb_put(txn, st->meta_dbi, &k, &v, MDB_NOOVERWRITE);
        if (rc && rc != MDB_KEYEXIST)
            return rc;
    }
    return put_u32(txn, st->meta_dbi, "schema", 2);
}

static int check_schema(ec_store *st, MDB_txn *txn, ec_err *err)
{
    MDB_val k = {6, (void *)"schema"}, v;
    int rc = mdb_get(txn, st->meta_dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc = put_u32(txn, st->meta_dbi, "schema", EC_SCHEMA_VERSION);
        return rc ? ec_fail_mdb(err, rc, "cannot record the schema version") : EC_OK;
    }
    if (rc)
        return ec_fail_mdb(err, rc, "cannot read the schema version");
    if (v.mv_size != 4)
        return ec_fail(err, EC_ESCHEMA, "store %s: schema version record is corrupt (%zu bytes)",
                       st->home, v.mv_size);
    uint32_t ver = ec_le32_get(v.mv_data);
    if (ver > EC_SCHEMA_VERSION)
        return ec_fail(err, EC_ESCHEMA,
                       "store %s has schema version %u, but this envcache knows only up to %u: "
                       "use a newer envcache, or another --home",
                       st->home, ver, EC_SCHEMA_VERSION);
    rc = ver == 1 ? migrate_1_to_2(st, txn) : 0;
    return rc ? ec_fail_mdb(err, rc, "cannot migrate the store index to schema 2") : EC_OK;
}

static int open_tables(ec_store *st, ec_err *err)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc)
        return ec_fail_mdb(err, rc, "cannot open the store index");
    int r = ec_store__tables_open(st, txn, err);
    if (r == EC_OK)
        r = check_schema(st, txn, err);
    if (r < 0) {
        mdb_txn_abort(txn);
        return r;
    }
    rc = mdb_txn_commit(txn);
    return rc ? ec_fail_mdb(err, rc, "cannot open the store index") : EC_OK;
}

static size_t map_size(void)
{
    const char *s = getenv("ENVCACHE_MAP_SIZE");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == 'G' || *end == 'g')
            v <<= 30;
        else if (*end == 'M' || *end == 'm')
            v <<= 20;
        if (v >= (1u << 20))
            return (size_t)v;
    }
    return EC_MAP_SIZE_DEFAULT;
}

int ec_store_open(ec_store **out, const char *home, ec_err *err)
{
    char abs[PATH_MAX];
    ec_store probe = {0};
    int r = ec_store__group_from_env(&probe, err);
    if (r == EC_OK)
        r = make_dirs(&probe, home, err);
    if (r < 0)
        return r;
    if (!realpath(home, abs))
        return ec_fail_sys(err, errno, "cannot resolve the store home %s", home);
    ec_store *st = ec_xcalloc(1, sizeof *st);
    st->home = ec_xstrdup(abs);
    st->group = probe.group;
    pthread_mutex_init(&st->resize_lock, NULL);
    pthread_mutex_init(&st->write_mu, NULL);
    pthread_mutex_init(&st->tbl_mu, NULL);
    int rc = mdb_env_create(&st->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(st->env, EC_MAX_TABLES);
    if (!rc)
        rc = mdb_env_set_maxreaders(st->env, 512);
    if (!rc)
        rc = mdb_env_set_mapsize(st->env, map_size());
    EC_AUTOFREE char *idx = ec_xasprintf("%s/index", st->home);
    if (!rc)
        rc = mdb_env_open(st->env, idx, MDB_NOTLS, 0600);
    if (rc) {
        ec_fail_mdb(err, rc, "cannot open the store index");
        ec_err_prefix(err, "%s", idx);
        ec_store_close(st);
        return err ? err->code : EC_EDB;
    }
    r = open_tables(st, err);
    if (r < 0) {
        ec_store_close(st);
        return r;
    }
    *out = st;
    return EC_OK;
}

void ec_store_close(ec_store *st)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env);
    pthread_mutex_destroy(&st->resize_lock);
    pthread_mutex_destroy(&st->write_mu);
    pthread_mutex_destroy(&st->tbl_mu);
    ec_store__tables_free(st);
    free(st->home);
    free(st);
}
