/* SPDX-License-Identifier: MIT */
/* The cache handle and the JSON-in-LMDB helpers that the tables' accessors share. */
#include "cache/cache_int.h"
#include "store/util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int ec_cache_open(ec_cache **out, const char *home, ec_err *err)
{
    ec_store *st = NULL;
    int r = ec_store_open(&st, home, err);
    if (r < 0)
        return r;
    ec_cache *c = ec_xcalloc(1, sizeof *c);
    c->st = st;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return EC_OK;
}

void ec_cache_close(ec_cache *c)
{
    if (!c)
        return;
    if (c->mirror_release) /* before the client: a mirror it started uses it */
        c->mirror_release(c->mirror_payload);
    if (c->http_free) /* set by whoever made the client: a cache never links HTTP itself */
        c->http_free(c->http);
    json_decref(c->fetch_memo);
    pthread_mutex_destroy(&c->mu);
    ec_store_close(c->st);
    free(c);
}


void ec_cache_set_mirror(ec_cache *c, ec_mirror_port_fn fn, void *payload,
                         void (*release)(void *payload))
{
    pthread_mutex_lock(&c->mu);
    c->mirror_port = fn;
    c->mirror_payload = payload;
    c->mirror_release = release;
    pthread_mutex_unlock(&c->mu);
}

int ec_cache__mirror_port(uint16_t *port, ec_cache *c, ec_err *err)
{
    pthread_mutex_lock(&c->mu);
    ec_mirror_port_fn fn = c->mirror_port;
    void *payload = c->mirror_payload;
    pthread_mutex_unlock(&c->mu);
    if (!fn)
        return ec_fail(err, EC_EUNSUPPORTED, "this build fetches through the mirror, and this "
                       "process serves none");
    return fn(port, payload, err);
}

ec_store *ec_cache_store(ec_cache *c)
{
    return c->st;
}

void ec_cache__rfc3339(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ec_cache__json_get(json_t **out, ec_txn *txn, const ec_table *t, const char *key,
                       ec_err *err)
{
    const void *v;
    size_t n;
    int r = ec_kv_get(txn, t, key, strlen(key), &v, &n, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    json_t *j = json_loadb(v, n, 0, &jerr);
    if (!j)
        return ec_fail(err, EC_EFORMAT, "index record %s is not valid JSON: %s", key, jerr.text);
    *out = j;
    return EC_OK;
}

int ec_cache__json_put(ec_txn *txn, const ec_table *t, const char *key, const json_t *val,
                       unsigned flags, ec_err *err)
{
    EC_AUTOFREE char *s = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return ec_fail(err, EC_ENOMEM, "cannot encode the record %s", key);
    return ec_kv_put(txn, t, key, strlen(key), s, strlen(s), flags, err);
}

int ec_cache__env_not_found(ec_err *err, const char *id)
{
    int r = ec_fail(err, EC_ENOTFOUND, "environment %s not found", id);
    ec_err_detail(err, "environment_not_found");
    return r;
}
