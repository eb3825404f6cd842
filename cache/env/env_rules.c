/* SPDX-License-Identifier: MIT */
/* Environment body rules: field checks, defaults and the update merge, as API.md states them. */
#include "cache/env/env_rules_int.h"
#include "fetchers/manager.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cache/cache_int.h"
#include "fetchers/spec.h"

#define RULES_HOST_MAX 253
/* Code points of user text quoted in a message; the rest becomes "...". */
#define RULES_QUOTE_MAX 64
#define RULES_QUOTE_SIZE (4 * RULES_QUOTE_MAX + 8)

static const char *const rules_top_fields[] = {"name", "description", "config", "metadata", NULL};
static const char *const rules_config_fields[] = {"type", "networking", "packages", NULL};
static const char *const rules_networking_fields[] = {"type", "allowed_hosts", "allow_mcp_servers",
                                                      "allow_package_managers", NULL};

/* --- messages and strings --- */

__attribute__((format(printf, 3, 4))) static int rules_fail_detail(ec_err *err, const char *detail,
                                                                   const char *fmt, ...)
{
    bool first = err && err->code == EC_OK; /* the detail belongs to the first message only */
    va_list ap;
    va_start(ap, fmt);
    ec_failv(err, EC_EINVAL, fmt, ap);
    va_end(ap);
    if (first)
        ec_err_detail(err, detail);
    return EC_EINVAL;
}

static size_t rules_count_chars(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)p[i] & 0xc0) != 0x80; /* skip UTF-8 continuation bytes */
    return count;
}

/* Quotes user text for a message: at most RULES_QUOTE_MAX code points, with
 * '"', '\' and control characters escaped, so the message stays one line of
 * valid UTF-8. @buf holds RULES_QUOTE_SIZE bytes. */
static const char *rules_quote(char *buf, const char *s)
{
    size_t o = 0, chars = 0;
    for (; *s && o + 8 < RULES_QUOTE_SIZE; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xc0) != 0x80 && chars++ == RULES_QUOTE_MAX) {
            o += (size_t)snprintf(buf + o, RULES_QUOTE_SIZE - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, RULES_QUOTE_SIZE - o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, RULES_QUOTE_SIZE - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

/* A string field of @min to @max code points without NUL characters. */
static int rules_string(const json_t *v, const char *path, size_t min, size_t max, ec_err *err)
{
    if (!json_is_string(v))
        return ec_fail(err, EC_EINVAL, "%s: must be a string", path);
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (strlen(s) != bytes)
        return ec_fail(err, EC_EINVAL, "%s: must not contain NUL characters", path);
    size_t n = rules_count_chars(s, bytes);
    if (n < min || n > max) {
        if (min == 0)
            return ec_fail(err, EC_EINVAL, "%s: must be at most %zu characters (got %zu)", path,
                           max, n);
        return ec_fail(err, EC_EINVAL, "%s: must be %zu to %zu characters (got %zu)", path, min,
                       max, n);
    }
    return EC_OK;
}

/* The member @key of @obj, or NULL when it is absent or null (null = omitted). */
static const json_t *rules_given(const json_t *obj, const char *key)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

static bool rules_field_known(const char *key, const char *const *known)
{
    if (!known) /* config.packages: its type and one list per manager */
        return strcmp(key, "type") == 0 || ec_spec_manager_known(key);
    for (; *known; known++)
        if (strcmp(key, *known) == 0)
            return true;
    return false;
}

/* Refuses members of @obj not in @known; @path names @obj (NULL: the body). */
static int rules_known_fields(const json_t *obj, const char *path, const char *const *known,
                              ec_err *err)
{
    /* jansson's iterator takes a non-const object; it only reads it. */
    json_t *o = (json_t *)obj;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        if (rules_field_known(key, known))
            continue;
        char q[RULES_QUOTE_SIZE];
        if (!path)
            return ec_fail(err, EC_EINVAL, "unknown field \"%s\"", rules_quote(q, key));
        return ec_fail(err, EC_EINVAL, "%s: unknown field \"%s\"", path, rules_quote(q, key));
    }
    return EC_OK;
}

/* --- metadata --- */

static int rules_metadata_value(json_t *md, const char *key, const json_t *v, ec_err *err)
{
    char q[RULES_QUOTE_SIZE];
    if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
        json_object_del(md, key); /* API.md: null or "" deletes the key */
        return EC_OK;
    }
    if (!json_is_string(v))
        return rules_fail_detail(err, "invalid_metadata",
                                 "metadata: value of \"%s\" must be a string", rules_quote(q, key));
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (strlen(s) != bytes)
        return rules_fail_detail(err, "invalid_metadata",
                                 "metadata: value of \"%s\" must not contain NUL characters",
                                 rules_quote(q, key));
    if (rules_count_chars(s, bytes) > EC_ENV_METADATA_VALUE_MAX)
        return rules_fail_detail(err, "invalid_metadata",
                                 "metadata: value of \"%s\" is longer than %d characters",
                                 rules_quote(q, key), EC_ENV_METADATA_VALUE_MAX);
    json_object_set_new(md, key, json_stringn(s, bytes));
    return EC_OK;
}

/* Applies the metadata @patch to @md in place; the result must stay in limits. */
static int rules_metadata_apply(json_t *md, const json_t *patch, ec_err *err)
{
    if (!patch || json_is_null(patch))
        return EC_OK;
    if (!json_is_object(patch))
        return rules_fail_detail(err, "invalid_metadata",
                                 "metadata: must be an object of string values");
    json_t *o = (json_t *)patch; /* jansson's iterator only reads it */
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        char q[RULES_QUOTE_SIZE];
        if (!*key)
            return rules_fail_detail(err, "invalid_metadata", "metadata: keys must not be empty");
        if (rules_count_chars(key, strlen(key)) > EC_ENV_METADATA_KEY_MAX)
            return rules_fail_detail(err, "invalid_metadata",
                                     "metadata: key \"%s\" is longer than %d characters",
                                     rules_quote(q, key), EC_ENV_METADATA_KEY_MAX);
        int r = rules_metadata_value(md, key, json_object_iter_value(it), err);
        if (r < 0)
            return r;
    }
    if (json_object_size(md) > EC_ENV_METADATA_PAIRS_MAX)
        return rules_fail_detail(err, "invalid_metadata", "metadata: at most %d pairs (got %zu)",
                                 EC_ENV_METADATA_PAIRS_MAX, json_object_size(md));
    return EC_OK;
}

/* --- networking --- */

static const char *rules_label_problem(const char *s, size_t start, size_t end, size_t n)
{
    size_t len = end - start;
    if (len == 0)
        return "empty label (a leading, trailing or doubled '.')";
    if (len == 1 && s[start] == '*') {
        if (start != 0)
            return "'*' is only allowed as the whole first label (*.example.com)";
        return end == n ? "'*' must be followed by a domain (*.example.com)" : NULL;
    }
    if (len > 63)
        return "labels are at most 63 characters";
    for (size_t i = start; i < end; i++) {
        if (s[i] == '*')
            return "'*' is only allowed as the whole first label (*.example.com)";
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return "host names contain only letters, digits, '-' and '.'";
    }
    if (s[start] == '-' || s[end - 1] == '-')
        return "labels do not start or end with '-'";
    return NULL;
}

/* Checks one allowed_hosts entry and writes its stored form into @out: an
 * https:// prefix dropped, lowercase (host names are case-insensitive). */
static const char *rules_host_problem(const char *s, char out[RULES_HOST_MAX + 1])
{
    const char *sep = strstr(s, "://");
    if (sep) {
        if (sep - s != 5 || strncasecmp(s, "https", 5) != 0)
            return "only an https:// scheme may come before the host name";
        s = sep + 3;
    }
    size_t n = strcspn(s, "/:");
    if (s[n] == '/')
        return "a path is not allowed";
    if (s[n] == ':')
        return "a port is not allowed";
    if (n == 0)
        return "missing host name";
    if (n > RULES_HOST_MAX)
        return "host names are at most 253 characters";
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        const char *why = rules_label_problem(s, start, i, n);
        if (why)
            return why;
        start = i + 1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return NULL;
}

static int rules_hosts(json_t **out, const json_t *v, ec_err *err)
{
    if (!v) {
        *out = json_array();
        return EC_OK;
    }
    if (!json_is_array(v))
        return ec_fail(err, EC_EINVAL,
                       "config.networking.allowed_hosts: must be an array of strings");
    if (json_array_size(v) > EC_ENV_ALLOWED_HOSTS_MAX)
        return ec_fail(err, EC_EINVAL,
                       "config.networking.allowed_hosts: at most %d entries (got %zu)",
                       EC_ENV_ALLOWED_HOSTS_MAX, json_array_size(v));
    EC_AUTO(json_t) hosts = json_array();
    for (size_t i = 0; i < json_array_size(v); i++) {
        char path[64], host[RULES_HOST_MAX + 1], q[RULES_QUOTE_SIZE];
        const json_t *h = json_array_get(v, i);
        snprintf(path, sizeof path, "config.networking.allowed_hosts[%zu]", i);
        int r = rules_string(h, path, 0, SIZE_MAX, err);
        if (r < 0)
            return r;
        const char *why = json_string_length(h) ? rules_host_problem(json_string_value(h), host)
                                                : "an empty string is not a host name";
        if (why)
            return ec_fail(err, EC_EINVAL, "%s: \"%s\" is not an allowed host: %s", path,
                           rules_quote(q, json_string_value(h)), why);
        json_array_append_new(hosts, json_string(host));
    }
    *out = ec_steal(&hosts);
    return EC_OK;
}

static int rules_bool(bool *out, const json_t *v, const char *path, ec_err *err)
{
    if (v && !json_is_boolean(v))
        return ec_fail(err, EC_EINVAL, "%s: must be true or false", path);
    *out = json_is_true(v);
    return EC_OK;
}

static int rules_networking_limited(json_t **out, const json_t *v, ec_err *err)
{
    EC_AUTO(json_t) hosts = NULL;
    bool mcp = false, pm = false;
    int r = rules_hosts(&hosts, rules_given(v, "allowed_hosts"), err);
    if (r < 0 ||
        (r = rules_bool(&mcp, rules_given(v, "allow_mcp_servers"),
                        "config.networking.allow_mcp_servers", err)) < 0 ||
        (r = rules_bool(&pm, rules_given(v, "allow_package_managers"),
                        "config.networking.allow_package_managers", err)) < 0)
        return r;
    json_t *net = json_object();
    json_object_set_new(net, "type", json_string("limited"));
    json_object_set_new(net, "allowed_hosts", ec_steal(&hosts));
    json_object_set_new(net, "allow_mcp_servers", json_boolean(mcp));
    json_object_set_new(net, "allow_package_managers", json_boolean(pm));
    *out = net;
    return EC_OK;
}

static int rules_networking(json_t **out, const json_t *v, ec_err *err)
{
    if (!json_is_object(v))
        return ec_fail(err, EC_EINVAL, "config.networking: must be an object");
    int r = rules_known_fields(v, "config.networking", rules_networking_fields, err);
    if (r < 0)
        return r;
    const json_t *type = rules_given(v, "type");
    if (!type)
        return ec_fail(err, EC_EINVAL, "config.networking.type: is required");
    const char *t = json_string_value(type);
    if (t && strcmp(t, "limited") == 0)
        return rules_networking_limited(out, v, err);
    if (!t || strcmp(t, "unrestricted") != 0) {
        char q[RULES_QUOTE_SIZE];
        return ec_fail(err, EC_EINVAL,
                       "config.networking.type: must be \"unrestricted\" or \"limited\"%s%s%s",
                       t ? " (got \"" : "", t ? rules_quote(q, t) : "", t ? "\")" : "");
    }
    for (size_t i = 1; rules_networking_fields[i]; i++)
        if (rules_given(v, rules_networking_fields[i]))
            return ec_fail(err, EC_EINVAL,
                           "config.networking.%s: only allowed when type is \"limited\"",
                           rules_networking_fields[i]);
    *out = json_pack("{s:s}", "type", "unrestricted");
    return EC_OK;
}

/* --- packages --- */

/* A normalised packages object holding @base's lists (or empty ones). */
static json_t *rules_packages_from(const json_t *base)
{
    json_t *pkgs = json_object();
    json_object_set_new(pkgs, "type", json_string("packages"));
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        const json_t *list = base ? json_object_get(base, m[i]->name) : NULL;
        json_object_set_new(pkgs, m[i]->name,
                            json_is_array(list) ? json_deep_copy(list) : json_array());
    }
    return pkgs;
}

static int rules_package_entry(const json_t *v, const ec_manager *mgr, size_t i, ec_err *err)
{
    char path[48];
    snprintf(path, sizeof path, "config.packages.%s[%zu]", mgr->name, i);
    int r = rules_string(v, path, 0, EC_ENV_PACKAGE_TEXT_MAX, err);
    if (r < 0)
        return r;
    ec_err why = {0}; /* the checker's message goes after the path */
    if ((r = ec_manager_spec_check(mgr, json_string_value(v), &why)) < 0)
        return ec_fail(err, r, "%s: %s", path, why.msg);
    return EC_OK;
}

static int rules_package_list(json_t *pkgs, const json_t *v, const ec_manager *mgr,
                              ec_err *err)
{
    if (!json_is_array(v))
        return ec_fail(err, EC_EINVAL, "config.packages.%s: must be an array of strings",
                       mgr->name);
    if (json_array_size(v) > EC_ENV_PACKAGES_MAX)
        return ec_fail(err, EC_EINVAL, "config.packages.%s: at most %d entries (got %zu)",
                       mgr->name, EC_ENV_PACKAGES_MAX, json_array_size(v));
    for (size_t i = 0; i < json_array_size(v); i++) {
        int r = rules_package_entry(json_array_get(v, i), mgr, i, err);
        if (r < 0)
            return r;
    }
    json_object_set_new(pkgs, mgr->name, json_deep_copy(v)); /* replaces that list only */
    return EC_OK;
}

/* Applies the given lists of @v to @pkgs in place. */
static int rules_packages(json_t *pkgs, const json_t *v, ec_err *err)
{
    if (!v)
        return EC_OK;
    if (!json_is_object(v))
        return ec_fail(err, EC_EINVAL, "config.packages: must be an object");
    int r = rules_known_fields(v, "config.packages", NULL, err);
    if (r < 0)
        return r;
    const json_t *type = rules_given(v, "type");
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), "packages") != 0))
        return ec_fail(err, EC_EINVAL, "config.packages.type: must be \"packages\"");
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++) {
        const json_t *list = rules_given(v, m[i]->name);
        if (list && (r = rules_package_list(pkgs, list, m[i], err)) < 0)
            return r;
    }
    return EC_OK;
}

/* --- config --- */

/* config.type: "cloud" is the only type; on update it may not change. */
static int rules_config_type(const json_t *v, const json_t *base, ec_err *err)
{
    const char *cur = json_string_value(rules_given(base, "type"));
    if (!v)
        return EC_OK;
    const char *t = json_string_value(v);
    char qcur[RULES_QUOTE_SIZE], qt[RULES_QUOTE_SIZE];
    if (t && cur && strcmp(t, cur) != 0)
        return rules_fail_detail(err, "invalid_config_type_change",
                                 "config.type: cannot change from \"%s\" to \"%s\"",
                                 rules_quote(qcur, cur), rules_quote(qt, t));
    if (!t || strcmp(t, "cloud") != 0)
        return ec_fail(err, EC_EINVAL, "config.type: must be \"cloud\"%s%s%s",
                       t ? " (got \"" : "", t ? rules_quote(qt, t) : "", t ? "\")" : "");
    return EC_OK;
}

/* API.md: limited networking with packages but without package-manager access
 * would leave the packages impossible to install. */
static int rules_config_coherent(const json_t *net, const json_t *pkgs, ec_err *err)
{
    const char *type = json_string_value(json_object_get(net, "type"));
    if (!type || strcmp(type, "limited") != 0 ||
        json_is_true(json_object_get(net, "allow_package_managers")))
        return EC_OK;
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    for (size_t i = 0; i < n; i++)
        if (json_array_size(json_object_get(pkgs, m[i]->name)) > 0)
            return ec_fail(err, EC_EINVAL,
                           "config.networking.allow_package_managers: must be true when "
                           "networking is limited and packages are listed "
                           "(config.packages.%s), or the packages could not be installed",
                           m[i]->name);
    return EC_OK;
}

/* The normalised config from the given @v (may be NULL) over @base (NULL on create). */
static int rules_config(json_t **out, const json_t *v, const json_t *base, ec_err *err)
{
    int r;
    if (v && !json_is_object(v))
        return ec_fail(err, EC_EINVAL, "config: must be an object");
    if (v && (r = rules_known_fields(v, "config", rules_config_fields, err)) < 0)
        return r;
    if ((r = rules_config_type(rules_given(v, "type"), base, err)) < 0)
        return r;

    EC_AUTO(json_t) net = NULL;
    const json_t *nv = rules_given(v, "networking");
    const json_t *base_net = rules_given(base, "networking");
    if (nv && (r = rules_networking(&net, nv, err)) < 0)
        return r;
    if (!nv)
        net = json_is_object(base_net) ? json_deep_copy(base_net)
                                       : json_pack("{s:s}", "type", "unrestricted");

    EC_AUTO(json_t) pkgs = rules_packages_from(rules_given(base, "packages"));
    if ((r = rules_packages(pkgs, rules_given(v, "packages"), err)) < 0 ||
        (r = rules_config_coherent(net, pkgs, err)) < 0)
        return r;

    json_t *cfg = json_object();
    json_object_set_new(cfg, "type", json_string("cloud"));
    json_object_set_new(cfg, "networking", ec_steal(&net));
    json_object_set_new(cfg, "packages", ec_steal(&pkgs));
    *out = cfg;
    return EC_OK;
}

/* --- bodies --- */

/* A copy of @obj's string @key, or @def when it has none. */
static json_t *rules_copy_string(const json_t *obj, const char *key, const char *def)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_deep_copy(v) : json_string(def);
}

/* Validates @body's fields and merges them over @current (NULL on create). */
static int rules_build(json_t **out, const json_t *body, const json_t *current, ec_err *err)
{
    EC_AUTO(json_t) res = json_object();
    const json_t *name = rules_given(body, "name");
    const json_t *desc = rules_given(body, "description");
    int r;

    if (name && (r = rules_string(name, "name", 1, EC_ENV_NAME_MAX, err)) < 0)
        return r;
    json_object_set_new(res, "name",
                        name ? json_deep_copy(name) : rules_copy_string(current, "name", ""));
    if (desc && (r = rules_string(desc, "description", 0, EC_ENV_DESCRIPTION_MAX, err)) < 0)
        return r;
    json_object_set_new(res, "description",
                        desc ? json_deep_copy(desc)
                             : rules_copy_string(current, "description", ""));

    json_t *cfg = NULL;
    r = rules_config(&cfg, rules_given(body, "config"), rules_given(current, "config"), err);
    if (r < 0)
        return r;
    json_object_set_new(res, "config", cfg);

    const json_t *md = rules_given(current, "metadata");
    EC_AUTO(json_t) meta = json_is_object(md) ? json_deep_copy(md) : json_object();
    if ((r = rules_metadata_apply(meta, json_object_get(body, "metadata"), err)) < 0)
        return r;
    json_object_set_new(res, "metadata", ec_steal(&meta));
    *out = ec_steal(&res);
    return EC_OK;
}

int ec_env_rules_create(json_t **out, const json_t *body, ec_err *err)
{
    int r;
    assert(out);
    *out = NULL;
    if (!json_is_object(body))
        return ec_fail(err, EC_EINVAL, "the request body must be a JSON object");
    if ((r = rules_known_fields(body, NULL, rules_top_fields, err)) < 0)
        return r;
    if (!rules_given(body, "name"))
        return ec_fail(err, EC_EINVAL, "name: is required");
    return rules_build(out, body, NULL, err);
}

int ec_env_rules_update(json_t **out, const json_t *current, const json_t *patch, ec_err *err)
{
    int r;
    assert(out && json_is_object(current));
    *out = NULL;
    if (!json_is_object(patch))
        return ec_fail(err, EC_EINVAL, "the request body must be a JSON object");
    if ((r = rules_known_fields(patch, NULL, rules_top_fields, err)) < 0)
        return r;
    return rules_build(out, patch, current, err);
}
