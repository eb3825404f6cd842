/* SPDX-License-Identifier: MIT */
/* Bytecode, compiled once at build time by the Python beneath, as pip does after an
 * install: each .py file a package's RECORD lists, into __pycache__, and the .pyc files
 * added to its RECORD (so pip uninstall removes them). Timestamp-checked .pyc files, as
 * pip writes them, against a source time of 0: the staging tree's times are 0 when the
 * steps run and the layer keeps them at 0, so in a session Python finds every .pyc valid
 * and the first import writes nothing. Files an sdist's step installed have the time of
 * that step, so the script sets their time to 0 first, as the layer will. */
#include "fetchers/pip/pip_int.h"

#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

/* argv: the site directories (purelib, platlib), ":"-joined, then the normalized names of
 * the packages the layer installs. Compiled by as many forked workers as the sandbox has
 * CPUs (at most 8; not multiprocessing, which wants /dev/shm), then each RECORD is
 * rewritten once. */
static const char compile_step[] =
    "import base64, csv, hashlib, importlib.util, os, py_compile, re, sys\n"
    "norm = lambda s: re.sub(r'[-_.]+', '-', s).lower()\n"
    "names = set(sys.argv[2:])\n"
    "T = py_compile.PycInvalidationMode.TIMESTAMP\n"
    "def digest(p):\n"
    "    b = open(p, 'rb').read()\n"
    "    h = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()\n"
    "    return 'sha256=' + h, str(len(b))\n"
    "def compile_one(src):\n"
    "    try:\n"
    "        os.utime(src, (0, 0))\n"
    "        py_compile.compile(src, importlib.util.cache_from_source(src), doraise=True,\n"
    "                           invalidation_mode=T)\n"
    "    except (py_compile.PyCompileError, OSError, ValueError):\n"
    "        pass  # as pip: a file Python cannot compile stays source only\n"
    "dists = []\n"
    "for site in dict.fromkeys(sys.argv[1].split(':')):\n"
    "    for di in sorted(os.listdir(site)) if os.path.isdir(site) else []:\n"
    "        if di.endswith('.dist-info') and norm(di[:-10].split('-')[0]) in names:\n"
    "            with open(os.path.join(site, di, 'RECORD'), newline='') as f:\n"
    "                rows = [r for r in csv.reader(f) if r]\n"
    "            srcs = [os.path.join(site, r[0]) for r in rows\n"
    "                    if r[0].endswith('.py') and not r[0].startswith(('../', '/'))]\n"
    "            dists.append((site, di, rows, srcs))\n"
    "work = [s for d in dists for s in d[3]]\n"
    "n = max(1, min(len(os.sched_getaffinity(0)), 8))\n"
    "kids = []\n"
    "for i in range(n):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        for s in work[i::n]:\n"
    "            compile_one(s)\n"
    "        os._exit(0)\n"
    "    kids.append(pid)\n"
    "for pid in kids:\n"
    "    os.waitpid(pid, 0)\n"
    "for site, di, rows, srcs in dists:\n"
    "    have, own = {r[0] for r in rows}, di + '/RECORD'\n"
    "    new = []\n"
    "    for src in srcs:\n"
    "        pyc = importlib.util.cache_from_source(src)\n"
    "        rel = os.path.relpath(pyc, site)\n"
    "        if rel not in have and os.path.exists(pyc):\n"
    "            new.append([rel, *digest(pyc)])\n"
    "    rows = [r for r in rows if r[0] != own] + new + [[own, '', '']]\n"
    "    rec = os.path.join(site, own)\n"
    "    with open(rec, 'w', newline='') as f:\n"
    "        csv.writer(f, lineterminator='\\n').writerows(rows)\n"
    "    os.utime(rec, (0, 0))\n";

int pip_compile_step(const json_t *lock, const char *purelib, const char *platlib,
                     ec_install_result *out)
{
    const json_t *pkgs = json_object_get(lock, "packages");
    size_t n = json_array_size(pkgs), k = 0, i;
    char **argv = ec_xcalloc(n + 5, sizeof *argv);
    argv[k++] = ec_xstrdup("python3");
    argv[k++] = ec_xstrdup("-c");
    argv[k++] = ec_xstrdup(compile_step);
    argv[k++] = ec_xasprintf("%s:%s", purelib, platlib);
    json_t *pkg;
    json_array_foreach(pkgs, i, pkg) {
        const char *name = json_string_value(json_object_get(pkg, "name"));
        if (name)
            argv[k++] = ec_xstrdup(name);
    }
    /* the step's own imports must not leave the stdlib's bytecode in the layer */
    char **env = ec_xcalloc(2, sizeof *env);
    env[0] = ec_xstrdup("PYTHONDONTWRITEBYTECODE=1");
    out->steps = ec_xrealloc(out->steps, (out->nsteps + 1) * sizeof *out->steps);
    out->steps[out->nsteps++] = (ec_build_step){
        .what = ec_xstrdup("compiling the packages' bytecode"), .cwd = ec_xstrdup("/"),
        .argv = argv, .env = env};
    /* the __pycache__ directories there are the point, not noise */
    out->keep = ec_xcalloc(3, sizeof *out->keep);
    out->keep[0] = ec_xstrdup(purelib + strspn(purelib, "/"));
    if (strcmp(purelib, platlib) != 0)
        out->keep[1] = ec_xstrdup(platlib + strspn(platlib, "/"));
    return EC_OK;
}
