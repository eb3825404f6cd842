/* SPDX-License-Identifier: MIT */
/* The manager table: one line per manager, in stack order. Each entry lives in its
 * folder (fetchers/<mgr>/<mgr>_manager.c or beside its ops); nothing else lists them. */
#include "fetchers/manager.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/util/mem.h"

extern const ec_manager ec_apt_manager, ec_cargo_manager, ec_gem_manager, ec_go_manager,
    ec_npm_manager, ec_pip_manager;
#ifdef EC_TEST_MANAGERS
extern const ec_manager ec_toy_manager;
#endif

static const ec_manager *const managers[] = {
    &ec_apt_manager,
    &ec_cargo_manager,
    &ec_gem_manager,
    &ec_go_manager,
    &ec_npm_manager,
    &ec_pip_manager,
#ifdef EC_TEST_MANAGERS
    &ec_toy_manager, /* tests/fixtures/toymgr/: built only into the tests */
#endif
};

const ec_manager *const *ec_managers(size_t *n_out)
{
    *n_out = EC_ARRAY_LEN(managers);
    return managers;
}

const ec_manager *ec_manager_find(const char *name)
{
    for (size_t i = 0; name && i < EC_ARRAY_LEN(managers); i++)
        if (strcmp(managers[i]->name, name) == 0)
            return managers[i];
    return NULL;
}

static char manager_names[256];

static void names_join(void)
{
    size_t o = 0;
    for (size_t i = 0; i < EC_ARRAY_LEN(managers); i++)
        o += (size_t)snprintf(manager_names + o, sizeof manager_names - o, "%s%s",
                              i ? ", " : "", managers[i]->name);
}

const char *ec_manager_names(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, names_join);
    return manager_names;
}

bool ec_manager_installs(const ec_manager *m)
{
    return m && m->ops;
}

int ec_manager_spec_check(const ec_manager *m, const char *text, ec_err *err)
{
    ec_spec spec;
    return m->parse(&spec, text, err);
}

/* Kept beside the table: checks by name are lookups in it. */
bool ec_spec_manager_known(const char *manager)
{
    return ec_manager_find(manager) != NULL;
}

int ec_spec_check(const char *manager, const char *text, ec_err *err)
{
    const ec_manager *m = ec_manager_find(manager);
    if (!m)
        return ec_fail(err, EC_EINVAL, "unknown package manager \"%.32s\"",
                       manager ? manager : "");
    return ec_manager_spec_check(m, text, err);
}

/* --- notes --- */

static void note_generic(ec_buf *out, const ec_note *n)
{
    const char *v = n->version ? n->version : "";
    (void)ec_buf_addf(out, NULL, "%s%s%s: %s", n->package ? n->package : "",
                      *v ? "@" : "", v, ec_note_kind_name(n->kind));
}

void ec_note_render(ec_buf *out, const ec_manager *m, const ec_note *n)
{
    if (m && m->render_note)
        m->render_note(out, n);
    else
        note_generic(out, n);
}
