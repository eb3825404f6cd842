/* SPDX-License-Identifier: MIT */
/* go's dirhash "h1:" of module zips and go.mod files (golang.org/x/mod/sumdb/dirhash):
 * the SHA-256 of a summary of "<hex sha256>  <name>\n" lines in name order. */
#include "fetchers/go/go_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

typedef struct zfile {
    char *name;
    ec_digest d;
} zfile;

static int zfile_cmp(const void *a, const void *b)
{
    return strcmp(((const zfile *)a)->name, ((const zfile *)b)->name);
}

static void h1_of(char out[64], zfile *f, size_t n)
{
    if (n > 1) /* a zip with no files has no array: qsort(NULL, …) is undefined */
        qsort(f, n, sizeof *f, zfile_cmp);
    ec_sha256 *h = ec_sha256_new();
    for (size_t i = 0; i < n; i++) {
        char hex[EC_DIGEST_HEX_LEN];
        ec_digest_hex(hex, &f[i].d);
        ec_sha256_update(h, hex, strlen(hex));
        ec_sha256_update(h, "  ", 2);
        ec_sha256_update(h, f[i].name, strlen(f[i].name));
        ec_sha256_update(h, "\n", 1);
    }
    ec_digest sum;
    ec_sha256_final(h, &sum);
    memcpy(out, "h1:", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, sum.b, (int)sizeof sum.b);
}

void go_h1_mod(char out[64], const void *mod, size_t n)
{
    zfile f = {.name = (char *)"go.mod"};
    ec_sha256_buf(&f.d, mod, n);
    h1_of(out, &f, 1);
}

static struct archive *zip_open(const void *zip, size_t n)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_zip_seekable(a);
    if (archive_read_open_memory(a, zip, n) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

int go_h1_zip(char out[64], const void *zip, size_t n, const char *prefix, ec_err *err)
{
    struct archive *a = zip_open(zip, n);
    if (!a)
        return ec_fail(err, EC_EFORMAT, "the module zip of %s is not a zip", prefix);
    zfile *files = NULL;
    size_t nf = 0;
    int r = EC_OK;
    struct archive_entry *e;
    int ar;
    while (r == EC_OK && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!name || strchr(name, '\n') || strncmp(name, prefix, strlen(prefix)) != 0) {
            r = ec_fail(err, EC_EFORMAT, "the module zip of %s has a file outside %s",
                        prefix, prefix);
            break;
        }
        files = ec_xrealloc(files, (nf + 1) * sizeof *files);
        zfile *f = &files[nf++];
        f->name = ec_xstrdup(name);
        ec_sha256 *h = ec_sha256_new();
        const void *buf;
        size_t len;
        la_int64_t off;
        while ((ar = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
            ec_sha256_update(h, buf, len);
        ec_sha256_final(h, &f->d);
        if (ar != ARCHIVE_EOF)
            r = ec_fail(err, EC_EFORMAT, "the module zip of %s cannot be read: %s", prefix,
                        archive_error_string(a));
    }
    if (r == EC_OK && ar != ARCHIVE_EOF)
        r = ec_fail(err, EC_EFORMAT, "the module zip of %s cannot be read: %s", prefix,
                    archive_error_string(a));
    if (r == EC_OK)
        h1_of(out, files, nf);
    for (size_t i = 0; i < nf; i++)
        free(files[i].name);
    free(files);
    archive_read_free(a);
    return r;
}

bool go_zip_has_package(const void *zip, size_t n, const char *prefix, const char *dir)
{
    struct archive *a = zip_open(zip, n);
    if (!a)
        return false;
    char want[1024];
    int wl = snprintf(want, sizeof want, "%s%s%s", prefix, dir, *dir ? "/" : "");
    bool found = false;
    struct archive_entry *e;
    while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!name || strncmp(name, want, (size_t)wl) != 0)
            continue;
        const char *rest = name + wl;
        size_t rl = strlen(rest);
        found = !strchr(rest, '/') && rl > 3 && strcmp(rest + rl - 3, ".go") == 0;
    }
    archive_read_free(a);
    return found;
}
