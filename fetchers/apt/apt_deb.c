/* SPDX-License-Identifier: MIT */
/* .deb reading with libarchive: the outer ar, control.tar.* into memory, data.tar.* streamed
 * into the staging tree through the store's safe in-place extractor. */
#include "fetchers/apt/apt_deb_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

#define DEB_READ_CHUNK (256u * 1024)
#define CTL_MAX_MEMBER (64u << 20) /* templates of big packages are a few MB */

static const char *const ctl_names[] = {
#define EC__APT_CTL_NAME(id, name) name,
    EC_APT_CTL_MEMBERS(EC__APT_CTL_NAME)
#undef EC__APT_CTL_NAME
};

const char *ec_apt__ctl_name(int i)
{
    return ctl_names[i];
}

void ec_apt__deb_fini(ec_apt_deb *d)
{
    for (int i = 0; i < EC_APT_CTL__COUNT; i++)
        free(d->ctl[i]);
    for (size_t i = 0; i < d->npaths; i++) {
        free(d->paths[i].path);
        free(d->paths[i].dest);
    }
    free(d->paths);
    memset(d->ctl, 0, sizeof d->ctl);
    d->paths = NULL;
    d->npaths = d->cappaths = 0;
}

bool ec_apt__deb_ma_same(const ec_apt_deb *d)
{
    return d->multi_arch && strcmp(d->multi_arch, "same") == 0;
}

char *ec_apt__deb_stem(const ec_apt_deb *d)
{
    if (ec_apt__deb_ma_same(d))
        return ec_xasprintf("%s:%s", d->name, d->arch);
    return ec_xstrdup(d->name);
}

/* --- control text --- */

char *ec_apt__field(const char *text, const char *field)
{
    size_t k = strlen(field);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (*l == ' ' || *l == '\t' || strncasecmp(l, field, k) != 0 || l[k] != ':')
            continue;
        const char *v = l + k + 1, *end = v;
        while (*v == ' ' || *v == '\t')
            v++;
        for (end = v; *end;) { /* up to the first line that is not a continuation */
            const char *nl = strchr(end, '\n');
            if (!nl) {
                end += strlen(end);
                break;
            }
            if (nl[1] != ' ' && nl[1] != '\t') {
                end = nl;
                break;
            }
            end = nl + 1;
        }
        return ec_xstrndup(v, (size_t)(end - v));
    }
    return NULL;
}

bool ec_apt__deb_md5(const ec_apt_deb *d, const char *path, char out[33])
{
    size_t k = strlen(path);
    const char *t = d->ctl[EC_APT_CTL_MD5SUMS];
    for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        const char *p = l + 32;
        if (strlen(l) < 34 || p[0] != ' ')
            continue;
        p += strspn(p, " *");
        if (strncmp(p, path, k) == 0 && (p[k] == '\n' || p[k] == '\0')) {
            memcpy(out, l, 32);
            out[32] = '\0';
            return true;
        }
    }
    return false;
}

/* --- the outer ar --- */

struct deb_reader {
    int fd;
    ec_apt_stream *in; /* instead of fd: a download still running */
    bool in_failed;
    char *buf;
    ec_sha256 *hash;
    struct archive *ar; /* the outer ar, for member reads */
};

/* The next bytes of the .deb, hashed: from the stream or the blob's fd. */
static ssize_t src_read(struct deb_reader *r)
{
    for (;;) {
        ssize_t n = r->in ? ec_apt_stream_read(r->in, r->buf, DEB_READ_CHUNK)
                          : read(r->fd, r->buf, DEB_READ_CHUNK);
        if (n < 0 && errno == EINTR && !r->in)
            continue;
        if (n < 0 && r->in)
            r->in_failed = true;
        if (n > 0)
            ec_sha256_update(r->hash, r->buf, (size_t)n);
        return n;
    }
}

static la_ssize_t outer_read(struct archive *a, void *data, const void **buf)
{
    struct deb_reader *r = data;
    ssize_t n = src_read(r);
    if (n < 0) {
        archive_set_error(a, errno, "cannot read the .deb: %s",
                          r->in_failed ? "its download failed" : strerror(errno));
        return -1;
    }
    *buf = r->buf;
    return n;
}

/* The current ar member's bytes, zero-copy, for a nested reader. */
static ssize_t member_read(void *ud, const void **buf)
{
    struct deb_reader *r = ud;
    size_t len;
    la_int64_t off;
    int rc = archive_read_data_block(r->ar, buf, &len, &off);
    if (rc == ARCHIVE_EOF)
        return 0;
    if (rc < ARCHIVE_WARN) {
        errno = archive_errno(r->ar) > 0 ? archive_errno(r->ar) : EIO;
        return -1;
    }
    return (ssize_t)len;
}

static la_ssize_t member_read_la(struct archive *a, void *ud, const void **buf)
{
    ssize_t n = member_read(ud, buf);
    if (n < 0)
        archive_set_error(a, errno, "cannot read the .deb member");
    return n;
}

static void inner_formats(struct archive *a)
{
    /* only built-in decompressors: never an external program on untrusted bytes */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
}

static int ctl_index(const char *path)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    for (int i = 0; i < EC_APT_CTL__COUNT; i++)
        if (strcmp(path, ctl_names[i]) == 0)
            return i;
    return -1;
}

/* control.tar: the members dpkg keeps, into memory; everything else is skipped. */
static int read_control(ec_apt_deb *d, struct deb_reader *r, ec_err *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return ec_fail(err, EC_ENOMEM, "cannot create a tar reader");
    inner_formats(a);
    int rc = EC_OK;
    if (archive_read_open(a, r, NULL, member_read_la, NULL) != ARCHIVE_OK) {
        rc = ec_fail(err, EC_EARCHIVE, "control.tar: %s", archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h < ARCHIVE_WARN) {
            rc = ec_fail(err, EC_EARCHIVE, "control.tar: %s", archive_error_string(a));
            break;
        }
        int i = archive_entry_filetype(e) == AE_IFREG
                    ? ctl_index(archive_entry_pathname(e) ? archive_entry_pathname(e) : "")
                    : -1;
        if (i < 0)
            continue;
        int64_t size = archive_entry_size(e);
        if (size < 0 || size > CTL_MAX_MEMBER) {
            rc = ec_fail(err, EC_ELIMIT, "control.tar: %s is larger than %u bytes",
                         ctl_names[i], CTL_MAX_MEMBER);
            break;
        }
        char *buf = ec_xmalloc((size_t)size + 1);
        la_ssize_t got = archive_read_data(a, buf, (size_t)size);
        if (got != size) {
            free(buf);
            rc = ec_fail(err, EC_EARCHIVE, "control.tar: %s is truncated", ctl_names[i]);
            break;
        }
        buf[size] = '\0';
        free(d->ctl[i]);
        d->ctl[i] = buf;
        d->ctl_len[i] = (size_t)size;
    }
    archive_read_free(a);
    if (rc == EC_OK && !d->ctl[EC_APT_CTL_CONTROL])
        rc = ec_fail(err, EC_EFORMAT, "control.tar has no control file");
    return rc;
}

static bool member_is(const char *name, const char *stem)
{
    size_t k = strlen(stem);
    return strncmp(name, stem, k) == 0 && (name[k] == '\0' || name[k] == '.');
}

/* The control file must describe the package the lock asked for. */
static int check_control(const ec_apt_deb *d, ec_err *err)
{
    EC_AUTOFREE char *pkg = ec_apt__field(d->ctl[EC_APT_CTL_CONTROL], "Package");
    EC_AUTOFREE char *ver = ec_apt__field(d->ctl[EC_APT_CTL_CONTROL], "Version");
    if (!pkg || strcmp(pkg, d->name) != 0)
        return ec_fail(err, EC_EFORMAT, "control names package %s, the lock %s",
                       pkg ? pkg : "(none)", d->name);
    if (d->version && (!ver || strcmp(ver, d->version) != 0))
        return ec_fail(err, EC_EFORMAT, "control has version %s, the lock %s",
                       ver ? ver : "(none)", d->version);
    return EC_OK;
}

static int read_members(ec_apt_deb *d, struct deb_reader *r, const char *staging,
                        const ec_unpack_limits *lim, const ec_extract_opts *x, ec_err *err)
{
    bool seen_version = false, seen_control = false, seen_data = false;
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(r->ar, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h < ARCHIVE_WARN)
            return ec_fail(err, EC_EARCHIVE, "not a .deb (ar): %s", archive_error_string(r->ar));
        const char *name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        int rc = EC_OK;
        if (!seen_version) {
            char v[16] = {0};
            if (strcmp(name, "debian-binary") != 0)
                return ec_fail(err, EC_EFORMAT, "first member is %s, not debian-binary", name);
            la_ssize_t n = archive_read_data(r->ar, v, sizeof v - 1);
            if (n < 2 || strncmp(v, "2.", 2) != 0)
                return ec_fail(err, EC_EUNSUPPORTED, "debian-binary is not format 2.x");
            seen_version = true;
        } else if (name[0] == '_') {
            continue; /* dpkg ignores these before data.tar */
        } else if (!seen_control && member_is(name, "control.tar")) {
            rc = read_control(d, r, err);
            if (rc == EC_OK)
                rc = check_control(d, err);
            seen_control = true;
        } else if (!seen_data && seen_control && member_is(name, "data.tar")) {
            rc = ec_archive_extract_cb(member_read, r, staging, lim, x, err);
            if (rc < 0)
                ec_err_prefix(err, "data.tar");
            seen_data = true;
        } else if (!seen_data) {
            return ec_fail(err, EC_EFORMAT, "unexpected member %s", name);
        } /* members after data.tar are ignored, as dpkg does */
        if (rc < 0)
            return rc;
    }
    if (!seen_data)
        return ec_fail(err, EC_EFORMAT, "no %s member", seen_control ? "data.tar" : "control.tar");
    return EC_OK;
}

int ec_apt__deb_unpack(ec_apt_deb *d, ec_store *st, const ec_digest *blob,
                       ec_apt_stream *in, const char *staging, const ec_unpack_limits *lim,
                       const ec_extract_opts *x, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int rc = in ? EC_OK : ec_blob_open(&fd, st, blob, err);
    if (rc < 0)
        return ec_err_prefix(err, "%s %s", d->name, d->version), rc;
    EC_AUTOFREE char *buf = ec_xmalloc(DEB_READ_CHUNK);
    struct deb_reader r = {.fd = fd, .in = in, .buf = buf, .hash = ec_sha256_new()};
    ec_err local = {0};
    r.ar = archive_read_new();
    if (!r.ar)
        rc = ec_fail(&local, EC_ENOMEM, "cannot create an ar reader");
    else {
        archive_read_support_format_ar(r.ar);
        if (archive_read_open(r.ar, &r, NULL, outer_read, NULL) != ARCHIVE_OK)
            rc = ec_fail(&local, EC_EARCHIVE, "not a .deb (ar): %s",
                         archive_error_string(r.ar));
        else
            rc = read_members(d, &r, staging, lim, x, &local);
        archive_read_free(r.ar);
    }
    /* The digest decides first: a damaged blob is an integrity error, whatever it held. */
    while (src_read(&r) > 0)
        ;
    ec_digest got;
    ec_sha256_final(r.hash, &got);
    if (r.in_failed) /* the download's own error says why; the caller has it */
        return ec_fail(err, EC_ENETWORK, "%s %s: the download failed while unpacking", d->name,
                       d->version);
    if (!ec_digest_eq(&got, blob)) {
        char hex[EC_DIGEST_STR_LEN];
        return ec_fail(err, EC_EINTEGRITY, "%s %s: blob %s does not match its digest", d->name,
                       d->version, ec_digest_format(hex, blob));
    }
    if (rc < 0) {
        ec_err_prefix(&local, "%s %s", d->name, d->version);
        if (err && err->code == EC_OK)
            *err = local;
    }
    return rc;
}
