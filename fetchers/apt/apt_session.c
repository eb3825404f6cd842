/* SPDX-License-Identifier: MIT */
/* A session's apt through the mirror: the root's own sources (sources.list and
 * sources.list.d, one-line and deb822) written again as one sources.list whose URIs are the
 * mirror's routes (/mirror/apt/<route>/, route = the URI path's last part, as apt_mirror.c
 * serves them), and every file of sources.list.d bound over by an empty one. Suites,
 * components and signed-by keyrings stay: the mirror hands out upstream's signed Release
 * files byte for byte, so apt in the session still checks Debian's signatures. */
#include "fetchers/apt/apt_int.h"

#include <dirent.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/buf.h"
#include "store/util/mem.h"

static bool is_source_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".list") == 0) ||
                              (n > 8 && strcmp(name + n - 8, ".sources") == 0));
}

static int render_list(ec_buf *b, const ec_apt_sources *s, const char *mirror, ec_err *err)
{
    int r = ec_buf_adds(b, "# Written by envcache: this session's apt installs through the "
                           "envcache mirror.\n", err);
    for (size_t i = 0; r == EC_OK && i < s->n; i++) {
        const ec_apt_source *src = &s->v[i];
        r = ec_buf_adds(b, "deb ", err);
        if (r == EC_OK && src->signed_by)
            r = ec_buf_addf(b, err, "[signed-by=%s] ", src->signed_by);
        if (r == EC_OK)
            r = ec_buf_addf(b, err, "%s/apt/%s %s", mirror, src->name, src->suite);
        for (size_t j = 0; r == EC_OK && j < src->ncomponents; j++)
            r = ec_buf_addf(b, err, " %s", src->components[j]);
        if (r == EC_OK)
            r = ec_buf_adds(b, "\n", err);
    }
    return r;
}

/* The files of sources.list.d, emptied: sources.list names them all now. */
static int empty_parts(const char *root, ec_session_put_fn put, void *ud, ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/etc/apt/sources.list.d", root);
    DIR *d = opendir(dir);
    if (!d)
        return EC_OK;
    int r = EC_OK;
    for (struct dirent *e; r == EC_OK && (e = readdir(d)) != NULL;)
        if (is_source_file(e->d_name)) {
            EC_AUTOFREE char *rel = ec_xasprintf("etc/apt/sources.list.d/%s", e->d_name);
            r = put(ud, rel, "", err);
        }
    closedir(d);
    return r;
}

int ec_apt_session_render(const char *root, const char *mirror, ec_session_put_fn put,
                          void *ud, ec_err *err)
{
    EC_AUTOFREE char *apt_dir = ec_xasprintf("%s/etc/apt", root);
    ec_apt_sources s;
    int r = ec_apt_sources_load_dir(&s, apt_dir, ec_apt__host_arch(), err);
    if (r == EC_ENOTFOUND) { /* no apt, or no source: nothing to point at the mirror */
        ec_err_clear(err);
        return EC_OK;
    }
    if (r < 0)
        return r;
    ec_buf b = EC_BUF_INIT;
    r = render_list(&b, &s, mirror, err);
    if (r == EC_OK)
        r = put(ud, "etc/apt/sources.list", ec_buf_str(&b), err);
    if (r == EC_OK)
        r = empty_parts(root, put, ud, err);
    ec_buf_fini(&b);
    ec_apt_sources_fini(&s);
    return r;
}
