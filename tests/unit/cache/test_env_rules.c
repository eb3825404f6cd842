/* SPDX-License-Identifier: MIT */
/* Tests of the environment body rules: one test per API.md rule, good and bad cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/env/env_rules_int.h"

/* --- helpers --- */

static json_t *rt_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad JSON in the test: %s: %s", e.text, text);
    return v;
}

static void rt_assert_json(const json_t *got, const char *want_text)
{
    json_t *want = rt_json(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
    json_decref(want);
}

static json_t *rt_create_ok(const char *body_text)
{
    json_t *body = rt_json(body_text), *out = NULL;
    ec_err err = {0};
    int r = ec_env_rules_create(&out, body, &err);
    if (r != EC_OK)
        fail_msg("create rejected %s: %s", body_text, err.msg);
    json_decref(body);
    return out;
}

/* Asserts EC_EINVAL, a message containing @want and the detail @detail ("" for none). */
static void rt_check_err(int r, const ec_err *err, const char *input, const char *want,
                         const char *detail)
{
    if (r != EC_EINVAL)
        fail_msg("%s: got %d (%s), expected EC_EINVAL", input, r, err->msg);
    if (!strstr(err->msg, want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", input, err->msg, want);
    assert_string_equal(err->detail, detail);
}

static void rt_create_rejects(const char *body_text, const char *want, const char *detail)
{
    json_t *body = rt_json(body_text), *out = NULL;
    ec_err err = {0};
    int r = ec_env_rules_create(&out, body, &err);
    rt_check_err(r, &err, body_text, want, detail);
    assert_null(out);
    json_decref(body);
}

/* Creates from @create_text, then updates with @patch_text; the stored fields
 * the update starts from sit inside an environment object, as cache/env.c passes them. */
static int rt_update(json_t **out, const char *create_text, const char *patch_text, ec_err *err)
{
    json_t *fields = rt_create_ok(create_text);
    json_t *current = json_pack("{s:s, s:s, s:n}", "id", "env_011CZkZ9X2dpNyB7HsEFoRfW", "type",
                                "environment", "archived_at");
    json_object_update(current, fields);
    json_t *before = json_deep_copy(current);
    json_t *patch = rt_json(patch_text);
    int r = ec_env_rules_update(out, current, patch, err);
    assert_true(json_equal(current, before)); /* inputs are only read */
    json_decref(patch);
    json_decref(before);
    json_decref(current);
    json_decref(fields);
    return r;
}

static json_t *rt_update_ok(const char *create_text, const char *patch_text)
{
    json_t *out = NULL;
    ec_err err = {0};
    if (rt_update(&out, create_text, patch_text, &err) != EC_OK)
        fail_msg("update rejected %s: %s", patch_text, err.msg);
    return out;
}

static void rt_update_rejects(const char *create_text, const char *patch_text, const char *want,
                              const char *detail)
{
    json_t *out = NULL;
    ec_err err = {0};
    int r = rt_update(&out, create_text, patch_text, &err);
    rt_check_err(r, &err, patch_text, want, detail);
    assert_null(out);
}

/* A JSON string literal of @n copies of @unit (which is JSON-safe). */
static char *rt_repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 3);
    assert_non_null(s);
    s[0] = '"';
    for (size_t i = 0; i < n; i++)
        memcpy(s + 1 + i * u, unit, u);
    memcpy(s + 1 + u * n, "\"", 2);
    return s;
}

#define EMPTY_PACKAGES                                                                             \
    "{\"type\":\"packages\",\"apt\":[],\"cargo\":[],\"gem\":[],\"go\":[],\"npm\":[],\"pip\":[]}"
#define UNRESTRICTED "{\"type\":\"unrestricted\"}"

/* --- create: top level --- */

static void env_rules__create_fills_defaults(void **state)
{
    (void)state;
    json_t *out = rt_create_ok("{\"name\":\"x\"}");
    rt_assert_json(out, "{\"name\":\"x\",\"description\":\"\",\"config\":{\"type\":\"cloud\","
                        "\"networking\":" UNRESTRICTED ",\"packages\":" EMPTY_PACKAGES "},"
                        "\"metadata\":{}}");
    json_decref(out);
}

static void env_rules__create_api_example(void **state)
{
    (void)state;
    json_t *out = rt_create_ok(
        "{\"name\":\"python-data-analysis\",\"config\":{\"type\":\"cloud\",\"networking\":"
        "{\"type\":\"limited\",\"allowed_hosts\":[\"api.example.com\"],\"allow_package_managers\":"
        "true},\"packages\":{\"pip\":[\"pandas==2.2.0\"]}}}");
    rt_assert_json(
        out, "{\"name\":\"python-data-analysis\",\"description\":\"\",\"config\":{\"type\":"
             "\"cloud\",\"networking\":{\"type\":\"limited\",\"allowed_hosts\":[\"api.example."
             "com\"],\"allow_mcp_servers\":false,\"allow_package_managers\":true},\"packages\":"
             "{\"type\":\"packages\",\"apt\":[],\"cargo\":[],\"gem\":[],\"go\":[],\"npm\":[],"
             "\"pip\":[\"pandas==2.2.0\"]}},\"metadata\":{}}");
    json_decref(out);
}

static void env_rules__create_body_must_be_object(void **state)
{
    json_t *out = NULL;
    ec_err err = {0};
    (void)state;
    rt_create_rejects("[]", "must be a JSON object", "");
    rt_create_rejects("\"x\"", "must be a JSON object", "");
    assert_int_equal(ec_env_rules_create(&out, NULL, &err), EC_EINVAL);
    assert_int_equal(ec_env_rules_create(&out, NULL, NULL), EC_EINVAL);
}

static void env_rules__create_unknown_top_field(void **state)
{
    (void)state;
    rt_create_rejects("{\"name\":\"x\",\"colour\":1}", "unknown field \"colour\"", "");
    rt_create_rejects("{\"name\":\"x\",\"id\":\"env_1\"}", "unknown field \"id\"", "");
    rt_create_rejects("{\"name\":\"x\",\"a\\\"b\":1}", "unknown field \"a\\\"b\"", "");
}

static void env_rules__create_name_rules(void **state)
{
    (void)state;
    rt_create_rejects("{}", "name: is required", "");
    rt_create_rejects("{\"name\":null}", "name: is required", "");
    rt_create_rejects("{\"name\":5}", "name: must be a string", "");
    rt_create_rejects("{\"name\":\"\"}", "name: must be 1 to 256 characters (got 0)", "");
    rt_create_rejects("{\"name\":\"a\\u0000b\"}", "name: must not contain NUL", "");

    char *n256 = rt_repeat("a", 256), *n257 = rt_repeat("a", 257);
    char *u256 = rt_repeat("\xc3\xa9", 256), *u257 = rt_repeat("\xf0\x9f\x98\x80", 257);
    char body[2048];
    snprintf(body, sizeof body, "{\"name\":%s}", n256);
    json_decref(rt_create_ok(body));
    snprintf(body, sizeof body, "{\"name\":%s}", u256); /* 512 bytes, 256 characters */
    json_decref(rt_create_ok(body));
    snprintf(body, sizeof body, "{\"name\":%s}", n257);
    rt_create_rejects(body, "name: must be 1 to 256 characters (got 257)", "");
    snprintf(body, sizeof body, "{\"name\":%s}", u257);
    rt_create_rejects(body, "(got 257)", "");
    free(n256), free(n257), free(u256), free(u257);
}

static void env_rules__create_description_rules(void **state)
{
    (void)state;
    json_t *out = rt_create_ok("{\"name\":\"x\",\"description\":\"hello\"}");
    assert_string_equal(json_string_value(json_object_get(out, "description")), "hello");
    json_decref(out);
    out = rt_create_ok("{\"name\":\"x\",\"description\":null}");
    assert_string_equal(json_string_value(json_object_get(out, "description")), "");
    json_decref(out);
    rt_create_rejects("{\"name\":\"x\",\"description\":[]}", "description: must be a string", "");

    char *d1024 = rt_repeat("\xe2\x82\xac", 1024), *d1025 = rt_repeat("d", 1025);
    char body[4096];
    snprintf(body, sizeof body, "{\"name\":\"x\",\"description\":%s}", d1024);
    json_decref(rt_create_ok(body));
    snprintf(body, sizeof body, "{\"name\":\"x\",\"description\":%s}", d1025);
    rt_create_rejects(body, "description: must be at most 1024 characters (got 1025)", "");
    free(d1024), free(d1025);
}

/* --- create: metadata --- */

static void env_rules__create_metadata_limits(void **state)
{
    char body[4096];
    size_t o;
    (void)state;

    o = (size_t)snprintf(body, sizeof body, "{\"name\":\"x\",\"metadata\":{");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(body + o, sizeof body - o, "}}");
    json_t *out = rt_create_ok(body);
    assert_int_equal(json_object_size(json_object_get(out, "metadata")), 16);
    json_decref(out);
    snprintf(body + o, sizeof body - o, ",\"k16\":\"v\"}}");
    rt_create_rejects(body, "metadata: at most 16 pairs (got 17)", "invalid_metadata");

    char *k64 = rt_repeat("k", 64), *k65 = rt_repeat("\xc3\xa9", 65);
    char *v512 = rt_repeat("v", 512), *v513 = rt_repeat("v", 513);
    snprintf(body, sizeof body, "{\"name\":\"x\",\"metadata\":{%s:%s}}", k64, v512);
    json_decref(rt_create_ok(body));
    snprintf(body, sizeof body, "{\"name\":\"x\",\"metadata\":{%s:\"v\"}}", k65);
    rt_create_rejects(body, "is longer than 64 characters", "invalid_metadata");
    snprintf(body, sizeof body, "{\"name\":\"x\",\"metadata\":{\"k\":%s}}", v513);
    rt_create_rejects(body, "metadata: value of \"k\" is longer than 512 characters",
                      "invalid_metadata");
    free(k64), free(k65), free(v512), free(v513);
}

static void env_rules__create_metadata_values_are_strings(void **state)
{
    (void)state;
    rt_create_rejects("{\"name\":\"x\",\"metadata\":{\"k\":1}}",
                      "metadata: value of \"k\" must be a string", "invalid_metadata");
    rt_create_rejects("{\"name\":\"x\",\"metadata\":{\"k\":{}}}", "must be a string",
                      "invalid_metadata");
    rt_create_rejects("{\"name\":\"x\",\"metadata\":[]}", "metadata: must be an object",
                      "invalid_metadata");
    rt_create_rejects("{\"name\":\"x\",\"metadata\":{\"\":\"v\"}}", "keys must not be empty",
                      "invalid_metadata");
    /* (ours) null and "" mean "no value", as in an update */
    json_t *out = rt_create_ok("{\"name\":\"x\",\"metadata\":{\"a\":null,\"b\":\"\",\"c\":\"1\"}}");
    rt_assert_json(json_object_get(out, "metadata"), "{\"c\":\"1\"}");
    json_decref(out);
}

/* --- create: config --- */

static void env_rules__create_config_type(void **state)
{
    (void)state;
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":{\"type\":\"cloud\"}}"));
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":{}}"));
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":null}"));
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"type\":\"docker\"}}",
                      "config.type: must be \"cloud\" (got \"docker\")", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"type\":5}}", "config.type: must be \"cloud\"",
                      "");
    rt_create_rejects("{\"name\":\"x\",\"config\":[]}", "config: must be an object", "");
}

static void env_rules__create_unknown_nested_fields(void **state)
{
    (void)state;
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"gpu\":true}}", "config: unknown field \"gpu\"",
                      "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"proxy\":\"x\"}}}",
                      "config.networking: unknown field \"proxy\"", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"brew\":[\"wget\"]}}}",
                      "config.packages: unknown field \"brew\"", "");
}

static void env_rules__create_networking(void **state)
{
    (void)state;
    json_t *out =
        rt_create_ok("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\"}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "networking"),
                   "{\"type\":\"limited\",\"allowed_hosts\":[],\"allow_mcp_servers\":false,"
                   "\"allow_package_managers\":false}");
    json_decref(out);
    out = rt_create_ok("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                       "\"allow_mcp_servers\":true,\"allowed_hosts\":null}}}");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(out, "config"), "networking"), "allow_mcp_servers")));
    json_decref(out);
    out = rt_create_ok("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"unrestricted\"}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "networking"), UNRESTRICTED);
    json_decref(out);

    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{}}}",
                      "config.networking.type: is required", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"open\"}}}",
                      "config.networking.type: must be \"unrestricted\" or \"limited\" "
                      "(got \"open\")",
                      "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":\"limited\"}}",
                      "config.networking: must be an object", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"unrestricted\","
                      "\"allowed_hosts\":[\"a.com\"]}}}",
                      "config.networking.allowed_hosts: only allowed when type is \"limited\"", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"allow_mcp_servers\":\"yes\"}}}",
                      "config.networking.allow_mcp_servers: must be true or false", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"allow_package_managers\":1}}}",
                      "config.networking.allow_package_managers: must be true or false", "");
}

static json_t *rt_hosts_ok(const char *hosts)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
             "\"allowed_hosts\":%s}}}",
             hosts);
    json_t *out = rt_create_ok(body);
    json_t *list = json_deep_copy(json_object_get(
        json_object_get(json_object_get(out, "config"), "networking"), "allowed_hosts"));
    json_decref(out);
    return list;
}

static void rt_host_rejects(const char *host_json, const char *want)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
             "\"allowed_hosts\":[\"ok.example.com\",%s]}}}",
             host_json);
    rt_create_rejects(body, want, "");
}

static void env_rules__create_allowed_hosts(void **state)
{
    (void)state;
    json_t *list = rt_hosts_ok("[\"api.example.com\",\"*.example.com\",\"https://Api.Example.COM\","
                               "\"HTTPS://x.io\",\"localhost\",\"10.0.0.1\",\"a-b.c\"]");
    rt_assert_json(list, "[\"api.example.com\",\"*.example.com\",\"api.example.com\",\"x.io\","
                         "\"localhost\",\"10.0.0.1\",\"a-b.c\"]");
    json_decref(list);

    rt_host_rejects("\"http://x.com\"", "allowed_hosts[1]: \"http://x.com\" is not an allowed "
                                        "host: only an https:// scheme");
    rt_host_rejects("\"ftp://x.com\"", "only an https:// scheme");
    rt_host_rejects("\"x.com:443\"", "a port is not allowed");
    rt_host_rejects("\"https://x.com:8443\"", "a port is not allowed");
    rt_host_rejects("\"https://x.com/path\"", "a path is not allowed");
    rt_host_rejects("\"https://x.com/\"", "a path is not allowed");
    rt_host_rejects("\"x_y.com\"", "only letters, digits");
    rt_host_rejects("\"user@x.com\"", "only letters, digits");
    rt_host_rejects("\"x.com?q=1\"", "only letters, digits");
    rt_host_rejects("\"caf\\u00e9.com\"", "only letters, digits");
    rt_host_rejects("\"\"", "an empty string is not a host name");
    rt_host_rejects("\"https://\"", "missing host name");
    rt_host_rejects("\"*\"", "'*' must be followed by a domain");
    rt_host_rejects("\"a.*.com\"", "'*' is only allowed as the whole first label");
    rt_host_rejects("\"*x.com\"", "'*' is only allowed as the whole first label");
    rt_host_rejects("\"-a.com\"", "labels do not start or end with '-'");
    rt_host_rejects("\"a..com\"", "empty label");
    rt_host_rejects("\"a.com.\"", "empty label");
    rt_host_rejects("\"a b.com\"", "only letters, digits");
    rt_host_rejects("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\"",
                    "at most 63 characters");
    rt_host_rejects("5", "allowed_hosts[1]: must be a string");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"allowed_hosts\":\"a.com\"}}}",
                      "config.networking.allowed_hosts: must be an array", "");
}

static void env_rules__create_allowed_hosts_at_most_64(void **state)
{
    char hosts[2048];
    size_t o = 0;
    (void)state;
    hosts[o++] = '[';
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(hosts + o, sizeof hosts - o, "%s\"h%d.com\"", i ? "," : "", i);
    snprintf(hosts + o, sizeof hosts - o, "]");
    json_t *list = rt_hosts_ok(hosts);
    assert_int_equal(json_array_size(list), 64);
    json_decref(list);
    snprintf(hosts + o, sizeof hosts - o, ",\"h64.com\"]");
    char body[4096];
    snprintf(body, sizeof body,
             "{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
             "\"allowed_hosts\":%s}}}",
             hosts);
    rt_create_rejects(body, "config.networking.allowed_hosts: at most 64 entries (got 65)", "");
}

/* --- create: packages --- */

static void env_rules__create_packages_every_manager(void **state)
{
    (void)state;
    /* Every example of API.md's package table. */
    json_t *out = rt_create_ok(
        "{\"name\":\"x\",\"config\":{\"packages\":{\"type\":\"packages\","
        "\"apt\":[\"ffmpeg\",\"jq=1.6-2.1\"],\"cargo\":[\"ripgrep@14.0.0\"],"
        "\"gem\":[\"rails:7.1.0\"],\"go\":[\"golang.org/x/tools/cmd/goimports@latest\"],"
        "\"npm\":[\"express@4.18.0\"],\"pip\":[\"pandas==2.2.0\",\"numpy>=1.26,<2\"]}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "packages"),
                   "{\"type\":\"packages\",\"apt\":[\"ffmpeg\",\"jq=1.6-2.1\"],\"cargo\":"
                   "[\"ripgrep@14.0.0\"],\"gem\":[\"rails:7.1.0\"],\"go\":[\"golang.org/x/tools/"
                   "cmd/goimports@latest\"],\"npm\":[\"express@4.18.0\"],\"pip\":[\"pandas=="
                   "2.2.0\",\"numpy>=1.26,<2\"]}");
    json_decref(out);
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":{\"packages\":{\"npm\":null}}}"));
}

static void env_rules__create_packages_bad_spec_names_index(void **state)
{
    (void)state;
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"pip\":[\"numpy\",\"scipy\","
                      "\"pandas===\"]}}}",
                      "config.packages.pip[2]: \"pandas===\" is not a valid pip requirement", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"npm\":[\"github:a/b\"]}}}",
                      "config.packages.npm[0]: \"github:a/b\" is not a valid npm spec: this kind "
                      "of spec is not supported (git/url/file/alias specs)",
                      "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"apt\":[\"\"]}}}",
                      "config.packages.apt[0]: an empty string is not a valid apt package", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"gem\":[1]}}}",
                      "config.packages.gem[0]: must be a string", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"go\":\"x.org/y\"}}}",
                      "config.packages.go: must be an array of strings", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"type\":\"pkgs\"}}}",
                      "config.packages.type: must be \"packages\"", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":[]}}",
                      "config.packages: must be an object", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"packages\":{\"cargo\":[\"a\\u0000b\"]}}}",
                      "config.packages.cargo[0]: must not contain NUL", "");
}

static void env_rules__create_packages_limits(void **state)
{
    static char body[256 * 8 + 4096];
    size_t o;
    (void)state;
    o = (size_t)snprintf(body, sizeof body, "{\"name\":\"x\",\"config\":{\"packages\":{\"npm\":[");
    for (int i = 0; i < 256; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "%s\"p%d\"", i ? "," : "", i);
    snprintf(body + o, sizeof body - o, "]}}}");
    json_decref(rt_create_ok(body));
    snprintf(body + o, sizeof body - o, ",\"p256\"]}}}");
    rt_create_rejects(body, "config.packages.npm: at most 256 entries (got 257)", "");

    char *a512 = rt_repeat("a", 512), *a513 = rt_repeat("a", 513);
    snprintf(body, sizeof body, "{\"name\":\"x\",\"config\":{\"packages\":{\"apt\":[%s]}}}", a512);
    json_decref(rt_create_ok(body));
    snprintf(body, sizeof body, "{\"name\":\"x\",\"config\":{\"packages\":{\"apt\":[%s]}}}", a513);
    rt_create_rejects(body, "config.packages.apt[0]: must be at most 512 characters (got 513)", "");
    free(a512), free(a513);
}

static void env_rules__create_limited_needs_package_managers(void **state)
{
    (void)state;
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\"},"
                      "\"packages\":{\"pip\":[\"pandas\"]}}}",
                      "packages could not be installed", "");
    rt_create_rejects("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"allow_package_managers\":false},\"packages\":{\"apt\":[\"jq\"]}}}",
                      "config.networking.allow_package_managers: must be true", "");
    json_decref(
        rt_create_ok("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\","
                     "\"allow_package_managers\":true},\"packages\":{\"pip\":[\"pandas\"]}}}"));
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\"},"
                             "\"packages\":{\"pip\":[]}}}"));
    json_decref(rt_create_ok("{\"name\":\"x\",\"config\":{\"packages\":{\"pip\":[\"pandas\"]}}}"));
}

/* --- update --- */

#define BASE                                                                                       \
    "{\"name\":\"base\",\"description\":\"d\",\"metadata\":{\"team\":\"data\"},\"config\":{"       \
    "\"networking\":{\"type\":\"limited\",\"allowed_hosts\":[\"a.com\"],"                          \
    "\"allow_package_managers\":true},\"packages\":{\"apt\":[\"jq\"],\"pip\":[\"pandas\"]}}}"

static void env_rules__update_keeps_omitted_fields(void **state)
{
    (void)state;
    json_t *want = rt_create_ok(BASE);
    json_t *out = rt_update_ok(BASE, "{}");
    assert_true(json_equal(out, want));
    json_decref(out);
    /* (ours) null counts as omitted */
    out = rt_update_ok(BASE, "{\"name\":null,\"description\":null,\"config\":null,"
                             "\"metadata\":null}");
    assert_true(json_equal(out, want));
    json_decref(out);
    out = rt_update_ok(BASE, "{\"config\":{}}");
    assert_true(json_equal(out, want));
    json_decref(out);
    json_decref(want);
}

static void env_rules__update_returns_only_the_fields(void **state)
{
    (void)state;
    json_t *out = rt_update_ok(BASE, "{\"name\":\"new\"}");
    assert_int_equal(json_object_size(out), 4);
    assert_null(json_object_get(out, "id"));
    assert_string_equal(json_string_value(json_object_get(out, "name")), "new");
    assert_string_equal(json_string_value(json_object_get(out, "description")), "d");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"description\":\"\"}");
    assert_string_equal(json_string_value(json_object_get(out, "description")), "");
    json_decref(out);
}

static void env_rules__update_networking_kept_or_replaced(void **state)
{
    (void)state;
    json_t *out = rt_update_ok(BASE, "{\"config\":{\"packages\":{\"npm\":[\"express\"]}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "networking"),
                   "{\"type\":\"limited\",\"allowed_hosts\":[\"a.com\"],\"allow_mcp_servers\":"
                   "false,\"allow_package_managers\":true}");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"config\":{\"networking\":{\"type\":\"unrestricted\"}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "networking"), UNRESTRICTED);
    json_decref(out);
    /* a given networking is whole: omitted members take their defaults, not the old values */
    rt_update_rejects(BASE, "{\"config\":{\"networking\":{\"type\":\"limited\"}}}",
                      "packages could not be installed", "");
}

static void env_rules__update_package_list_replaces_that_list_only(void **state)
{
    (void)state;
    json_t *out = rt_update_ok(BASE, "{\"config\":{\"packages\":{\"pip\":[\"numpy>=1.26,<2\"],"
                                     "\"go\":[]}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "packages"),
                   "{\"type\":\"packages\",\"apt\":[\"jq\"],\"cargo\":[],\"gem\":[],\"go\":[],"
                   "\"npm\":[],\"pip\":[\"numpy>=1.26,<2\"]}");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"config\":{\"packages\":{\"apt\":[]}}}");
    rt_assert_json(json_object_get(json_object_get(out, "config"), "packages"),
                   "{\"type\":\"packages\",\"apt\":[],\"cargo\":[],\"gem\":[],\"go\":[],"
                   "\"npm\":[],\"pip\":[\"pandas\"]}");
    json_decref(out);
}

static void env_rules__update_metadata_is_a_patch(void **state)
{
    (void)state;
    json_t *out = rt_update_ok(BASE, "{\"metadata\":{\"owner\":\"ana\"}}");
    rt_assert_json(json_object_get(out, "metadata"), "{\"team\":\"data\",\"owner\":\"ana\"}");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"metadata\":{\"team\":\"ml\"}}");
    rt_assert_json(json_object_get(out, "metadata"), "{\"team\":\"ml\"}");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"metadata\":{\"team\":null,\"x\":\"1\"}}");
    rt_assert_json(json_object_get(out, "metadata"), "{\"x\":\"1\"}");
    json_decref(out);
    out = rt_update_ok(BASE, "{\"metadata\":{\"team\":\"\",\"gone\":null}}");
    rt_assert_json(json_object_get(out, "metadata"), "{}");
    json_decref(out);
    rt_update_rejects(BASE, "{\"metadata\":{\"team\":7}}", "must be a string", "invalid_metadata");
}

static void env_rules__update_metadata_limit_applies_to_result(void **state)
{
    char create[4096], patch[256];
    size_t o;
    (void)state;
    o = (size_t)snprintf(create, sizeof create, "{\"name\":\"x\",\"metadata\":{");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(create + o, sizeof create - o, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(create + o, sizeof create - o, "}}");
    rt_update_rejects(create, "{\"metadata\":{\"new\":\"v\"}}",
                      "metadata: at most 16 pairs (got 17)", "invalid_metadata");
    snprintf(patch, sizeof patch, "{\"metadata\":{\"k0\":null,\"new\":\"v\"}}");
    json_t *out = rt_update_ok(create, patch);
    assert_int_equal(json_object_size(json_object_get(out, "metadata")), 16);
    json_decref(out);
    out = rt_update_ok(create, "{\"metadata\":{\"k3\":\"changed\"}}");
    assert_int_equal(json_object_size(json_object_get(out, "metadata")), 16);
    json_decref(out);
}

static void env_rules__update_config_type_cannot_change(void **state)
{
    (void)state;
    rt_update_rejects(BASE, "{\"config\":{\"type\":\"docker\"}}",
                      "config.type: cannot change from \"cloud\" to \"docker\"",
                      "invalid_config_type_change");
    json_decref(rt_update_ok(BASE, "{\"config\":{\"type\":\"cloud\"}}"));
}

static void env_rules__update_unknown_fields(void **state)
{
    (void)state;
    rt_update_rejects(BASE, "{\"archived_at\":null}", "unknown field \"archived_at\"", "");
    rt_update_rejects(BASE, "{\"config\":{\"packages\":{\"conda\":[]}}}",
                      "config.packages: unknown field \"conda\"", "");
    rt_update_rejects(BASE, "[]", "must be a JSON object", "");
}

static void env_rules__update_validates_what_is_given(void **state)
{
    (void)state;
    rt_update_rejects(BASE, "{\"name\":\"\"}", "name: must be 1 to 256 characters", "");
    rt_update_rejects(BASE, "{\"config\":{\"packages\":{\"pip\":[\"ok\",\"pandas===\"]}}}",
                      "config.packages.pip[1]: \"pandas===\" is not a valid pip requirement", "");
    rt_update_rejects(BASE,
                      "{\"config\":{\"networking\":{\"type\":\"limited\","
                      "\"allow_package_managers\":true,\"allowed_hosts\":[\"http://a.com\"]}}}",
                      "config.networking.allowed_hosts[0]", "");
    rt_update_rejects(BASE, "{\"metadata\":{\"k\":\"v\",\"\":\"x\"}}", "keys must not be empty",
                      "invalid_metadata");
}

static void env_rules__update_limited_rule_checks_the_merge(void **state)
{
    static const char limited_no_pm[] =
        "{\"name\":\"x\",\"config\":{\"networking\":{\"type\":\"limited\"}}}";
    (void)state;
    rt_update_rejects(limited_no_pm, "{\"config\":{\"packages\":{\"cargo\":[\"ripgrep\"]}}}",
                      "packages could not be installed", "");
    json_decref(
        rt_update_ok(limited_no_pm,
                     "{\"config\":{\"networking\":{\"type\":\"limited\","
                     "\"allow_package_managers\":true},\"packages\":{\"cargo\":[\"ripgrep\"]}}}"));
    json_decref(rt_update_ok(limited_no_pm,
                             "{\"config\":{\"networking\":{\"type\":"
                             "\"unrestricted\"},\"packages\":{\"gem\":[\"rails\"]}}}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_rules__create_fills_defaults),
        cmocka_unit_test(env_rules__create_api_example),
        cmocka_unit_test(env_rules__create_body_must_be_object),
        cmocka_unit_test(env_rules__create_unknown_top_field),
        cmocka_unit_test(env_rules__create_name_rules),
        cmocka_unit_test(env_rules__create_description_rules),
        cmocka_unit_test(env_rules__create_metadata_limits),
        cmocka_unit_test(env_rules__create_metadata_values_are_strings),
        cmocka_unit_test(env_rules__create_config_type),
        cmocka_unit_test(env_rules__create_unknown_nested_fields),
        cmocka_unit_test(env_rules__create_networking),
        cmocka_unit_test(env_rules__create_allowed_hosts),
        cmocka_unit_test(env_rules__create_allowed_hosts_at_most_64),
        cmocka_unit_test(env_rules__create_packages_every_manager),
        cmocka_unit_test(env_rules__create_packages_bad_spec_names_index),
        cmocka_unit_test(env_rules__create_packages_limits),
        cmocka_unit_test(env_rules__create_limited_needs_package_managers),
        cmocka_unit_test(env_rules__update_keeps_omitted_fields),
        cmocka_unit_test(env_rules__update_returns_only_the_fields),
        cmocka_unit_test(env_rules__update_networking_kept_or_replaced),
        cmocka_unit_test(env_rules__update_package_list_replaces_that_list_only),
        cmocka_unit_test(env_rules__update_metadata_is_a_patch),
        cmocka_unit_test(env_rules__update_metadata_limit_applies_to_result),
        cmocka_unit_test(env_rules__update_config_type_cannot_change),
        cmocka_unit_test(env_rules__update_unknown_fields),
        cmocka_unit_test(env_rules__update_validates_what_is_given),
        cmocka_unit_test(env_rules__update_limited_rule_checks_the_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
