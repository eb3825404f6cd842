/* SPDX-License-Identifier: MIT */
/* The apt install step on real .debs (dpkg-deb --build) in a real store: files, modes,
 * owners, the dpkg database merged with a fake base's, build steps, and hostile .debs. */
#include "tests/unit/helpers/ec_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* Builds "<dir>/src/<name>" (DEBIAN/ and files, made by the caller) into a .deb with
 * compressor @z, stores it, and returns the lock entry. */
static json_t *make_deb(ec_store *st, const char *dir, const char *name, const char *ma,
                        const char *z)
{
    ect_sh("dpkg-deb -Z%s --build '%s/src/%s' '%s/%s.deb' >/dev/null", z, dir, name, dir,
           name);
    char *deb = ec_xasprintf("%s/%s.deb", dir, name);
    ec_digest d;
    ec_err err = {0};
    assert_int_equal(ec_blob_put_file(&d, st, deb, NULL, &err), EC_OK);
    free(deb);
    char s[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "name", name, "version",
                     "1.0-1", "arch", "amd64", "multi_arch", ma, "url", "http://127.0.0.1:9/x",
                     "filename", "pool/x.deb", "sha256", ec_digest_format(s, &d), "size", 1,
                     "essential", 0);
}

static void control(const char *dir, const char *name, const char *ma, const char *extra)
{
    char *rel = ec_xasprintf("src/%s/DEBIAN/control", name);
    char *text = ec_xasprintf("Package: %s\nVersion: 1.0-1\nArchitecture: amd64\n"
                              "Maintainer: T <t@example.org>\nMulti-Arch: %s\n%s"
                              "Homepage: https://example.org\n"
                              "Description: test package %s\n a long line\n .\n more\n",
                              name, ma, extra, name);
    ect_write(dir, rel, text, 0644);
    free(rel);
    free(text);
}

/* noinline: gcc -O2 otherwise takes the result for a pointer to the local it was read into */
__attribute__((noinline)) static char *slurp(const char *dir, const char *rel)
{
    char *p = ec_xasprintf("%s/%s", dir, rel), *text = NULL;
    ec_err err = {0};
    int r = ec_read_file(&text, NULL, p, 1u << 20, &err);
    if (r)
        print_error("%s\n", err.msg);
    assert_int_equal(r, EC_OK);
    free(p);
    return text;
}

static void base_make(const char *base)
{
    ect_write(base, "var/lib/dpkg/status",
              "Package: base-a\nStatus: install ok installed\nPriority: required\n"
              "Architecture: amd64\nVersion: 1\nDescription: a\n\n"
              "Package: tool\nStatus: install ok installed\nArchitecture: amd64\n"
              "Version: 0.9\nDescription: old tool\n",
              0644);
    ect_write(base, "var/lib/dpkg/triggers/ldconfig", "base-a\n", 0644);
    /* the old tool had a file and a postrm that the new one dropped */
    ect_write(base, "var/lib/dpkg/info/tool.list",
              "/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/tool-old\n/lib/tool/gone\n", 0644);
    ect_write(base, "var/lib/dpkg/info/tool.postrm", "#!/bin/sh\n", 0755);
    ect_write(base, "usr/bin/tool", "old", 0755);
    ect_write(base, "usr/bin/tool-old", "old", 0755);
    ect_write(base, "usr/lib/tool/gone", "old", 0644);
    ect_write(base, "var/lib/dpkg/triggers/File", "/usr/share/trig base-a/noawait\n", 0644);
    ect_write(base, "usr/lib/.keep", "", 0644);
    ect_sh("ln -s usr/lib '%s/lib'", base);
}

static const char *step_arg(const ec_install_result *r, size_t i, size_t a)
{
    return i < r->nsteps ? r->steps[i].argv[a] : NULL;
}

static void test_layout(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir();
    char *base = ec_xasprintf("%s/base", dir), *stage = ec_xasprintf("%s/stage", dir);
    base_make(base);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);

    /* libfoo: Multi-Arch: same, a shared library, an ldconfig trigger, data.tar.xz */
    control(dir, "libfoo", "same", "");
    ect_write(dir, "src/libfoo/DEBIAN/triggers", "activate-noawait ldconfig\n", 0644);
    ect_write(dir, "src/libfoo/usr/lib/x86_64-linux-gnu/libfoo.so.1", "ELF", 0644);
    ect_write(dir, "src/libfoo/usr/share/common", "libfoo's", 0644);
    /* tool: an upgrade of the base's, Depends, a conffile, a postinst, a preinst, setuid,
     * an owner, a symlink, a path below the base's /lib alias, a file trigger, .zst */
    control(dir, "tool", "foreign", "Depends: libfoo (= 1.0-1)\nPre-Depends: base-a\n");
    ect_write(dir, "src/tool/DEBIAN/conffiles", "/etc/tool.conf\n", 0644);
    ect_write(dir, "src/tool/DEBIAN/postinst", "#!/bin/sh\nexit 0\n", 0755);
    ect_write(dir, "src/tool/DEBIAN/preinst", "#!/bin/sh\nexit 0\n", 0755);
    ect_write(dir, "src/tool/DEBIAN/triggers",
              "interest-noawait /usr/share/tool-plugins\ninterest tool-cache\n", 0644);
    ect_write(dir, "src/tool/etc/tool.conf", "setting=1\n", 0644);
    ect_write(dir, "src/tool/usr/bin/tool", "#!/bin/sh\n", 0755);
    ect_write(dir, "src/tool/usr/bin/tool-suid", "x", 0755);
    ect_write(dir, "src/tool/lib/tool/plugin", "p", 0644);
    ect_write(dir, "src/tool/usr/share/trig/t", "t", 0644);
    ect_write(dir, "src/tool/usr/share/common", "tool's", 0644);
    ect_sh("cd '%s/src/tool' && chmod 4755 usr/bin/tool-suid && chown 1234:5678 usr/bin/tool "
           "&& ln -s tool usr/bin/tool-link && "
           "find etc lib usr -type f | sort | xargs md5sum > DEBIAN/md5sums",
           dir);
    json_t *lock = json_pack("{s:s, s:[o, o]}", "manager", "apt", "packages",
                             make_deb(f->st, dir, "libfoo", "same", "xz"),
                             make_deb(f->st, dir, "tool", "foreign", "zstd"));

    ec_fetch_ctx ctx = {.store = f->st, .lowers_root = base};
    ec_install_result res = {0};
    ec_err err = {0};
    int r = ec_apt_install(&ctx, NULL, lock, stage, &res, &err);
    if (r)
        print_error("%s\n", err.msg);
    assert_int_equal(r, EC_OK);

    /* files, modes, owners; /lib/tool went through the base's lib -> usr/lib */
    struct stat sb;
    char *p = ec_xasprintf("%s/usr/bin/tool-suid", stage);
    assert_int_equal(lstat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 04755);
    free(p);
    p = ec_xasprintf("%s/usr/bin/tool", stage);
    assert_int_equal(lstat(p, &sb), 0);
    if (geteuid() == 0) {
        assert_int_equal(sb.st_uid, 1234);
        assert_int_equal(sb.st_gid, 5678);
    }
    free(p);
    p = ec_xasprintf("%s/usr/bin/tool-link", stage);
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    free(p);
    p = ec_xasprintf("%s/usr/lib/tool/plugin", stage);
    assert_int_equal(lstat(p, &sb), 0);
    free(p);
    p = ec_xasprintf("%s/lib", stage);
    assert_int_equal(lstat(p, &sb), -1); /* no real /lib to hide the base's link */
    free(p);
    char *common = slurp(stage, "usr/share/common");
    assert_string_equal(common, "tool's"); /* later in the lock wins */
    free(common);

    /* info/: names, .list contents (package paths, not alias targets), md5sums, scripts */
    char *list = slurp(stage, "var/lib/dpkg/info/libfoo:amd64.list");
    assert_non_null(strstr(list, "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n"
                                 "/usr/lib/x86_64-linux-gnu/libfoo.so.1\n"));
    assert_null(strstr(list, "/usr/share/common")); /* lost to tool */
    free(list);
    list = slurp(stage, "var/lib/dpkg/info/tool.list");
    assert_non_null(strstr(list, "\n/usr/bin/tool\n"));
    assert_non_null(strstr(list, "\n/lib/tool/plugin\n"));
    assert_non_null(strstr(list, "\n/usr/share/common\n"));
    assert_non_null(strstr(list, "\n/etc/tool.conf\n"));
    free(list);
    char *md5 = slurp(stage, "var/lib/dpkg/info/tool.md5sums");
    assert_non_null(strstr(md5, "  usr/bin/tool\n"));
    free(md5);
    p = ec_xasprintf("%s/var/lib/dpkg/info/tool.postinst", stage);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0755);
    free(p);
    char *cf = slurp(stage, "var/lib/dpkg/info/tool.conffiles");
    assert_string_equal(cf, "/etc/tool.conf\n");
    free(cf);

    /* status: the base's stanzas, tool replaced in place, the new ones in dpkg's order */
    char *status = slurp(stage, "var/lib/dpkg/status");
    const char *a = strstr(status, "Package: base-a\n");
    const char *t = strstr(status, "Package: tool\n");
    const char *l = strstr(status, "Package: libfoo\n");
    assert_non_null(a);
    assert_non_null(t);
    assert_non_null(l);
    assert_true(a < t && t < l);
    assert_null(strstr(status, "\nVersion: 0.9"));
    assert_non_null(strstr(status, "Package: tool\nStatus: install ok unpacked\n"));
    assert_non_null(strstr(status, "Package: libfoo\nStatus: install ok installed\n"));
    assert_non_null(strstr(status, "Version: 1.0-1\nConfig-Version: 0.9\n"
                                   "Depends: libfoo (= 1.0-1)\n"
                                   "Pre-Depends: base-a\nConffiles:\n /etc/tool.conf "));
    assert_non_null(strstr(status, "\n more\nHomepage: https://example.org\n"));
    /* base-a is interested in ldconfig (libfoo) and /usr/share/trig (tool) */
    assert_non_null(strstr(status, "Package: base-a\nStatus: install ok triggers-pending\n"));
    assert_non_null(strstr(status, "Triggers-Pending: ldconfig /usr/share/trig\n"));
    free(status);

    /* the old version's leftovers are whited out (through the lib alias too) */
    static const char *const wh[] = {"usr/bin/tool-old", "usr/lib/tool/gone",
                                     "var/lib/dpkg/info/tool.postrm"};
    for (size_t i = 0; i < 3 && geteuid() == 0; i++) {
        p = ec_xasprintf("%s/%s", stage, wh[i]);
        assert_int_equal(lstat(p, &sb), 0);
        assert_true(S_ISCHR(sb.st_mode) && sb.st_rdev == 0);
        free(p);
    }

    /* the new interests join the base's registry */
    char *file = slurp(stage, "var/lib/dpkg/triggers/File");
    assert_string_equal(file, "/usr/share/trig base-a/noawait\n"
                              "/usr/share/tool-plugins tool/noawait\n");
    free(file);
    char *named = slurp(stage, "var/lib/dpkg/triggers/tool-cache");
    assert_string_equal(named, "tool\n");
    free(named);

    /* build steps: the preinst, then dpkg --configure --pending */
    assert_int_equal(res.nsteps, 2);
    assert_string_equal(step_arg(&res, 0, 0), "sh");
    assert_non_null(strstr(step_arg(&res, 0, 2),
                           "/var/lib/dpkg/info/tool.preinst upgrade 0.9 1.0-1\n"));
    assert_string_equal(step_arg(&res, 1, 0), "dpkg");
    assert_string_equal(step_arg(&res, 1, 4), "--pending");
    assert_non_null(strstr(res.steps[1].what, "(1 package: tool)"));
    assert_string_equal(res.steps[1].env[0], "DEBIAN_FRONTEND=noninteractive");
    json_t *nj = ec_install_notes_json(&res);
    char *notes = json_dumps(nj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(nj);
    assert_non_null(strstr(notes, "\"kind\":\"maintainer_scripts\",\"package\":\"tool\""));
    assert_non_null(strstr(notes, "\"from\":\"0.9\",\"kind\":\"upgrade\",\"package\":\"tool\""));
    assert_non_null(strstr(notes, "\"kind\":\"file_conflict\""));
    assert_non_null(strstr(notes, "\"path\":\"/usr/share/common\""));
    /* typed: the kinds cross the interface as the enum */
    bool upgrade = false;
    for (size_t i = 0; i < res.nnotes; i++)
        upgrade |= res.notes[i].kind == EC_NOTE_UPGRADE &&
                   strcmp(res.notes[i].package, "tool") == 0 &&
                   strcmp(res.notes[i].version, "1.0-1") == 0;
    assert_true(upgrade);
    free(notes);

    ec_install_result_fini(&res);
    json_decref(lock);
    free(base);
    free(stage);
    ect_rmdir(dir);
}

/* A .deb without a base and without scripts: every package installed, no steps. */
static void test_no_base_no_steps(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir(), *stage = ec_xasprintf("%s/stage", dir);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    control(dir, "plain", "no", "");
    ect_write(dir, "src/plain/usr/share/plain/a", "a", 0644);
    json_t *lock = json_pack("{s:[o]}", "packages", make_deb(f->st, dir, "plain", "no", "gzip"));
    ec_fetch_ctx ctx = {.store = f->st};
    ec_install_result res = {0};
    ec_err err = {0};
    assert_int_equal(ec_apt_install(&ctx, NULL, lock, stage, &res, &err), EC_OK);
    assert_int_equal(res.nsteps, 0);
    char *status = slurp(stage, "var/lib/dpkg/status");
    assert_true(strncmp(status, "Package: plain\nStatus: install ok installed\n", 44) == 0);
    free(status);
    ec_install_result_fini(&res);
    json_decref(lock);
    free(stage);
    ect_rmdir(dir);
}

/* Multi-Arch: same copies of one package for two arches share identical files without a
 * note; a directory two packages list gets the earlier one's mode whatever the timing. */
static void test_multiarch_and_dirs(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir();
    static const char *const arches[] = {"amd64", "i386"};
    json_t *pk = json_array();
    for (int i = 0; i < 2; i++) {
        char *name = ec_xasprintf("libm-%s", arches[i]);
        char *rel = ec_xasprintf("src/%s/DEBIAN/control", name);
        char *text = ec_xasprintf("Package: libm\nVersion: 1.0-1\nArchitecture: %s\n"
                                  "Maintainer: t\nMulti-Arch: same\nDescription: m\n",
                                  arches[i]);
        ect_write(dir, rel, text, 0644);
        free(rel);
        rel = ec_xasprintf("src/%s/usr/share/doc/libm/copyright", name);
        ect_write(dir, rel, "same text", 0644);
        free(rel);
        ect_sh("cd '%s/src/%s' && mkdir -p usr/share/shared && chmod %s usr/share/shared && "
               "md5sum usr/share/doc/libm/copyright > DEBIAN/md5sums",
               dir, name, i == 0 ? "0750" : "0755");
        json_t *p = make_deb(f->st, dir, name, "same", "gzip");
        json_object_set_new(p, "name", json_string("libm"));
        json_object_set_new(p, "arch", json_string(arches[i]));
        json_array_append_new(pk, p);
        free(text);
        free(name);
    }
    json_t *lock = json_pack("{s:o}", "packages", pk);
    for (int round = 0; round < 3; round++) {
        char *stage = ec_xasprintf("%s/stage%d", dir, round);
        assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
        ec_fetch_ctx ctx = {.store = f->st};
        ec_install_result res = {0};
        ec_err err = {0};
        int r = ec_apt_install(&ctx, NULL, lock, stage, &res, &err);
        if (r)
            print_error("%s\n", err.msg);
        assert_int_equal(r, EC_OK);
        assert_int_equal(res.nnotes, 0);
        for (int i = 0; i < 2; i++) {
            char *rel = ec_xasprintf("var/lib/dpkg/info/libm:%s.list", arches[i]);
            char *list = slurp(stage, rel);
            assert_non_null(strstr(list, "\n/usr/share/doc/libm/copyright\n"));
            free(list);
            free(rel);
        }
        char *p = ec_xasprintf("%s/usr/share/shared", stage);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0750);
        free(p);
        char *status = slurp(stage, "var/lib/dpkg/status");
        assert_non_null(strstr(status, "Package: libm\nStatus: install ok installed\n"
                                       "Maintainer: t\nArchitecture: i386\n"));
        free(status);
        ec_install_result_fini(&res);
        free(stage);
    }
    json_decref(lock);
    ect_rmdir(dir);
}

/* A .deb whose data.tar python's tarfile writes with one hostile entry kind. */
static json_t *hostile_deb(ec_store *st, const char *dir, const char *name, const char *kind)
{
    ect_sh("cd '%s' && rm -rf h && mkdir h && cd h && printf '2.0\\n' > debian-binary && "
           "printf 'Package: %s\\nVersion: 1.0-1\\nArchitecture: amd64\\nMaintainer: t\\n"
           "Description: x\\n' > control && tar -czf control.tar.gz ./control && "
           "python3 - <<'EOF'\n"
           "import tarfile, io\n"
           "t = tarfile.open('data.tar.gz', 'w:gz')\n"
           "def add(name, typ=tarfile.REGTYPE, link='', data=b'x'):\n"
           "    i = tarfile.TarInfo(name); i.type = typ; i.linkname = link\n"
           "    i.size = len(data) if typ == tarfile.REGTYPE else 0\n"
           "    t.addfile(i, io.BytesIO(data) if typ == tarfile.REGTYPE else None)\n"
           "add('./usr', tarfile.DIRTYPE); add('./usr/ok')\n"
           "k = '%s'\n"
           "if k == 'dotdot': add('./usr/../../x')\n"
           "if k == 'abs': add('/etc/evil')\n"
           "if k == 'escape': add('./usr/esc', tarfile.SYMTYPE, '../../..'); add('./usr/esc/x')\n"
           "if k == 'through': add('./usr/abs', tarfile.SYMTYPE, '/etc'); add('./usr/abs/x')\n"
           "if k == 'device': add('./usr/dev', tarfile.CHRTYPE)\n"
           "if k == 'whiteout': add('./usr/.wh.ok')\n"
           "t.close()\n"
           "EOF\n"
           "ar rc ../%s.deb debian-binary control.tar.gz data.tar.gz",
           dir, name, kind, name);
    char *deb = ec_xasprintf("%s/%s.deb", dir, name);
    ec_digest d;
    assert_int_equal(ec_blob_put_file(&d, st, deb, NULL, NULL), EC_OK);
    free(deb);
    char s[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "version", "1.0-1", "arch",
                     "amd64", "multi_arch", "no", "sha256", ec_digest_format(s, &d));
}

static void test_hostile(void **state)
{
    struct ect_store_fixture *f = *state;
    static const struct {
        const char *kind, *entry;
    } cases[] = {
        {"dotdot", "../x"},        {"abs", "/etc/evil"},
        {"escape", "usr/esc"},     {"through", "usr/abs/x"},
        {"device", "usr/dev"},     {"whiteout", "usr/.wh.ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *dir = ect_tmpdir(), *stage = ec_xasprintf("%s/stage", dir);
        assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
        control(dir, "good", "no", "");
        ect_write(dir, "src/good/usr/share/good/a", "a", 0644);
        json_t *lock = json_pack("{s:[o, o]}", "packages", make_deb(f->st, dir, "good", "no",
                                                                      "gzip"),
                                 hostile_deb(f->st, dir, "evil", cases[i].kind));
        ec_fetch_ctx ctx = {.store = f->st};
        ec_install_result res = {0};
        ec_err err = {0};
        int r = ec_apt_install(&ctx, NULL, lock, stage, &res, &err);
        print_message("%s: %s\n", cases[i].kind, err.msg);
        assert_int_equal(r, EC_EUNSAFE);
        assert_non_null(strstr(err.msg, "evil 1.0-1"));
        assert_non_null(strstr(err.msg, cases[i].entry));
        assert_int_equal(ect_count(stage, "."), 0); /* the caller gets an empty root back */
        assert_int_equal(res.nsteps, 0);
        json_decref(lock);
        free(stage);
        ect_rmdir(dir);
    }
}

static void test_wrong_blob(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir(), *stage = ec_xasprintf("%s/stage", dir);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    control(dir, "plain", "no", "");
    json_t *p = make_deb(f->st, dir, "plain", "no", "gzip");
    json_object_set_new(p, "name", json_string("other")); /* the .deb is not what the lock says */
    json_t *lock = json_pack("{s:[o]}", "packages", p);
    ec_fetch_ctx ctx = {.store = f->st};
    ec_install_result res = {0};
    ec_err err = {0};
    assert_int_equal(ec_apt_install(&ctx, NULL, lock, stage, &res, &err), EC_EFORMAT);
    assert_non_null(strstr(err.msg, "control names package plain"));
    json_object_del(p, "sha256");
    ec_err_clear(&err);
    assert_int_equal(ec_apt_install(&ctx, NULL, lock, stage, &res, &err), EC_EFORMAT);
    json_decref(lock);
    free(stage);
    ect_rmdir(dir);
}

/* --- unpacking a .deb while it downloads (the gate's streams) --- */

enum stream_mode { STREAM_RETRIED, STREAM_MIXED, STREAM_FAILED };

struct deb_feed {
    ec_apt_gate *g;
    ec_store *st;
    ec_digest d;
    char *bytes;
    size_t n;
    enum stream_mode mode;
};

/* What the download thread does: the body in small pieces, then the blob, then the end. */
static void *deb_feed_main(void *arg)
{
    struct deb_feed *f = arg;
    ec_apt_stream *s = ec_apt_gate_stream_new(f->g, &f->d);
    size_t half = f->n / 2;
    char *body = ec_xmalloc(f->n);
    memcpy(body, f->bytes, f->n);
    if (f->mode == STREAM_MIXED) /* the first attempt's bytes were damaged... */
        body[half - 1] ^= 0x20;
    for (size_t i = 0; i < half; i += 512)
        ec_apt_stream_append(s, body + i, half - i < 512 ? half - i : 512);
    if (f->mode == STREAM_FAILED) {
        ec_apt_stream_end(s, false);
        ec_err e = {0};
        ec_fail(&e, EC_EINTEGRITY, "fetching x.deb: sha256 mismatch");
        ec_apt_gate_finish(f->g, EC_EINTEGRITY, &e);
        free(body);
        return NULL;
    }
    usleep(100 * 1000); /* ...and the reader has them before the retry */
    ec_apt_stream_restart(s);
    for (size_t i = 0; i < f->n; i += 4096)
        ec_apt_stream_append(s, f->bytes + i, f->n - i < 4096 ? f->n - i : 4096);
    ec_digest put;
    assert_int_equal(ec_blob_put_buf(&put, f->st, f->bytes, f->n, NULL), EC_OK);
    ec_apt_stream_end(s, true);
    ec_apt_gate_finish(f->g, EC_OK, NULL);
    free(body);
    return NULL;
}

static int install_streamed(ec_store *st, enum stream_mode mode, const char *stage, ec_err *err)
{
    char *dir = ect_tmpdir();
    control(dir, "streamed", "no", "");
    /* incompressible, so that the reader stops in the middle for the next bytes */
    ect_sh("mkdir -p '%s/src/streamed/usr/share/s' && head -c 300000 /dev/urandom > "
           "'%s/src/streamed/usr/share/s/data'", dir, dir);
    ect_sh("dpkg-deb -Zgzip --build '%s/src/streamed' '%s/s.deb' >/dev/null", dir, dir);
    char *deb = ec_xasprintf("%s/s.deb", dir);
    struct deb_feed f = {.st = st, .mode = mode};
    assert_int_equal(ec_read_file(&f.bytes, &f.n, deb, 1u << 24, NULL), EC_OK);
    ec_sha256_buf(&f.d, f.bytes, f.n);
    char hex[EC_DIGEST_STR_LEN];
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "name", "streamed",
                          "version", "1.0-1", "arch", "amd64", "multi_arch", "no", "url",
                          "http://127.0.0.1:9/x", "filename", "pool/s.deb", "sha256",
                          ec_digest_format(hex, &f.d), "size", (json_int_t)f.n, "essential", 0);
    json_t *lock = json_pack("{s:[o]}", "packages", p);
    ec_apt_gate g;
    ec_apt_gate_init(&g);
    f.g = &g;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, deb_feed_main, &f), 0);
    ec_fetch_ctx ctx = {.store = st};
    ec_install_result res = {0};
    int rc = ec_apt_install(&ctx, &g, lock, stage, &res, err);
    pthread_join(th, NULL);
    if (rc == EC_OK) { /* what was unpacked is what the .deb holds */
        char *want = ec_xasprintf("%s/src/streamed/usr/share/s/data", dir);
        char *got = ec_xasprintf("%s/usr/share/s/data", stage);
        ect_sh("cmp '%s' '%s'", want, got);
        free(want);
        free(got);
    }
    ec_install_result_fini(&res);
    ec_apt_gate_fini(&g);
    json_decref(lock);
    free(f.bytes);
    free(deb);
    ect_rmdir(dir);
    return rc;
}

static void test_streamed(void **state)
{
    struct ect_store_fixture *f = *state;
    char *dir = ect_tmpdir(), *stage = ec_xasprintf("%s/stage", dir);
    assert_int_equal(ec_mkdir_p(stage, 0755, NULL), EC_OK);
    ec_err err = {0};
    /* a retried download: the reader goes on in the second attempt's bytes */
    assert_int_equal(install_streamed(f->st, STREAM_RETRIED, stage, &err), EC_OK);

    /* what the reader took before the retry differed: the bytes it unpacked are not the
     * .deb the lock names, whatever the blob that was stored */
    ect_sh("rm -rf '%s' && mkdir '%s'", stage, stage);
    assert_int_equal(install_streamed(f->st, STREAM_MIXED, stage, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "does not match its digest"));

    /* the download failed: its own error, and nothing staged */
    ec_err_clear(&err);
    ect_sh("rm -rf '%s' && mkdir '%s'", stage, stage);
    assert_int_equal(install_streamed(f->st, STREAM_FAILED, stage, &err), EC_EINTEGRITY);
    assert_non_null(strstr(err.msg, "sha256 mismatch"));
    ect_sh("test -z \"$(ls -A '%s')\"", stage);
    free(stage);
    ect_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_no_base_no_steps, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_multiarch_and_dirs, ect_store_setup,
                                        ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_hostile, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_blob, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_streamed, ect_store_setup, ect_store_teardown),
    };
    if (system("command -v dpkg-deb >/dev/null && command -v python3 >/dev/null") != 0)
        return 77;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
