/* SPDX-License-Identifier: MIT */
/* The native gem install's pieces (fetchers/gem/gem_package.c, gem_binstub.c): .gem files
 * made here with libarchive are read (the specification's fields from metadata.gz) and
 * unpacked as Gem::Package#extract_files unpacks them (modes, directories, symlinks, a
 * later entry winning), paths and symlinks that leave the gem are refused with nothing
 * written outside, and what only the real gem install knows how to lay out is flagged.
 * The wrappers and shebangs expected are what RubyGems 3.3's Gem::Installer#
 * app_script_text wrote for the same programs (Ruby 3.1, /usr/bin/ruby3.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/gem/gem_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

typedef struct ent {
    const char *path;
    unsigned type; /* AE_IFREG, AE_IFLNK (data: the target), AE_IFDIR */
    unsigned mode;
    const char *data;
} ent;

#define BUF_MAX ((size_t)1 << 20)

static size_t tar_gz(char *out, const ent *e, size_t n)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    archive_write_set_format_ustar(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_memory(a, out, BUF_MAX, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *x = archive_entry_new();
        archive_entry_set_pathname(x, e[i].path);
        archive_entry_set_filetype(x, e[i].type);
        archive_entry_set_perm(x, e[i].mode);
        size_t len = e[i].type == AE_IFREG ? strlen(e[i].data) : 0;
        if (e[i].type == AE_IFLNK)
            archive_entry_set_symlink(x, e[i].data);
        archive_entry_set_size(x, (la_int64_t)len);
        assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
        archive_entry_free(x);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return used;
}

static size_t gzip(char *out, const char *text)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_memory(a, out, BUF_MAX, &used), ARCHIVE_OK);
    struct archive_entry *x = archive_entry_new();
    archive_entry_set_filetype(x, AE_IFREG);
    archive_entry_set_pathname(x, "metadata");
    assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, text, strlen(text)), (la_ssize_t)strlen(text));
    archive_entry_free(x);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return used;
}

static char dir[256];

/* A .gem at DIR/NAME: metadata.gz of @yaml (NULL: none) and data.tar.gz of @e. */
static char *make_gem(const char *name, const char *yaml, const ent *e, size_t n)
{
    char *meta = ec_xmalloc(BUF_MAX), *data = ec_xmalloc(BUF_MAX);
    size_t nm = yaml ? gzip(meta, yaml) : 0, nd = tar_gz(data, e, n);
    char *path = ec_xasprintf("%s/%s", dir, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    const struct { const char *name; const char *p; size_t n; } parts[] = {
        {"metadata.gz", meta, nm}, {"data.tar.gz", data, nd}};
    for (size_t i = yaml ? 0 : 1; i < 2; i++) {
        struct archive_entry *x = archive_entry_new();
        archive_entry_set_pathname(x, parts[i].name);
        archive_entry_set_filetype(x, AE_IFREG);
        archive_entry_set_perm(x, 0444);
        archive_entry_set_size(x, (la_int64_t)parts[i].n);
        assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, parts[i].p, parts[i].n), (la_ssize_t)parts[i].n);
        archive_entry_free(x);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    free(meta);
    free(data);
    return path;
}

/* A .gem at DIR/NAME whose specification is an uncompressed "metadata" member of @yaml
 * (RubyGems' older form), with the data.tar.gz of @e. */
static char *make_gem_plain(const char *name, const char *yaml, const ent *e, size_t n)
{
    char *data = ec_xmalloc(BUF_MAX);
    size_t nd = tar_gz(data, e, n);
    char *path = ec_xasprintf("%s/%s", dir, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    const struct { const char *name; const char *p; size_t n; } parts[] = {
        {"metadata", yaml, strlen(yaml)}, {"data.tar.gz", data, nd}};
    for (size_t i = 0; i < 2; i++) {
        struct archive_entry *x = archive_entry_new();
        archive_entry_set_pathname(x, parts[i].name);
        archive_entry_set_filetype(x, AE_IFREG);
        archive_entry_set_perm(x, 0444);
        archive_entry_set_size(x, (la_int64_t)parts[i].n);
        assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
        if (parts[i].n)
            assert_int_equal(archive_write_data(a, parts[i].p, parts[i].n),
                             (la_ssize_t)parts[i].n);
        archive_entry_free(x);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    free(data);
    return path;
}

static const char demo_yaml[] =
    "--- !ruby/object:Gem::Specification\n"
    "name: demo\n"
    "version: !ruby/object:Gem::Version\n"
    "  version: 1.0.0\n"
    "platform: ruby\n"
    "bindir: exe\n"
    "executables:\n"
    "- demo\n"
    "- plain\n"
    "extensions: []\n"
    "require_paths:\n"
    "- lib\n";

static const ent demo_data[] = {
    {"exe/demo", AE_IFREG, 0755, "#!/usr/bin/env ruby -w\nputs 1\n"},
    {"exe/plain", AE_IFREG, 0644, "puts 2\n"},
    {"lib/demo.rb", AE_IFREG, 0644, "module Demo; end\n"},
    {"lib/deep/er/secret.txt", AE_IFREG, 0600, "owner only\n"},
    {"lib/alias.rb", AE_IFLNK, 0777, "demo.rb"},
    {"./lib/dup.rb", AE_IFREG, 0644, "first\n"},
    {"lib/dup.rb", AE_IFREG, 0640, "second\n"},
};

static unsigned mode_of(const char *rel)
{
    EC_AUTOFREE char *p = ec_xasprintf("%s/out/%s", dir, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    return st.st_mode & 07777;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("EC_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/gempkg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_int_equal(ec_mkdir_p(tmp && *tmp ? tmp : "/tmp", 0755, NULL), EC_OK);
    assert_non_null(mkdtemp(dir));
    umask(077); /* what the install writes does not depend on the caller's umask */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(ec_rm_rf(dir, NULL), EC_OK);
    return 0;
}

static void fresh_out(void)
{
    EC_AUTOFREE char *out = ec_xasprintf("%s/out", dir);
    assert_int_equal(ec_rm_rf(out, NULL), EC_OK);
    assert_int_equal(mkdir(out, 0755), 0);
}

static void pkg__read_and_unpack_as_gem_does(void **state)
{
    (void)state;
    EC_AUTOFREE char *g = make_gem("demo-1.0.0.gem", demo_yaml, demo_data,
                                   EC_ARRAY_LEN(demo_data));
    gem_pkg p;
    ec_err err = {0};
    assert_int_equal(gem_pkg_read(&p, g, "demo-1.0.0", &err), EC_OK);
    assert_string_equal(p.name, "demo");
    assert_string_equal(p.bindir, "exe");
    assert_int_equal(p.nexec, 2);
    assert_string_equal(p.exec[0], "demo");
    assert_string_equal(p.exec[1], "plain");
    assert_int_equal(p.nextensions, 0);
    assert_null(p.not_plain);
    fresh_out();
    EC_AUTOFREE char *out = ec_xasprintf("%s/out", dir);
    assert_int_equal(gem_pkg_unpack(&p, out, "demo-1.0.0", &err), EC_OK);
    gem_pkg_fini(&p);
    assert_int_equal(mode_of("exe/demo"), 0755);
    assert_int_equal(mode_of("exe/plain"), 0644);
    assert_int_equal(mode_of("lib/deep/er/secret.txt"), 0600);
    assert_int_equal(mode_of("lib/deep/er"), 0755); /* made for a file: 0755 */
    assert_int_equal(mode_of("lib/dup.rb"), 0640);   /* the later entry won */
    EC_AUTOFREE char *dup = ec_xasprintf("%s/out/lib/dup.rb", dir);
    EC_AUTOFREE char *text = NULL;
    assert_int_equal(ec_read_file(&text, NULL, dup, 1024, NULL), EC_OK);
    assert_string_equal(text, "second\n");
    EC_AUTOFREE char *link = ec_xasprintf("%s/out/lib/alias.rb", dir);
    char target[64] = "";
    assert_int_equal(readlink(link, target, sizeof target - 1), 7);
    assert_string_equal(target, "demo.rb");
}

static void pkg__extensions_and_what_only_gem_install_lays_out(void **state)
{
    (void)state;
    static const char ext_yaml[] = "--- !ruby/object:Gem::Specification\nname: ext\n"
                                   "extensions:\n- ext/ext/extconf.rb\nexecutables: []\n";
    static const ent ext_data[] = {{"ext/ext/extconf.rb", AE_IFREG, 0644, "x\n"}};
    static const ent with_dir[] = {{"lib", AE_IFDIR, 0700, ""}};
    static const ent plugin[] = {{"lib/rubygems_plugin.rb", AE_IFREG, 0644, "x\n"}};
    static const ent setuid[] = {{"lib/x", AE_IFREG, 04755, "x\n"}};
    static const ent no_prog[] = {{"exe/demo", AE_IFREG, 0755, "x\n"}};
    struct { const char *yaml; const ent *e; size_t n; size_t ext; bool plain; } cases[] = {
        {ext_yaml, ext_data, 1, 1, true},
        {"name: d\n", with_dir, 1, 0, false},
        {"name: d\n", plugin, 1, 0, false},
        {"name: d\n", setuid, 1, 0, false},
        {demo_yaml, no_prog, 1, 0, false}, /* "plain" is not in the gem */
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        EC_AUTOFREE char *g = make_gem("case.gem", cases[i].yaml, cases[i].e, cases[i].n);
        gem_pkg p;
        ec_err err = {0};
        assert_int_equal(gem_pkg_read(&p, g, "case", &err), EC_OK);
        assert_int_equal(p.nextensions, cases[i].ext);
        if (cases[i].plain)
            assert_null(p.not_plain);
        else
            assert_non_null(p.not_plain);
        if (!cases[i].yaml[0] || strcmp(cases[i].yaml, "name: d\n") == 0)
            assert_string_equal(p.bindir, "bin"); /* Gem::Specification's default */
        gem_pkg_fini(&p);
    }
}

static void pkg__leaving_the_gem_is_refused(void **state)
{
    (void)state;
    static const ent up[] = {{"lib/../../evil", AE_IFREG, 0644, "x\n"}};
    static const ent abs[] = {{"/tmp/evil", AE_IFREG, 0644, "x\n"}};
    static const ent link_up[] = {{"lib/x", AE_IFLNK, 0777, "../../outside"}};
    static const ent link_abs[] = {{"lib/x", AE_IFLNK, 0777, "/etc/passwd"}};
    const struct { const ent *e; const char *msg; } cases[] = {
        {up, "leaves the gem directory"}, {abs, "leaves the gem directory"},
        {link_up, "points outside the gem"}, {link_abs, "points outside the gem"}};
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        EC_AUTOFREE char *g = make_gem("bad-1.0.gem", "name: bad\n", cases[i].e, 1);
        gem_pkg p;
        ec_err err = {0};
        assert_int_equal(gem_pkg_read(&p, g, "bad-1.0", &err), EC_OK);
        fresh_out();
        EC_AUTOFREE char *out = ec_xasprintf("%s/out", dir);
        assert_int_equal(gem_pkg_unpack(&p, out, "bad-1.0", &err), EC_EUNSAFE);
        assert_non_null(strstr(err.msg, "bad-1.0.gem"));
        assert_non_null(strstr(err.msg, cases[i].msg));
        gem_pkg_fini(&p);
        EC_AUTOFREE char *evil = ec_xasprintf("%s/evil", dir);
        EC_AUTOFREE char *outside = ec_xasprintf("%s/outside", dir);
        assert_int_not_equal(access(evil, F_OK), 0);
        assert_int_not_equal(access(outside, F_OK), 0);
    }
}

/* Links that each look inside (b -> .., c -> b/.., d -> c/..) but climb one level more
 * each: a file written through the last would land beside the gem's directory. */
static void pkg__symlink_chains_do_not_lead_out(void **state)
{
    (void)state;
    static const ent chain[] = {{"p/q/keep", AE_IFREG, 0644, "x\n"},
                                {"p/q/b", AE_IFLNK, 0777, ".."},
                                {"p/q/c", AE_IFLNK, 0777, "b/.."},
                                {"p/q/d", AE_IFLNK, 0777, "c/.."},
                                {"p/q/d/evil", AE_IFREG, 0644, "x\n"}};
    EC_AUTOFREE char *g = make_gem("chain-1.0.gem", "name: chain\n", chain,
                                   EC_ARRAY_LEN(chain));
    gem_pkg p;
    ec_err err = {0};
    assert_int_equal(gem_pkg_read(&p, g, "chain-1.0", &err), EC_OK);
    fresh_out();
    EC_AUTOFREE char *out = ec_xasprintf("%s/out", dir);
    assert_int_equal(gem_pkg_unpack(&p, out, "chain-1.0", &err), EC_EUNSAFE);
    assert_non_null(strstr(err.msg, "goes through a symlink"));
    gem_pkg_fini(&p);
    EC_AUTOFREE char *evil = ec_xasprintf("%s/evil", dir);
    assert_int_not_equal(access(evil, F_OK), 0);
}

static void pkg__not_a_gem_is_named(void **state)
{
    (void)state;
    gem_pkg p;
    ec_err err = {0};
    EC_AUTOFREE char *g1 = make_gem("nometa.gem", NULL, demo_data, 1);
    assert_int_equal(gem_pkg_read(&p, g1, "nometa-1", &err), EC_EFORMAT);
    assert_non_null(strstr(err.msg, "nometa-1.gem is not a gem: it has no metadata.gz"));
    ec_err e2 = {0};
    EC_AUTOFREE char *g2 = make_gem("badyaml.gem", "name: [\n", demo_data, 1);
    assert_int_equal(gem_pkg_read(&p, g2, "badyaml-1", &e2), EC_EFORMAT);
    assert_non_null(strstr(e2.msg, "badyaml-1.gem: its metadata is not YAML"));
    ec_err e3 = {0};
    EC_AUTOFREE char *g3 = make_gem("noname.gem", "version: 1\n", demo_data, 1);
    assert_int_equal(gem_pkg_read(&p, g3, "noname-1", &e3), EC_EFORMAT);
    assert_non_null(strstr(e3.msg, "has no name"));
    /* empty metadata: libyaml asserted on its NULL buffer and aborted the process */
    ec_err e4 = {0};
    EC_AUTOFREE char *g4 = make_gem_plain("empty.gem", "", demo_data, 1);
    assert_int_equal(gem_pkg_read(&p, g4, "empty-1", &e4), EC_EFORMAT);
    assert_non_null(strstr(e4.msg, "empty-1.gem: its metadata has no name"));
}

/* --- wrappers --- */

static const char demo_b[] =
    "#!/usr/bin/ruby3.1 -w\n"
    "#\n"
    "# This file was generated by RubyGems.\n"
    "#\n"
    "# The application 'demo' is installed as part of a gem, and\n"
    "# this file is here to facilitate running it.\n"
    "#\n"
    "\n"
    "require 'rubygems'\n"
    "\n"
    "Gem.use_gemdeps\n"
    "\n"
    "version = \">= 0.a\"\n"
    "\n"
    "str = ARGV.first\n"
    "if str\n"
    "  str = str.b[/\\A_(.*)_\\z/, 1]\n"
    "  if str and Gem::Version.correct?(str)\n"
    "    version = str\n"
    "    ARGV.shift\n"
    "  end\n"
    "end\n"
    "\n"
    "if Gem.respond_to?(:activate_bin_path)\n"
    "load Gem.activate_bin_path('demo', 'b', version)\n"
    "else\n"
    "gem \"demo\", version\n"
    "load Gem.bin_path(\"demo\", \"b\", version)\n"
    "end\n";

static const char bundler_a[] =
    "#!/usr/bin/ruby3.1\n"
    "#\n"
    "# This file was generated by RubyGems.\n"
    "#\n"
    "# The application 'bundler' is installed as part of a gem, and\n"
    "# this file is here to facilitate running it.\n"
    "#\n"
    "\n"
    "require 'rubygems'\n"
    "\n"
    "version = \">= 0.a\"\n"
    "\n"
    "str = ARGV.first\n"
    "if str\n"
    "  str = str.b[/\\A_(.*)_\\z/, 1]\n"
    "  if str and Gem::Version.correct?(str)\n"
    "    version = str\n"
    "    ENV['BUNDLER_VERSION'] = str\n"
    "\n"
    "    ARGV.shift\n"
    "  end\n"
    "end\n"
    "\n"
    "if Gem.respond_to?(:activate_bin_path)\n"
    "load Gem.activate_bin_path('bundler', 'a', version)\n"
    "else\n"
    "gem \"bundler\", version\n"
    "load Gem.bin_path(\"bundler\", \"a\", version)\n"
    "end\n";

static void binstub__text_is_rubygems(void **state)
{
    (void)state;
    EC_AUTOFREE char *d = gem_binstub_text("/usr/bin/ruby3.1", "#!/usr/bin/env ruby -w\n",
                                           "demo", "b");
    assert_string_equal(d, demo_b);
    EC_AUTOFREE char *b = gem_binstub_text("/usr/bin/ruby3.1", "#!/usr/bin/env ruby\n",
                                           "bundler", "a");
    assert_string_equal(b, bundler_a);
}

static void binstub__shebang_keeps_the_programs_options(void **state)
{
    (void)state;
    static const struct { const char *line, *want; } cases[] = {
        {"#!/usr/bin/env ruby\n", "#!/usr/bin/ruby3.1\n"},
        {"#!/usr/bin/env ruby -w\n", "#!/usr/bin/ruby3.1 -w\n"},
        {"#!/usr/bin/ruby2.7 -w -- x  \r\n", "#!/usr/bin/ruby3.1 -w -- x\n"},
        {"puts 1\n", "#!/usr/bin/ruby3.1\n"},
        {"#!/bin/sh\n", "#!/usr/bin/ruby3.1\n"},
        {"#!/opt/jruby/bin/jruby --dev\n", "#!/usr/bin/ruby3.1 --dev\n"},
        {"#!ruby", "#!/usr/bin/ruby3.1\n"},
        {"#! /usr/bin/env  ruby  -E  UTF-8 \n", "#!/usr/bin/ruby3.1  -E  UTF-8\n"},
        {"", "#!/usr/bin/ruby3.1\n"},
    };
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        EC_AUTOFREE char *t = gem_binstub_text("/usr/bin/ruby3.1", cases[i].line, "demo", "x");
        size_t n = strcspn(t, "\n") + 1;
        assert_int_equal(n, strlen(cases[i].want));
        assert_memory_equal(t, cases[i].want, n);
    }
}

static void binstub__known_versions_and_names(void **state)
{
    (void)state;
    assert_true(gem_binstub_known("3.3.15"));
    assert_false(gem_binstub_known("3.4.1"));
    assert_false(gem_binstub_known("3.30.0"));
    assert_false(gem_binstub_known(NULL));
    assert_true(gem_binstub_name_ok("rackup"));
    assert_true(gem_binstub_name_ok("odd-plain_2.rb+x"));
    assert_false(gem_binstub_name_ok("a b"));
    assert_false(gem_binstub_name_ok("a\"b"));
    assert_false(gem_binstub_name_ok(".."));
    assert_false(gem_binstub_name_ok(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pkg__read_and_unpack_as_gem_does, setup, teardown),
        cmocka_unit_test_setup_teardown(pkg__extensions_and_what_only_gem_install_lays_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(pkg__leaving_the_gem_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(pkg__symlink_chains_do_not_lead_out, setup, teardown),
        cmocka_unit_test_setup_teardown(pkg__not_a_gem_is_named, setup, teardown),
        cmocka_unit_test(binstub__text_is_rubygems),
        cmocka_unit_test(binstub__shebang_keeps_the_programs_options),
        cmocka_unit_test(binstub__known_versions_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
