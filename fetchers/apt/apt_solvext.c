/* SPDX-License-Identifier: MIT */
/* libsolvext, loaded when apt first needs it rather than linked: of it we call one
 * function (repo_add_debpackages, the Packages parser), and linking it brought rpm's
 * libraries with it (librpm, lua, sqlite, popt, gcrypt: ten of the program's 59 shared
 * objects), 3.7 ms of CPU at every start of every envcache command, the start-up hook's
 * and the sandbox's included. */
#include "fetchers/apt/apt_pool_int.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define SOLVEXT_SONAME "libsolvext.so.1"

typedef int (*add_deb_fn)(Repo *repo, FILE *fp, int flags);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static add_deb_fn add_deb;
static char why[256];

static void load(void)
{
    void *h = dlopen(SOLVEXT_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *sym = h ? dlsym(h, "repo_add_debpackages") : NULL;
    if (!sym) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "%s", e ? e : "no repo_add_debpackages in it");
        return;
    }
    /* POSIX: a dlsym result converts to a function pointer */
    *(void **)&add_deb = sym;
}

int ec_apt__solvext_load(ec_err *err)
{
    pthread_once(&once, load);
    if (add_deb)
        return EC_OK;
    return ec_fail(err, EC_EUNSUPPORTED,
                   "apt: cannot load %s, which reads Debian package indexes: %s (install the "
                   "Debian package libsolvext1; tools/install-deps.sh does)",
                   SOLVEXT_SONAME, why);
}

int ec_apt__add_debpackages(Repo *repo, FILE *fp)
{
    pthread_once(&once, load);
    return add_deb ? add_deb(repo, fp, 0) : -1;
}
