/* SPDX-License-Identifier: MIT */
/* The dpkg database of an apt layer: the base's status with the new stanzas merged in,
 * info/<pkg>.list and the control members, and the triggers the new files activate.
 *
 * The layer is an overlay upper over the base, so only whole files can be merged: status
 * (one file) is the base's plus ours; info/ gains new files only and shows the base's
 * through. */
#include "fetchers/apt/apt_deb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define ADMIN "var/lib/dpkg"
#define STATUS_MAX (512u << 20)

/* dpkg's field order in status (lib/dpkg/parse.c); unknown fields follow in their order. */
static const char *const field_order[] = {
    "Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size",
    "Origin", "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version",
    "Config-Version", "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends",
    "Suggests", "Breaks", "Conflicts", "Enhances", "Conffiles", "Filename", "Size", "MD5sum",
    "MSDOS-Filename", "Description", "Triggers-Pending", "Triggers-Awaited",
};
#define NFIELDS (sizeof field_order / sizeof *field_order)

/* --- stanzas --- */

typedef struct stanza {
    char *text;     /* ends with "\n" */
    char *package;
    char *arch;
    char *pending;  /* triggers to add to Triggers-Pending, space-separated, or NULL */
    bool replaced;  /* a new package of the same name and arch takes its place */
} stanza;

typedef struct stanzas {
    stanza *v;
    size_t n, cap;
} stanzas;

static void stanzas_fini(stanzas *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].text);
        free(s->v[i].package);
        free(s->v[i].arch);
        free(s->v[i].pending);
    }
    free(s->v);
}

static void stanzas_split(stanzas *out, const char *text)
{
    const char *p = text;
    while (*p) {
        while (*p == '\n')
            p++;
        if (!*p)
            break;
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 256;
            out->v = ec_xrealloc(out->v, out->cap * sizeof *out->v);
        }
        stanza *s = &out->v[out->n++];
        memset(s, 0, sizeof *s);
        s->text = ec_xstrndup(p, len);
        if (len && s->text[len - 1] != '\n') {
            char *t = ec_xasprintf("%s\n", s->text);
            free(s->text);
            s->text = t;
        }
        s->package = ec_apt__field(s->text, "Package");
        s->arch = ec_apt__field(s->text, "Architecture");
        p += len;
    }
}

static stanza *stanzas_find(stanzas *s, const char *pkg, const char *arch)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->v[i].package || strcmp(s->v[i].package, pkg) != 0)
            continue;
        /* one name, one package, except Multi-Arch: same copies of other arches */
        if (!arch || !s->v[i].arch || strcmp(s->v[i].arch, arch) == 0 ||
            strcmp(s->v[i].arch, "all") == 0 || strcmp(arch, "all") == 0)
            return &s->v[i];
    }
    return NULL;
}

/* The raw text of field number @k ("Name: value\n continuation…\n") in @text, or NULL. */
static const char *field_span(const char *text, const char *name, size_t *len)
{
    size_t k = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (*l == ' ' || *l == '\t' || strncasecmp(l, name, k) != 0 || l[k] != ':')
            continue;
        const char *e = l;
        for (;;) {
            const char *nl = strchr(e, '\n');
            if (!nl) {
                e += strlen(e);
                break;
            }
            e = nl + 1;
            if (*e != ' ' && *e != '\t')
                break;
        }
        *len = (size_t)(e - l);
        return l;
    }
    return NULL;
}

static bool field_known(const char *l)
{
    size_t k = strcspn(l, ":");
    for (size_t i = 0; i < NFIELDS; i++)
        if (strlen(field_order[i]) == k && strncasecmp(l, field_order[i], k) == 0)
            return true;
    return false;
}

static void buf_addn(ec_buf *b, const char *p, size_t n)
{
    (void)ec_buf_add(b, p, n, NULL); /* unbounded buffer: cannot fail but on OOM (aborts) */
}

static void buf_adds(ec_buf *b, const char *s)
{
    buf_addn(b, s, strlen(s));
}

/* --- conffiles --- */

static void md5_file(const char *path, char out[33])
{
    static const char hexd[] = "0123456789abcdef";
    EC_AUTOFD int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char buf[65536];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_md5(), NULL);
    for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;)
        EVP_DigestUpdate(c, buf, (size_t)n);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hexd[md[i] >> 4];
        out[2 * i + 1] = hexd[md[i] & 15];
    }
    out[32] = '\0';
}

/* " /etc/x <md5>" per conffile. The md5 is the shipped file's (md5sums, else computed):
 * dpkg compares it with the file at configure time, and equal means "not modified". */
static void conffiles_field(ec_buf *b, const ec_apt_db_in *in, const ec_apt_deb *d)
{
    const char *t = d->ctl[EC_APT_CTL_CONFFILES];
    bool any = false;
    for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        size_t k = strcspn(l, "\n");
        EC_AUTOFREE char *line = ec_xstrndup(l, k);
        char *path = strrchr(line, ' ');
        path = path ? path + 1 : line;
        if (path[0] != '/' || strstr(line, "remove-on-upgrade"))
            continue;
        char md5[33];
        if (!ec_apt__deb_md5(d, path + 1, md5)) {
            EC_AUTOFREE char *f = ec_xasprintf("%s%s", in->staging, path);
            md5_file(f, md5);
        }
        if (!any)
            buf_adds(b, "Conffiles:\n");
        any = true;
        buf_adds(b, " ");
        buf_adds(b, path);
        buf_adds(b, " ");
        buf_adds(b, md5);
        buf_adds(b, "\n");
    }
}

/* The stanza of a new package: its control fields in dpkg's order, with Status and
 * Conffiles where dpkg puts them. */
static char *stanza_new(const ec_apt_db_in *in, const ec_apt_deb *d, bool unpacked,
                        const char *config_version)
{
    const char *ctl = d->ctl[EC_APT_CTL_CONTROL];
    ec_buf b = {.max = STATUS_MAX};
    for (size_t i = 0; i < NFIELDS; i++) {
        size_t len;
        const char *f;
        if (strcmp(field_order[i], "Status") == 0) {
            buf_adds(&b, unpacked ? "Status: install ok unpacked\n"
                                  : "Status: install ok installed\n");
        } else if (strcmp(field_order[i], "Config-Version") == 0) {
            /* an upgrade left unpacked: dpkg passes it to `postinst configure` */
            if (unpacked && config_version)
                buf_adds(&b, "Config-Version: "), buf_adds(&b, config_version),
                    buf_adds(&b, "\n");
        } else if (strcmp(field_order[i], "Conffiles") == 0) {
            conffiles_field(&b, in, d);
        } else if ((f = field_span(ctl, field_order[i], &len))) {
            buf_addn(&b, f, len);
            if (f[len - 1] != '\n')
                buf_adds(&b, "\n");
        }
    }
    for (const char *l = ctl; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (*l == ' ' || *l == '\t' || *l == '\n' || !strchr(l, ':') || field_known(l))
            continue;
        size_t k = strcspn(l, ":"), len;
        EC_AUTOFREE char *name = ec_xstrndup(l, k);
        const char *f = field_span(l, name, &len);
        buf_addn(&b, f, len);
        if (f[len - 1] != '\n')
            buf_adds(&b, "\n");
    }
    return ec_buf_steal(&b);
}

/* A base stanza whose package now awaits trigger processing. */
static char *stanza_pending(const stanza *s)
{
    ec_buf b = {.max = STATUS_MAX};
    size_t len;
    const char *st = field_span(s->text, "Status", &len);
    const char *old = field_span(s->text, "Triggers-Pending", &len);
    EC_AUTOFREE char *oldv = old ? ec_apt__field(s->text, "Triggers-Pending") : NULL;
    for (const char *l = s->text; *l;) {
        size_t k = strcspn(l, "\n") + 1;
        if (st && l == st)
            buf_adds(&b, "Status: install ok triggers-pending\n");
        else if (!(old && l >= old && l < old + len))
            buf_addn(&b, l, k);
        l += k;
    }
    buf_adds(&b, "Triggers-Pending: ");
    if (oldv) {
        buf_adds(&b, oldv);
        buf_adds(&b, " ");
    }
    buf_adds(&b, s->pending);
    buf_adds(&b, "\n");
    return ec_buf_steal(&b);
}

/* --- triggers --- */

static void pending_add(stanzas *st, const char *pkg, const char *trig, json_t *notes,
                        const char *by)
{
    EC_AUTOFREE char *name = ec_xstrndup(pkg, strcspn(pkg, ":/ \n"));
    stanza *s = stanzas_find(st, name, NULL);
    if (!s || s->replaced)
        return; /* a new package: it is configured, or not installed at all */
    EC_AUTOFREE char *status = ec_apt__field(s->text, "Status");
    if (!status || (!strstr(status, " installed") && !strstr(status, "triggers-")))
        return;
    if (s->pending) {
        for (const char *p = s->pending; (p = strstr(p, trig)); p++)
            if ((p == s->pending || p[-1] == ' ') && (p[strlen(trig)] == '\0' ||
                                                      p[strlen(trig)] == ' '))
                return;
    }
    char *n = s->pending ? ec_xasprintf("%s %s", s->pending, trig) : ec_xstrdup(trig);
    free(s->pending);
    s->pending = n;
    json_array_append_new(notes, json_pack("{s:s, s:s, s:s, s:s}", "kind", "trigger", "package",
                                           name, "trigger", trig, "activated_by", by));
}

/* "activate[-noawait|-await] NAME" of each new package, through the base's
 * triggers/NAME interest lists. */
static void triggers_named(stanzas *st, const ec_apt_db_in *in, const ec_apt_deb *d)
{
    const char *t = d->ctl[EC_APT_CTL_TRIGGERS];
    for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, "activate", 8) != 0)
            continue;
        const char *v = l + strcspn(l, " \t\n");
        v += strspn(v, " \t");
        EC_AUTOFREE char *trig = ec_xstrndup(v, strcspn(v, " \t\n"));
        if (!*trig || strchr(trig, '/'))
            continue; /* a path: a file trigger, matched by the paths below */
        EC_AUTOFREE char *f = ec_xasprintf("%s/" ADMIN "/triggers/%s", in->base_root, trig);
        EC_AUTOFREE char *who = NULL;
        if (ec_read_file(&who, NULL, f, 1u << 20, NULL) < 0)
            continue;
        for (const char *w = who; w && *w; w = strchr(w, '\n'), w = w ? w + 1 : NULL)
            if (*w != '\n')
                pending_add(st, w, trig, in->notes, d->name);
    }
}

/* File triggers: every new path at or below an interest in the base's triggers/File. */
static void triggers_files(stanzas *st, const ec_apt_db_in *in)
{
    EC_AUTOFREE char *f = ec_xasprintf("%s/" ADMIN "/triggers/File", in->base_root);
    EC_AUTOFREE char *text = NULL;
    if (ec_read_file(&text, NULL, f, 16u << 20, NULL) < 0)
        return;
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (*l != '/')
            continue;
        EC_AUTOFREE char *path = ec_xstrndup(l + 1, strcspn(l + 1, " \n"));
        const char *pkg = l + 1 + strlen(path);
        pkg += strspn(pkg, " ");
        size_t k = strlen(path);
        for (size_t i = 0; i < in->ndebs; i++) {
            const ec_apt_deb *d = &in->debs[i];
            for (size_t j = 0; j < d->npaths; j++) {
                const char *p = d->paths[j].path;
                if (strncmp(p, path, k) == 0 && (p[k] == '\0' || p[k] == '/')) {
                    EC_AUTOFREE char *trig = ec_xasprintf("/%s", path);
                    pending_add(st, pkg, trig, in->notes, d->name);
                    break;
                }
            }
        }
    }
}

/* "interest[-await|-noawait] X" of the new packages, added to the base's registry:
 * triggers/File for paths, triggers/X for names (both whole files, so merged like status).
 * Without them dpkg would never run fc-cache, update-mime-database… for later installs. */
static int interests_write(const ec_apt_db_in *in, const char *admin, ec_err *err);

/* --- info/ --- */

static int write_path(const char *p, const char *data, size_t len, unsigned mode, ec_err *err)
{
    EC_AUTOFD int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot create %s", p);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ec_fail_sys(err, errno, "cannot write %s", p);
        off += (size_t)w;
    }
    if (fchmod(fd, mode) < 0)
        return ec_fail_sys(err, errno, "cannot set the mode of %s", p);
    return EC_OK;
}

static int write_info(const char *dir, const char *stem, const char *ext, const char *data,
                      size_t len, unsigned mode, ec_err *err)
{
    EC_AUTOFREE char *p = ec_xasprintf("%s/%s.%s", dir, stem, ext);
    return write_path(p, data, len, mode, err);
}

static bool is_script(int i)
{
    return i == EC_APT_CTL_PREINST || i == EC_APT_CTL_POSTINST || i == EC_APT_CTL_PRERM ||
           i == EC_APT_CTL_POSTRM || i == EC_APT_CTL_CONFIG;
}

static int write_pkg_info(const char *dir, const ec_apt_deb *d, ec_err *err)
{
    EC_AUTOFREE char *stem = ec_apt__deb_stem(d);
    ec_buf b = {.max = STATUS_MAX};
    buf_adds(&b, "/.\n");
    for (size_t i = 0; i < d->npaths; i++) {
        if (d->paths[i].lost)
            continue;
        buf_adds(&b, "/");
        buf_adds(&b, d->paths[i].path);
        buf_adds(&b, "\n");
    }
    int rc = write_info(dir, stem, "list", b.p, b.n, 0644, err);
    ec_buf_fini(&b);
    for (int i = 0; rc == EC_OK && i < EC_APT_CTL__COUNT; i++) {
        if (i == EC_APT_CTL_CONTROL || !d->ctl[i])
            continue;
        rc = write_info(dir, stem, ec_apt__ctl_name(i), d->ctl[i], d->ctl_len[i],
                        is_script(i) ? 0755 : 0644, err);
    }
    return rc;
}

/* --- upgrades --- */

/* An overlay whiteout (0:0 character device) at @rel below the staging root, so the
 * base's file of the old version does not show through. */
static void whiteout(const ec_apt_db_in *in, const char *rel, const char *pkg)
{
    EC_AUTOFREE char *dest = NULL;
    for (size_t i = 0; i < in->naliases && !dest; i++) {
        size_t k = strlen(in->alias_from[i]);
        if (strncmp(rel, in->alias_from[i], k) == 0 && rel[k] == '/')
            dest = ec_xasprintf("%s/%s%s", in->staging, in->alias_to[i], rel + k);
    }
    if (!dest)
        dest = ec_xasprintf("%s/%s", in->staging, rel);
    struct stat sb;
    if (lstat(dest, &sb) == 0)
        return; /* the new version (or another package) has it */
    EC_AUTOFREE char *parent = ec_xstrdup(dest);
    *strrchr(parent, '/') = '\0';
    if (ec_mkdir_p(parent, 0755, NULL) < 0 || mknod(dest, S_IFCHR | 0600, 0) < 0)
        json_array_append_new(in->notes, json_pack("{s:s, s:s, s:s+}", "kind",
                                                   "upgrade_leftover", "package", pkg, "path",
                                                   "/", rel));
}

/* The old version's files that the new one dropped, and its info/ members. Directories
 * stay (other packages share them), and so do conffiles under /etc, as dpkg keeps
 * obsolete conffiles. */
static void upgrade_leftovers(const ec_apt_db_in *in, const ec_apt_deb *d)
{
    EC_AUTOFREE char *stem = ec_apt__deb_stem(d);
    EC_AUTOFREE char *lp = ec_xasprintf("%s/" ADMIN "/info/%s.list", in->base_root, stem);
    EC_AUTOFREE char *list = NULL;
    if (ec_read_file(&list, NULL, lp, 64u << 20, NULL) < 0)
        return;
    for (const char *l = list; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        EC_AUTOFREE char *p = ec_xstrndup(l, strcspn(l, "\n"));
        if (p[0] != '/' || !p[1] || strcmp(p, "/.") == 0 || strstr(p, "/..") ||
            strncmp(p, "/etc/", 5) == 0)
            continue;
        EC_AUTOFREE char *bp = ec_xasprintf("%s%s", in->base_root, p);
        struct stat sb;
        if (lstat(bp, &sb) < 0 || S_ISDIR(sb.st_mode))
            continue;
        whiteout(in, p + 1, d->name);
    }
    for (int i = 0; i < EC_APT_CTL__COUNT; i++) {
        if (i == EC_APT_CTL_CONTROL || d->ctl[i])
            continue;
        EC_AUTOFREE char *rel = ec_xasprintf(ADMIN "/info/%s.%s", stem, ec_apt__ctl_name(i));
        EC_AUTOFREE char *bp = ec_xasprintf("%s/%s", in->base_root, rel);
        struct stat sb;
        if (lstat(bp, &sb) == 0)
            whiteout(in, rel, d->name);
    }
}

/* --- the whole database --- */

int ec_apt__dpkgdb_write(const ec_apt_db_in *in, bool *pending_out, ec_err *err)
{
    EC_AUTOFREE char *admin = ec_xasprintf("%s/" ADMIN, in->staging);
    EC_AUTOFREE char *info = ec_xasprintf("%s/info", admin);
    EC_AUTOFREE char *base_text = NULL;
    __attribute__((cleanup(stanzas_fini))) stanzas st = {0};
    *pending_out = false;
    int rc = ec_mkdir_p(info, 0755, err);
    if (rc < 0)
        return rc;
    if (in->base_root) {
        EC_AUTOFREE char *p = ec_xasprintf("%s/" ADMIN "/status", in->base_root);
        struct stat sb;
        if (lstat(p, &sb) == 0) { /* absent: a base without dpkg, nothing installed */
            rc = ec_read_file(&base_text, NULL, p, STATUS_MAX, err);
            if (rc < 0)
                return rc;
        }
        stanzas_split(&st, base_text ? base_text : "");
    }
    /* upgrades: the new stanza takes the old one's place */
    char **fresh = ec_xcalloc(in->ndebs ? in->ndebs : 1, sizeof *fresh);
    bool *upgraded = ec_xcalloc(in->ndebs ? in->ndebs : 1, sizeof *upgraded);
    for (size_t i = 0; i < in->ndebs; i++) {
        const ec_apt_deb *d = &in->debs[i];
        stanza *old = stanzas_find(&st, d->name, d->arch);
        if (old && old->replaced)
            old = NULL;
        EC_AUTOFREE char *ov = old ? ec_apt__field(old->text, "Version") : NULL;
        fresh[i] = stanza_new(in, d, in->unpacked[i], ov);
        if (old) {
            json_array_append_new(in->notes,
                                  json_pack("{s:s, s:s, s:s?, s:s}", "kind", "upgrade",
                                            "package", d->name, "from", ov, "to",
                                            d->version ? d->version : ""));
            old->replaced = true;
            upgraded[i] = true;
            free(old->text);
            old->text = fresh[i];
            fresh[i] = NULL;
        }
    }
    if (in->base_root) {
        for (size_t i = 0; i < in->ndebs; i++)
            triggers_named(&st, in, &in->debs[i]);
        triggers_files(&st, in);
    }
    ec_buf b = {.max = STATUS_MAX};
    for (size_t i = 0; i < st.n; i++) {
        if (st.v[i].pending && !st.v[i].replaced) {
            EC_AUTOFREE char *t = stanza_pending(&st.v[i]);
            buf_adds(&b, t);
            *pending_out = true;
        } else {
            buf_adds(&b, st.v[i].text);
        }
        buf_adds(&b, "\n");
    }
    for (size_t i = 0; i < in->ndebs; i++) {
        if (fresh[i]) {
            buf_adds(&b, fresh[i]);
            buf_adds(&b, "\n");
        }
        free(fresh[i]);
    }
    free(fresh);
    EC_AUTOFREE char *status = ec_xasprintf("%s/status", admin);
    rc = write_path(status, ec_buf_str(&b), b.n, 0644, err);
    ec_buf_fini(&b);
    for (size_t i = 0; rc == EC_OK && i < in->ndebs; i++)
        rc = write_pkg_info(info, &in->debs[i], err);
    if (rc == EC_OK)
        rc = interests_write(in, admin, err);
    for (size_t i = 0; rc == EC_OK && i < in->ndebs; i++)
        if (upgraded[i])
            upgrade_leftovers(in, &in->debs[i]);
    free(upgraded);
    return rc;
}

/* Appends @line to the registry file @name (the base's copy first, once). */
static int registry_add(const ec_apt_db_in *in, const char *admin, const char *name,
                        const char *line, ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/triggers", admin);
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
    EC_AUTOFREE char *text = NULL;
    struct stat sb;
    int rc = ec_mkdir_p(dir, 0755, err);
    if (rc < 0)
        return rc;
    if (lstat(path, &sb) == 0) {
        rc = ec_read_file(&text, NULL, path, 16u << 20, err);
    } else if (in->base_root) {
        EC_AUTOFREE char *bp = ec_xasprintf("%s/" ADMIN "/triggers/%s", in->base_root, name);
        if (lstat(bp, &sb) == 0)
            rc = ec_read_file(&text, NULL, bp, 16u << 20, err);
    }
    if (rc < 0)
        return rc;
    if (text && strstr(text, line) && (strstr(text, line) == text || strstr(text, line)[-1] == '\n'))
        return EC_OK; /* already registered (an upgrade) */
    EC_AUTOFREE char *out = ec_xasprintf("%s%s%s\n", text ? text : "",
                                         text && *text && text[strlen(text) - 1] != '\n' ? "\n"
                                                                                       : "",
                                         line);
    return write_path(path, out, strlen(out), 0644, err);
}

static int interests_write(const ec_apt_db_in *in, const char *admin, ec_err *err)
{
    int rc = EC_OK;
    for (size_t i = 0; rc == EC_OK && i < in->ndebs; i++) {
        const ec_apt_deb *d = &in->debs[i];
        const char *t = d->ctl[EC_APT_CTL_TRIGGERS];
        EC_AUTOFREE char *who = ec_apt__deb_stem(d);
        for (const char *l = t; rc == EC_OK && l && *l;
             l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
            if (strncmp(l, "interest", 8) != 0)
                continue;
            size_t kw = strcspn(l, " \t\n");
            bool noawait = kw == 16 && strncmp(l, "interest-noawait", 16) == 0;
            const char *v = l + kw + strspn(l + kw, " \t");
            EC_AUTOFREE char *trig = ec_xstrndup(v, strcspn(v, " \t\n"));
            if (!*trig || strstr(trig, "..") || (trig[0] != '/' && strchr(trig, '/')))
                continue;
            EC_AUTOFREE char *line = NULL;
            if (trig[0] == '/') {
                line = ec_xasprintf("%s %s%s", trig, who, noawait ? "/noawait" : "");
                rc = registry_add(in, admin, "File", line, err);
            } else {
                line = ec_xasprintf("%s%s", who, noawait ? "/noawait" : "");
                rc = registry_add(in, admin, trig, line, err);
            }
        }
    }
    return rc;
}
