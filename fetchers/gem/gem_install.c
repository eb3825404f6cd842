/* SPDX-License-Identifier: MIT */
/* install: every gem of a lock installed by the Ruby beneath, in the prebuild sandbox, as
 * `gem install` run as root in that base installs it (the gem directory of `gem env
 * gemdir`, programs in its bindir: /var/lib/gems/<abi> and /usr/local/bin with Debian's
 * ruby), dependencies first, one build step per gem so a failure names its gem. The
 * verified .gem files are put in the staging tree for the steps and removed by them;
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

/* The step's shell: checks what a native extension needs, installs, and on failure shows
 * the end of the extension's build log. $1 the .gem, $2 its full name, $3 the gem dir. */
static const char step_sh[] =
    "set -u; f=$1; full=$2; dir=$3\n"
    "if [ \"$(gem specification \"$f\" extensions 2>/dev/null)\" != \"--- []\" ]; then\n"
    "  ruby -rrbconfig -e 'exit File.exist?(File.join(RbConfig::CONFIG[\"rubyhdrdir\"], "
    "\"ruby.h\"))' || { echo \"$full has a native extension, and the layers beneath have no "
    "Ruby headers: add ruby-dev and build-essential to the environment's apt packages\" >&2; "
    "exit 1; }\n"
    "  command -v cc >/dev/null 2>&1 || { echo \"$full has a native extension, and the layers "
    "beneath have no C compiler: add build-essential to the environment's apt packages\" >&2; "
    "exit 1; }\n"
    "fi\n"
    "if ! gem install --local --no-document --ignore-dependencies \"$f\" >/tmp/gem.out 2>&1; "
    "then\n"
    "  cat /tmp/gem.out >&2\n"
    "  for l in \"$dir\"/extensions/*/*/\"$full\"/gem_make.out \"$dir\"/gems/\"$full\"/ext/*/"
    "mkmf.log; do [ -f \"$l\" ] && { echo \"--- the end of $l:\"; tail -n 30 \"$l\"; } >&2; "
    "done\n"
    "  exit 1\n"
    "fi\n"
    "rm -f \"$f\"; rmdir /" GEM_DROP " 2>/dev/null; exit 0\n";

static void add_step(ec_install_result *out, const char *full, const char *gemdir)
{
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    ec_build_step *st = &out->steps[out->nsteps++];
    *st = (ec_build_step){0};
    st->what = ec_xasprintf("gem install %s", full);
    st->cwd = ec_xstrdup("/");
    st->argv = ec_xcalloc(8, sizeof *st->argv);
    st->argv[0] = ec_xstrdup("/bin/sh");
    st->argv[1] = ec_xstrdup("-c");
    st->argv[2] = ec_xstrdup(step_sh);
    st->argv[3] = ec_xstrdup("gem-install");
    st->argv[4] = ec_xasprintf("/" GEM_DROP "/%s.gem", full);
    st->argv[5] = ec_xstrdup(full);
    st->argv[6] = ec_xstrdup(gemdir);
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
    size_t i;
    json_t *pkg;
    json_array_foreach(json_object_get(lock, "packages"), i, pkg) {
        if (r == EC_OK)
            r = drop_gem(ctx, dir, pkg, err);
        if (r == EC_OK)
            add_step(out, json_string_value(json_object_get(pkg, "full_name")), gemdir);
    }
    return r;
}
