/* SPDX-License-Identifier: MIT */
/* libarchive, loaded on first use rather than linked: linked, it brought libxml2 (for a
 * format we never read), ICU and the C++ runtime behind it, eleven shared objects loaded
 * and relocated at every start, 1.3 ms of CPU, for the sandbox and mount commands too,
 * which never read an archive. As fetchers/http/curl_load.c does for libcurl: the
 * functions below have libarchive's names and prototypes and call its own through dlsym.
 * When it cannot be loaded each answers as libarchive does when it fails (NULL,
 * ARCHIVE_FATAL), and the error string says why. */
#include <archive.h>
#include <archive_entry.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "store/util/dl.h"

#define ARCHIVE_SONAME "libarchive.so.13"

#define EC_ARCHIVE_FUNCS(X)                                                                  \
    X(archive_entry_clear) X(archive_entry_filetype) X(archive_entry_free)                   \
    X(archive_entry_gid) X(archive_entry_hardlink) X(archive_entry_mode)                     \
    X(archive_entry_mtime) X(archive_entry_mtime_is_set) X(archive_entry_mtime_nsec)         \
    X(archive_entry_new) X(archive_entry_pathname) X(archive_entry_perm)                     \
    X(archive_entry_set_filetype) X(archive_entry_set_gid) X(archive_entry_set_hardlink)     \
    X(archive_entry_set_mode) X(archive_entry_set_mtime) X(archive_entry_set_pathname)       \
    X(archive_entry_set_perm) X(archive_entry_set_size) X(archive_entry_set_symlink)         \
    X(archive_entry_set_uid) X(archive_entry_size) X(archive_entry_size_is_set)              \
    X(archive_entry_symlink) X(archive_entry_uid) X(archive_entry_xattr_add_entry)           \
    X(archive_entry_xattr_next) X(archive_entry_xattr_reset) X(archive_errno)                \
    X(archive_error_string) X(archive_read_data) X(archive_read_data_block)                  \
    X(archive_read_free) X(archive_read_new) X(archive_read_next_header)                     \
    X(archive_read_open) X(archive_read_open_fd) X(archive_read_open_filename)               \
    X(archive_read_open_memory) X(archive_read_support_filter_bzip2)                         \
    X(archive_read_support_filter_gzip) X(archive_read_support_filter_lzma)                  \
    X(archive_read_support_filter_xz) X(archive_read_support_filter_zstd)                    \
    X(archive_read_support_format_ar) X(archive_read_support_format_gnutar)                  \
    X(archive_read_support_format_raw) X(archive_read_support_format_tar)                    \
    X(archive_read_support_format_zip_seekable) X(archive_write_close) X(archive_write_data) \
    X(archive_write_fail) X(archive_write_free) X(archive_write_header) X(archive_write_new) \
    X(archive_write_open) X(archive_write_open_filename)                                     \
    X(archive_write_set_bytes_in_last_block) X(archive_write_set_bytes_per_block)            \
    X(archive_write_set_format_pax_restricted) X(archive_set_error)

#define DECLARE(f) static __typeof__(f) *p_##f;
EC_ARCHIVE_FUNCS(DECLARE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[512];

#define NAME(f) #f,
#define SLOT(f) (void **)&p_##f,

static void load(void)
{
    static const ec_dl_lib lib = {ARCHIVE_SONAME, "which reads and writes every archive",
                                  "libarchive13"};
    static const char *const names[] = {EC_ARCHIVE_FUNCS(NAME)};
    static void **const slots[] = {EC_ARCHIVE_FUNCS(SLOT)};
    loaded = ec_dl_load(&lib, names, slots, sizeof names / sizeof *names, why, sizeof why);
    if (!loaded)
        fprintf(stderr, "envcache: %s\n", why);
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

/* libarchive has no va_list form: the message is formatted here and handed on whole. */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ready())
        p_archive_set_error(a, err, "%s", msg);
}

struct archive_entry *archive_entry_clear(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_clear(a0) : NULL;
}

__LA_MODE_T archive_entry_filetype(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_filetype(a0) : 0;
}

void archive_entry_free(struct archive_entry *a0)
{
    if (ready())
        p_archive_entry_free(a0);
}

la_int64_t archive_entry_gid(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_gid(a0) : 0;
}

const char *archive_entry_hardlink(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_hardlink(a0) : NULL;
}

__LA_MODE_T archive_entry_mode(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_mode(a0) : 0;
}

time_t archive_entry_mtime(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_mtime(a0) : 0;
}

int archive_entry_mtime_is_set(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_mtime_is_set(a0) : 0;
}

long archive_entry_mtime_nsec(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_mtime_nsec(a0) : 0;
}

struct archive_entry *archive_entry_new(void)
{
    return ready() ? p_archive_entry_new() : NULL;
}

const char *archive_entry_pathname(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_pathname(a0) : NULL;
}

__LA_MODE_T archive_entry_perm(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_perm(a0) : 0;
}

void archive_entry_set_filetype(struct archive_entry *a0, unsigned int a1)
{
    if (ready())
        p_archive_entry_set_filetype(a0, a1);
}

void archive_entry_set_gid(struct archive_entry *a0, la_int64_t a1)
{
    if (ready())
        p_archive_entry_set_gid(a0, a1);
}

void archive_entry_set_hardlink(struct archive_entry *a0, const char *a1)
{
    if (ready())
        p_archive_entry_set_hardlink(a0, a1);
}

void archive_entry_set_mode(struct archive_entry *a0, __LA_MODE_T a1)
{
    if (ready())
        p_archive_entry_set_mode(a0, a1);
}

void archive_entry_set_mtime(struct archive_entry *a0, time_t a1, long a2)
{
    if (ready())
        p_archive_entry_set_mtime(a0, a1, a2);
}

void archive_entry_set_pathname(struct archive_entry *a0, const char *a1)
{
    if (ready())
        p_archive_entry_set_pathname(a0, a1);
}

void archive_entry_set_perm(struct archive_entry *a0, __LA_MODE_T a1)
{
    if (ready())
        p_archive_entry_set_perm(a0, a1);
}

void archive_entry_set_size(struct archive_entry *a0, la_int64_t a1)
{
    if (ready())
        p_archive_entry_set_size(a0, a1);
}

void archive_entry_set_symlink(struct archive_entry *a0, const char *a1)
{
    if (ready())
        p_archive_entry_set_symlink(a0, a1);
}

void archive_entry_set_uid(struct archive_entry *a0, la_int64_t a1)
{
    if (ready())
        p_archive_entry_set_uid(a0, a1);
}

la_int64_t archive_entry_size(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_size(a0) : 0;
}

int archive_entry_size_is_set(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_size_is_set(a0) : 0;
}

const char *archive_entry_symlink(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_symlink(a0) : NULL;
}

la_int64_t archive_entry_uid(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_uid(a0) : 0;
}

void archive_entry_xattr_add_entry(struct archive_entry *a0, const char *a1, const void *a2, size_t a3)
{
    if (ready())
        p_archive_entry_xattr_add_entry(a0, a1, a2, a3);
}

int archive_entry_xattr_next(struct archive_entry *a0, const char **a1, const void **a2, size_t *a3)
{
    return ready() ? p_archive_entry_xattr_next(a0, a1, a2, a3) : ARCHIVE_WARN;
}

int archive_entry_xattr_reset(struct archive_entry *a0)
{
    return ready() ? p_archive_entry_xattr_reset(a0) : 0;
}

int archive_errno(struct archive *a0)
{
    return ready() ? p_archive_errno(a0) : 0;
}

const char *archive_error_string(struct archive *a0)
{
    return ready() ? p_archive_error_string(a0) : why;
}

la_ssize_t archive_read_data(struct archive *a0, void *a1, size_t a2)
{
    return ready() ? p_archive_read_data(a0, a1, a2) : ARCHIVE_FATAL;
}

int archive_read_data_block(struct archive *a0, const void **a1, size_t *a2, la_int64_t *a3)
{
    return ready() ? p_archive_read_data_block(a0, a1, a2, a3) : ARCHIVE_FATAL;
}

int archive_read_free(struct archive *a0)
{
    return ready() ? p_archive_read_free(a0) : ARCHIVE_FATAL;
}

struct archive *archive_read_new(void)
{
    return ready() ? p_archive_read_new() : NULL;
}

int archive_read_next_header(struct archive *a0, struct archive_entry **a1)
{
    return ready() ? p_archive_read_next_header(a0, a1) : ARCHIVE_FATAL;
}

int archive_read_open(struct archive *a0, void *a1, archive_open_callback *a2, archive_read_callback *a3, archive_close_callback *a4)
{
    return ready() ? p_archive_read_open(a0, a1, a2, a3, a4) : ARCHIVE_FATAL;
}

int archive_read_open_fd(struct archive *a0, int a1, size_t a2)
{
    return ready() ? p_archive_read_open_fd(a0, a1, a2) : ARCHIVE_FATAL;
}

int archive_read_open_filename(struct archive *a0, const char *a1, size_t a2)
{
    return ready() ? p_archive_read_open_filename(a0, a1, a2) : ARCHIVE_FATAL;
}

int archive_read_open_memory(struct archive *a0, const void *a1, size_t a2)
{
    return ready() ? p_archive_read_open_memory(a0, a1, a2) : ARCHIVE_FATAL;
}

int archive_read_support_filter_bzip2(struct archive *a0)
{
    return ready() ? p_archive_read_support_filter_bzip2(a0) : ARCHIVE_FATAL;
}

int archive_read_support_filter_gzip(struct archive *a0)
{
    return ready() ? p_archive_read_support_filter_gzip(a0) : ARCHIVE_FATAL;
}

int archive_read_support_filter_lzma(struct archive *a0)
{
    return ready() ? p_archive_read_support_filter_lzma(a0) : ARCHIVE_FATAL;
}

int archive_read_support_filter_xz(struct archive *a0)
{
    return ready() ? p_archive_read_support_filter_xz(a0) : ARCHIVE_FATAL;
}

int archive_read_support_filter_zstd(struct archive *a0)
{
    return ready() ? p_archive_read_support_filter_zstd(a0) : ARCHIVE_FATAL;
}

int archive_read_support_format_ar(struct archive *a0)
{
    return ready() ? p_archive_read_support_format_ar(a0) : ARCHIVE_FATAL;
}

int archive_read_support_format_gnutar(struct archive *a0)
{
    return ready() ? p_archive_read_support_format_gnutar(a0) : ARCHIVE_FATAL;
}

int archive_read_support_format_raw(struct archive *a0)
{
    return ready() ? p_archive_read_support_format_raw(a0) : ARCHIVE_FATAL;
}

int archive_read_support_format_tar(struct archive *a0)
{
    return ready() ? p_archive_read_support_format_tar(a0) : ARCHIVE_FATAL;
}

int archive_read_support_format_zip_seekable(struct archive *a0)
{
    return ready() ? p_archive_read_support_format_zip_seekable(a0) : ARCHIVE_FATAL;
}

int archive_write_close(struct archive *a0)
{
    return ready() ? p_archive_write_close(a0) : ARCHIVE_FATAL;
}

la_ssize_t archive_write_data(struct archive *a0, const void *a1, size_t a2)
{
    return ready() ? p_archive_write_data(a0, a1, a2) : ARCHIVE_FATAL;
}

int archive_write_fail(struct archive *a0)
{
    return ready() ? p_archive_write_fail(a0) : ARCHIVE_FATAL;
}

int archive_write_free(struct archive *a0)
{
    return ready() ? p_archive_write_free(a0) : ARCHIVE_FATAL;
}

int archive_write_header(struct archive *a0, struct archive_entry *a1)
{
    return ready() ? p_archive_write_header(a0, a1) : ARCHIVE_FATAL;
}

struct archive *archive_write_new(void)
{
    return ready() ? p_archive_write_new() : NULL;
}

int archive_write_open(struct archive *a0, void *a1, archive_open_callback *a2, archive_write_callback *a3, archive_close_callback *a4)
{
    return ready() ? p_archive_write_open(a0, a1, a2, a3, a4) : ARCHIVE_FATAL;
}

int archive_write_open_filename(struct archive *a0, const char *a1)
{
    return ready() ? p_archive_write_open_filename(a0, a1) : ARCHIVE_FATAL;
}

int archive_write_set_bytes_in_last_block(struct archive *a0, int a1)
{
    return ready() ? p_archive_write_set_bytes_in_last_block(a0, a1) : ARCHIVE_FATAL;
}

int archive_write_set_bytes_per_block(struct archive *a0, int a1)
{
    return ready() ? p_archive_write_set_bytes_per_block(a0, a1) : ARCHIVE_FATAL;
}

int archive_write_set_format_pax_restricted(struct archive *a0)
{
    return ready() ? p_archive_write_set_format_pax_restricted(a0) : ARCHIVE_FATAL;
}
