/* SPDX-License-Identifier: MIT */
/* The apt fetcher's sources: from the fetch config, else the base's /etc/apt, else the
 * host's, in the one-line and the deb822 forms ("deb" entries only). */
#include "fetchers/apt/apt_int.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define APT_DEFAULT_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"
#define APT_MAX_FILE (4u << 20)

/* True when the list of words @list (separated by spaces, tabs or commas) holds @word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        size_t k = strcspn(p, " \t,");
        if (k == n && strncmp(p, word, n) == 0)
            return true;
        p += k;
    }
    return false;
}

/* The route name: the URI path's last non-empty part ("debian-security"), else the host. */
static char *route_name(const char *uri)
{
    const char *p = strstr(uri, "://");
    p = p ? p + 3 : uri;
    const char *last = NULL;
    size_t lastn = 0;
    for (; *p;) {
        size_t k = strcspn(p, "/");
        if (k) {
            last = p;
            lastn = k;
        }
        p += k;
        p += *p == '/';
    }
    return last ? ec_xstrndup(last, lastn) : ec_xstrdup("archive");
}

static void add_source(ec_apt_sources *s, const char *uri, size_t urin, const char *suite,
                       size_t suiten, const char *comps, const char *signed_by)
{
    while (urin && uri[urin - 1] == '/')
        urin--;
    if (!urin || !suiten || suite[suiten - 1] == '/') /* flat repositories: not supported */
        return;
    ec_apt_source src = {0};
    src.uri = ec_xstrndup(uri, urin);
    src.suite = ec_xstrndup(suite, suiten);
    for (const char *p = comps; *p;) {
        p += strspn(p, " \t,");
        size_t k = strcspn(p, " \t,\n");
        if (k) {
            src.components = ec_xrealloc(src.components,
                                         (src.ncomponents + 1) * sizeof *src.components);
            src.components[src.ncomponents++] = ec_xstrndup(p, k);
        }
        p += k;
        if (*p == '\n')
            break;
    }
    /* Only keyring paths are usable here: fingerprints and inline keys fall back to the
     * default keyring. */
    src.signed_by = signed_by && signed_by[0] == '/' ? ec_xstrdup(signed_by) : NULL;
    src.name = route_name(src.uri);
    if (!src.ncomponents) {
        free(src.uri), free(src.suite), free(src.signed_by), free(src.name);
        return;
    }
    s->v = ec_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = src;
}

/* --- one-line form: deb [opt=val …] URI SUITE COMPONENT… --- */

static void parse_list(ec_apt_sources *s, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line += strspn(line, " \t");
        if (strncmp(line, "deb", 3) != 0 || (line[3] != ' ' && line[3] != '\t'))
            continue;
        char *p = line + 3;
        p += strspn(p, " \t");
        EC_AUTOFREE char *signed_by = NULL;
        bool skip = false;
        if (*p == '[') {
            char *end = strchr(p, ']');
            if (!end)
                continue;
            *end = '\0';
            for (char *o = p + 1; *o;) {
                o += strspn(o, " \t");
                size_t k = strcspn(o, " \t");
                char *opt = ec_xstrndup(o, k);
                if (strncmp(opt, "signed-by=", 10) == 0) {
                    free(signed_by);
                    signed_by = ec_xstrdup(opt + 10);
                } else if (strncmp(opt, "arch=", 5) == 0) {
                    skip = !has_word(opt + 5, s->arch);
                } else if (strcmp(opt, "enabled=no") == 0) {
                    skip = true;
                }
                free(opt);
                o += k;
            }
            p = end + 1;
            p += strspn(p, " \t");
        }
        size_t un = strcspn(p, " \t");
        const char *uri = p;
        p += un;
        p += strspn(p, " \t");
        size_t sn = strcspn(p, " \t");
        const char *suite = p;
        p += sn;
        if (!skip)
            add_source(s, uri, un, suite, sn, p, signed_by);
    }
}

/* --- deb822 form --- */

typedef struct stanza {
    ec_buf types, uris, suites, comps, signed_by, archs, enabled;
} stanza;

static void stanza_fini(stanza *st)
{
    ec_buf_fini(&st->types), ec_buf_fini(&st->uris), ec_buf_fini(&st->suites);
    ec_buf_fini(&st->comps), ec_buf_fini(&st->signed_by), ec_buf_fini(&st->archs);
    ec_buf_fini(&st->enabled);
    memset(st, 0, sizeof *st);
}

static void stanza_emit(ec_apt_sources *s, stanza *st)
{
    const char *types = ec_buf_str(&st->types), *uris = ec_buf_str(&st->uris);
    const char *suites = ec_buf_str(&st->suites), *archs = ec_buf_str(&st->archs);
    const char *sb = ec_buf_str(&st->signed_by);
    sb += strspn(sb, " \t");
    bool off = strcasecmp(ec_buf_str(&st->enabled), "no") == 0;
    if (!off && has_word(types, "deb") && (!*archs || has_word(archs, s->arch))) {
        for (const char *u = uris; *u;) {
            u += strspn(u, " \t");
            size_t un = strcspn(u, " \t");
            for (const char *q = suites; un && *q;) {
                q += strspn(q, " \t");
                size_t qn = strcspn(q, " \t");
                if (qn)
                    add_source(s, u, un, q, qn, ec_buf_str(&st->comps), *sb ? sb : NULL);
                q += qn;
            }
            u += un;
        }
    }
    stanza_fini(st);
}

static void parse_deb822(ec_apt_sources *s, const char *text)
{
    stanza st = {0};
    ec_buf *cur = NULL;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        const char *next = line + n + (line[n] == '\n');
        size_t blank = strspn(line, " \t");
        if (line[0] == '#') {
            /* a comment: keeps the stanza open */
        } else if (blank == n) {
            stanza_emit(s, &st);
            cur = NULL;
        } else if (blank > 0) {
            /* a continuation line: multi-line Signed-By keys and long lists */
            if (cur && cur != &st.signed_by) {
                ec_buf_adds(cur, " ", NULL);
                ec_buf_add(cur, line + blank, n - blank, NULL);
            }
        } else {
            const char *colon = memchr(line, ':', n);
            cur = NULL;
            if (colon) {
                size_t kn = (size_t)(colon - line);
                static const struct {
                    const char *name;
                    size_t off;
                } fields[] = {
                    {"Types", offsetof(stanza, types)},
                    {"URIs", offsetof(stanza, uris)},
                    {"Suites", offsetof(stanza, suites)},
                    {"Components", offsetof(stanza, comps)},
                    {"Signed-By", offsetof(stanza, signed_by)},
                    {"Architectures", offsetof(stanza, archs)},
                    {"Enabled", offsetof(stanza, enabled)},
                };
                for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                    if (strlen(fields[i].name) == kn && strncasecmp(line, fields[i].name, kn) == 0)
                        cur = (ec_buf *)((char *)&st + fields[i].off);
                if (cur) {
                    const char *v = colon + 1;
                    v += strspn(v, " \t");
                    size_t vn = (size_t)(line + n - v);
                    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r'))
                        vn--;
                    ec_buf_reset(cur);
                    ec_buf_add(cur, v, vn, NULL);
                }
            }
        }
        line = next;
    }
    stanza_emit(s, &st);
}

/* --- files --- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_into(ec_apt_sources *s, const char *path, bool deb822)
{
    EC_AUTOFREE char *text = NULL;
    size_t len;
    if (ec_read_file(&text, &len, path, APT_MAX_FILE, NULL) < 0)
        return;
    if (deb822)
        parse_deb822(s, text);
    else
        parse_list(s, text);
}

/* sources.list, then sources.list.d/ in name order, as apt reads them; @apt_dir is the
 * directory that holds them (/etc/apt). */
static void read_dir(ec_apt_sources *s, const char *apt_dir)
{
    EC_AUTOFREE char *list = ec_xasprintf("%s/sources.list", apt_dir);
    EC_AUTOFREE char *dir = ec_xasprintf("%s/sources.list.d", apt_dir);
    read_into(s, list, false);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t k = strlen(e->d_name);
        bool l = k > 5 && strcmp(e->d_name + k - 5, ".list") == 0;
        bool s822 = k > 8 && strcmp(e->d_name + k - 8, ".sources") == 0;
        if (e->d_name[0] != '.' && (l || s822)) {
            names = ec_xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = ec_xstrdup(e->d_name);
        }
    }
    closedir(d);
    if (n) /* qsort wants a real array even for none */
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        EC_AUTOFREE char *p = ec_xasprintf("%s/%s", dir, names[i]);
        size_t k = strlen(names[i]);
        read_into(s, p, k > 8 && strcmp(names[i] + k - 8, ".sources") == 0);
        free(names[i]);
    }
    free(names);
}

static void read_root(ec_apt_sources *s, const char *root)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/etc/apt", root);
    read_dir(s, dir);
}

static int from_config(ec_apt_sources *s, const json_t *arr, ec_err *err)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *uri = json_string_value(json_object_get(e, "uri"));
        const char *suite = json_string_value(json_object_get(e, "suite"));
        const char *sb = json_string_value(json_object_get(e, "signed_by"));
        json_t *comps = json_object_get(e, "components");
        if (!uri || !suite || !json_is_array(comps) || !json_array_size(comps))
            return ec_fail(err, EC_EINVAL, "apt config sources[%zu]: needs \"uri\", \"suite\" "
                           "and a non-empty \"components\" array", i);
        ec_buf c = EC_BUF_INIT;
        size_t j;
        json_t *ce;
        json_array_foreach(comps, j, ce) {
            if (!json_is_string(ce)) {
                ec_buf_fini(&c);
                return ec_fail(err, EC_EINVAL, "apt config sources[%zu].components[%zu] is "
                               "not a string", i, j);
            }
            ec_buf_addf(&c, NULL, "%s ", json_string_value(ce));
        }
        size_t before = s->n;
        add_source(s, uri, strlen(uri), suite, strlen(suite), ec_buf_str(&c), sb);
        ec_buf_fini(&c);
        if (s->n == before)
            return ec_fail(err, EC_EINVAL, "apt config sources[%zu]: \"%s\" \"%s\" is not a "
                           "usable archive (flat repositories are not supported)", i, uri,
                           suite);
    }
    return EC_OK;
}

int ec_apt_sources_load(ec_apt_sources *out, const ec_fetch_ctx *ctx, ec_err *err)
{
    memset(out, 0, sizeof *out);
    const json_t *cfg = ctx ? ctx->config : NULL;
    const char *arch = json_string_value(json_object_get(cfg, "arch"));
    const char *keyring = json_string_value(json_object_get(cfg, "keyring"));
    out->arch = ec_xstrdup(arch ? arch : "amd64");
    out->keyring = ec_xstrdup(keyring ? keyring : APT_DEFAULT_KEYRING);
    json_t *arr = json_object_get(cfg, "sources");
    if (arr) {
        int rc = json_is_array(arr) ? from_config(out, arr, err)
                                    : ec_fail(err, EC_EINVAL, "apt config \"sources\" must be "
                                              "an array of {uri, suite, components}");
        if (rc < 0) {
            ec_apt_sources_fini(out);
            return rc;
        }
    } else {
        if (ctx && ctx->lowers_root)
            read_root(out, ctx->lowers_root);
        if (!out->n)
            read_root(out, "");
    }
    if (!out->n) {
        ec_apt_sources_fini(out);
        return ec_fail(err, EC_ENOTFOUND, "no apt sources: neither the config's \"sources\" "
                       "nor a \"deb\" entry in %s/etc/apt or the host's /etc/apt",
                       ctx && ctx->lowers_root ? ctx->lowers_root : "");
    }
    return EC_OK;
}

/* mmdebstrap builds for the host's dpkg architecture by default; sources limited to other
 * arches (arch=…) do not serve it. */
const char *ec_apt__host_arch(void)
{
    static const struct {
        const char *machine, *arch;
    } arches[] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i686", "i386"},
        {"armv7l", "armhf"}, {"ppc64le", "ppc64el"}, {"s390x", "s390x"},
        {"riscv64", "riscv64"},
    };
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; i < EC_ARRAY_LEN(arches); i++)
            if (strcmp(u.machine, arches[i].machine) == 0)
                return arches[i].arch;
    return "amd64";
}

int ec_apt_sources_load_dir(ec_apt_sources *out, const char *apt_dir, const char *arch,
                            ec_err *err)
{
    memset(out, 0, sizeof *out);
    out->arch = ec_xstrdup(arch);
    out->keyring = ec_xstrdup(APT_DEFAULT_KEYRING);
    read_dir(out, apt_dir);
    if (out->n)
        return EC_OK;
    ec_apt_sources_fini(out);
    return ec_fail(err, EC_ENOTFOUND, "no \"deb\" entry in %s/sources.list(.d)", apt_dir);
}

void ec_apt_sources_fini(ec_apt_sources *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        ec_apt_source *src = &s->v[i];
        for (size_t j = 0; j < src->ncomponents; j++)
            free(src->components[j]);
        free(src->components);
        free(src->uri), free(src->suite), free(src->signed_by), free(src->name);
    }
    free(s->v);
    free(s->arch);
    free(s->keyring);
    memset(s, 0, sizeof *s);
}
