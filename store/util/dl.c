/* SPDX-License-Identifier: MIT */
/* Opening a shared library and resolving its functions, for the loaders that call them. */
#include "store/util/dl.h"

#include <dlfcn.h>
#include <stdio.h>

bool ec_dl_load(const ec_dl_lib *lib, const char *const *names, void **const *slots, size_t n,
                char *why, size_t why_cap)
{
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    for (size_t i = 0; h && !missing && i < n; i++)
        if (!(*slots[i] = dlsym(h, names[i]))) /* POSIX: converts to a function pointer */
            missing = names[i];
    if (h && !missing)
        return true;
    const char *e = dlerror();
    snprintf(why, why_cap,
             "cannot load %s, %s: %s%s (install the Debian package %s; tools/install-deps.sh "
             "does)",
             lib->soname, lib->role, missing ? "it has no " : "", missing ? missing : e ? e : "?",
             lib->package);
    return false;
}
