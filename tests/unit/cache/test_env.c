/* SPDX-License-Identifier: MIT */
/* Unit tests of environments in LMDB: ids, paging, names under concurrency, deletion, and
 * each environment's base choice (explicit, none, the store's default at warm-up time). */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "cache/env/base.h"
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

/* Random parts come from a per-thread pool of kernel bytes: a forked child must not hand
 * out what its parent will (the pool is emptied in the child). */
static void env__ids_of_a_forked_child_differ_from_its_parent(void **state)
{
    (void)state;
    char warm[64], mine[64], theirs[64] = "";
    ec_id_new(warm, "env"); /* fills this thread's pool */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char id[64];
        ec_id_new(id, "env");
        _exit(write(p[1], id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    ec_id_new(mine, "env");
    assert_int_equal(read(p[0], theirs, sizeof theirs), (ssize_t)sizeof theirs);
    int st;
    waitpid(pid, &st, 0);
    close(p[0]);
    close(p[1]);
    /* The first 10 characters are the time; the rest is random. */
    assert_string_not_equal(mine + 4 + 10, theirs + 4 + 10);
    for (int i = 0; i < 2000; i++) { /* and the pool refills past its page */
        char a[64], b[64];
        ec_id_new(a, "env");
        ec_id_new(b, "env");
        assert_string_not_equal(a + 14, b + 14);
    }
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

/* --- base choice --- */

/* A base layer made from a one-file directory; @tag makes each one a new digest. */
static ec_digest import_base(struct fx *f, const char *tag)
{
    char *dir = ect_tmpdir();
    ec_layer_info l;
    ect_write(dir, "etc/os-release", tag, 0644);
    assert_int_equal(ec_base_import(&l, f->c, dir, NULL), EC_OK);
    ect_rmdir(dir);
    return l.digest;
}

static char *create_on(struct fx *f, const char *name, const ec_env_base_choice *b)
{
    json_t *body = json_pack("{s:s}", "name", name), *out = NULL;
    assert_int_equal(ec_env_create_on(&out, f->c, "ws", body, b, NULL), EC_OK);
    char *id = ec_xstrdup(json_string_value(json_object_get(out, "id")));
    json_decref(body);
    json_decref(out);
    return id;
}

/* Asserts what ec_env_base answers for @id: @want, or no base when @want is NULL. */
static void assert_base(struct fx *f, const char *id, const ec_digest *want)
{
    ec_digest d;
    bool has = true;
    assert_int_equal(ec_env_base(&d, &has, f->c, "ws", id, NULL), EC_OK);
    assert_int_equal(has, want != NULL);
    if (want)
        assert_memory_equal(d.b, want->b, sizeof d.b);
}

static void assert_stack(struct fx *f, const char *id, const ec_digest *want)
{
    json_t *stack = NULL;
    char s[EC_DIGEST_STR_LEN];
    assert_int_equal(ec_env_stack(&stack, f->c, "ws", id, NULL), EC_OK);
    assert_int_equal(json_array_size(stack), want != NULL);
    if (want)
        assert_string_equal(json_string_value(json_array_get(stack, 0)),
                            ec_digest_format(s, want));
    json_decref(stack);
}

static void env__default_base_is_the_one_of_the_moment(void **state)
{
    struct fx *f = *state;
    EC_AUTOFREE char *id = create_on(f, "follows", NULL);
    ec_env_base_choice b;
    assert_int_equal(ec_env_base_choice_lookup(&b, f->c, "ws", id, NULL), EC_OK);
    assert_int_equal(b.mode, EC_ENV_BASE_DEFAULT);
    assert_base(f, id, NULL); /* no default set: no base, and no error */
    assert_stack(f, id, NULL);
    ec_digest b1 = import_base(f, "one"), b2 = import_base(f, "two");
    assert_int_equal(ec_base_default_set(f->c, &b1, NULL), EC_OK);
    assert_base(f, id, &b1);
    assert_stack(f, id, &b1); /* never warmed: the base it would be built on now */
    assert_int_equal(ec_base_default_set(f->c, &b2, NULL), EC_OK);
    assert_base(f, id, &b2);
}

static void env__explicit_and_none_ignore_the_default(void **state)
{
    struct fx *f = *state;
    ec_digest b1 = import_base(f, "one"), b2 = import_base(f, "two");
    assert_int_equal(ec_base_default_set(f->c, &b2, NULL), EC_OK);
    ec_env_base_choice exp = {EC_ENV_BASE_EXPLICIT, b1}, none = {.mode = EC_ENV_BASE_NONE};
    EC_AUTOFREE char *e = create_on(f, "explicit", &exp);
    EC_AUTOFREE char *n = create_on(f, "none", &none);
    assert_base(f, e, &b1);
    assert_stack(f, e, &b1);
    assert_base(f, n, NULL);
    assert_stack(f, n, NULL);
    ec_env_base_choice dflt = {.mode = EC_ENV_BASE_DEFAULT};
    assert_int_equal(ec_env_set_base(f->c, "ws", n, &dflt, NULL), EC_OK);
    assert_base(f, n, &b2);
    assert_int_equal(ec_env_set_base(f->c, "ws", e, &none, NULL), EC_OK);
    assert_base(f, e, NULL);
}

static void env__set_base_refuses_unknown_layers_and_archived(void **state)
{
    struct fx *f = *state;
    ec_digest b1 = import_base(f, "one");
    EC_AUTOFREE char *id = create_on(f, "x", NULL);
    ec_env_base_choice missing = {.mode = EC_ENV_BASE_EXPLICIT};
    memset(missing.digest.b, 0xab, sizeof missing.digest.b);
    ec_err err = {0};
    assert_int_equal(ec_env_set_base(f->c, "ws", id, &missing, &err), EC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "base sha256:abab"));
    assert_base(f, id, NULL); /* unchanged */
    json_t *out = NULL;
    assert_int_equal(ec_env_archive(&out, f->c, "ws", id, NULL), EC_OK);
    json_decref(out);
    ec_env_base_choice exp = {EC_ENV_BASE_EXPLICIT, b1};
    assert_int_equal(ec_env_set_base(f->c, "ws", id, &exp, NULL), EC_EARCHIVED);
    assert_int_equal(ec_env_set_base(f->c, "other", id, &exp, NULL), EC_ENOTFOUND);
}

/* Rewrites @id's record as versions before the base choice wrote it: no "base" field. */
static void write_legacy(struct fx *f, const char *id, const ec_digest *bottom)
{
    char s[EC_DIGEST_STR_LEN];
    json_t *rec = json_pack("{s:{s:s}, s:[]}", "env", "id", id, "stack");
    if (bottom)
        json_array_append_new(json_object_get(rec, "stack"),
                              json_string(ec_digest_format(s, bottom)));
    ec_txn *txn = NULL;
    assert_int_equal(ec_txn_begin(&txn, ec_cache_store(f->c), 0, NULL), EC_OK);
    assert_int_equal(ec_cache__env_save(txn, "ws", id, rec, NULL), EC_OK);
    assert_int_equal(ec_txn_commit(txn, NULL), EC_OK);
    json_decref(rec);
}

static void env__records_without_a_choice_keep_their_base(void **state)
{
    struct fx *f = *state;
    ec_digest b1 = import_base(f, "one"), b2 = import_base(f, "two");
    EC_AUTOFREE char *old = create_on(f, "old", NULL);
    EC_AUTOFREE char *bare = create_on(f, "bare", NULL);
    write_legacy(f, old, &b1);
    write_legacy(f, bare, NULL);
    assert_int_equal(ec_base_default_set(f->c, &b2, NULL), EC_OK);
    ec_env_base_choice b;
    assert_int_equal(ec_env_base_choice_lookup(&b, f->c, "ws", old, NULL), EC_OK);
    assert_int_equal(b.mode, EC_ENV_BASE_EXPLICIT);
    assert_base(f, old, &b1);
    assert_stack(f, old, &b1);
    assert_base(f, bare, &b2); /* nothing was chosen: it follows the default */
}

static bool has_layer(struct fx *f, const ec_digest *d)
{
    char s[EC_DIGEST_STR_LEN];
    ec_layer_info l;
    return ec_layer_resolve(&l, ec_cache_store(f->c), ec_digest_format(s, d), NULL) == EC_OK;
}

static void env__gc_keeps_bases_no_stack_holds_yet(void **state)
{
    struct fx *f = *state;
    ec_digest dflt = import_base(f, "default"), chosen = import_base(f, "chosen"),
              loose = import_base(f, "loose");
    assert_int_equal(ec_base_default_set(f->c, &dflt, NULL), EC_OK);
    EC_AUTOFREE char *follows = create_on(f, "follows", NULL);
    EC_AUTOFREE char *later = create_on(f, "later", &(ec_env_base_choice){.mode = EC_ENV_BASE_NONE});
    ec_env_base_choice exp = {EC_ENV_BASE_EXPLICIT, chosen};
    assert_int_equal(ec_env_set_base(f->c, "ws", later, &exp, NULL), EC_OK); /* stack stays [] */
    json_t *report = NULL;
    ec_gc_opts o = {.grace = 0};
    assert_int_equal(ec_cache_gc(&report, f->c, &o, NULL), EC_OK);
    json_decref(report);
    assert_false(has_layer(f, &loose)); /* the sweep ran */
    assert_true(has_layer(f, &dflt));
    assert_true(has_layer(f, &chosen));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env__ids_sort_by_creation),
        cmocka_unit_test(env__ids_of_a_forked_child_differ_from_its_parent),
        cmocka_unit_test_setup_teardown(env__paging_sees_each_once_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(env__concurrent_creates_of_one_name_one_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(env__workspaces_are_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(env__archived_keeps_its_name_and_refuses_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(env__default_base_is_the_one_of_the_moment, setup, teardown),
        cmocka_unit_test_setup_teardown(env__explicit_and_none_ignore_the_default, setup, teardown),
        cmocka_unit_test_setup_teardown(env__set_base_refuses_unknown_layers_and_archived, setup, teardown),
        cmocka_unit_test_setup_teardown(env__records_without_a_choice_keep_their_base, setup, teardown),
        cmocka_unit_test_setup_teardown(env__gc_keeps_bases_no_stack_holds_yet, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
