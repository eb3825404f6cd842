/* SPDX-License-Identifier: MIT */
/* cache/session/session_ready.c: which environments a session may mount, judged from the
 * warm-up's per-manager records, and an error API clients can read. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>

#include "cache/api/server_int.h"
#include "cache/session/session_int.h"
#include "cache/warm/idx_warm.h"
#include "store/util/mem.h"

struct fx {
    char *home;
    ec_cache *c;
    json_t *env;
};

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    json_t *body = json_pack("{s:s, s:{s:{s:[s], s:[], s:[s]}}}", "name", "web", "config",
                             "packages", "npm", "left-pad@1.3.0", "pip", "apt", "jq");
    int r = ec_cache_open(&f->c, f->home, NULL);
    if (r == EC_OK)
        r = ec_env_create(&f->env, f->c, EC_DEFAULT_WORKSPACE, body, NULL);
    json_decref(body);
    *state = f;
    return r;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    json_decref(f->env);
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f);
    return 0;
}

/* What warm.c records for a manager: "building", "ready" or "failed" with an error. */
static void put_state(struct fx *f, const char *mgr, const char *state, const char *why)
{
    const char *id = json_string_value(json_object_get(f->env, "id"));
    json_t *rec = json_pack("{s:s, s:s}", "manager", mgr, "state", state);
    if (why)
        json_object_set_new(rec, "error", json_pack("{s:s, s:s}", "type", "invalid",
                                                    "message", why));
    EC_AUTO(ec_txn) txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, ec_cache_store(f->c), 0, NULL), EC_OK);
    assert_int_equal(ec_warm_state_put(txn, id, mgr, rec, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(ec_steal(&txn), NULL), EC_OK);
    json_decref(rec);
}

static void session_ready__never_warmed_names_each_manager(void **state)
{
    struct fx *f = *state;
    ec_err err = {0};
    EC_AUTOFREE char *target = ec_xasprintf("%s/root", f->home);
    ec_session_opts so = {.ws = EC_DEFAULT_WORKSPACE, .target = target,
                          .env_id = json_string_value(json_object_get(f->env, "id"))};
    json_t *s = NULL;
    assert_int_equal(ec_session_create(&s, f->c, &so, &err), EC_ECONFLICT);
    assert_string_equal(err.detail, "environment_not_ready");
    assert_int_equal(ec_api_status(err.code), 409);
    assert_non_null(strstr(err.msg, "npm packages are not warmed yet"));
    assert_non_null(strstr(err.msg, "apt packages are not warmed yet"));
    assert_null(strstr(err.msg, "pip"));      /* an empty list needs no warm-up */
    assert_null(strstr(err.msg, "envcache")); /* API clients have no CLI to run */
    json_t *all = NULL;
    assert_int_equal(ec_session_list(&all, f->c, NULL, NULL), EC_OK);
    assert_int_equal(json_array_size(all), 0); /* nothing recorded */
    json_decref(all);
}

static void session_ready__failed_and_unfinished_say_why(void **state)
{
    struct fx *f = *state;
    ec_err err = {0};
    put_state(f, "apt", "failed", "apt packages need a base");
    put_state(f, "npm", "building", NULL);
    assert_int_equal(ec_session__env_ready(f->c, f->env, &err), EC_ECONFLICT);
    assert_non_null(strstr(err.msg, "the warm-up of its apt packages failed: apt packages "
                                    "need a base"));
    assert_non_null(strstr(err.msg, "the warm-up of its npm packages has not finished"));
}

static void session_ready__ready_managers_or_no_packages_are_ready(void **state)
{
    struct fx *f = *state;
    ec_err err = {0};
    put_state(f, "apt", "ready", NULL);
    put_state(f, "npm", "ready", NULL);
    assert_int_equal(ec_session__env_ready(f->c, f->env, &err), EC_OK);
    json_t *bare = json_pack("{s:s, s:s, s:{s:{s:[]}}}", "id", "env_x", "name", "bare",
                             "config", "packages", "npm");
    assert_int_equal(ec_session__env_ready(f->c, bare, &err), EC_OK);
    json_decref(bare);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(session_ready__never_warmed_names_each_manager),
        T(session_ready__failed_and_unfinished_say_why),
        T(session_ready__ready_managers_or_no_packages_are_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
