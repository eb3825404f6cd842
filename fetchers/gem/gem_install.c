/* SPDX-License-Identifier: MIT */
/* install: every gem of a lock where `gem install` run as root in that base puts it (the
 * gem directory of `gem env gemdir`, programs in its bindir: /var/lib/gems/<abi> and
 * /usr/local/bin with Debian's ruby).
 *
 * Every verified .gem goes where gem install keeps it (<gemdir>/cache/FULL.gem). A
 * pure-Ruby gem is then installed natively: data.tar.gz unpacked into
 * <gemdir>/gems/FULL/ (gem_package.c), its programs made executable and given RubyGems'
 * wrapper in the bindir (gem_binstub.c), the repository's subdirectories made as
 * Gem.ensure_gem_subdirectories makes them. Its specification (<gemdir>/specifications/
 * FULL.gemspec, whose "# stub:" line is all RubyGems reads at start-up) is written by
 * RubyGems itself: one Ruby in the sandbox for the whole lock calls Gem::Installer#
 * write_spec (to_ruby_for_cache) for each, so the file is the base's RubyGems' own form
 * and no second serializer has to track it.
 *
 * The rest goes through the real `gem install` in the same sandbox step, after the
 * specifications (an extension's build may require a pure gem): gems with native
 * extensions (they need the Ruby headers and compiler beneath; missing ones are named),
 * gems a native install cannot reproduce exactly (a RubyGems plugin, directory or special
 * entries, odd program names, a program that would replace a file beneath), and every gem
 * when the RubyGems beneath is not one whose wrapper template gem_binstub.c knows. */
#include "fetchers/gem/gem_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* The step's shell. $1 the gem dir, $2 how many of the .gem files are installed natively
 * (their specifications only are written here), $3 the gems with native extensions (full
 * names), then the .gem files: the native ones, then the ones for `gem install` in
 * dependency order. One Ruby start writes every specification; one `gem install` installs
 * the rest (a Ruby start per gem was most of a cold build's time); on failure it names
 * the first gem that did not install and shows the end of its extension's build log. */
static const char step_sh[] =
    "set -u; dir=$1; npure=$2; native=$3; shift 3\n"
    "if [ \"$npure\" -gt 0 ]; then\n"
    "  ruby -rrubygems/installer -e 'dir = ARGV.shift; n = Integer(ARGV.shift)\n"
    "ARGV.first(n).each do |f|\n"
    "  Gem::Installer.at(f, install_dir: dir).write_spec\n"
    "rescue StandardError => e\n"
    "  abort \"writing the specification of #{File.basename(f, \".gem\")} failed: "
    "#{e.message}\"\n"
    "end' \"$dir\" \"$npure\" \"$@\" || exit 1\n"
    "  shift \"$npure\"\n"
    "fi\n"
    "[ $# -gt 0 ] || exit 0\n"
    "for full in $native; do\n"
    "  ruby -rrbconfig -e 'exit File.exist?(File.join(RbConfig::CONFIG[\"rubyhdrdir\"], "
    "\"ruby.h\"))' || { echo \"$full has a native extension, and the layers beneath have no "
    "Ruby headers: add ruby-dev and build-essential to the environment's apt packages\" >&2; "
    "exit 1; }\n"
    "  command -v cc >/dev/null 2>&1 || { echo \"$full has a native extension, and the layers "
    "beneath have no C compiler: add build-essential to the environment's apt packages\" >&2; "
    "exit 1; }\n"
    "done\n"
    "if ! gem install --local --no-document --ignore-dependencies \"$@\" >/tmp/gem.out 2>&1; "
    "then\n"
    "  cat /tmp/gem.out >&2\n"
    "  for f; do full=${f##*/}; full=${full%.gem}\n"
    "    [ -f \"$dir/specifications/$full.gemspec\" ] && continue\n"
    "    echo \"gem install of $full failed\" >&2\n"
    "    for l in \"$dir\"/extensions/*/*/\"$full\"/gem_make.out \"$dir\"/gems/\"$full\"/ext/*/"
    "mkmf.log; do [ -f \"$l\" ] && { echo \"--- the end of $l:\"; tail -n 30 \"$l\"; } >&2; "
    "done\n"
    "    break\n"
    "  done\n"
    "  exit 1\n"
    "fi\n";

/* What one install works with. */
typedef struct inst {
    ec_fetch_ctx *ctx;
    const char *staging, *lowers, *gemdir, *bindir, *ruby; /* ruby: NULL = no native path */
    const char **pure, **real; /* .gem paths inside the target */
    size_t npure, nreal;
    ec_buf native; /* full names of gems with extensions, space-separated */
} inst;

/* --- directories --- */

/* @rel (absolute inside the target) and its parents in the staging tree: a directory the
 * layers beneath have is made with their mode and owner (so the layer does not change
 * it), a new one 0755 as RubyGems makes it under umask 022. */
static int stage_dir(const inst *in, const char *rel, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s%s", in->staging, rel);
    struct stat st;
    if (lstat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? EC_OK
                                   : ec_fail(err, EC_ECONFLICT, "gem: %s is not a directory "
                                             "in the new layer", rel);
    EC_AUTOFREE char *parent = ec_xstrdup(rel);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int r = stage_dir(in, parent, err);
        if (r < 0)
            return r;
    }
    EC_AUTOFREE char *low = ec_xasprintf("%s%s", in->lowers, rel);
    bool below = stat(low, &st) == 0;
    if (below && !S_ISDIR(st.st_mode))
        return ec_fail(err, EC_ECONFLICT, "gem: %s beneath is not a directory", rel);
    if (mkdir(path, 0755) < 0)
        return ec_fail_sys(err, errno, "gem: cannot create %s", path);
    /* owners as beneath when we may set them (root); a user's build keeps its own */
    if (chmod(path, below ? st.st_mode & 07777 : 0755) < 0 ||
        (below && geteuid() == 0 && lchown(path, st.st_uid, st.st_gid) < 0))
        return ec_fail_sys(err, errno, "gem: cannot set the mode of %s", path);
    return EC_OK;
}

static bool exists_below(const inst *in, const char *rel)
{
    EC_AUTOFREE char *low = ec_xasprintf("%s%s", in->lowers, rel);
    EC_AUTOFREE char *up = ec_xasprintf("%s%s", in->staging, rel);
    struct stat st;
    return lstat(low, &st) == 0 || lstat(up, &st) == 0;
}

/* Gem.ensure_gem_subdirectories: the repository's directories the layers beneath lack. */
static int stage_repository(const inst *in, ec_err *err)
{
    static const char *const sub[] = {"build_info", "cache", "doc", "extensions", "gems",
                                      "plugins", "specifications"};
    int r = stage_dir(in, in->gemdir, err);
    for (size_t i = 0; r == EC_OK && i < EC_ARRAY_LEN(sub); i++) {
        EC_AUTOFREE char *d = ec_xasprintf("%s/%s", in->gemdir, sub[i]);
        EC_AUTOFREE char *low = ec_xasprintf("%s%s", in->lowers, d);
        struct stat st;
        bool written = strcmp(sub[i], "cache") == 0 || strcmp(sub[i], "gems") == 0;
        if (written || stat(low, &st) != 0)
            r = stage_dir(in, d, err);
    }
    return r;
}

/* --- one gem --- */

/* The verified .gem where gem install keeps it: <gemdir>/cache/FULL.gem. */
static int put_cache(char **path_out, const inst *in, const json_t *pkg, const char *full,
                     ec_err *err)
{
    const char *sha = json_string_value(json_object_get(pkg, "sha256"));
    ec_digest d;
    if (!sha || ec_digest_parse(&d, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "gem lock entry %s has no fetched .gem", full);
    char *path = ec_xasprintf("%s%s/cache/%s.gem", in->staging, in->gemdir, full);
    EC_AUTOFD int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int r = fd < 0 ? ec_fail_sys(err, errno, "gem: cannot create %s", path)
                   : ec_blob_copy_verified(in->ctx->store, &d, fd, err);
    if (r == EC_OK && fchmod(fd, 0644) < 0)
        r = ec_fail_sys(err, errno, "gem: cannot chmod %s", path);
    if (r < 0)
        free(path);
    else
        *path_out = path;
    return r;
}

/* Why the gem's programs cannot get their wrappers natively, or NULL. */
static const char *bin_obstacle(const inst *in, const gem_pkg *p)
{
    for (size_t i = 0; i < p->nexec; i++) {
        if (!gem_binstub_name_ok(p->exec[i]))
            return "a program name needs quoting";
        EC_AUTOFREE char *b = ec_xasprintf("%s/%s", in->bindir, p->exec[i]);
        if (exists_below(in, b))
            return "a program would replace a file beneath";
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->exec[i], p->exec[j]) == 0)
                return "a program is listed twice";
    }
    return NULL;
}

/* Installer#generate_bin: the program made executable, its wrapper in the bindir. */
static int put_binstub(const inst *in, const gem_pkg *p, const char *full, const char *exe,
                       ec_err *err)
{
    EC_AUTOFREE char *prog = ec_xasprintf("%s%s/gems/%s/%s/%s", in->staging, in->gemdir, full,
                                          p->bindir, exe);
    char line[4096] = "";
    EC_AUTOFILE FILE *f = fopen(prog, "re");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0)
        return ec_fail_sys(err, errno, "gem: cannot read %s's program %s", full, exe);
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    if ((st.st_mode & 0111) != 0111 && chmod(prog, (st.st_mode | 0111) & 07777) < 0)
        return ec_fail_sys(err, errno, "gem: cannot make %s executable", prog);
    EC_AUTOFREE char *text = gem_binstub_text(in->ruby, line, p->name, exe);
    EC_AUTOFREE char *rel = ec_xasprintf("%s/%s", in->bindir, exe);
    EC_AUTOFREE char *dest = ec_xasprintf("%s%s", in->staging, rel);
    int r = stage_dir(in, in->bindir, err);
    EC_AUTOFD int fd = r < 0 ? -1 : open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (r == EC_OK && fd < 0)
        r = ec_fail_sys(err, errno, "gem: cannot create %s", rel);
    size_t n = strlen(text);
    if (r == EC_OK && (write(fd, text, n) != (ssize_t)n || fchmod(fd, 0755) < 0))
        r = ec_fail_sys(err, errno, "gem: cannot write %s", rel);
    return r;
}

/* A pure gem laid out natively; *@done false when it must go through gem install. */
static int install_native(bool *done, const inst *in, const gem_pkg *p, const char *full,
                          ec_err *err)
{
    *done = false;
    if (!in->ruby || p->nextensions || p->not_plain || bin_obstacle(in, p))
        return EC_OK;
    EC_AUTOFREE char *rel = ec_xasprintf("%s/gems/%s", in->gemdir, full);
    EC_AUTOFREE char *dir = ec_xasprintf("%s%s", in->staging, rel);
    int r = stage_dir(in, rel, err);
    if (r == EC_OK)
        r = gem_pkg_unpack(p, dir, full, err);
    for (size_t i = 0; r == EC_OK && i < p->nexec; i++)
        r = put_binstub(in, p, full, p->exec[i], err);
    *done = r == EC_OK;
    return r;
}

static int install_one(inst *in, const json_t *pkg, ec_err *err)
{
    const char *full = json_string_value(json_object_get(pkg, "full_name"));
    const char *name = json_string_value(json_object_get(pkg, "name"));
    if (!full || !name)
        return ec_fail(err, EC_EFORMAT, "a gem lock entry has no name");
    EC_AUTOFREE char *cache = NULL;
    int r = put_cache(&cache, in, pkg, full, err);
    gem_pkg p;
    if (r == EC_OK)
        r = gem_pkg_read(&p, cache, full, err);
    if (r < 0)
        return r;
    bool done = false;
    if (strcmp(p.name, name) != 0)
        r = ec_fail(err, EC_EFORMAT, "%s.gem holds the gem %s, not %s", full, p.name, name);
    else
        r = install_native(&done, in, &p, full, err);
    if (r == EC_OK && p.nextensions)
        r = ec_buf_addf(&in->native, err, "%s%s", in->native.n ? " " : "", full);
    gem_pkg_fini(&p);
    const char *target = cache + strlen(in->staging);
    if (done)
        in->pure[in->npure++] = ec_xstrdup(target);
    else if (r == EC_OK)
        in->real[in->nreal++] = ec_xstrdup(target);
    return r;
}

/* --- the step --- */

static void add_step(ec_install_result *out, const inst *in)
{
    size_t n = in->npure + in->nreal, k = 0;
    out->steps = ec_xcalloc(1, sizeof *out->steps);
    out->nsteps = 1;
    ec_build_step *st = &out->steps[0];
    st->what = in->nreal == 0
                   ? ec_xasprintf("the specifications of %zu gems", in->npure)
                   : ec_xasprintf("gem install of %zu gems (%zu installed natively)", in->nreal,
                                  in->npure);
    st->cwd = ec_xstrdup("/");
    st->argv = ec_xcalloc(n + 8, sizeof *st->argv);
    st->argv[k++] = ec_xstrdup("/bin/sh");
    st->argv[k++] = ec_xstrdup("-c");
    st->argv[k++] = ec_xstrdup(step_sh);
    st->argv[k++] = ec_xstrdup("gem-install");
    st->argv[k++] = ec_xstrdup(in->gemdir);
    st->argv[k++] = ec_xasprintf("%zu", in->npure);
    st->argv[k++] = ec_xstrdup(ec_buf_str(&in->native));
    for (size_t i = 0; i < in->npure; i++)
        st->argv[k++] = ec_xstrdup(in->pure[i]);
    for (size_t i = 0; i < in->nreal; i++)
        st->argv[k++] = ec_xstrdup(in->real[i]);
    st->env = ec_xcalloc(2, sizeof *st->env);
    st->env[0] = ec_xstrdup("HOME=/root");
}

int gem_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                ec_install_result *out, ec_err *err)
{
    const json_t *rb = json_object_get(lock, "ruby");
    const char *binstub = json_string_value(json_object_get(rb, "binstub"));
    const char *rubygems = json_string_value(json_object_get(rb, "rubygems"));
    inst in = {.ctx = ctx, .staging = staging, .lowers = ctx->lowers_root,
               .gemdir = json_string_value(json_object_get(rb, "gemdir")),
               .bindir = json_string_value(json_object_get(rb, "bindir")),
               .ruby = binstub && *binstub && gem_binstub_known(rubygems) ? binstub : NULL,
               .native = EC_BUF_INIT};
    if (!in.gemdir || in.gemdir[0] != '/' || !in.bindir || in.bindir[0] != '/')
        return ec_fail(err, EC_EFORMAT, "the gem lock does not say the gem and program "
                       "directories beneath");
    if (!ctx->lowers_root)
        return ec_fail(err, EC_EINVAL, "gem packages need a base with a Ruby to install on");
    const json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), i;
    if (n == 0)
        return EC_OK;
    in.pure = ec_xcalloc(n, sizeof *in.pure);
    in.real = ec_xcalloc(n, sizeof *in.real);
    int r = stage_repository(&in, err);
    json_t *pkg;
    json_array_foreach(pkgs, i, pkg) {
        if (r == EC_OK)
            r = install_one(&in, pkg, err);
    }
    if (r == EC_OK)
        add_step(out, &in);
    for (i = 0; i < in.npure; i++)
        free((char *)in.pure[i]);
    for (i = 0; i < in.nreal; i++)
        free((char *)in.real[i]);
    free(in.pure);
    free(in.real);
    ec_buf_fini(&in.native);
    return r;
}
