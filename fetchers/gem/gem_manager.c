/* SPDX-License-Identifier: MIT */
/* The gem entry of the manager table: RubyGems' compact index, resolved natively against
 * the Ruby beneath (its probe), gems verified against the index's sha256, pure-Ruby ones
 * installed natively and the others by the Ruby beneath in the sandbox, and mirrored
 * under /mirror/gem/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/gem/gem_int.h"
#include "fetchers/manager.h"
#include "store/util/auto.h"
#include "store/util/mem.h"

/* The specs cache gem keeps of its sources. */
static const char *const gem_noise[] = {"root/.gem/specs", "root/.local/share/gem/specs", NULL};

/* The Ruby beneath as resolve needs it: versions, platform, where gems go, and every gem
 * installed there with its runtime dependencies (Gem::Specification's view of GEM_PATH). */
static const char gem_probe_rb[] =
    "puts \"ruby #{RUBY_VERSION}\", \"rubygems #{Gem::VERSION}\", "
    "\"platform #{Gem::Platform.local}\", \"gemdir #{Gem.dir}\", \"bindir #{Gem.bindir}\"\n"
    /* the Ruby a program wrapper starts, when nothing in gem's configuration changes how
     * `gem install` writes wrappers (custom_shebang, install or gem options) */
    "c = Gem.configuration; puts \"binstub #{Gem.ruby}\" if c[:custom_shebang].nil? && "
    "c['install'].nil? && c['gem'].nil? && RbConfig::CONFIG['LIBRUBY_RELATIVE'] != 'yes'\n"
    "Gem::Specification.each { |s| d = s.runtime_dependencies.map { |x| x.name + ':' + "
    "x.requirement.requirements.map { |o, v| \"#{o} #{v}\" }.join('&') }.join(','); "
    "puts \"installed #{s.name} #{s.version} #{s.platform} #{d.empty? ? '-' : d}\" }\n";
static const char *const gem_probe[] = {"ruby", "-e", gem_probe_rb, NULL};

/* The first `- URL` under `:sources:` of a gemrc (YAML as gem writes it). */
static char *gemrc_source(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    bool in = false;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, ":sources:", 9) == 0) {
            in = true;
            continue;
        }
        const char *p = line + strspn(line, " ");
        if (in && p[0] == '-' && p[1] == ' ') {
            p += 2 + strspn(p + 2, " ");
            fclose(f);
            return ec_xstrndup(p, strcspn(p, " \"'"));
        }
        if (in && line[0] != ' ' && line[0] != '-')
            in = false;
    }
    if (f)
        fclose(f);
    return NULL;
}

char *gem_source_configured(void)
{
    const char *home = getenv("HOME"), *rc = getenv("GEMRC");
    EC_AUTOFREE char *user = home ? ec_xasprintf("%s/.gemrc", home) : NULL;
    const char *files[] = {rc, user, "/etc/gemrc"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *s = files[i] ? gemrc_source(files[i]) : NULL;
        if (s && *s)
            return s;
        free(s);
    }
    return NULL;
}

static const ec_fetcher gem_ops = {
    .builder_version = 3, /* 3: pure-Ruby gems installed natively */
    .resolve = gem_resolve,
    .fetch = gem_fetch,
    .install = gem_install,
    .serve = gem_serve,
};

/* RubyGems reads /etc/gemrc for every user. */
static const ec_session_file gem_session_files[] = {
    {"etc/gemrc", "---\n:sources:\n- @MIRROR@/gem/\n"}, {NULL, NULL}};

const ec_manager ec_gem_manager = {
    .name = "gem",
    .spec_what = "gem spec",
    .flags = EC_MANAGER_NEEDS_BASE | EC_MANAGER_RESOLVES_ON_LOWERS | EC_MANAGER_RUNS_CODE,
    .base_needs = "a Ruby: add ruby to the environment's apt packages",
    .parse = gem_spec_parse,
    .ops = &gem_ops,
    .upstream = {.env = {"ENVCACHE_GEM_SOURCE", NULL},
                 .from_client_config = gem_source_configured,
                 .client = "gem",
                 /* `gem sources` lists the sources the host's gem uses, its default
                  * when nothing is configured */
                 .client_query = "gem sources 2>/dev/null | grep -m1 '^[a-z][a-z0-9+.-]*://'"},
    .probe = gem_probe,
    .noise = gem_noise,
    .session_files = gem_session_files,
};
