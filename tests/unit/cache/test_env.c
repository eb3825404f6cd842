/* SPDX-License-Identifier: MIT */
/* Unit tests of environments in LMDB: ids, paging, names under concurrency, deletion. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/cache.h"
#include "store/util/mem.h"

struct fx {
    char *home;
    ec_cache *c;
};

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    if (ec_cache_open(&f->c, f->home, NULL) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f);
    return 0;
}

static json_t *create(ec_cache *c, const char *ws, const char *name, ec_err *err)
{
    json_t *body = json_pack("{s:s}", "name", name), *out = NULL;
    int r = ec_env_create(&out, c, ws, body, err);
    json_decref(body);
    return r == EC_OK ? out : NULL;
}

static void env__ids_sort_by_creation(void **state)
{
    (void)state;
    char a[64], b[64];
    ec_id_new(a, "env");
    ec_id_new(b, "env");
    assert_true(ec_id_valid(a, "env"));
    assert_int_equal(strlen(a), 4 + 24);
    assert_true(strcmp(a, b) < 0);
    assert_false(ec_id_valid("env_short", "env"));
    assert_false(ec_id_valid(a, "sesn"));
}

static void env__paging_sees_each_once_newest_first(void **state)
{
    struct fx *f = *state;
    enum { N = 250 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "env-%d", i);
        json_t *e = create(f->c, "ws", name, NULL);
        assert_non_null(e);
        ids[i] = ec_xstrdup(json_string_value(json_object_get(e, "id")));
        json_decref(e);
    }
    json_t *other = create(f->c, "other", "env-0", NULL); /* another workspace: not listed */
    assert_non_null(other);
    json_decref(other);
    int seen = 0;
    char *page = NULL;
    do {
        json_t *out = NULL;
        ec_env_list_opts o = {.limit = 7, .page = page};
        assert_int_equal(ec_env_list(&out, f->c, "ws", &o, NULL), EC_OK);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(out, "data"), i, e) {
            assert_string_equal(json_string_value(json_object_get(e, "id")), ids[N - 1 - seen]);
            seen++;
        }
        free(page);
        json_t *next = json_object_get(out, "next_page");
        page = json_is_string(next) ? ec_xstrdup(json_string_value(next)) : NULL;
        json_decref(out);
    } while (page);
    assert_int_equal(seen, N);
    for (int i = 0; i < N; i++)
        free(ids[i]);
}

static void env__concurrent_creates_of_one_name_one_wins(void **state)
{
    struct fx *f = *state;
    enum { P = 6 };
    pid_t pids[P];
    for (int i = 0; i < P; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            ec_cache *c = NULL;
            if (ec_cache_open(&c, f->home, NULL) < 0)
                _exit(2);
            ec_err err = {0};
            json_t *e = create(c, "ws", "contested", &err);
            _exit(e ? 0 : err.code == EC_ECONFLICT ? 1 : 3);
        }
    }
    int won = 0, lost = 0;
    for (int i = 0; i < P; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        assert_true(WIFEXITED(st));
        won += WEXITSTATUS(st) == 0;
        lost += WEXITSTATUS(st) == 1;
    }
    assert_int_equal(won, 1);
    assert_int_equal(lost, P - 1);
}

static void env__workspaces_are_isolated(void **state)
{
    struct fx *f = *state;
    json_t *e = create(f->c, "a", "mine", NULL);
    const char *id = json_string_value(json_object_get(e, "id"));
    json_t *out = NULL;
    ec_err err = {0};
    assert_int_equal(ec_env_get(&out, f->c, "b", id, &err), EC_ENOTFOUND);
    assert_string_equal(err.detail, "environment_not_found");
    assert_int_equal(ec_env_get(&out, f->c, "a", id, NULL), EC_OK);
    json_decref(out);
    json_decref(e);
}

static void env__archived_keeps_its_name_and_refuses_updates(void **state)
{
    struct fx *f = *state;
    json_t *e = create(f->c, "ws", "old", NULL), *out = NULL;
    const char *id = json_string_value(json_object_get(e, "id"));
    ec_err err = {0};
    assert_int_equal(ec_env_archive(&out, f->c, "ws", id, NULL), EC_OK);
    json_decref(out);
    assert_null(create(f->c, "ws", "old", &err));
    assert_int_equal(err.code, EC_ECONFLICT);
    ec_err_clear(&err);
    json_t *patch = json_pack("{s:s}", "description", "x");
    assert_int_equal(ec_env_update(&out, f->c, "ws", id, patch, &err), EC_EARCHIVED);
    assert_string_equal(err.detail, "environment_archived");
    json_decref(patch);
    assert_int_equal(ec_env_delete(&out, f->c, "ws", id, NULL), EC_OK);
    json_decref(out);
    e = (json_decref(e), create(f->c, "ws", "old", NULL));
    assert_non_null(e); /* deleting frees the name */
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env__ids_sort_by_creation),
        cmocka_unit_test_setup_teardown(env__paging_sees_each_once_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(env__concurrent_creates_of_one_name_one_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(env__workspaces_are_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(env__archived_keeps_its_name_and_refuses_updates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
