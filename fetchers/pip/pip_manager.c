/* SPDX-License-Identifier: MIT */
/* The pip entry of the manager table: its flags, operations, upstream rule and probe. */
#include "fetchers/pip/pip_int.h"
#include "fetchers/manager.h"

/* Python's bytecode caches: regenerated on import, and they hold build-time paths and
 * times (also what Debian's py3compile leaves, so every build prunes them). pip's own
 * builds keep theirs under the site directories (ec_install_result.keep): compiled there
 * for the layer on purpose (pip_compile.c). */
static const char *const pip_noise_names[] = {"__pycache__", NULL};
/* pip's download and wheel cache, when a build step ran pip. */
static const char *const pip_noise[] = {"root/.cache/pip", NULL};

/* What the Python beneath is and where pip, run as root on it, installs: sysconfig's
 * default scheme (Debian's python3: /usr/local/lib/python3.X/dist-packages and
 * /usr/local/bin). One line of JSON; it joins the specs key, so another Python resolves
 * anew, and it goes into the lock, so another layout builds anew. */
static const char pip_probe_script[] =
    "import json, platform, sys, sysconfig\n"
    "p = sysconfig.get_paths()\n"
    "print(json.dumps({'version': platform.python_version(),\n"
    "    'implementation': sys.implementation.name, 'executable': sys.executable,\n"
    "    'machine': platform.machine(), 'libc': '-'.join(platform.libc_ver()),\n"
    "    'purelib': p['purelib'], 'platlib': p['platlib'], 'scripts': p['scripts'],\n"
    "    'data': p['data'], 'include': p['include']}, sort_keys=True))\n";
static const char *const pip_probe[] = {"python3", "-c", pip_probe_script, NULL};

static const ec_fetcher pip_ops = {
    .builder_version = 3,
    .serve_cache_only = true,
    .resolve = pip_resolve,
    .fetch = pip_fetch,
    .install = pip_install,
    .serve = pip_serve,
};

/* pip reads /etc/pip.conf for every user and virtual environment; plain HTTP to the gate
 * needs trusted-host. */
static const ec_session_file pip_session_files[] = {
    {"etc/pip.conf", "[global]\nindex-url = @MIRROR@/pip/simple/\ntrusted-host = @MIRROR_HOST@\n"},
    {NULL, NULL}};

const ec_manager ec_pip_manager = {
    .name = "pip",
    .spec_what = "pip requirement",
    .flags = EC_MANAGER_NEEDS_BASE | EC_MANAGER_RESOLVES_ON_LOWERS,
    .base_needs = "a Python 3 interpreter (python3; e.g. apt: [python3] in the same "
                  "environment)",
    .parse = pip_spec_parse,
    .ops = &pip_ops,
    .upstream = {.env = {"ENVCACHE_PIP_INDEX", "PIP_INDEX_URL", NULL},
                 .from_client_config = pip_index_configured,
                 .client = "python3",
                 .client_query = "python3 -c 'from pip._internal.models.index import PyPI; "
                                 "print(PyPI.simple_url)' 2>/dev/null"},
    .probe = pip_probe,
    .noise = pip_noise,
    .noise_names = pip_noise_names,
    .session_files = pip_session_files,
};
