/* SPDX-License-Identifier: MIT */
/* A .gem read as RubyGems reads it: a tar holding metadata.gz (the specification as YAML)
 * and data.tar.gz (the gem's files). The YAML is read with libyaml, the parser RubyGems'
 * Psych is built on, for the few fields a native install needs (name, bindir,
 * executables, extensions); data.tar.gz is unpacked with libarchive as
 * Gem::Package#extract_tar_gz unpacks it (3.3): each file written with its entry's mode,
 * parent directories made 0755, symlinks kept when they point inside the gem directory,
 * and a path that leaves it refused. A gem whose data holds anything else (directories,
 * hard links, devices, set-id bits) or a RubyGems plugin is left to the real gem install,
 * which is the only one that knows what to do with those. */
#include "fetchers/gem/gem_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define GEM_META_MAX ((size_t)16 << 20)
#define GEM_DATA_MAX ((size_t)1 << 30)

void gem_pkg_fini(gem_pkg *p)
{
    free(p->name);
    free(p->bindir);
    for (size_t i = 0; i < p->nexec; i++)
        free(p->exec[i]);
    free(p->exec);
    ec_buf_fini(&p->data);
    memset(p, 0, sizeof *p);
}

/* The rest of the current entry of @a into @out (at most @max bytes). */
static int read_entry(ec_buf *out, struct archive *a, size_t max, const char *what,
                      ec_err *err)
{
    out->max = max;
    char buf[65536];
    for (la_ssize_t k; (k = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (k < 0)
            return ec_fail(err, EC_EARCHIVE, "%s: %s", what, archive_error_string(a));
        int r = ec_buf_add(out, buf, (size_t)k, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* metadata.gz inflated (libarchive's gzip filter over the raw format). */
static int gunzip(ec_buf *out, const ec_buf *gz, const char *what, ec_err *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    int r = archive_read_open_memory(a, gz->p, gz->n) == ARCHIVE_OK &&
                    archive_read_next_header(a, &e) == ARCHIVE_OK
                ? read_entry(out, a, GEM_META_MAX, what, err)
                : ec_fail(err, EC_EARCHIVE, "%s: %s", what, archive_error_string(a));
    archive_read_free(a);
    return r;
}

/* --- the specification's fields --- */

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static char *yscalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE
               ? ec_xstrndup((const char *)n->data.scalar.value, n->data.scalar.length)
               : NULL;
}

static size_t yseq_len(yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
               : 0;
}

static int spec_fields(gem_pkg *p, yaml_document_t *d, const char *full, ec_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    p->name = yscalar(ymap_get(d, root, "name"));
    if (!p->name)
        return ec_fail(err, EC_EFORMAT, "%s.gem: its metadata has no name", full);
    yaml_node_t *bindir = ymap_get(d, root, "bindir");
    /* Gem::Specification's default when the YAML leaves it out (or null) */
    p->bindir = bindir && bindir->data.scalar.length ? yscalar(bindir) : NULL;
    if (!p->bindir)
        p->bindir = ec_xstrdup("bin");
    p->nextensions = yseq_len(ymap_get(d, root, "extensions"));
    yaml_node_t *ex = ymap_get(d, root, "executables");
    p->nexec = yseq_len(ex);
    p->exec = ec_xcalloc(p->nexec + 1, sizeof *p->exec);
    for (size_t i = 0; i < p->nexec; i++) {
        p->exec[i] = yscalar(yaml_document_get_node(d, ex->data.sequence.items.start[i]));
        if (!p->exec[i])
            return ec_fail(err, EC_EFORMAT, "%s.gem: an executable in its metadata is not a "
                           "name", full);
    }
    return EC_OK;
}

static int read_metadata(gem_pkg *p, const ec_buf *yaml, const char *full, ec_err *err)
{
    yaml_parser_t y;
    yaml_document_t d;
    yaml_parser_initialize(&y);
    /* an empty metadata entry leaves no buffer, and libyaml asserts on NULL input */
    yaml_parser_set_input_string(&y, (const unsigned char *)(yaml->p ? yaml->p : ""), yaml->n);
    int r = yaml_parser_load(&y, &d)
                ? EC_OK
                : ec_fail(err, EC_EFORMAT, "%s.gem: its metadata is not YAML (%s at line %zu)",
                          full, y.problem ? y.problem : "?", y.problem_mark.line + 1);
    if (r == EC_OK) {
        r = spec_fields(p, &d, full, err);
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&y);
    return r;
}

/* --- data.tar.gz --- */

static int data_open(struct archive **out, const gem_pkg *p, const char *full, ec_err *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, p->data.p, p->data.n) != ARCHIVE_OK) {
        int r = ec_fail(err, EC_EARCHIVE, "%s.gem: data.tar.gz: %s", full,
                        archive_error_string(a));
        archive_read_free(a);
        return r;
    }
    *out = a;
    return EC_OK;
}

/* A member path as File.expand_path(@path, gem dir) makes it, relative to the gem dir:
 * "." and ".." folded, NULL when it is absolute or leaves the gem dir. Caller frees. */
static char *member_path(const char *path)
{
    if (!path || path[0] == '/' || !path[0])
        return NULL;
    char *out = ec_xcalloc(strlen(path) + 1, 1);
    size_t n = 0;
    for (const char *s = path; *s;) {
        size_t k = strcspn(s, "/");
        if (k == 2 && s[0] == '.' && s[1] == '.') {
            if (n == 0) {
                free(out);
                return NULL;
            }
            while (n > 0 && out[n - 1] != '/')
                n--;
            n -= n > 0;
        } else if (k > 0 && !(k == 1 && s[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, s, k);
            n += k;
        }
        s += k + (s[k] == '/');
    }
    out[n] = '\0';
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static bool plugin_file(const char *rel)
{
    const char *b = strrchr(rel, '/');
    b = b ? b + 1 : rel;
    return strcmp(b, "rubygems_plugin") == 0 || strcmp(b, "rubygems_plugin.rb") == 0 ||
           strcmp(b, "rubygems_plugin.so") == 0;
}

/* Why the data cannot be laid out natively, or NULL: every entry a regular file or a
 * symlink without set-id bits, no plugin, every program a regular file. */
static int data_scan(const char **why, gem_pkg *p, const char *full, ec_err *err)
{
    struct archive *a = NULL;
    int r = data_open(&a, p, full, err);
    if (r < 0)
        return r;
    EC_AUTOFREE bool *seen = ec_xcalloc(p->nexec + 1, sizeof *seen);
    struct archive_entry *e;
    int h;
    *why = NULL;
    while (!*why && (h = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        EC_AUTOFREE char *rel = member_path(archive_entry_pathname(e));
        mode_t t = archive_entry_filetype(e);
        if (t != AE_IFREG && t != AE_IFLNK)
            *why = "its files include a directory or special entry";
        else if (archive_entry_mode(e) & 07000)
            *why = "a file has set-id or sticky bits";
        else if (rel && plugin_file(rel))
            *why = "it has a RubyGems plugin";
        for (size_t i = 0; rel && t == AE_IFREG && i < p->nexec; i++) {
            EC_AUTOFREE char *want = ec_xasprintf("%s/%s", p->bindir, p->exec[i]);
            EC_AUTOFREE char *norm = member_path(want);
            seen[i] |= norm && strcmp(norm, rel) == 0;
        }
    }
    if (!*why && h != ARCHIVE_EOF)
        r = ec_fail(err, EC_EARCHIVE, "%s.gem: data.tar.gz: %s", full, archive_error_string(a));
    for (size_t i = 0; r == EC_OK && !*why && i < p->nexec; i++)
        if (!seen[i])
            *why = "a program is not a file of the gem";
    archive_read_free(a);
    return r;
}

int gem_pkg_read(gem_pkg *p, const char *path, const char *full, ec_err *err)
{
    memset(p, 0, sizeof *p);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    int r = EC_OK;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
        r = ec_fail(err, EC_EARCHIVE, "%s.gem: %s", full, archive_error_string(a));
    ec_buf meta = EC_BUF_INIT, gz = EC_BUF_INIT;
    bool have_meta = false, have_data = false;
    struct archive_entry *e;
    int h = ARCHIVE_OK;
    while (r == EC_OK && (h = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (name && strcmp(name, "metadata.gz") == 0 && !have_meta) {
            have_meta = true;
            r = read_entry(&gz, a, GEM_META_MAX, full, err);
            if (r == EC_OK)
                r = gunzip(&meta, &gz, full, err);
        } else if (name && strcmp(name, "metadata") == 0 && !have_meta) {
            have_meta = true;
            r = read_entry(&meta, a, GEM_META_MAX, full, err);
        } else if (name && strcmp(name, "data.tar.gz") == 0 && !have_data) {
            have_data = true;
            r = read_entry(&p->data, a, GEM_DATA_MAX, full, err);
        }
    }
    if (r == EC_OK && h != ARCHIVE_EOF)
        r = ec_fail(err, EC_EARCHIVE, "%s.gem: %s", full, archive_error_string(a));
    archive_read_free(a);
    if (r == EC_OK && (!have_meta || !have_data))
        r = ec_fail(err, EC_EFORMAT, "%s.gem is not a gem: it has no %s", full,
                    have_meta ? "data.tar.gz" : "metadata.gz");
    if (r == EC_OK)
        r = read_metadata(p, &meta, full, err);
    if (r == EC_OK)
        r = data_scan(&p->not_plain, p, full, err);
    ec_buf_fini(&meta);
    ec_buf_fini(&gz);
    if (r < 0)
        gem_pkg_fini(p);
    return r;
}

/* --- unpacking --- */

/* mkdir -p of @path's parent, new directories 0755 (FileUtils.mkdir_p under umask 022).
 * Below the gem's directory @root every parent must be a directory, not a symlink: a
 * chain of links that each pass the text check (b -> .., c -> b/.., d -> c/..) climbs out,
 * and an entry written through one would land outside the gem (RubyGems checks each
 * parent's realpath for the same reason). */
static int parent_dirs(const char *root, const char *path, ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    bool inside = strlen(dir) > strlen(root);
    struct stat st;
    if ((inside ? lstat(dir, &st) : stat(dir, &st)) == 0) {
        if (S_ISDIR(st.st_mode))
            return EC_OK;
        if (inside)
            return ec_fail(err, EC_EUNSAFE, "%s goes through a symlink or a file, which could "
                           "lead outside the gem, as gem install refuses", dir);
    }
    int r = parent_dirs(root, dir, err);
    if (r == EC_OK && mkdir(dir, 0755) < 0 && errno != EEXIST)
        return ec_fail_sys(err, errno, "cannot create %s", dir);
    if (r == EC_OK && chmod(dir, 0755) < 0)
        return ec_fail_sys(err, errno, "cannot chmod %s", dir);
    return r;
}

static int put_file(struct archive *a, const char *dest, unsigned mode, const char *full,
                    ec_err *err)
{
    EC_AUTOFD int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return ec_fail_sys(err, errno, "%s.gem: cannot create %s", full, dest);
    char buf[65536];
    for (la_ssize_t k; (k = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (k < 0)
            return ec_fail(err, EC_EARCHIVE, "%s.gem: data.tar.gz: %s", full,
                           archive_error_string(a));
        for (const char *c = buf; k > 0;) {
            ssize_t w = write(fd, c, (size_t)k);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return ec_fail_sys(err, errno, "%s.gem: cannot write %s", full, dest);
            c += w;
            k -= w;
        }
    }
    if (fchmod(fd, mode & 0777) < 0)
        return ec_fail_sys(err, errno, "%s.gem: cannot chmod %s", full, dest);
    return EC_OK;
}

/* A symlink kept only when its target, resolved from where it sits, stays in the gem. */
static int put_link(const char *rel, const char *target, const char *dest, const char *full,
                    ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xstrdup(rel);
    char *slash = strrchr(dir, '/');
    EC_AUTOFREE char *joined = slash ? (*slash = '\0', ec_xasprintf("%s/%s", dir, target))
                                     : ec_xstrdup(target);
    EC_AUTOFREE char *norm = target[0] == '/' ? NULL : member_path(joined);
    if (!norm)
        return ec_fail(err, EC_EUNSAFE, "%s.gem: the symlink %s points outside the gem (to "
                       "%s), as gem install refuses", full, rel, target);
    if (symlink(target, dest) < 0)
        return ec_fail_sys(err, errno, "%s.gem: cannot create the symlink %s", full, dest);
    return EC_OK;
}

int gem_pkg_unpack(const gem_pkg *p, const char *dir, const char *full, ec_err *err)
{
    struct archive *a = NULL;
    int r = data_open(&a, p, full, err);
    if (r < 0)
        return r;
    struct archive_entry *e;
    int h = ARCHIVE_OK;
    while (r == EC_OK && (h = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *raw = archive_entry_pathname(e);
        EC_AUTOFREE char *rel = member_path(raw);
        if (!rel) {
            r = ec_fail(err, EC_EUNSAFE, "%s.gem: the path %s leaves the gem directory, as gem "
                        "install refuses", full, raw ? raw : "(none)");
            break;
        }
        EC_AUTOFREE char *dest = ec_xasprintf("%s/%s", dir, rel);
        r = parent_dirs(dir, dest, err);
        if (r == EC_OK)
            r = ec_rm_rf(dest, err); /* a later entry of the same path wins */
        if (r == EC_OK && archive_entry_filetype(e) == AE_IFLNK)
            r = put_link(rel, archive_entry_symlink(e) ? archive_entry_symlink(e) : "", dest,
                         full, err);
        else if (r == EC_OK)
            r = put_file(a, dest, archive_entry_mode(e), full, err);
    }
    if (r == EC_OK && h != ARCHIVE_EOF)
        r = ec_fail(err, EC_EARCHIVE, "%s.gem: data.tar.gz: %s", full, archive_error_string(a));
    archive_read_free(a);
    return r;
}
