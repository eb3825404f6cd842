/* SPDX-License-Identifier: MIT */
/* Where each manager's upstream is: envcache's own setting first, then the host's own
 * configuration of that manager. No upstream is written into envcache itself. */
#include "cache/cache_int.h"

#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* --- answers of the host's own tools, remembered per tool binary --- */

/* The binary @prog resolves to on PATH, with its change time: the memo's identity. */
static char *which(const char *prog, int64_t *ctime_out)
{
    const char *path = getenv("PATH");
    EC_AUTOFREE char *dirs = ec_xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        EC_AUTOFREE char *cand = ec_xasprintf("%s/%s", d, prog);
        char real[PATH_MAX];
        struct stat sb;
        if (realpath(cand, real) && stat(real, &sb) == 0 && S_ISREG(sb.st_mode)) {
            *ctime_out = (int64_t)sb.st_ctime;
            return ec_xstrdup(real);
        }
    }
    return NULL;
}

static char *run_line(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    char line[1024] = "";
    char *ok = fgets(line, sizeof line, f);
    pclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return ok && *line ? ec_xstrdup(line) : NULL;
}

/* Running a client costs a third of a second; its answer only changes with npm itself, so it
 * is kept in the store's meta table under the binary's path and change time. */
static char *tool_says(ec_cache *c, const char *prog, const char *cmd)
{
    int64_t ctime = 0;
    EC_AUTOFREE char *bin = which(prog, &ctime);
    if (!bin)
        return NULL;
    EC_AUTOFREE char *key = ec_xasprintf("tool/%s/%lld/%s", bin, (long long)ctime, cmd);
    EC_AUTO(ec_txn) txn = NULL;
    const void *v;
    size_t n;
    if (ec_txn_begin(&txn, c->st, EC_TXN_READ, NULL) == EC_OK &&
        ec_kv_get(txn, &ec_tbl_meta, key, strlen(key), &v, &n, NULL) == EC_OK)
        return ec_xasprintf("%.*s", (int)n, (const char *)v);
    ec_txn_abort(ec_steal(&txn));
    char *out = run_line(cmd);
    if (out && ec_txn_begin(&txn, c->st, 0, NULL) == EC_OK &&
        ec_kv_put(txn, &ec_tbl_meta, key, strlen(key), out, strlen(out), 0, NULL) == EC_OK)
        ec_txn_commit(ec_steal(&txn), NULL);
    return out;
}

static char *strip_slash(char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        url[--n] = '\0';
    return url;
}

/* The rule's order: envcache's variable and the client's, the client's own files, then
 * what the client reports as its default (which lives in the client: ask it). */
static char *upstream_found(ec_cache *c, const ec_upstream_rule *u)
{
    for (size_t i = 0; i < EC_ARRAY_LEN(u->env) && u->env[i]; i++)
        if (getenv(u->env[i]) && *getenv(u->env[i]))
            return ec_xstrdup(getenv(u->env[i]));
    char *r = u->from_client_config ? u->from_client_config() : NULL;
    if (!r && u->client && u->client_query) {
        r = tool_says(c, u->client, u->client_query);
        if (r && strncmp(r, "http", 4) != 0) { /* not a URL: an error or "undefined" */
            free(r);
            r = NULL;
        }
    }
    return r;
}

/* "set ENVCACHE_X_REGISTRY (or NATIVE_VAR), or configure <client> on this host" */
static int upstream_missing(ec_err *err, const ec_manager *m)
{
    const ec_upstream_rule *u = &m->upstream;
    char vars[256] = "";
    size_t o = 0;
    for (size_t i = 0; i < EC_ARRAY_LEN(u->env) && u->env[i] && o < sizeof vars; i++)
        o += (size_t)snprintf(vars + o, sizeof vars - o, "%s%s", i ? " or " : "", u->env[i]);
    if (!*vars)
        return ec_fail(err, EC_EUNSUPPORTED, "%s has no way to find its upstream yet",
                       m->name);
    return ec_fail(err, EC_ENOTFOUND, "no %s upstream is configured: set %s, or configure "
                   "%s on this host", m->name, vars, u->client ? u->client : m->name);
}

int ec_cache__upstream(char **out, ec_cache *c, const ec_manager *m, ec_err *err)
{
    if (m->upstream.self_configured) { /* the fetcher reads its own sources */
        *out = ec_xstrdup(m->upstream.self_configured);
        return EC_OK;
    }
    char *url = upstream_found(c, &m->upstream);
    if (!url)
        return upstream_missing(err, m);
    *out = strip_slash(url);
    return EC_OK;
}

json_t *ec_cache__fetch_config(ec_cache *c, const ec_manager *m)
{
    json_t *j = json_object();
    for (const ec_host_fact *f = m->facts; f && f->key; f++) {
        const char *env = f->env ? getenv(f->env) : NULL;
        char *v = env && *env ? ec_xstrdup(env) : tool_says(c, f->program, f->query);
        if (v)
            json_object_set_new(j, f->key, json_string(v));
        free(v);
    }
    return j;
}

int ec_cache__fetch_ctx(ec_fetch_ctx *ctx, ec_cache *c, const ec_manager *mgr, ec_err *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = c->st;
    ctx->platform = "linux/amd64";
    int r = ec_cache__http(&ctx->http, c, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->mu);
    if (!c->fetch_memo)
        c->fetch_memo = json_object();
    json_t *m = json_object_get(c->fetch_memo, mgr->name);
    pthread_mutex_unlock(&c->mu);
    if (!m) { /* found outside the lock: it may run a program; a race finds the same */
        char *up = NULL;
        if ((r = ec_cache__upstream(&up, c, mgr, err)) < 0)
            return r;
        json_t *fresh = json_pack("{s:s, s:o}", "upstream", up, "config",
                                  ec_cache__fetch_config(c, mgr));
        free(up);
        pthread_mutex_lock(&c->mu);
        if (!json_object_get(c->fetch_memo, mgr->name))
            json_object_set(c->fetch_memo, mgr->name, fresh);
        m = json_object_get(c->fetch_memo, mgr->name);
        pthread_mutex_unlock(&c->mu);
        json_decref(fresh);
    }
    ctx->upstream = json_string_value(json_object_get(m, "upstream"));
    ctx->config = json_object_get(m, "config");
    return EC_OK;
}

int ec_cache__http(ec_http **out, ec_cache *c, ec_err *err)
{
    int r = EC_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->http)
        r = ec_http_new(&c->http, NULL, err);
    c->http_free = ec_http_free;
    *out = c->http;
    pthread_mutex_unlock(&c->mu);
    return r;
}
