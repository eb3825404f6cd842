/* SPDX-License-Identifier: MIT */
/* apt provides bases: the hooks a bootstrap of a Debian root asks (cache/env/base.c), the
 * archive of a suite from the host's sources and the archive's state. */
#include "fetchers/apt/apt_int.h"
#include "fetchers/manager.h"

#include <string.h>
#include <sys/utsname.h>

#include "store/util/mem.h"

/* The first source for @suite, in apt's reading order, as apt_sources.c parses them. */
static int apt_archive_find(char **url_out, const char *sources_dir, const char *suite,
                            ec_err *err)
{
    const char *dir = sources_dir ? sources_dir : "/etc/apt";
    ec_apt_sources s;
    int r = ec_apt_sources_load_dir(&s, dir, ec_apt__host_arch(), NULL);
    for (size_t i = 0; r == EC_OK && i < s.n; i++)
        if (strcmp(s.v[i].suite, suite) == 0) {
            *url_out = ec_xstrdup(s.v[i].uri);
            ec_apt_sources_fini(&s);
            return EC_OK;
        }
    if (r == EC_OK)
        ec_apt_sources_fini(&s);
    return ec_fail(err, EC_ENOTFOUND, "no apt source in %s serves the suite %s", dir, suite);
}

/* Python with pip and venv, Node.js with npm, Ruby with its headers, Go, Rust, a C
 * toolchain, git, curl and CA certificates. Debian 12 updates its newer Rust (rustc-web,
 * cargo-web) in the security archive only; without it, the release's own rustc. */
#define RUNTIMES                                                                            \
    "python3,python3-pip,python3-venv,python3-dev,nodejs,npm,ruby,ruby-dev,golang-go,gcc,"  \
    "g++,make,libc6-dev,pkg-config,git,curl,ca-certificates,xz-utils,unzip,less,procps"

/* Layers keep every mtime at 0, which makes the timestamp-checked bytecode that Debian's
 * postinsts compiled stale: every session would recompile each module it imports, and
 * write it to its upper. So the sources get time 0 first and the bytecode is compiled
 * again against it (valid in every session, as the pip layers' is). */
#define CUSTOMIZE                                                                           \
    "if [ -x \"$1/usr/bin/python3\" ]; then "                                                \
    "find \"$1\"/usr/lib/python3* \"$1\"/etc/python3* -name '*.py' "                         \
    "-exec touch -h -d @0 {} + && "                                                          \
    "{ chroot \"$1\" sh -c 'python3 -m compileall -q -f -j 0 /usr/lib/python3*' "          \
    ">/dev/null 2>&1 || true; }; fi"

const ec_base_provider ec_apt_bases = {
    .customize = CUSTOMIZE,
    .archive_find = apt_archive_find,
    .release_probe = ec_apt_release_probe,
    .runtimes_with_security = RUNTIMES ",rustc-web,cargo-web",
    .runtimes = RUNTIMES ",rustc,cargo",
};
