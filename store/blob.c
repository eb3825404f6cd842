/* SPDX-License-Identifier: MIT */
/* Content-addressed blobs: temp file, hash while writing, fsync, verify, rename, record. */
#include "store/record.h"
#include "store/store_int.h"
#include "store/util/fault.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_REC_V1 1
#define BLOB_REC_LEN 25 /* version, size, created, last_used */

struct ec_blob_writer {
    ec_store *st;
    int fd;
    char *tmp;
    ec_sha256 *hash;
    uint64_t size;
    int failed; /* sticky: the first error's code */
};

int ec_blob_writer_new(ec_blob_writer **out, ec_store *st, ec_err *err)
{
    char rnd[33];
    ec_random_hex(rnd, 16);
    EC_AUTOFREE char *tmp = ec_xasprintf("%s/" EC_DIR_TMP "/blob-%s", st->home, rnd);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot create a temporary blob in %s/" EC_DIR_TMP,
                           st->home);
    /* The lock tells cleaners this temp file still has a live writer. */
    flock(fd, LOCK_EX | LOCK_NB);
    ec_blob_writer *w = ec_xcalloc(1, sizeof *w);
    w->st = st;
    w->fd = fd;
    w->tmp = ec_steal(&tmp);
    w->hash = ec_sha256_new();
    *out = w;
    return EC_OK;
}

int ec_blob_writer_write(ec_blob_writer *w, const void *p, size_t n, ec_err *err)
{
    if (w->failed)
        return w->failed;
    ec_sha256_update(w->hash, p, n);
    const char *c = p;
    while (n) {
        ssize_t r = write(w->fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return w->failed = ec_fail_sys(err, errno, "cannot write %s", w->tmp);
        c += r;
        n -= (size_t)r;
        w->size += (uint64_t)r;
    }
    return EC_OK;
}

uint64_t ec_blob_writer_size(const ec_blob_writer *w)
{
    return w->size;
}

void ec_blob_writer_cancel(ec_blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        unlink(w->tmp);
        close(w->fd);
    }
    ec_sha256_free(w->hash);
    free(w->tmp);
    free(w);
}

char *ec_blob_path(const ec_store *st, const ec_digest *d)
{
    char hex[EC_DIGEST_HEX_LEN];
    ec_digest_hex(hex, d);
    return ec_xasprintf("%s/" EC_DIR_BLOBS "/%.2s/%s", st->home, hex, hex);
}

static int place_blob(ec_blob_writer *w, const ec_digest *got, ec_err *err)
{
    EC_AUTOFREE char *path = ec_blob_path(w->st, got);
    EC_AUTOFREE char *dir = ec_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    int r = ec_store__mkdir_private(w->st, dir, err);
    if (r < 0)
        return r;
    fchmod(w->fd, ec_store__mode(w->st, EC_MODE_BLOB)); /* exact, whatever the umask */
    if (w->st->group != (gid_t)-1 && fchown(w->fd, (uid_t)-1, w->st->group) < 0)
        return ec_fail_sys(err, errno, "cannot give %s to group %u", w->tmp,
                           (unsigned)w->st->group);
    if (EC_FAULT("blob.rename"))
        return ec_fail(err, EC_ESYS, "fault injected before renaming %s", w->tmp);
    /* A blob already in place has the same bytes by construction; rename over it is fine. */
    if (rename(w->tmp, path) < 0)
        return ec_fail_sys(err, errno, "cannot move %s to %s", w->tmp, path);
    w->fd = (close(w->fd), -1);
    return ec_fsync_dir(dir, err);
}

int ec_blob_writer_commit(ec_blob_writer *w, const ec_digest *want, ec_digest *got_out,
                          ec_err *err)
{
    EC_AUTO(ec_blob_writer) own = w;
    ec_digest got;
    if (w->failed)
        return w->failed;
    if (EC_FAULT("blob.fsync") || fsync(w->fd) < 0)
        return ec_fail_sys(err, errno ? errno : EIO, "cannot fsync %s", w->tmp);
    ec_sha256_final(ec_steal(&w->hash), &got);
    if (want && !ec_digest_eq(want, &got)) {
        char a[EC_DIGEST_STR_LEN], b[EC_DIGEST_STR_LEN];
        return ec_fail(err, EC_EINTEGRITY, "content is %s but %s was expected; nothing was stored",
                       ec_digest_format(a, &got), ec_digest_format(b, want));
    }
    int r = place_blob(w, &got, err);
    if (r < 0)
        return r;
    r = ec_store__record_blob(w->st, &got, w->size, err);
    if (r < 0)
        return r; /* the file stays: verify finds it as an orphan and gc may remove it */
    if (got_out)
        *got_out = got;
    return EC_OK;
}

int ec_store__record_blob(ec_store *st, const ec_digest *d, uint64_t size, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    unsigned char rec[BLOB_REC_LEN];
    int64_t now = ec_now();
    int r = ec_txn_begin(&txn, st, 0, err);
    if (r < 0)
        return r;
    const void *old;
    size_t oldlen;
    int64_t created = now;
    if (ec_kv_get(txn, &ec_tbl_blobs, d->b, 32, &old, &oldlen, NULL) == EC_OK &&
        oldlen == BLOB_REC_LEN)
        created = (int64_t)ec_le64_get((const unsigned char *)old + 9);
    rec[0] = BLOB_REC_V1;
    ec_le64_put(rec + 1, size);
    ec_le64_put(rec + 9, (uint64_t)created);
    ec_le64_put(rec + 17, (uint64_t)now);
    r = ec_kv_put(txn, &ec_tbl_blobs, d->b, 32, rec, sizeof rec, 0, err);
    if (r < 0)
        return r;
    if (EC_FAULT("blob.record"))
        return ec_fail(err, EC_EDB, "fault injected before recording the blob");
    return ec_txn_commit(ec_steal(&txn), err);
}

int ec_blob_lookup(ec_blob_info *out, ec_txn *txn, const ec_digest *d, ec_err *err)
{
    const void *v;
    size_t n;
    int r = ec_kv_get(txn, &ec_tbl_blobs, d->b, 32, &v, &n, err);
    if (r < 0)
        return r;
    const unsigned char *p = v;
    if (n != BLOB_REC_LEN || p[0] != BLOB_REC_V1)
        return ec_fail(err, EC_EFORMAT, "blob record has an unknown layout (%zu bytes)", n);
    out->size = ec_le64_get(p + 1);
    out->created = (int64_t)ec_le64_get(p + 9);
    out->last_used = (int64_t)ec_le64_get(p + 17);
    return EC_OK;
}

bool ec_store_has_blob(ec_store *st, const ec_digest *d)
{
    EC_AUTO(ec_txn) txn = NULL;
    ec_blob_info info;
    if (ec_txn_begin(&txn, st, EC_TXN_READ, NULL) < 0)
        return false;
    if (ec_blob_lookup(&info, txn, d, NULL) < 0)
        return false;
    EC_AUTOFREE char *path = ec_blob_path(st, d);
    struct stat sb;
    return stat(path, &sb) == 0 && (uint64_t)sb.st_size == info.size;
}

int ec_blob_open(int *fd_out, ec_store *st, const ec_digest *d, ec_err *err)
{
    EC_AUTOFREE char *path = ec_blob_path(st, d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char s[EC_DIGEST_STR_LEN];
        if (errno == ENOENT)
            return ec_fail(err, EC_ENOTFOUND, "blob %s is not in the store",
                           ec_digest_format(s, d));
        return ec_fail_sys(err, errno, "cannot open %s", path);
    }
    *fd_out = fd;
    return EC_OK;
}

int ec_blob_copy_verified(ec_store *st, const ec_digest *d, int out_fd, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = ec_blob_open(&fd, st, d, err);
    if (r < 0)
        return r;
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    EC_AUTOFREE char *buf = ec_xmalloc(1 << 20);
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ec_fail_sys(err, errno, "cannot read a blob");
        if (n == 0)
            break;
        ec_sha256_update(h, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return ec_fail_sys(err, errno, "cannot write the copy of a blob");
            off += w;
        }
    }
    ec_digest got;
    ec_sha256_final(ec_steal(&h), &got);
    if (!ec_digest_eq(&got, d)) {
        char a[EC_DIGEST_STR_LEN], b[EC_DIGEST_STR_LEN];
        return ec_fail(err, EC_EINTEGRITY,
                       "blob %s is corrupt: its bytes hash to %s; run `envcache verify --repair`",
                       ec_digest_format(a, d), ec_digest_format(b, &got));
    }
    return EC_OK;
}

int ec_blob_put_file(ec_digest *out, ec_store *st, const char *path, const ec_digest *want,
                     ec_err *err)
{
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", path);
    EC_AUTO(ec_blob_writer) w = NULL;
    int r = ec_blob_writer_new(&w, st, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *buf = ec_xmalloc(1 << 20);
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ec_fail_sys(err, errno, "cannot read %s", path);
        if (n == 0)
            break;
        r = ec_blob_writer_write(w, buf, (size_t)n, err);
        if (r < 0)
            return r;
    }
    return ec_blob_writer_commit(ec_steal(&w), want, out, err);
}

int ec_blob_put_buf(ec_digest *out, ec_store *st, const void *p, size_t n, ec_err *err)
{
    EC_AUTO(ec_blob_writer) w = NULL;
    int rc = ec_blob_writer_new(&w, st, err);
    if (rc == EC_OK)
        rc = ec_blob_writer_write(w, p ? p : "", n, err);
    if (rc == EC_OK)
        rc = ec_blob_writer_commit(ec_steal(&w), NULL, out, err);
    return rc;
}
