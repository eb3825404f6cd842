/* SPDX-License-Identifier: MIT */
/* Packument parsing, npm-pick-manifest and the arborist placement rules, on the
 * hand-written packuments in tests/fixtures/npm/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/manager.h"
#include "fetchers/npm/tree.h"
#include "store/util/mem.h"

struct fixreg {
    char *dir;
    char *names[64];
    ec_npm_packument *docs[64];
    size_t n;
    char *prefetched[64];
    size_t nprefetched;
    int unprefetched_gets;
};

static int fix_prefetch(void *ud, const char *const *names, size_t n, ec_err *err)
{
    struct fixreg *r = ud;
    (void)err;
    for (size_t i = 0; i < n && r->nprefetched < 64; i++)
        r->prefetched[r->nprefetched++] = ec_xstrdup(names[i]);
    return EC_OK;
}

static int fix_get(void *ud, const char *name, const ec_npm_packument **out, ec_err *err)
{
    struct fixreg *r = ud;
    bool pre = false;
    for (size_t i = 0; i < r->nprefetched; i++)
        pre = pre || !strcmp(r->prefetched[i], name);
    r->unprefetched_gets += !pre;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name))
            return *out = r->docs[i], EC_OK;
    char *esc = ec_xstrdup(name);
    for (char *p = esc; *p; p++)
        if (*p == '/')
            *p = '%';
    char *file = ec_xasprintf("%s/%s.json", r->dir, esc);
    free(esc);
    json_t *doc = json_load_file(file, 0, NULL);
    free(file);
    if (!doc)
        return ec_fail(err, EC_ENOTFOUND, "package %s not found", name);
    int rc = ec_npm_packument_from_json(&r->docs[r->n], name, doc, err);
    json_decref(doc);
    if (rc < 0)
        return rc;
    r->names[r->n] = ec_xstrdup(name);
    *out = r->docs[r->n++];
    return EC_OK;
}

static int setup(void **state)
{
    struct fixreg *r = ec_xcalloc(1, sizeof(*r));
    char *src = ec_xstrdup(__FILE__);
    r->dir = ec_xasprintf("%s/../../fixtures/npm", dirname(src));
    free(src);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct fixreg *r = *state;
    for (size_t i = 0; i < r->n; i++) {
        free(r->names[i]);
        ec_npm_packument_free(r->docs[i]);
    }
    for (size_t i = 0; i < r->nprefetched; i++)
        free(r->prefetched[i]);
    free(r->dir);
    free(r);
    return 0;
}

/* The specs as the warm-up hands them to the builder: parsed by the manager's parse. */
static ec_spec *parse_specs(const char *const *texts, size_t n)
{
    const ec_manager *m = ec_manager_find("npm");
    ec_spec *specs = ec_xcalloc(n, sizeof *specs);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(m->parse(&specs[i], texts[i], NULL), EC_OK);
    return specs;
}

/* Builds @spec and returns "path@version" lines joined by spaces. */
static char *build(struct fixreg *r, const char *spec, int want_rc, ec_err *err)
{
    ec_npm_registry reg = {fix_get, fix_prefetch, r};
    ec_npm_pick_opts opts = {.plat = EC_NPM_PLATFORM_DEFAULT};
    opts.plat.node_version = "20.11.0";
    ec_npm_tree *t = NULL;
    const char *texts[] = {spec};
    ec_spec *specs = parse_specs(texts, 1);
    int rc = ec_npm_tree_build(&t, &reg, specs, 1, &opts, err);
    free(specs);
    assert_int_equal(rc, want_rc);
    if (rc < 0)
        return NULL;
    char *out = ec_xstrdup("");
    for (size_t i = 0; i < t->n; i++) {
        char *s = ec_xasprintf("%s%s%s@%s%s", out, i ? " " : "", t->nodes[i].path + 13,
                               t->nodes[i].version, t->nodes[i].bundled ? "(bundled)" : "");
        free(out);
        out = s;
    }
    ec_npm_tree_free(t);
    return out;
}

#define EXPECT_TREE(spec, want)                        \
    do {                                               \
        ec_err err_ = {0};                             \
        char *got_ = build(*state, spec, EC_OK, &err_); \
        assert_string_equal(got_, want);               \
        free(got_);                                    \
    } while (0)

static void tree__dedupe(void **state)
{
    /* b's c@^1 is met by app1's c@1.5.0 (latest): one copy */
    EXPECT_TREE("app1", "app1@1.0.0 app1/node_modules/b@1.0.0 app1/node_modules/c@1.5.0");
}

static void tree__conflict_nests(void **state)
{
    EXPECT_TREE("app2", "app2@1.0.0 app2/node_modules/d@1.0.0 "
                        "app2/node_modules/d/node_modules/e@2.0.0 app2/node_modules/e@1.0.0");
}

static void tree__shallow_hoist_and_shadow(void **state)
{
    /* h needs g@2 (nested under h); i goes up to app6, where g@1 serves it */
    EXPECT_TREE("app6", "app6@1.0.0 app6/node_modules/g@1.0.0 app6/node_modules/h@1.0.0 "
                        "app6/node_modules/h/node_modules/g@2.0.0 app6/node_modules/i@1.0.0");
}

static void tree__peer_is_sibling(void **state)
{
    /* host@^1 sits next to plugin, not inside it; the optional peer is absent */
    EXPECT_TREE("app3", "app3@1.0.0 app3/node_modules/host@1.0.0 app3/node_modules/plugin@1.0.0");
}

static void tree__peer_of_top_goes_inside(void **state)
{
    EXPECT_TREE("plugin", "plugin@1.0.0 plugin/node_modules/host@1.0.0");
}

static void tree__optional_platform_skip(void **state)
{
    /* optmac (darwin) and its dependency are dropped, optgone@^3 does not
     * resolve and is dropped, optlin fits linux/x64 */
    EXPECT_TREE("app4", "app4@1.0.0 app4/node_modules/optlin@1.0.0");
}

static void tree__bundled_not_fetched(void **state)
{
    struct fixreg *r = *state;
    EXPECT_TREE("app5", "app5@1.0.0 app5/node_modules/bun@(bundled) app5/node_modules/c@1.5.0");
    for (size_t i = 0; i < r->n; i++)
        assert_string_not_equal(r->names[i], "bun");
}

static void tree__pick_rules(void **state)
{
    EXPECT_TREE("dep@^1", "dep@1.0.0");      /* 1.1.0 is deprecated */
    EXPECT_TREE("lw@^1", "lw@1.0.0");        /* latest wins over 1.2.0 */
    EXPECT_TREE("lw", "lw@1.0.0");
    EXPECT_TREE("eng", "eng@1.0.0");         /* 1.1.0 wants node >=99 */
    EXPECT_TREE("pre@^1", "pre@1.0.0");
    EXPECT_TREE("pre@next", "pre@1.1.0-beta.1");
    EXPECT_TREE("pre@^1.1.0-beta.0", "pre@1.1.0-beta.1");
    EXPECT_TREE("lw@1.2.0", "lw@1.2.0");
    EXPECT_TREE("@sc/al", "@sc/al@1.0.0 @sc/al/node_modules/alias@1.5.0");
}

static void tree__errors(void **state)
{
    ec_err err = {0};
    assert_null(build(*state, "lw@^5", EC_ENOTFOUND, &err));
    assert_string_equal(err.msg, "no version of lw matches \"^5\" (latest is 1.0.0)");
    memset(&err, 0, sizeof(err));
    assert_null(build(*state, "lw@beta", EC_ENOTFOUND, &err));
    assert_string_equal(err.msg, "lw has no dist-tag \"beta\"");
    memset(&err, 0, sizeof(err));
    assert_null(build(*state, "nosuch", EC_ENOTFOUND, &err));
    memset(&err, 0, sizeof(err));
    assert_null(build(*state, "bad", EC_EFORMAT, &err));
    assert_non_null(strstr(err.msg, "bad"));
}

static void tree__prefetch_before_get(void **state)
{
    struct fixreg *r = *state;
    EXPECT_TREE("app2", "app2@1.0.0 app2/node_modules/d@1.0.0 "
                        "app2/node_modules/d/node_modules/e@2.0.0 app2/node_modules/e@1.0.0");
    assert_int_equal(r->unprefetched_gets, 0);
}

static void tree__lock_packages(void **state)
{
    ec_npm_registry reg = {fix_get, fix_prefetch, *state};
    ec_npm_pick_opts opts = {.plat = EC_NPM_PLATFORM_DEFAULT};
    const char *texts[] = {"app1", "@sc/al", "app4"};
    ec_spec *specs = parse_specs(texts, 3);
    ec_npm_tree *t = NULL;
    assert_int_equal(ec_npm_tree_build(&t, &reg, specs, 3, &opts, NULL), EC_OK);
    free(specs);
    json_t *a = ec_npm_tree_lock_packages(t);
    char *s = json_dumps(json_array_get(a, 0), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"bin\":{\"al\":\"bin/al.js\",\"y\":\"b.js\"},"
                           "\"integrity\":\"sha512-@sc/al1.0.0\",\"name\":\"@sc/al\","
                           "\"path\":\"node_modules/@sc/al\",\"scripts\":false,"
                           "\"shasum\":\"0000000000000000000000000000000000000000\","
                           "\"url\":\"http://registry.invalid/@sc/al/-/al-1.0.0.tgz\","
                           "\"version\":\"1.0.0\"}");
    free(s);
    s = json_dumps(json_array_get(a, 1), JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(strstr(s, "\"package\":\"c\""));
    free(s);
    bool saw_optlin = false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), "optlin"))
            continue;
        saw_optlin = true;
        assert_true(json_is_true(json_object_get(o, "optional")));
        assert_true(json_is_true(json_object_get(o, "scripts")));
        assert_int_equal(json_array_size(json_object_get(o, "cpu")), 2);
    }
    assert_true(saw_optlin);
    assert_true(json_array_size(t->notes) >= 2);
    json_decref(a);
    ec_npm_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tree__dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__conflict_nests, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__shallow_hoist_and_shadow, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__peer_is_sibling, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__peer_of_top_goes_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__optional_platform_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__bundled_not_fetched, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__pick_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__errors, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__prefetch_before_get, setup, teardown),
        cmocka_unit_test_setup_teardown(tree__lock_packages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
