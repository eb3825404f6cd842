/* SPDX-License-Identifier: MIT */
/* Where each manager's upstream is: envcache's own setting first, then the host's own
 * configuration of that manager. No upstream is written into envcache itself. */
#include "cache/cache_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* "registry=URL" in an npmrc file (later lines win, as npm reads them). */
static char *npmrc_registry(const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len;
    if (!path || ec_read_file(&text, &len, path, 1 << 20, NULL) < 0)
        return NULL;
    char *found = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (strncmp(line, "registry", 8) != 0)
            continue;
        char *p = line + 8;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, " \t\r");
        free(found);
        found = ec_xasprintf("%.*s", (int)n, p);
    }
    return found;
}


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

/* Running npm costs a third of a second; its answer only changes with npm itself, so it
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
        ec_kv_get(txn, EC_TBL_META, key, strlen(key), &v, &n, NULL) == EC_OK)
        return ec_xasprintf("%.*s", (int)n, (const char *)v);
    ec_txn_abort(ec_steal(&txn));
    char *out = run_line(cmd);
    if (out && ec_txn_begin(&txn, c->st, 0, NULL) == EC_OK &&
        ec_kv_put(txn, EC_TBL_META, key, strlen(key), out, strlen(out), 0, NULL) == EC_OK)
        ec_txn_commit(ec_steal(&txn), NULL);
    return out;
}

static char *npm_registry(ec_cache *c)
{
    const char *env[] = {"ENVCACHE_NPM_REGISTRY", "npm_config_registry",
                         "NPM_CONFIG_REGISTRY"};
    for (size_t i = 0; i < EC_ARRAY_LEN(env); i++)
        if (getenv(env[i]) && *getenv(env[i]))
            return ec_xstrdup(getenv(env[i]));
    EC_AUTOFREE char *user = getenv("HOME") ? ec_xasprintf("%s/.npmrc", getenv("HOME")) : NULL;
    char *r = npmrc_registry(getenv("npm_config_userconfig"));
    if (!r)
        r = npmrc_registry(user);
    if (!r)
        r = npmrc_registry("/etc/npmrc");
    if (!r)
        r = npmrc_registry("/usr/etc/npmrc");
    if (!r) { /* npm's built-in default lives in npm: ask it */
        r = tool_says(c, "npm", "npm config get registry 2>/dev/null");
        if (r && strncmp(r, "http", 4) != 0) {
            free(r);
            r = NULL;
        }
    }
    return r;
}

static char *strip_slash(char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        url[--n] = '\0';
    return url;
}

int ec_cache__upstream(char **out, ec_cache *c, const char *manager, ec_err *err)
{
    char *url = NULL;
    if (strcmp(manager, "npm") == 0)
        url = npm_registry(c);
    else if (strcmp(manager, "apt") == 0) /* apt reads its sources itself (config, base, host) */
        url = ec_xstrdup("apt-sources");
    if (!url)
        return ec_fail(err, EC_ENOTFOUND,
                       "no %s upstream is configured: set ENVCACHE_%s_REGISTRY, or configure "
                       "%s on this host", manager, strcmp(manager, "npm") == 0 ? "NPM" : "APT",
                       manager);
    *out = strip_slash(url);
    return EC_OK;
}

json_t *ec_cache__fetch_config(ec_cache *c, const char *manager)
{
    json_t *j = json_object();
    if (strcmp(manager, "npm") == 0) {
        /* npm checks engines against the node that runs it; the host's node runs these */
        const char *env = getenv("ENVCACHE_NODE_VERSION");
        char *v = env && *env ? ec_xstrdup(env) : tool_says(c, "node", "node --version");
        if (v && v[0] == 'v')
            memmove(v, v + 1, strlen(v));
        if (v)
            json_object_set_new(j, "node_version", json_string(v));
        free(v);
    }
    return j;
}

int ec_cache__fetch_ctx(ec_fetch_ctx *ctx, ec_cache *c, const char *manager, ec_err *err)
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
    json_t *m = json_object_get(c->fetch_memo, manager);
    pthread_mutex_unlock(&c->mu);
    if (!m) { /* found outside the lock: it may run a program; a race finds the same */
        char *up = NULL;
        if ((r = ec_cache__upstream(&up, c, manager, err)) < 0)
            return r;
        json_t *fresh = json_pack("{s:s, s:o}", "upstream", up, "config",
                                  ec_cache__fetch_config(c, manager));
        free(up);
        pthread_mutex_lock(&c->mu);
        if (!json_object_get(c->fetch_memo, manager))
            json_object_set(c->fetch_memo, manager, fresh);
        m = json_object_get(c->fetch_memo, manager);
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
