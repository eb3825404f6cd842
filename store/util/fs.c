/* SPDX-License-Identifier: MIT */
/* Directory creation, safe recursive removal, atomic whole-file writes. */
#include "store/util/fs.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ec_mkdir_p(const char *path, unsigned mode, ec_err *err)
{
    EC_AUTOFREE char *p = ec_xstrdup(path);
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return ec_fail_sys(err, errno, "cannot create directory %s", p);
        p[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return ec_fail(err, EC_ESYS, "%s exists and is not a directory", path);
    return EC_OK;
}

static int rm_at(int parent, const char *name, const char *shown, ec_err *err)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? EC_OK : ec_fail_sys(err, errno, "cannot stat %s", shown);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
            return ec_fail_sys(err, errno, "cannot remove %s", shown);
        return EC_OK;
    }
    if ((st.st_mode & 0700) != 0700)
        fchmodat(parent, name, st.st_mode | 0700, 0);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", shown);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return ec_fail_sys(err, errno, "cannot read %s", shown);
    }
    int r = EC_OK;
    for (struct dirent *de; r == EC_OK && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = rm_at(dirfd(d), de->d_name, shown, err);
    }
    closedir(d);
    if (r == EC_OK && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        r = ec_fail_sys(err, errno, "cannot remove directory %s", shown);
    return r;
}

int ec_rm_rf(const char *path, ec_err *err)
{
    return rm_at(AT_FDCWD, path, path, err);
}

static int zero_times(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    static const struct timespec zero[2] = {{0, 0}, {0, 0}};
    return utimensat(AT_FDCWD, path, zero, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

int ec_zero_times(const char *dir, ec_err *err)
{
    /* depth first: a directory's time is set after its entries stop changing it */
    if (nftw(dir, zero_times, 64, FTW_PHYS | FTW_DEPTH) != 0)
        return ec_fail_sys(err, errno, "cannot reset the times of %s", dir);
    return EC_OK;
}

int ec_fsync_dir(const char *path, ec_err *err)
{
    EC_AUTOFD int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open directory %s", path);
    if (fsync(fd) < 0)
        return ec_fail_sys(err, errno, "cannot fsync directory %s", path);
    return EC_OK;
}

int ec_read_file(char **out, size_t *len_out, const char *path, size_t max, ec_err *err)
{
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    EC_AUTOFREE char *buf = ec_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max)
                return ec_fail(err, EC_ELIMIT, "%s is larger than %zu bytes", path, max);
            cap *= 2;
            buf = ec_xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ec_fail_sys(err, errno, "cannot read %s", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max)
        return ec_fail(err, EC_ELIMIT, "%s is larger than %zu bytes", path, max);
    buf[n] = '\0';
    if (len_out)
        *len_out = n;
    *out = ec_steal(&buf);
    return EC_OK;
}

static int write_replace(const char *path, const void *data, size_t n, unsigned mode, bool sync,
                         ec_err *err)
{
    char rnd[17];
    ec_random_hex(rnd, 8);
    EC_AUTOFREE char *tmp = ec_xasprintf("%s.tmp-%s", path, rnd);
    EC_AUTOFD int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot create %s", tmp);
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            unlink(tmp);
            return ec_fail_sys(err, e, "cannot write %s", tmp);
        }
        p += w;
        n -= (size_t)w;
    }
    if ((sync && fsync(fd) < 0) || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return ec_fail_sys(err, e, "cannot write %s", path);
    }
    return EC_OK;
}

int ec_write_file_atomic(const char *path, const void *data, size_t n, unsigned mode, ec_err *err)
{
    return write_replace(path, data, n, mode, true, err);
}

int ec_write_file_volatile(const char *path, const void *data, size_t n, unsigned mode,
                           ec_err *err)
{
    return write_replace(path, data, n, mode, false, err);
}

void ec_random_hex(char *out, size_t n)
{
    unsigned char raw[64];
    if (n > sizeof raw)
        n = sizeof raw;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(raw + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (errno != EINTR)
            abort();
    }
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int64_t ec_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

int64_t ec_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
