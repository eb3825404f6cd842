/* SPDX-License-Identifier: MIT */
/* Session records that wait to be indexed. A session is only worth its mount, and a mount
 * does not survive a reboot, so its record need not be durable before the mount exists:
 * the start-up hook writes it as a file, `sessions/.records/<id>.json`, with no sync, and
 * the next index write that touches sessions adopts every such file (one sync for all of
 * them, paid by a caller that was writing anyway). A record lost to a crash leaves a
 * directory with no record, which session_reap.c removes as it always did.
 *
 * The file stays as long as the session: adopting copies it into the index, and only
 * forgetting the session removes it (before the commit that drops the index's copy). So a
 * reader, whatever snapshot of the index it holds, finds every live session in its index
 * or among the files (those the index holds are skipped), and never one forgotten: no
 * window opens between an adopter's commit and a removal.
 *
 * Two makers of sessions on one target used to meet in the index's write txn; with no txn
 * they meet at a lock instead (ec_session__target_lock), held from the check that the
 * target is free until the record exists, in the index or as a file. */
#include "cache/session/session_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORDS_DIR "sessions/.records"
#define LOCKS_DIR "sessions/.locks"
#define SUFFIX ".json"

static char *record_path(ec_cache *c, const char *id)
{
    return ec_xasprintf("%s/" RECORDS_DIR "/%s" SUFFIX, ec_store_home(c->st), id);
}

int ec_session__deferred_put(ec_cache *c, const char *id, const json_t *s, ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/" RECORDS_DIR, ec_store_home(c->st));
    EC_AUTOFREE char *path = record_path(c, id);
    EC_AUTOFREE char *text = json_dumps(s, JSON_COMPACT);
    int r = ec_mkdir_p(dir, 0700, err);
    if (r == EC_OK)
        r = ec_write_file_volatile(path, text, strlen(text), 0600, err);
    return r;
}

void ec_session__deferred_drop(ec_cache *c, const char *id)
{
    EC_AUTOFREE char *path = record_path(c, id);
    unlink(path);
}

/* A file that does not parse was cut short by a crash (written, renamed, not synced):
 * it records nothing. */
static json_t *read_record(const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    if (ec_read_file(&text, &len, path, 1 << 20, NULL) < 0)
        return NULL; /* removed meanwhile: adopted or deleted */
    json_t *s = json_loadb(text, len, 0, NULL);
    if (!json_is_object(s)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

bool ec_session__deferred_has(ec_cache *c, const char *id)
{
    EC_AUTOFREE char *path = record_path(c, id);
    EC_AUTO(json_t) s = read_record(path);
    return s != NULL;
}

/* The id a record file is named for, or NULL for anything else in the folder
 * (ec_write_file_volatile's temporaries end in .tmp-<random>; one a crash left behind is
 * never read, and goes with the next record of its id). */
static char *file_id(const char *name)
{
    size_t n = strlen(name), sl = strlen(SUFFIX);
    if (name[0] == '.' || n <= sl || strcmp(name + n - sl, SUFFIX) != 0)
        return NULL;
    return ec_xstrndup(name, n - sl);
}

/* Calls @fn(id, record) for each record file whose session the index does not hold
 * (@txn: an adopter may have indexed it and not removed the file yet). */
static int each_file(ec_cache *c, ec_txn *txn, int (*fn)(const char *, json_t *, void *),
                     void *payload, size_t *count)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/" RECORDS_DIR, ec_store_home(c->st));
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int stop = 0;
    for (struct dirent *de; !stop && (de = readdir(d));) {
        EC_AUTOFREE char *id = file_id(de->d_name);
        const void *v;
        if (!id || ec_session__get_raw(txn, id, &v, NULL) != EC_ENOTFOUND)
            continue;
        EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, de->d_name);
        EC_AUTO(json_t) s = read_record(path);
        if (!s)
            continue; /* its directory is an orphan (reaped) */
        if (count)
            (*count)++;
        if (fn)
            stop = fn(id, s, payload);
    }
    closedir(d);
    return stop;
}

struct each_rec {
    ec_session_rec_fn fn;
    void *payload;
};

static int each_rec(const char *id, json_t *s, void *payload)
{
    (void)id;
    struct each_rec *e = payload;
    return e->fn(s, e->payload);
}

int ec_session__deferred_each(ec_cache *c, ec_txn *txn, ec_session_rec_fn fn, void *payload)
{
    struct each_rec e = {fn, payload};
    return each_file(c, txn, each_rec, &e, NULL);
}

size_t ec_session__deferred_count(ec_cache *c, ec_txn *txn)
{
    size_t n = 0;
    each_file(c, txn, NULL, NULL, &n);
    return n;
}

struct adopt {
    ec_txn *txn;
    ec_err *err;
    int rc;
};

/* Its layers were used when it was mounted: last_used is GC's LRU hint. */
static int touch_layers(ec_txn *txn, const json_t *s, ec_err *err)
{
    int64_t now = ec_now();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(s, "layers"), i, d) {
        ec_digest dg;
        ec_layer_info l;
        if (ec_digest_parse(&dg, json_string_value(d), NULL) < 0 ||
            ec_layer_lookup(&l, txn, &dg, NULL) < 0)
            continue; /* removed since: nothing to touch */
        l.last_used = now;
        int r = ec_layer_put(txn, &l, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

static int adopt_one(const char *id, json_t *s, void *payload)
{
    struct adopt *a = payload;
    a->rc = ec_session__put(a->txn, id, s, EC_KV_NOOVERWRITE, a->err);
    if (a->rc == EC_ECONFLICT) { /* indexed by another adopter meanwhile */
        ec_err_clear(a->err);
        a->rc = EC_OK;
    } else if (a->rc == EC_OK) {
        a->rc = touch_layers(a->txn, s, a->err);
    }
    return a->rc < 0;
}

int ec_session__deferred_adopt(ec_cache *c, ec_txn *txn, ec_err *err)
{
    struct adopt a = {txn, err, EC_OK};
    each_file(c, txn, adopt_one, &a, NULL);
    return a.rc;
}

/* One of 256 lock files, by a hash of the target: two targets rarely share one, and the
 * folder never grows (a file per target would, one per container ever started). */
int ec_session__target_lock(ec_cache *c, const char *target, ec_err *err)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = target; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    EC_AUTOFREE char *dir = ec_xasprintf("%s/" LOCKS_DIR, ec_store_home(c->st));
    EC_AUTOFREE char *path = ec_xasprintf("%s/%02x", dir, (unsigned)(h & 0xff));
    int r = ec_mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open the session lock %s", path);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return ec_fail_sys(err, e, "cannot lock %s", path);
        }
    }
    return fd;
}

void ec_session__target_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
