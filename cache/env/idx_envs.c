/* SPDX-License-Identifier: MIT */
/* The environments table ("<workspace>/<env id>" -> {"env": the API object, "stack": [layer
 * digests], "base": the base choice}) and env_names ("<workspace>/<name>" -> env id, unique
 * per workspace). */
#include "cache/cache_int.h"
#include "cache/env/env_int.h"

#include <pthread.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

static const ec_table envs_tbl = {"environments", 0};
static const ec_table names_tbl = {"env_names", 0};

/* "<ws>/<rest>": both tables are per workspace. */
static char *ws_key(const char *ws, const char *rest)
{
    return ec_xasprintf("%s/%s", ws ? ws : EC_DEFAULT_WORKSPACE, rest);
}

int ec_cache__env_load(json_t **out, ec_txn *txn, const char *ws, const char *id, ec_err *err)
{
    if (!ec_id_valid(id, "env"))
        return ec_cache__env_not_found(err, id);
    EC_AUTOFREE char *key = ws_key(ws, id);
    int r = ec_cache__json_get(out, txn, &envs_tbl, key, err);
    return r == EC_ENOTFOUND ? ec_cache__env_not_found(err, id) : r;
}

/* --- the API object, rendered --- */

/* Reading an environment through the API parses its record and prints its "env" member,
 * which costs more than the rest of the request. The printed form is a pure function of
 * the record's bytes, so each slot keeps the bytes it was printed from: equal bytes under
 * the same key give the same answer, whichever store or moment they come from. */
#define RENDER_SLOTS 256
#define RENDER_RAW_MAX 16384

struct render_slot {
    char *key;
    unsigned char *raw;
    size_t rawn;
    char *text;
    size_t textn;
};

static struct render_slot render_cache[RENDER_SLOTS];
static pthread_mutex_t render_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t render_hash(const char *key)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = h * 33 + *p;
    return h % RENDER_SLOTS;
}

static bool render_hit(char **out, size_t *n, const char *key, const void *raw, size_t rawn)
{
    struct render_slot *sl = &render_cache[render_hash(key)];
    bool hit = false;
    pthread_mutex_lock(&render_mu);
    if (sl->key && strcmp(sl->key, key) == 0 && sl->rawn == rawn &&
        memcmp(sl->raw, raw, rawn) == 0) {
        *out = ec_xmalloc(sl->textn + 1);
        memcpy(*out, sl->text, sl->textn + 1);
        *n = sl->textn;
        hit = true;
    }
    pthread_mutex_unlock(&render_mu);
    return hit;
}

static void render_keep(const char *key, const void *raw, size_t rawn, const char *text,
                        size_t textn)
{
    if (rawn > RENDER_RAW_MAX)
        return;
    struct render_slot *sl = &render_cache[render_hash(key)];
    pthread_mutex_lock(&render_mu);
    free(sl->key);
    free(sl->raw);
    free(sl->text);
    sl->key = ec_xstrdup(key);
    sl->raw = ec_xmalloc(rawn ? rawn : 1);
    memcpy(sl->raw, raw, rawn);
    sl->rawn = rawn;
    sl->text = ec_xstrdup(text);
    sl->textn = textn;
    pthread_mutex_unlock(&render_mu);
}

int ec_cache__env_rendered(char **out, size_t *n, ec_txn *txn, const char *ws, const char *id,
                           ec_err *err)
{
    if (!ec_id_valid(id, "env"))
        return ec_cache__env_not_found(err, id);
    EC_AUTOFREE char *key = ws_key(ws, id);
    const void *raw;
    size_t rawn;
    int r = ec_kv_get(txn, &envs_tbl, key, strlen(key), &raw, &rawn, err);
    if (r == EC_ENOTFOUND)
        return ec_cache__env_not_found(err, id);
    if (r < 0)
        return r;
    if (render_hit(out, n, key, raw, rawn))
        return EC_OK;
    json_error_t jerr;
    EC_AUTO(json_t) rec = json_loadb(raw, rawn, 0, &jerr);
    char *text = rec ? json_dumps(json_object_get(rec, "env"), JSON_COMPACT) : NULL;
    if (!text)
        return ec_fail(err, EC_EFORMAT, "index record %s is not an environment: %s", key,
                       rec ? "no \"env\"" : jerr.text);
    *n = strlen(text);
    render_keep(key, raw, rawn, text, *n);
    *out = text;
    return EC_OK;
}

int ec_cache__env_save(ec_txn *txn, const char *ws, const char *id, const json_t *rec,
                       ec_err *err)
{
    EC_AUTOFREE char *key = ws_key(ws, id);
    return ec_cache__json_put(txn, &envs_tbl, key, rec, 0, err);
}

int ec_env__del(ec_txn *txn, const char *ws, const char *id, const char *name, ec_err *err)
{
    EC_AUTOFREE char *env_key = ws_key(ws, id);
    int r = ec_kv_del(txn, &envs_tbl, env_key, strlen(env_key), err);
    if (r < 0)
        return r;
    r = ec_env__name_del(txn, ws, name, err);
    return r == EC_ENOTFOUND ? EC_OK : r;
}

struct env_each {
    ec_env_rec_fn fn;
    void *payload;
};

static int env_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct env_each *e = payload;
    (void)k;
    (void)kl;
    EC_AUTO(json_t) rec = json_loadb(v, vl, 0, NULL);
    return e->fn(rec, e->payload);
}

int ec_env__each(ec_txn *txn, const char *ws, const char *after_id, ec_env_rec_fn fn,
                 void *payload, ec_err *err)
{
    struct env_each e = {fn, payload};
    if (!ws)
        return ec_kv_each(txn, &envs_tbl, NULL, 0, false, NULL, 0, env_one, &e, err);
    EC_AUTOFREE char *prefix = ws_key(ws, "");
    EC_AUTOFREE char *after = after_id ? ws_key(ws, after_id) : NULL;
    /* Ids grow with time: walking backwards lists the newest first. */
    return ec_kv_each(txn, &envs_tbl, prefix, strlen(prefix), true, after,
                      after ? strlen(after) : 0, env_one, &e, err);
}

/* --- env_names --- */

int ec_env__name_put(ec_txn *txn, const char *ws, const char *name, const char *id,
                     ec_err *err)
{
    EC_AUTOFREE char *key = ws_key(ws, name);
    return ec_kv_put(txn, &names_tbl, key, strlen(key), id, strlen(id), EC_KV_NOOVERWRITE, err);
}

int ec_env__name_del(ec_txn *txn, const char *ws, const char *name, ec_err *err)
{
    EC_AUTOFREE char *key = ws_key(ws, name);
    return ec_kv_del(txn, &names_tbl, key, strlen(key), err);
}

int ec_env__name_lookup(char **id_out, ec_txn *txn, const char *ws, const char *name,
                        ec_err *err)
{
    EC_AUTOFREE char *key = ws_key(ws, name);
    const void *v;
    size_t n;
    int r = ec_kv_get(txn, &names_tbl, key, strlen(key), &v, &n, err);
    if (r == EC_OK)
        *id_out = ec_xstrndup(v, n);
    return r;
}
