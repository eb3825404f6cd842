/* SPDX-License-Identifier: MIT */
/* The mirror table's records and the single-flight table of downloads (see mirror_index.h). */
#include "fetchers/mirror_index.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

/* Keys are "<manager>/…" strings that each fetcher makes. A value is either a blob's raw
 * digest (32 bytes), which gc keeps (EC_TABLE_REFS_BLOBS), or a document record (JSON
 * with the blob as "sha256:…"), which gc does not: a collected document is fetched again. */
static const ec_table mirror_tbl = {"mirror", EC_TABLE_REFS_BLOBS};

static int put(ec_store *st, const char *key, const void *val, size_t n, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int rc = ec_txn_begin(&txn, st, 0, err);
    if (rc == EC_OK)
        rc = ec_kv_put(txn, &mirror_tbl, key, strlen(key), val, n, 0, err);
    if (rc == EC_OK)
        rc = ec_txn_commit(ec_steal(&txn), err);
    return rc;
}

/* The record's digest and its blob's index entry, in one read txn. */
static int digest_info(ec_store *st, const char *key, ec_digest *out, ec_blob_info *info,
                       ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t vlen;
    int rc = ec_txn_begin(&txn, st, EC_TXN_READ, err);
    if (rc == EC_OK)
        rc = ec_kv_get(txn, &mirror_tbl, key, strlen(key), &v, &vlen, err);
    if (rc < 0)
        return rc;
    if (vlen != sizeof out->b)
        return ec_fail(err, EC_EFORMAT, "mirror record %s is damaged", key);
    memcpy(out->b, v, sizeof out->b);
    return ec_blob_lookup(info, txn, out, err);
}

int ec_mirror_digest_get(ec_store *st, const char *key, ec_digest *out, ec_err *err)
{
    ec_blob_info info;
    int rc = digest_info(st, key, out, &info, err);
    if (rc < 0)
        return rc;
    EC_AUTOFREE char *path = ec_blob_path(st, out);
    struct stat sb;
    if (stat(path, &sb) < 0 || (uint64_t)sb.st_size != info.size)
        return ec_fail(err, EC_ENOTFOUND, "%s is not stored", key);
    return EC_OK;
}

int ec_mirror_blob_open(ec_store *st, const char *key, ec_digest *out, int *fd_out,
                        uint64_t *size, ec_err *err)
{
    ec_blob_info info;
    int fd, rc = digest_info(st, key, out, &info, err);
    if (rc == EC_OK)
        rc = ec_blob_open(&fd, st, out, err);
    if (rc < 0)
        return rc;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != info.size) {
        close(fd);
        return ec_fail(err, EC_ENOTFOUND, "%s is not stored", key);
    }
    *fd_out = fd;
    *size = info.size;
    return EC_OK;
}

int ec_mirror_digest_put(ec_store *st, const char *key, const ec_digest *d, ec_err *err)
{
    return put(st, key, d->b, sizeof d->b, err);
}

bool ec_mirror_doc_get(ec_store *st, const char *key, ec_mirror_doc *out)
{
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t vlen;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0 ||
        ec_kv_get(txn, &mirror_tbl, key, strlen(key), &v, &vlen, NULL) < 0)
        return false;
    json_t *j = json_loadb(v, vlen, 0, NULL);
    const char *blob = json_string_value(json_object_get(j, "blob"));
    const char *etag = json_string_value(json_object_get(j, "etag"));
    bool ok = blob && ec_digest_parse(&out->blob, blob, NULL) == EC_OK;
    snprintf(out->etag, sizeof out->etag, "%s", etag ? etag : "");
    out->fetched = (int64_t)json_integer_value(json_object_get(j, "fetched"));
    json_decref(j);
    return ok && ec_store_has_blob(st, &out->blob);
}

int ec_mirror_doc_put(ec_store *st, const char *key, const ec_mirror_doc *d, ec_err *err)
{
    char ds[EC_DIGEST_STR_LEN];
    json_t *j = json_pack("{s:s, s:s, s:I}", "blob", ec_digest_format(ds, &d->blob), "etag",
                          d->etag, "fetched", (json_int_t)d->fetched);
    EC_AUTOFREE char *val = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return put(st, key, val, strlen(val), err);
}

/* --- single flight --- */

/* The keys being downloaded now, a list with no bound. Flights nest (pip's metadata
 * flight is held while its page and its wheel each enter theirs), so a bounded table
 * deadlocks once every slot is held by an owner waiting for a slot of its own (mirror
 * requests run on threads with no cap). Unbounded, a caller waits only for another owner
 * of the same key, and every key keeps one download however many ask. The list holds one
 * entry per thread inside a flight, so it stays short; a scan under the lock is enough. */
typedef struct flight {
    struct flight *next;
    char key[];
} flight;

static pthread_mutex_t flight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_cv = PTHREAD_COND_INITIALIZER;
static flight *flights;

static flight **flight_find(const char *key)
{
    flight **f = &flights;
    while (*f && strcmp((*f)->key, key) != 0)
        f = &(*f)->next;
    return f;
}

bool ec_flight_enter(const char *key)
{
    pthread_mutex_lock(&flight_mu);
    bool owner = !*flight_find(key);
    if (owner) {
        size_t n = strlen(key) + 1;
        flight *f = ec_xmalloc(sizeof *f + n);
        memcpy(f->key, key, n);
        f->next = flights;
        flights = f;
    } else /* until a flight ends (this one or another): then the caller looks again */
        pthread_cond_wait(&flight_cv, &flight_mu);
    pthread_mutex_unlock(&flight_mu);
    return owner;
}

void ec_flight_leave(const char *key)
{
    pthread_mutex_lock(&flight_mu);
    flight **at = flight_find(key), *f = *at;
    if (f) {
        *at = f->next;
        free(f);
    }
    pthread_cond_broadcast(&flight_cv);
    pthread_mutex_unlock(&flight_mu);
}

/* --- request paths --- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *ec_mirror_path_decode(const char *s)
{
    char *out = ec_xmalloc(strlen(s) + 1), *o = out;
    for (; *s && *s != '?'; s++) {
        int h, l;
        if (*s == '%' && (h = hexval(s[1])) >= 0 && (l = hexval(s[2])) >= 0 && (h || l)) {
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else
            *o++ = *s;
    }
    *o = '\0';
    return out;
}
