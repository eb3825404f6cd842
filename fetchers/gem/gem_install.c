/* SPDX-License-Identifier: MIT */
/* install: every gem of a lock installed by the Ruby beneath, in the prebuild sandbox, as
 * `gem install` run as root in that base installs it (the gem directory of `gem env
 * gemdir`, programs in its bindir: /var/lib/gems/<abi> and /usr/local/bin with Debian's
 * ruby), dependencies first, in one build step whose failure names the gem that failed.
 * The verified .gem files are put in the staging tree for the steps and removed by them;
 * a native extension compiles there with the headers and compiler beneath, and a gem
 * whose extension finds neither says which packages to add. */
#include "fetchers/gem/gem_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define GEM_DROP "var/cache/envcache-gem" /* where the steps find the .gem files */

/* The step's shell: checks what native extensions need, installs every gem in one `gem
 * install` (one Ruby start instead of one per gem: most of a cold build's time), and on
 * failure names the first gem that did not install and shows the end of its extension's
 * build log. $1 the gem dir, then the .gem files in install order. */
static const char step_sh[] =
    "set -u; dir=$1; shift\n"
    "native=$(ruby -rrubygems/package -e 'ARGV.each { |f| s = Gem::Package.new(f).spec; "
    "puts s.full_name unless s.extensions.empty? }' \"$@\") || exit 1\n"
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
    "fi\n"
    "rm -rf /" GEM_DROP "; exit 0\n";

/* One step for the whole lock; @fulls in install order (dependencies first). */
static void add_step(ec_install_result *out, const char *const *fulls, size_t n,
                     const char *gemdir)
{
    out->steps = ec_xcalloc(1, sizeof *out->steps);
    out->nsteps = 1;
    ec_build_step *st = &out->steps[0];
    st->what = n == 1 ? ec_xasprintf("gem install %s", fulls[0])
                      : ec_xasprintf("gem install of %zu gems", n);
    st->cwd = ec_xstrdup("/");
    st->argv = ec_xcalloc(n + 6, sizeof *st->argv);
    st->argv[0] = ec_xstrdup("/bin/sh");
    st->argv[1] = ec_xstrdup("-c");
    st->argv[2] = ec_xstrdup(step_sh);
    st->argv[3] = ec_xstrdup("gem-install");
    st->argv[4] = ec_xstrdup(gemdir);
    for (size_t i = 0; i < n; i++)
        st->argv[5 + i] = ec_xasprintf("/" GEM_DROP "/%s.gem", fulls[i]);
    st->env = ec_xcalloc(2, sizeof *st->env);
    st->env[0] = ec_xstrdup("HOME=/root");
}

static int drop_gem(ec_fetch_ctx *ctx, const char *dir, json_t *pkg, ec_err *err)
{
    const char *full = json_string_value(json_object_get(pkg, "full_name"));
    const char *sha = json_string_value(json_object_get(pkg, "sha256"));
    ec_digest d;
    if (!full || !sha || ec_digest_parse(&d, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "gem lock entry %s has no fetched .gem",
                       full ? full : "?");
    EC_AUTOFREE char *path = ec_xasprintf("%s/%s.gem", dir, full);
    EC_AUTOFD int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return ec_fail_sys(err, errno, "gem: cannot create %s", path);
    return ec_blob_copy_verified(ctx->store, &d, fd, err);
}

int gem_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                ec_install_result *out, ec_err *err)
{
    const char *gemdir = json_string_value(json_object_get(json_object_get(lock, "ruby"),
                                                           "gemdir"));
    if (!gemdir)
        return ec_fail(err, EC_EFORMAT, "the gem lock does not say the gem directory beneath");
    if (!ctx->lowers_root)
        return ec_fail(err, EC_EINVAL, "gem packages need a base with a Ruby to install on");
    EC_AUTOFREE char *dir = ec_xasprintf("%s/" GEM_DROP, staging);
    int r = ec_mkdir_p(dir, 0755, err);
    const json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), i;
    EC_AUTOFREE const char **fulls = ec_xcalloc(n + 1, sizeof *fulls);
    json_t *pkg;
    json_array_foreach(pkgs, i, pkg) {
        fulls[i] = json_string_value(json_object_get(pkg, "full_name"));
        if (r == EC_OK)
            r = drop_gem(ctx, dir, pkg, err);
    }
    if (r == EC_OK && n > 0)
        add_step(out, fulls, n, gemdir);
    return r;
}
