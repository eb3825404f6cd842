/* SPDX-License-Identifier: MIT */
/* install: wheels unpacked natively (PEP 427, no pip in the build) where pip run as root
 * on the base's Python puts them: the root into purelib or platlib as the WHEEL file says,
 * <dist>.data/<scheme>/ into that scheme's directory, scripts with a "#!python" first line
 * given the base's interpreter, console and GUI entry points as launchers in the scripts
 * directory, and the dist-info completed as pip completes it (INSTALLER, REQUESTED for the
 * packages asked for, a RECORD of every installed file with its hash and size), so that
 * pip list, show and uninstall in a session see and manage them. The paths come from the
 * lock's "python" (what the probe found: sysconfig's default scheme of that interpreter).
 * An sdist becomes a build step: pip builds and installs it in the sandbox, on the base's
 * Python, with build dependencies served by the mirror and nothing else reachable. */
#include "fetchers/pip/pip_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define SCRIPT_MAX ((size_t)16 << 20)

/* Where one wheel's parts go, absolute inside the target root. */
typedef struct scheme {
    const char *purelib, *platlib, *scripts, *data, *include, *executable;
} scheme;

typedef struct wheel {
    const char *staging;
    const scheme *sc;
    const char *name, *version, *file;
    char *distinfo;    /* "<dist>-<ver>.dist-info" as the wheel names it */
    char *datadir;     /* "<dist>-<ver>.data" */
    const char *lib;   /* purelib or platlib: where the root and the dist-info go */
    ec_buf wheel_txt, entry_points;
    ec_buf record;     /* RECORD lines so far */
    const char *blob;  /* the wheel's path in the store */
} wheel;

static void wheel_fini(wheel *w)
{
    free(w->distinfo);
    free(w->datadir);
    ec_buf_fini(&w->wheel_txt);
    ec_buf_fini(&w->entry_points);
    ec_buf_fini(&w->record);
}

/* --- paths --- */

/* A member path that stays inside the wheel: relative, no "..", no empty parts. */
static bool member_ok(const char *p)
{
    if (!*p || p[0] == '/' || strchr(p, '\\'))
        return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.'))
            return false;
        s += n;
        s += *s == '/';
    }
    return true;
}

/* @to relative to the directory @from (both absolute, normalized): "../../../bin/x". */
static char *relpath(const char *to, const char *from)
{
    size_t common = 0, i = 0;
    for (; from[i] && to[i] == from[i]; i++)
        if (from[i] == '/')
            common = i;
    if (!from[i] && (to[i] == '/' || !to[i]))
        common = i;
    ec_buf b = EC_BUF_INIT;
    for (const char *p = from + common; *p; p++)
        if (*p == '/')
            (void)ec_buf_adds(&b, "../", NULL);
    (void)ec_buf_adds(&b, to[common] == '/' ? to + common + 1 : to + common, NULL);
    return ec_buf_steal(&b);
}

/* --- RECORD --- */

static void b64url_nopad(char *out, const unsigned char *d, size_t n)
{
    unsigned char tmp[64];
    int k = EVP_EncodeBlock(tmp, d, (int)n);
    while (k > 0 && tmp[k - 1] == '=')
        k--;
    for (int i = 0; i < k; i++)
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
    out[k] = '\0';
}

/* RECORD quotes a path as CSV does when it must. */
static int record_add(wheel *w, const char *abs, const ec_digest *d, uint64_t size)
{
    EC_AUTOFREE char *rel = relpath(abs, w->lib);
    bool quote = strpbrk(rel, ",\"\n") != NULL;
    ec_buf q = EC_BUF_INIT;
    for (const char *p = rel; *p; p++)
        (void)(*p == '"' ? ec_buf_adds(&q, "\"\"", NULL) : ec_buf_add(&q, p, 1, NULL));
    int r;
    if (d) {
        char h[64];
        b64url_nopad(h, d->b, sizeof d->b);
        r = ec_buf_addf(&w->record, NULL, quote ? "\"%s\",sha256=%s,%llu\n" : "%s,sha256=%s,%llu\n",
                        q.n ? q.p : "", h, (unsigned long long)size);
    } else
        r = ec_buf_addf(&w->record, NULL, quote ? "\"%s\",,\n" : "%s,,\n", q.n ? q.p : "");
    ec_buf_fini(&q);
    return r;
}

/* --- writing files --- */

static int open_dest(int *fd_out, const wheel *w, const char *abs, unsigned mode, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s%s", w->staging, abs);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int r = ec_mkdir_p(path, 0755, err);
    *slash = '/';
    if (r < 0)
        return r;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return ec_fail_sys(err, errno, "%s: cannot create %s", w->file, abs);
    *fd_out = fd;
    return EC_OK;
}

static int write_all(int fd, const void *p, size_t n, const char *what, ec_err *err)
{
    for (const char *c = p; n;) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return ec_fail_sys(err, errno, "cannot write %s", what);
        c += k;
        n -= (size_t)k;
    }
    return EC_OK;
}

/* A whole file from memory, recorded. */
static int put_file(wheel *w, const char *abs, const void *p, size_t n, unsigned mode,
                    bool record, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = open_dest(&fd, w, abs, mode, err);
    if (r == EC_OK)
        r = write_all(fd, p, n, abs, err);
    if (r == EC_OK && fchmod(fd, mode) < 0)
        r = ec_fail_sys(err, errno, "cannot chmod %s", abs);
    ec_digest d;
    ec_sha256_buf(&d, p, n);
    if (r == EC_OK && record)
        r = record_add(w, abs, &d, n);
    return r;
}

/* A member streamed from the wheel into @abs, hashed as it goes. */
static int put_member(wheel *w, struct archive *a, const char *abs, unsigned mode, ec_err *err)
{
    EC_AUTOFD int fd = -1;
    int r = open_dest(&fd, w, abs, mode, err);
    ec_sha256 *h = ec_sha256_new();
    uint64_t size = 0;
    char buf[65536];
    for (la_ssize_t k; r == EC_OK && (k = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (k < 0) {
            r = ec_fail(err, EC_EARCHIVE, "%s: cannot read %s: %s", w->file, abs,
                        archive_error_string(a));
            break;
        }
        ec_sha256_update(h, buf, (size_t)k);
        size += (uint64_t)k;
        r = write_all(fd, buf, (size_t)k, abs, err);
    }
    if (r == EC_OK && fchmod(fd, mode) < 0)
        r = ec_fail_sys(err, errno, "cannot chmod %s", abs);
    ec_digest d;
    ec_sha256_final(h, &d);
    return r == EC_OK ? record_add(w, abs, &d, size) : r;
}

static int read_member(ec_buf *out, struct archive *a, const wheel *w, const char *path,
                       ec_err *err)
{
    char buf[65536];
    out->max = SCRIPT_MAX;
    for (la_ssize_t k; (k = archive_read_data(a, buf, sizeof buf)) != 0;) {
        if (k < 0)
            return ec_fail(err, EC_EARCHIVE, "%s: cannot read %s: %s", w->file, path,
                           archive_error_string(a));
        int r = ec_buf_add(out, buf, (size_t)k, err);
        if (r < 0)
            return r;
    }
    return EC_OK;
}

/* --- the wheel's members --- */

static int wheel_open(struct archive **out, const wheel *w, ec_err *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_zip_seekable(a);
    if (archive_read_open_filename(a, w->blob, 65536) != ARCHIVE_OK) {
        int r = ec_fail(err, EC_EARCHIVE, "%s is not a readable wheel: %s", w->file,
                        archive_error_string(a));
        archive_read_free(a);
        return r;
    }
    *out = a;
    return EC_OK;
}

/* First pass: the dist-info's name, WHEEL and entry_points.txt. */
static int wheel_scan(wheel *w, ec_err *err)
{
    struct archive *a = NULL; /* stays NULL when the open fails */
    int r = wheel_open(&a, w, err);
    struct archive_entry *e;
    while (r == EC_OK && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        const char *slash = p ? strchr(p, '/') : NULL;
        if (!slash || slash - p < 11 || strncmp(slash - 10, ".dist-info", 10) != 0 ||
            strchr(slash + 1, '/'))
            continue;
        if (!w->distinfo)
            w->distinfo = ec_xstrndup(p, (size_t)(slash - p));
        if (strcmp(slash + 1, "WHEEL") == 0)
            r = read_member(&w->wheel_txt, a, w, p, err);
        else if (strcmp(slash + 1, "entry_points.txt") == 0)
            r = read_member(&w->entry_points, a, w, p, err);
    }
    archive_read_free(a);
    if (r == EC_OK && (!w->distinfo || !w->wheel_txt.n))
        r = ec_fail(err, EC_EFORMAT, "%s has no .dist-info/WHEEL: not a wheel", w->file);
    if (r < 0)
        return r;
    w->datadir = ec_xasprintf("%.*s.data", (int)(strlen(w->distinfo) - 10), w->distinfo);
    const char *wt = ec_buf_str(&w->wheel_txt);
    if (!strstr(wt, "Wheel-Version: 1."))
        return ec_fail(err, EC_EUNSUPPORTED, "%s: a Wheel-Version other than 1.x", w->file);
    w->lib = strstr(wt, "Root-Is-Purelib: true") ? w->sc->purelib : w->sc->platlib;
    return EC_OK;
}

/* Where <dist>.data/<key>/ goes, or NULL for an unknown key. */
static const char *data_target(const wheel *w, const char *key, size_t n, char **own)
{
    const scheme *sc = w->sc;
    if (n == 7 && strncmp(key, "purelib", 7) == 0)
        return sc->purelib;
    if (n == 7 && strncmp(key, "platlib", 7) == 0)
        return sc->platlib;
    if (n == 7 && strncmp(key, "scripts", 7) == 0)
        return sc->scripts;
    if (n == 4 && strncmp(key, "data", 4) == 0)
        return sc->data;
    if (n == 7 && strncmp(key, "headers", 7) == 0)
        return *own = ec_xasprintf("%s/%s", sc->include, w->name);
    return NULL;
}

/* A script of .data/scripts: "#!python…" on its first line becomes the base's Python. */
static int put_script(wheel *w, struct archive *a, const char *abs, const char *p, ec_err *err)
{
    ec_buf b = EC_BUF_INIT;
    int r = read_member(&b, a, w, p, err);
    if (r == EC_OK && b.n >= 8 && memcmp(b.p, "#!python", 8) == 0) {
        size_t eol = strcspn(b.p, "\n");
        EC_AUTOFREE char *s = ec_xasprintf("#!%s\n%s", w->sc->executable,
                                           eol < b.n ? b.p + eol + 1 : "");
        r = put_file(w, abs, s, strlen(s), 0755, true, err);
    } else if (r == EC_OK)
        r = put_file(w, abs, b.p ? b.p : "", b.n, 0755, true, err);
    ec_buf_fini(&b);
    return r;
}

static int place_member(wheel *w, struct archive *a, struct archive_entry *e, ec_err *err)
{
    const char *p = archive_entry_pathname(e);
    if (!p || archive_entry_filetype(e) == AE_IFDIR)
        return EC_OK;
    if (archive_entry_filetype(e) != AE_IFREG || !member_ok(p))
        return ec_fail(err, EC_EUNSAFE, "%s: member \"%s\" is not a plain relative file",
                       w->file, p ? p : "");
    size_t dl = strlen(w->distinfo), ddl = strlen(w->datadir);
    if (strncmp(p, w->distinfo, dl) == 0 && p[dl] == '/' &&
        (strcmp(p + dl + 1, "RECORD") == 0 || strncmp(p + dl + 1, "RECORD.", 7) == 0))
        return EC_OK; /* written anew, as pip does */
    unsigned mode = archive_entry_mode(e) & 0111 ? 0755 : 0644;
    if (strncmp(p, w->datadir, ddl) != 0 || p[ddl] != '/') {
        EC_AUTOFREE char *abs = ec_xasprintf("%s/%s", w->lib, p);
        return put_member(w, a, abs, mode, err);
    }
    const char *key = p + ddl + 1;
    size_t kn = strcspn(key, "/");
    EC_AUTOFREE char *own = NULL;
    const char *dir = data_target(w, key, kn, &own);
    if (!dir || !key[kn])
        return ec_fail(err, EC_EFORMAT, "%s: unknown data directory in \"%s\"", w->file, p);
    EC_AUTOFREE char *abs = ec_xasprintf("%s/%s", dir, key + kn + 1);
    if (kn == 7 && strncmp(key, "scripts", 7) == 0)
        return put_script(w, a, abs, p, err);
    return put_member(w, a, abs, mode, err);
}

static int wheel_unpack(wheel *w, ec_err *err)
{
    struct archive *a = NULL;
    int r = wheel_open(&a, w, err);
    struct archive_entry *e;
    int h = ARCHIVE_OK;
    while (r == EC_OK && (h = archive_read_next_header(a, &e)) == ARCHIVE_OK)
        r = place_member(w, a, e, err);
    if (r == EC_OK && h != ARCHIVE_EOF)
        r = ec_fail(err, EC_EARCHIVE, "%s: %s", w->file, archive_error_string(a));
    archive_read_free(a);
    return r;
}

/* --- entry points --- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* "name = module:attr.sub [extras]" → the launcher pip writes for it. */
static int put_launcher(wheel *w, char *line, ec_err *err)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return EC_OK;
    *eq = '\0';
    char *name = trim(line), *target = trim(eq + 1);
    target[strcspn(target, "[")] = '\0';
    target = trim(target);
    char *colon = strchr(target, ':');
    if (!*name || !colon || strchr(name, '/'))
        return EC_OK; /* pip skips entry points it cannot make a script of */
    *colon = '\0';
    const char *mod = trim(target), *attr = trim(colon + 1);
    EC_AUTOFREE char *head = ec_xstrndup(attr, strcspn(attr, "."));
    EC_AUTOFREE char *text = ec_xasprintf(
        "#!%s\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %s import %s\n"
        "if __name__ == \"__main__\":\n"
        "    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n"
        "    sys.exit(%s())\n", w->sc->executable, mod, head, attr);
    EC_AUTOFREE char *abs = ec_xasprintf("%s/%s", w->sc->scripts, name);
    return put_file(w, abs, text, strlen(text), 0755, true, err);
}

static int put_launchers(wheel *w, ec_err *err)
{
    if (!w->entry_points.n)
        return EC_OK;
    EC_AUTOFREE char *text = ec_xstrdup(ec_buf_str(&w->entry_points));
    bool scripts = false;
    char *save = NULL;
    int r = EC_OK;
    for (char *l = strtok_r(text, "\n", &save); r == EC_OK && l; l = strtok_r(NULL, "\n", &save)) {
        char *s = trim(l);
        if (*s == '[')
            scripts = strcmp(s, "[console_scripts]") == 0 || strcmp(s, "[gui_scripts]") == 0;
        else if (scripts && *s && *s != '#' && *s != ';')
            r = put_launcher(w, s, err);
    }
    return r;
}

/* INSTALLER, REQUESTED and RECORD, as pip leaves them. */
static int finish_distinfo(wheel *w, bool requested, ec_err *err)
{
    EC_AUTOFREE char *inst = ec_xasprintf("%s/%s/INSTALLER", w->lib, w->distinfo);
    EC_AUTOFREE char *req = ec_xasprintf("%s/%s/REQUESTED", w->lib, w->distinfo);
    EC_AUTOFREE char *rec = ec_xasprintf("%s/%s/RECORD", w->lib, w->distinfo);
    int r = put_file(w, inst, "pip\n", 4, 0644, true, err);
    if (r == EC_OK && requested)
        r = put_file(w, req, "", 0, 0644, true, err);
    if (r == EC_OK)
        r = record_add(w, rec, NULL, 0);
    if (r == EC_OK)
        r = put_file(w, rec, w->record.p, w->record.n, 0644, false, err);
    return r;
}

/* --- one package --- */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The wheel's blob, checked against the lock before it is read. */
static int blob_checked(char **path_out, ec_fetch_ctx *ctx, const json_t *pkg, ec_err *err)
{
    ec_digest want, got;
    const char *sha = str(pkg, "sha256");
    int r = sha ? ec_digest_parse(&want, sha, err)
                : ec_fail(err, EC_EFORMAT, "%s has no sha256 in the lock", str(pkg, "file"));
    EC_AUTOFD int fd = -1;
    if (r == EC_OK)
        r = ec_blob_open(&fd, ctx->store, &want, err);
    if (r == EC_OK)
        r = ec_sha256_fd(&got, NULL, fd, err);
    if (r == EC_OK && !ec_digest_eq(&got, &want))
        r = ec_fail(err, EC_EINTEGRITY, "the stored %s does not match its sha256",
                    str(pkg, "file"));
    if (r == EC_OK)
        *path_out = ec_blob_path(ctx->store, &want);
    return r;
}

static int install_wheel(ec_fetch_ctx *ctx, const scheme *sc, const char *staging,
                         const json_t *pkg, ec_err *err)
{
    EC_AUTOFREE char *blob = NULL;
    int r = blob_checked(&blob, ctx, pkg, err);
    if (r < 0)
        return r;
    wheel w = {.staging = staging, .sc = sc, .name = str(pkg, "name"),
               .version = str(pkg, "version"), .file = str(pkg, "file"), .blob = blob};
    r = wheel_scan(&w, err);
    if (r == EC_OK)
        r = wheel_unpack(&w, err);
    if (r == EC_OK)
        r = put_launchers(&w, err);
    if (r == EC_OK)
        r = finish_distinfo(&w, json_is_true(json_object_get(pkg, "requested")), err);
    wheel_fini(&w);
    return r;
}

/* --- sdists: built and installed in the sandbox --- */

/* The sdist is handed to the step through the staging tree (a file the step removes: /tmp
 * is the sandbox's own tmpfs, so it goes to the root), and
 * pip builds it there with its build dependencies from the mirror alone. */
static const char sdist_step[] =
    "import os, sys, urllib.request\n"
    "m = os.environ['ENVCACHE_MIRROR'] + '/pip/'\n"
    "whl = '/tmp/' + sys.argv[1].rsplit('/', 1)[1]\n"
    "urllib.request.urlretrieve(m + sys.argv[1], whl)\n"
    "sys.path.insert(0, whl)\n"
    "from pip._internal.cli.main import main\n"
    "sdist = sys.argv[2]\n"
    "rc = main(['install', '--no-deps', '--no-cache-dir', '--disable-pip-version-check',\n"
    "           '--no-input', '--break-system-packages', '--root-user-action', 'ignore',\n"
    "           '--no-compile', '--index-url', m + 'simple/'] + sys.argv[3:] + [sdist])\n"
    "os.unlink(sdist)\n"
    "os.rmdir(os.path.dirname(sdist))\n"
    "sys.exit(rc)\n";

static char **strv(const char *const *v, size_t n)
{
    char **out = ec_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = ec_xstrdup(v[i]);
    return out;
}

static int add_sdist_step(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                          const json_t *pkg, ec_install_result *out, ec_err *err)
{
    EC_AUTOFREE char *blob = NULL;
    int r = blob_checked(&blob, ctx, pkg, err);
    const char *resolver = str(lock, "resolver_wheel");
    if (r == EC_OK && !resolver)
        r = ec_fail(err, EC_EFORMAT, "the pip lock names no pip wheel to build %s with",
                    str(pkg, "file"));
    EC_AUTOFREE char *inside = ec_xasprintf("/.envcache-sdist/%s", str(pkg, "file"));
    EC_AUTOFREE char *dest = ec_xasprintf("%s/.envcache-sdist", staging);
    EC_AUTOFREE char *copy = ec_xasprintf("%s/%s", dest, str(pkg, "file"));
    if (r == EC_OK)
        r = ec_mkdir_p(dest, 0755, err);
    EC_AUTOFD int fd = r == EC_OK ? open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
                                  : -1;
    if (r == EC_OK && fd < 0)
        r = ec_fail_sys(err, errno, "cannot create %s", copy);
    ec_digest d;
    if (r == EC_OK && (r = ec_digest_parse(&d, str(pkg, "sha256"), err)) == EC_OK)
        r = ec_blob_copy_verified(ctx->store, &d, fd, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *wheel_path = ec_xasprintf("files/pip/%s", resolver);
    const char *argv[] = {"python3", "-c", sdist_step, wheel_path, inside};
    const char *env[] = {"PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1",
                         "PYTHONDONTWRITEBYTECODE=1"};
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    out->steps[out->nsteps++] = (ec_build_step){
        .what = ec_xasprintf("%s %s: building the sdist %s", str(pkg, "name"),
                             str(pkg, "version"), str(pkg, "file")),
        .cwd = ec_xstrdup("/"), .argv = strv(argv, EC_ARRAY_LEN(argv)),
        .env = strv(env, EC_ARRAY_LEN(env)), .needs_mirror = true};
    return EC_OK;
}

static int scheme_of(scheme *sc, const json_t *lock, ec_err *err)
{
    const json_t *py = json_object_get(lock, "python");
    *sc = (scheme){str(py, "purelib"), str(py, "platlib"), str(py, "scripts"), str(py, "data"),
                   str(py, "include"), str(py, "executable")};
    if (!sc->purelib || !sc->platlib || !sc->scripts || !sc->data || !sc->include ||
        !sc->executable || sc->purelib[0] != '/' || sc->platlib[0] != '/' ||
        sc->scripts[0] != '/')
        return ec_fail(err, EC_EFORMAT, "the pip lock does not say where the Python beneath "
                       "installs (purelib, platlib, scripts, data, include, executable)");
    return EC_OK;
}

int pip_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                ec_install_result *out, ec_err *err)
{
    scheme sc;
    int r = scheme_of(&sc, lock, err);
    size_t i;
    json_t *pkg;
    json_array_foreach(json_object_get(lock, "packages"), i, pkg) {
        if (r < 0)
            break;
        if (ctx->progress) {
            ec_progress_event p = {.manager = "pip", .phase = EC_PHASE_INSTALLING, .done = i,
                                   .total = json_array_size(json_object_get(lock, "packages")),
                                   .item = str(pkg, "name")};
            ctx->progress(&p, ctx->progress_ud);
        }
        r = json_is_true(json_object_get(pkg, "sdist"))
                ? add_sdist_step(ctx, lock, staging, pkg, out, err)
                : install_wheel(ctx, &sc, staging, pkg, err);
        if (r < 0)
            ec_err_prefix(err, "%s %s", str(pkg, "name"), str(pkg, "version"));
    }
    return r == EC_OK ? pip_compile_step(lock, sc.purelib, sc.platlib, out) : r;
}
