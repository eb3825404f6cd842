/* SPDX-License-Identifier: MIT */
/* A session container's network, as its environment's `networking` allows (cache/net/
 * does the work): the policy from the environment, the mirror's upstream registries and
 * the session's MCP endpoints; the bundle joins the namespace, gets the root's files
 * (resolv.conf, hosts, the package managers' configurations) bound read-only, and the
 * environment file's variables. Torn down with the session. */
#include "cache/net/net.h"
#include "cache/session/session_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct strv {
    const char **v;
    size_t n;
} strv;

static void strv_add(strv *s, const char *v)
{
    s->v = ec_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = v;
}

/* "https://host:port/path" -> "host" (new string); NULL when there is no host. */
static char *url_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, ":/?#");
    return n ? ec_xstrndup(p, n) : NULL;
}

/* The mirror's upstream registries: the hosts of each manager's configured upstream. An
 * upstream may be a list ("URL1,URL2|direct", as GOPROXY is): each URL counts; words that
 * are not URLs ("direct", "off") name no host. */
static void pm_hosts(strv *out, strv *owned, ec_cache *c)
{
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        EC_AUTOFREE char *list = NULL;
        if (ec_cache__upstream(&list, c, m[i], NULL) < 0)
            continue;
        for (char *save = NULL, *u = strtok_r(list, ",|", &save); u;
             u = strtok_r(NULL, ",|", &save)) {
            char *host = strstr(u, "://") ? url_host(u) : NULL;
            if (host) {
                strv_add(owned, host);
                strv_add(out, host);
            }
        }
    }
}

static void free_owned(strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free((char *)v->v[i]);
    free(v->v);
}

static int policy_prepare(ec_net **out, ec_cache *c, const char *id, const char *root,
                          const json_t *networking, const json_t *mcp_servers, ec_err *err)
{
    const char *type = json_string_value(json_object_get(networking, "type"));
    strv hosts = {0}, pms = {0}, mcps = {0}, owned = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(networking, "allowed_hosts"), i, v)
        strv_add(&hosts, json_string_value(v));
    json_array_foreach(mcp_servers, i, v)
        strv_add(&mcps, json_string_value(json_object_get(v, "url")));
    pm_hosts(&pms, &owned, c);
    char mirror[32] = "";
    uint16_t port = 0;
    if (ec_cache__mirror_port(&port, c, NULL) == EC_OK && port)
        snprintf(mirror, sizeof mirror, "127.0.0.1:%u", port);
    const char *hosts_file = getenv("ENVCACHE_NET_HOSTS_FILE");
    ec_net_policy p = {
        .limited = type && strcmp(type, "limited") == 0,
        .allowed_hosts = hosts.v, .n_allowed_hosts = hosts.n,
        .allow_package_managers = json_is_true(json_object_get(networking,
                                                               "allow_package_managers")),
        .pm_hosts = pms.v, .n_pm_hosts = pms.n,
        .allow_mcp_servers = json_is_true(json_object_get(networking, "allow_mcp_servers")),
        .mcp_urls = mcps.v, .n_mcp_urls = mcps.n,
        .mirror = mirror[0] ? mirror : NULL,
        .hosts_file = hosts_file && *hosts_file ? hosts_file : NULL,
        .root = root};
    int r = ec_net_prepare(out, ec_store_home(c->st), id, &p, err);
    free(hosts.v);
    free(pms.v);
    free(mcps.v);
    free_owned(&owned);
    if (r < 0)
        ec_err_prefix(err, "session %s: cannot prepare its network", id);
    return r;
}

/* --- what the bundle gets --- */

static __thread struct {
    const char *dir;
    ec_session_net *sn;
} walk;

static int add_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    ec_session_net *sn = walk.sn;
    sn->binds = ec_xrealloc(sn->binds, (sn->nbinds + 1) * sizeof *sn->binds);
    sn->binds[sn->nbinds++] = (ec_bundle_bind){ec_xstrdup(path),
                                               ec_xstrdup(path + strlen(walk.dir)), true};
    return 0;
}

static int read_env(ec_session_net *sn, const char *file, ec_err *err)
{
    EC_AUTOFREE char *text = NULL;
    int r = ec_read_file(&text, NULL, file, 1 << 20, err);
    if (r < 0)
        return r;
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strchr(l, '=')) {
            sn->env = ec_xrealloc(sn->env, (n + 2) * sizeof *sn->env);
            sn->env[n++] = ec_xstrdup(l);
            sn->env[n] = NULL;
        }
    return EC_OK;
}

static int net_prepare(ec_session_net *sn, ec_cache *c, const char *id, const char *root,
                       const json_t *networking, const json_t *mcp_servers, ec_err *err)
{
    ec_net *n = NULL;
    memset(sn, 0, sizeof *sn);
    int r = policy_prepare(&n, c, id, root, networking, mcp_servers, err);
    if (r < 0)
        return r;
    sn->netns = ec_xstrdup(ec_net_netns_path(n));
    walk.dir = ec_net_root_dir(n);
    walk.sn = sn;
    if (nftw(walk.dir, add_file, 16, FTW_PHYS) != 0)
        r = ec_fail_sys(err, errno, "cannot list the session's network files in %s",
                        walk.dir);
    if (r == EC_OK)
        r = read_env(sn, ec_net_env_file(n), err);
    ec_net_free(n);
    if (r < 0) {
        ec_session__net_free(sn);
        ec_net_teardown(ec_store_home(c->st), id, NULL);
    }
    return r;
}

static int net_teardown(ec_cache *c, const char *id, ec_err *err)
{
    return ec_net_teardown(ec_store_home(c->st), id, err);
}

void ec_session_net_attach(ec_cache *c)
{
    c->net_prepare = net_prepare;
    c->net_teardown = net_teardown;
}
