/* SPDX-License-Identifier: MIT */
/* The fetcher table and the helpers every fetcher shares (locks, results, responses). */
#include "fetchers/fetcher.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each manager's table lives in fetchers/<mgr>/; a manager not built yet is absent. */
static const ec_fetcher *(*const fetchers[])(void) = {
    ec_apt_fetcher,
    ec_npm_fetcher,
};

const ec_fetcher *ec_fetcher_find(const char *manager)
{
    for (size_t i = 0; i < sizeof fetchers / sizeof fetchers[0]; i++) {
        const ec_fetcher *f = fetchers[i]();
        if (strcmp(f->name, manager) == 0)
            return f;
    }
    return NULL;
}

char *ec_lock_dump(const json_t *lock)
{
    return json_dumps(lock, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
}

void ec_lock_digest(const json_t *lock, ec_digest *out)
{
    char *s = ec_lock_dump(lock);
    ec_sha256_buf(out, s ? s : "", s ? strlen(s) : 0);
    free(s);
}

void ec_install_result_fini(ec_install_result *r)
{
    for (size_t i = 0; i < r->nsteps; i++) {
        ec_build_step *s = &r->steps[i];
        free(s->what);
        free(s->cwd);
        for (char **a = s->argv; a && *a; a++)
            free(*a);
        free(s->argv);
        for (char **e = s->env; e && *e; e++)
            free(*e);
        free(s->env);
    }
    free(r->steps);
    json_decref(r->notes);
    memset(r, 0, sizeof *r);
}

void ec_mirror_resp_init(ec_mirror_resp *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

void ec_mirror_resp_fini(ec_mirror_resp *r)
{
    ec_buf_fini(&r->body);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}
