/* SPDX-License-Identifier: MIT */
/* `envcache export ENV --oci DIR | --docker-archive FILE`: an environment's stack as an
 * image standard container tools read. The OCI layout holds the store's tar+zstd blobs as
 * they are (or gzip re-compressions of the same tars, for tools that read no zstd); a
 * docker-archive holds the tars uncompressed, as `docker save` writes them. */
#include "cache/oci/oci_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define EC_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

typedef int (*sink_fn)(const void *p, size_t n, void *ud);

/* Streams the tar inside layer @l's blob to @sink. */
static int layer_tar(ec_store *st, const ec_layer_info *l, sink_fn sink, void *ud, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = ec_blob_open(&fd, st, &l->digest, err);
    if (r < 0)
        return r;
    ZSTD_DStream *z = ZSTD_createDStream();
    size_t inn = ZSTD_DStreamInSize(), outn = ZSTD_DStreamOutSize();
    EC_AUTOFREE char *ib = ec_xmalloc(inn);
    EC_AUTOFREE char *ob = ec_xmalloc(outn);
    EC_AUTO(ec_sha256) h = ec_sha256_new();
    ssize_t got;
    while (r == EC_OK && (got = read(fd, ib, inn)) > 0) {
        ZSTD_inBuffer in = {ib, (size_t)got, 0};
        while (r == EC_OK && in.pos < in.size) {
            ZSTD_outBuffer o = {ob, outn, 0};
            size_t zr = ZSTD_decompressStream(z, &o, &in);
            if (ZSTD_isError(zr))
                r = ec_fail(err, EC_EARCHIVE, "layer blob: %s", ZSTD_getErrorName(zr));
            else {
                ec_sha256_update(h, ob, o.pos);
                r = o.pos ? sink(ob, o.pos, ud) : EC_OK;
            }
        }
    }
    ZSTD_freeDStream(z);
    ec_digest d;
    if (r == EC_OK) {
        ec_sha256_final(ec_steal(&h), &d);
        if (!ec_digest_eq(&d, &l->diff_id)) {
            char ds[EC_DIGEST_STR_LEN];
            r = ec_fail(err, EC_EINTEGRITY, "layer %s: its tar does not match its diff_id",
                        ec_digest_format(ds, &l->digest));
        }
    }
    return r;
}

/* --- OCI image layout --- */

struct filesink {
    int fd;
    ec_sha256 *h;
    uint64_t n;
    z_stream zs;
    bool gz;
};

static int write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

static int file_out(struct filesink *f, const void *p, size_t n)
{
    ec_sha256_update(f->h, p, n);
    f->n += n;
    return write_all(f->fd, p, n) < 0 ? EC_ESYS : EC_OK;
}

static int gz_sink(const void *p, size_t n, void *ud)
{
    struct filesink *f = ud;
    unsigned char out[65536];
    f->zs.next_in = (unsigned char *)p;
    f->zs.avail_in = (uInt)n;
    int flush = p ? Z_NO_FLUSH : Z_FINISH;
    do {
        f->zs.next_out = out;
        f->zs.avail_out = sizeof out;
        deflate(&f->zs, flush);
        if (file_out(f, out, sizeof out - f->zs.avail_out) < 0)
            return EC_ESYS;
    } while (f->zs.avail_out == 0);
    return EC_OK;
}

/* Writes a blob into DIR/blobs/sha256/ through a temporary file; *@d and *@size describe it. */
static int layout_blob(const char *dir, ec_store *st, const ec_layer_info *l, bool gz,
                       ec_digest *d, uint64_t *size, ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    EC_AUTOFREE char *tmp = ec_xasprintf("%s/blobs/sha256/.tmp-layer", dir);
    struct filesink f = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
                         .h = ec_sha256_new(), .gz = gz};
    if (f.fd < 0) {
        ec_sha256_free(f.h);
        return ec_fail_sys(err, errno, "cannot create %s", tmp);
    }
    int r;
    if (gz) {
        /* Fixed level and no name or time in the header: the same tar gives the same gzip. */
        deflateInit2(&f.zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
        r = layer_tar(st, l, gz_sink, &f, err);
        if (r == EC_OK)
            r = gz_sink(NULL, 0, &f);
        deflateEnd(&f.zs);
    } else {
        EC_AUTOFD int bfd = -1;
        r = ec_blob_open(&bfd, st, &l->digest, err);
        char buf[65536];
        ssize_t got = 0;
        while (r == EC_OK && (got = read(bfd, buf, sizeof buf)) > 0)
            r = file_out(&f, buf, (size_t)got);
        if (r == EC_OK && got < 0)
            r = ec_fail_sys(err, errno, "cannot read a layer blob");
    }
    if (r == EC_OK && fsync(f.fd) < 0)
        r = ec_fail_sys(err, errno, "cannot fsync %s", tmp);
    close(f.fd);
    ec_sha256_final(f.h, d);
    *size = f.n;
    if (r == EC_OK && !gz && !ec_digest_eq(d, &l->digest))
        r = ec_fail(err, EC_EINTEGRITY, "a layer blob does not match its digest");
    EC_AUTOFREE char *dest = ec_xasprintf("%s/blobs/sha256/%s", dir, ec_digest_hex(hex, d));
    if (r == EC_OK && rename(tmp, dest) < 0)
        r = ec_fail_sys(err, errno, "cannot rename %s to %s", tmp, dest);
    if (r < 0) {
        unlink(tmp);
        if (!err->msg[0])
            ec_fail(err, r, "cannot write %s", tmp);
    }
    return r;
}

static int layout_buf(const char *dir, const char *text, ec_digest *d, ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    ec_sha256_buf(d, text, strlen(text));
    EC_AUTOFREE char *dest = ec_xasprintf("%s/blobs/sha256/%s", dir, ec_digest_hex(hex, d));
    return ec_write_file_atomic(dest, text, strlen(text), 0644, err);
}

static int check_empty_dir(const char *path, ec_err *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return errno == ENOENT ? EC_OK : ec_fail_sys(err, errno, "cannot stat %s", path);
    if (!S_ISDIR(sb.st_mode) || rmdir(path) < 0)
        return ec_fail(err, EC_ECONFLICT, "%s exists and is not an empty directory: export "
                       "into a new one", path);
    return EC_OK;
}

static int export_layout(json_t **out, ec_store *st, const ec_layer_info *ls, size_t n,
                         const char *dir, const char *tag, bool gz, ec_err *err)
{
    EC_AUTOFREE char *blobs = ec_xasprintf("%s/blobs/sha256", dir);
    int r = check_empty_dir(dir, err);
    if (r == EC_OK)
        r = ec_mkdir_p(blobs, 0755, err);
    EC_AUTO(json_t) descs = json_array();
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        ec_digest d;
        uint64_t size;
        r = layout_blob(dir, st, &ls[i], gz, &d, &size, err);
        if (r == EC_OK)
            json_array_append_new(descs, gz ? ec_oci_desc(EC_OCI_LAYER_GZIP, &d, size)
                                            : ec_oci_layer_desc(&ls[i]));
    }
    if (r < 0)
        return r;
    EC_AUTO(json_t) config = ec_oci_config(ls, n);
    EC_AUTOFREE char *ctext = ec_oci_dump(config);
    ec_digest cd, md;
    if ((r = layout_buf(dir, ctext, &cd, err)) < 0)
        return r;
    EC_AUTO(json_t) m = ec_oci_manifest(ec_oci_desc(EC_OCI_CONFIG, &cd, strlen(ctext)),
                                        json_incref(descs), NULL);
    EC_AUTOFREE char *mtext = ec_oci_dump(m);
    if ((r = layout_buf(dir, mtext, &md, err)) < 0)
        return r;
    json_t *mdesc = ec_oci_desc(EC_OCI_MANIFEST, &md, strlen(mtext));
    json_object_set_new(mdesc, "annotations",
                        json_pack("{s:s}", "org.opencontainers.image.ref.name", tag));
    EC_AUTO(json_t) index = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
                                      EC_OCI_INDEX, "manifests", mdesc);
    EC_AUTOFREE char *itext = ec_oci_dump(index);
    EC_AUTOFREE char *ipath = ec_xasprintf("%s/index.json", dir);
    EC_AUTOFREE char *lpath = ec_xasprintf("%s/oci-layout", dir);
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if ((r = ec_write_file_atomic(lpath, layout, strlen(layout), 0644, err)) < 0 ||
        (r = ec_write_file_atomic(ipath, itext, strlen(itext), 0644, err)) < 0)
        return r;
    char ds[EC_DIGEST_STR_LEN];
    *out = json_pack("{s:s, s:s, s:s, s:O}", "path", dir, "format", "oci", "manifest",
                     ec_digest_format(ds, &md), "layers", descs);
    return EC_OK;
}

/* --- docker-archive --- */

struct arsink {
    struct archive *a;
};

static int ar_sink(const void *p, size_t n, void *ud)
{
    struct arsink *s = ud;
    return archive_write_data(s->a, p, n) < 0 ? EC_EARCHIVE : EC_OK;
}

static int ar_file(struct archive *a, const char *name, const void *p, size_t n, ec_err *err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    int r = archive_write_header(a, e) == ARCHIVE_OK &&
                    (n == 0 || archive_write_data(a, p, n) == (la_ssize_t)n)
                ? EC_OK
                : ec_fail(err, EC_EARCHIVE, "cannot write %s: %s", name, archive_error_string(a));
    archive_entry_free(e);
    return r;
}

static int export_docker(json_t **out, ec_store *st, const ec_layer_info *ls, size_t n,
                         const char *file, const char *name, const char *tag, ec_err *err)
{
    EC_AUTOFREE char *tmp = ec_xasprintf("%s.partial", file);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    int r = archive_write_open_filename(a, tmp) == ARCHIVE_OK
                ? EC_OK
                : ec_fail(err, EC_EARCHIVE, "cannot create %s: %s", tmp, archive_error_string(a));
    EC_AUTO(json_t) paths = json_array();
    char hex[EC_DIGEST_HEX_LEN];
    for (size_t i = 0; r == EC_OK && i < n; i++) {
        EC_AUTOFREE char *p = ec_xasprintf("%s/layer.tar", ec_digest_hex(hex, &ls[i].diff_id));
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, p);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)ls[i].tar_size);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            r = ec_fail(err, EC_EARCHIVE, "cannot write %s: %s", p, archive_error_string(a));
        archive_entry_free(e);
        struct arsink s = {a};
        if (r == EC_OK)
            r = layer_tar(st, &ls[i], ar_sink, &s, err);
        json_array_append_new(paths, json_string(p));
    }
    EC_AUTO(json_t) config = ec_oci_config(ls, n);
    EC_AUTOFREE char *ctext = ec_oci_dump(config);
    ec_digest cd;
    ec_sha256_buf(&cd, ctext, strlen(ctext));
    EC_AUTOFREE char *cname = ec_xasprintf("%s.json", ec_digest_hex(hex, &cd));
    EC_AUTOFREE char *rtag = ec_xasprintf("%s:%s", name, tag);
    EC_AUTO(json_t) mf = json_pack("[{s:s, s:[s], s:O}]", "Config", cname, "RepoTags", rtag,
                                   "Layers", paths);
    EC_AUTOFREE char *mtext = ec_oci_dump(mf);
    if (r == EC_OK)
        r = ar_file(a, cname, ctext, strlen(ctext), err);
    if (r == EC_OK)
        r = ar_file(a, "manifest.json", mtext, strlen(mtext), err);
    if (archive_write_close(a) != ARCHIVE_OK && r == EC_OK)
        r = ec_fail(err, EC_EARCHIVE, "cannot finish %s: %s", tmp, archive_error_string(a));
    archive_write_free(a);
    if (r == EC_OK && rename(tmp, file) < 0)
        r = ec_fail_sys(err, errno, "cannot rename %s to %s", tmp, file);
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    *out = json_pack("{s:s, s:s, s:s, s:O}", "path", file, "format", "docker-archive", "tag",
                     rtag, "layers", paths);
    return EC_OK;
}

int ec_oci_export(json_t **out, ec_cache *c, const char *ws, const char *env,
                  ec_oci_export_kind kind, const char *path, const char *tag, bool gzip,
                  ec_err *err)
{
    EC_AUTOFREE char *id = NULL;
    EC_AUTO(json_t) obj = NULL;
    EC_AUTO(json_t) stack = NULL;
    EC_AUTOFREE ec_layer_info *ls = NULL;
    size_t n = 0;
    int r = ec_env_resolve_id(&id, c, ws, env, err);
    if (r == EC_OK)
        r = ec_env_get(&obj, c, ws, id, err);
    if (r == EC_OK)
        r = ec_oci_env_ready(c, id, json_object_get(json_object_get(obj, "config"), "packages"),
                             err);
    if (r == EC_OK)
        r = ec_env_stack(&stack, c, ws, id, err);
    if (r == EC_OK && json_array_size(stack) == 0)
        r = ec_fail(err, EC_ECONFLICT, "environment %s has no layers to export: run "
                    "'envcache warm %s' first", env, env);
    if (r == EC_OK)
        r = ec_oci_stack_layers(&ls, &n, c->st, stack, err);
    if (r < 0)
        return r;
    if (!tag)
        tag = "latest";
    if (kind == EC_OCI_LAYOUT)
        return export_layout(out, c->st, ls, n, path, tag, gzip, err);
    const char *name = json_string_value(json_object_get(obj, "name"));
    return export_docker(out, c->st, ls, n, path, name ? name : id, tag, err);
}
