/* SPDX-License-Identifier: MIT */
/* Registry authentication as registries do it: credentials from the environment or the
 * usual auth files, and the answer to a WWW-Authenticate challenge (basic, or a bearer
 * token from the challenge's realm). */
#include "cache/oci/oci_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

static char *b64_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = ec_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4)
        return NULL;
    char *out = ec_xmalloc(n / 4 * 3 + 1);
    int got = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    got -= (s[n - 1] == '=') + (s[n - 2] == '=');
    out[got] = '\0';
    return out;
}

/* "user:password" under auths[host] (or "https://host") of one auth file. */
static bool creds_from_file(ec_reg *g, const char *path)
{
    EC_AUTO(json_t) j = json_load_file(path, 0, NULL);
    json_t *auths = json_object_get(j, "auths");
    if (!auths)
        return false;
    const char *key;
    json_t *v;
    json_object_foreach(auths, key, v) {
        const char *k = key;
        if (strncmp(k, "https://", 8) == 0)
            k += 8;
        else if (strncmp(k, "http://", 7) == 0)
            k += 7;
        size_t hn = strlen(g->host);
        if (strncmp(k, g->host, hn) != 0 || (k[hn] && k[hn] != '/'))
            continue;
        const char *a = json_string_value(json_object_get(v, "auth"));
        EC_AUTOFREE char *plain = a ? b64_decode(a) : NULL;
        char *colon = plain ? strchr(plain, ':') : NULL;
        if (!colon)
            continue;
        *colon = '\0';
        g->user = ec_xstrdup(plain);
        g->pass = ec_xstrdup(colon + 1);
        ec_debug("oci: credentials for %s from %s", g->host, path);
        return true;
    }
    return false;
}

int ec_reg__creds(ec_reg *g, ec_err *err)
{
    (void)err;
    const char *u = getenv("ENVCACHE_REGISTRY_USER"), *p = getenv("ENVCACHE_REGISTRY_PASSWORD");
    if (u && *u) {
        g->user = ec_xstrdup(u);
        g->pass = ec_xstrdup(p ? p : "");
        return EC_OK;
    }
    const char *home = getenv("HOME"), *xrt = getenv("XDG_RUNTIME_DIR");
    const char *xcfg = getenv("XDG_CONFIG_HOME"), *dcfg = getenv("DOCKER_CONFIG");
    const char *raf = getenv("REGISTRY_AUTH_FILE");
    EC_AUTOFREE char *f1 = raf && *raf ? ec_xstrdup(raf) : NULL;
    EC_AUTOFREE char *f2 = xrt && *xrt ? ec_xasprintf("%s/containers/auth.json", xrt) : NULL;
    EC_AUTOFREE char *f3 = xcfg && *xcfg ? ec_xasprintf("%s/containers/auth.json", xcfg)
                           : home     ? ec_xasprintf("%s/.config/containers/auth.json", home)
                                      : NULL;
    EC_AUTOFREE char *f4 = dcfg && *dcfg ? ec_xasprintf("%s/config.json", dcfg)
                           : home      ? ec_xasprintf("%s/.docker/config.json", home)
                                       : NULL;
    const char *files[] = {f1, f2, f3, f4};
    for (size_t i = 0; i < 4; i++)
        if (files[i] && creds_from_file(g, files[i]))
            break;
    return EC_OK;
}

char *ec_reg__challenge_param(const char *ch, const char *key)
{
    size_t kn = strlen(key);
    for (const char *p = ch; (p = strstr(p, key)); p += kn) {
        if (p != ch && p[-1] != ' ' && p[-1] != ',')
            continue;
        if (p[kn] != '=')
            continue;
        const char *v = p + kn + 1;
        if (*v == '"') {
            const char *e = strchr(v + 1, '"');
            return e ? ec_xstrndup(v + 1, (size_t)(e - v - 1)) : NULL;
        }
        return ec_xstrndup(v, strcspn(v, ", "));
    }
    return NULL;
}

static size_t to_buf(char *p, size_t size, size_t n, void *ud)
{
    return ec_buf_add(ud, p, size * n, NULL) == EC_OK ? size * n : 0;
}

/* GET realm?service=…&scope=…, with basic credentials when there are some. */
static int fetch_token(ec_reg *g, const char *challenge, const char *scope, ec_err *err)
{
    EC_AUTOFREE char *realm = ec_reg__challenge_param(challenge, "realm");
    EC_AUTOFREE char *service = ec_reg__challenge_param(challenge, "service");
    EC_AUTOFREE char *chscope = ec_reg__challenge_param(challenge, "scope");
    if (!realm)
        return ec_fail(err, EC_ENETWORK, "registry %s: its bearer challenge names no realm",
                       g->host);
    CURL *h = curl_easy_init();
    if (!h)
        return ec_fail(err, EC_ENOMEM, "cannot make a curl handle");
    ec_buf url = EC_BUF_INIT, body = EC_BUF_INIT;
    ec_buf_addf(&url, NULL, "%s%c", realm, strchr(realm, '?') ? '&' : '?');
    if (service) {
        char *e = curl_easy_escape(h, service, 0);
        ec_buf_addf(&url, NULL, "service=%s", e);
        curl_free(e);
    }
    /* The scope the challenge asked for, and ours (a mount also pulls from its source). */
    const char *scopes[] = {chscope, scope && (!chscope || strcmp(scope, chscope)) ? scope : NULL};
    for (size_t i = 0; i < 2; i++)
        if (scopes[i]) {
            char *e = curl_easy_escape(h, scopes[i], 0);
            ec_buf_addf(&url, NULL, "&scope=%s", e);
            curl_free(e);
        }
    curl_easy_setopt(h, CURLOPT_URL, url.p);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (g->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, g->ca_file);
    if (g->user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, g->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, g->pass);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    g->stats.requests++;
    int r = EC_OK;
    if (cc != CURLE_OK)
        r = ec_fail(err, EC_ENETWORK, "registry %s: its token service %s: %s", g->host, realm,
                    curl_easy_strerror(cc));
    else if (status != 200)
        r = ec_fail(err, EC_ENETWORK, "registry %s: its token service %s answered HTTP %ld%s",
                    g->host, realm, status,
                    g->user ? " (check the credentials)" : " (no credentials were found: set "
                    "ENVCACHE_REGISTRY_USER and ENVCACHE_REGISTRY_PASSWORD, or log in with "
                    "podman, skopeo or docker)");
    EC_AUTO(json_t) j = r == EC_OK ? json_loadb(body.p ? body.p : "", body.n, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (!tok)
        tok = json_string_value(json_object_get(j, "access_token"));
    if (r == EC_OK && !tok)
        r = ec_fail(err, EC_ENETWORK, "registry %s: its token service %s gave no token",
                    g->host, realm);
    if (r == EC_OK) {
        free(g->bearer);
        free(g->bearer_scope);
        g->bearer = ec_xasprintf("Bearer %s", tok);
        g->bearer_scope = scope ? ec_xstrdup(scope) : NULL;
    }
    ec_buf_fini(&url);
    ec_buf_fini(&body);
    return r;
}

int ec_reg__answer(ec_reg *g, const char *challenge, const char *scope, ec_err *err)
{
    if (!challenge || !*challenge)
        return ec_fail(err, EC_ENETWORK, "registry %s refused the request (HTTP 401) without "
                       "saying how to authenticate", g->host);
    if (strncasecmp(challenge, "Bearer", 6) == 0)
        return fetch_token(g, challenge + 6, scope, err);
    if (strncasecmp(challenge, "Basic", 5) == 0) {
        if (!g->user)
            return ec_fail(err, EC_ENETWORK, "registry %s asks for credentials and none were "
                           "found: set ENVCACHE_REGISTRY_USER and ENVCACHE_REGISTRY_PASSWORD, "
                           "or log in with podman, skopeo or docker", g->host);
        if (g->basic)
            return ec_fail(err, EC_ENETWORK, "registry %s refused the credentials of user "
                           "\"%s\"", g->host, g->user);
        EC_AUTOFREE char *up = ec_xasprintf("%s:%s", g->user, g->pass);
        EC_AUTOFREE char *b = b64_encode(up);
        g->basic = ec_xasprintf("Basic %s", b);
        return EC_OK;
    }
    return ec_fail(err, EC_EUNSUPPORTED, "registry %s asks for an authentication scheme "
                   "envcache does not speak: %s", g->host, challenge);
}
