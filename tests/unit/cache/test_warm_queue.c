/* SPDX-License-Identifier: MIT */
/* The warm-up queue with a fake warm function: bounded concurrency, joining, re-running
 * after a change, failures recorded, and resuming after a stop. */
#include "tests/unit/helpers/ec_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "cache/warm/warm_queue.h"
#include "store/util/mem.h"

static atomic_int calls, running, max_running;
static atomic_bool gate_open;

static void nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

/* Holds each warm-up until the gate opens (or the queue cancels it). */
static int fake_warm(json_t **out, ec_cache *c, const ec_warm_opts *o, ec_err *err)
{
    (void)c;
    atomic_fetch_add(&calls, 1);
    int now = atomic_fetch_add(&running, 1) + 1;
    for (int m = atomic_load(&max_running); now > m;)
        if (atomic_compare_exchange_weak(&max_running, &m, now))
            break;
    while (!atomic_load(&gate_open) && !*o->cancel)
        nap();
    atomic_fetch_sub(&running, 1);
    if (*o->cancel)
        return ec_fail(err, EC_EBUSY, "cancelled");
    if (strcmp(o->ws, "bad") == 0)
        return ec_fail(err, EC_EINVAL, "config.packages.pip[0]: \"nope==9\": no such version");
    *out = json_pack("{s:s}", "env", o->env);
    return EC_OK;
}

struct fx {
    char *home;
    ec_cache *c;
};

static int setup(void **state)
{
    struct fx *f = ec_xcalloc(1, sizeof *f);
    f->home = ect_tmpdir();
    atomic_store(&calls, 0);
    atomic_store(&running, 0);
    atomic_store(&max_running, 0);
    atomic_store(&gate_open, false);
    *state = f;
    return ec_cache_open(&f->c, f->home, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ec_cache_close(f->c);
    ect_rmdir(f->home);
    free(f);
    return 0;
}

static ec_warm_queue *start(struct fx *f, unsigned n)
{
    ec_warm_queue *q = NULL;
    ec_warm_queue_opts o = {.concurrency = n, .warm = fake_warm};
    assert_int_equal(ec_warm_queue_start(&q, f->c, &o, NULL), EC_OK);
    return q;
}

static const char *state_of(ec_warm_queue *q, const char *id, json_t **keep)
{
    assert_int_equal(ec_warm_queue_status(keep, q, id, NULL), EC_OK);
    return json_string_value(json_object_get(*keep, "state"));
}

static void wait_calls(int n)
{
    for (int i = 0; i < 5000 && atomic_load(&calls) < n; i++)
        nap();
    assert_true(atomic_load(&calls) >= n);
}

static void warm_queue__runs_at_most_n_at_once(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 2);
    char ids[6][64];
    for (int i = 0; i < 6; i++) {
        ec_id_new(ids[i], "env");
        ec_warm_req r = {.ws = "a", .env_id = ids[i]};
        assert_int_equal(ec_warm_queue_submit(NULL, q, &r, NULL), EC_OK);
    }
    wait_calls(2);
    assert_int_equal(atomic_load(&calls), 2); /* the other four wait their turn */
    atomic_store(&gate_open, true);
    for (int i = 0; i < 6; i++) {
        json_t *j = NULL;
        assert_int_equal(ec_warm_queue_wait(&j, q, ids[i], 10000, NULL), EC_OK);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
        json_decref(j);
    }
    assert_int_equal(atomic_load(&calls), 6);
    assert_int_equal(atomic_load(&max_running), 2);
    ec_warm_queue_stop(q);
}

static void warm_queue__second_submit_joins_running_job(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 4);
    char id[64];
    ec_id_new(id, "env");
    ec_warm_req r = {.ws = "a", .env_id = id};
    json_t *j1 = NULL, *j2 = NULL, *keep = NULL;
    assert_int_equal(ec_warm_queue_submit(&j1, q, &r, NULL), EC_OK);
    wait_calls(1);
    assert_int_equal(ec_warm_queue_submit(&j2, q, &r, NULL), EC_OK);
    assert_false(json_is_true(json_object_get(j1, "joined")));
    assert_true(json_is_true(json_object_get(j2, "joined")));
    assert_string_equal(state_of(q, id, &keep), "running");
    atomic_store(&gate_open, true);
    assert_int_equal(ec_warm_queue_wait(NULL, q, id, 10000, NULL), EC_OK);
    assert_int_equal(atomic_load(&calls), 1);
    json_decref(j1);
    json_decref(j2);
    json_decref(keep);
    ec_warm_queue_stop(q);
}

static void warm_queue__change_while_running_runs_again(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 4);
    char id[64];
    ec_id_new(id, "env");
    ec_warm_req r = {.ws = "a", .env_id = id};
    assert_int_equal(ec_warm_queue_submit(NULL, q, &r, NULL), EC_OK);
    wait_calls(1);
    r.changed = true;
    assert_int_equal(ec_warm_queue_submit(NULL, q, &r, NULL), EC_OK);
    atomic_store(&gate_open, true);
    assert_int_equal(ec_warm_queue_wait(NULL, q, id, 10000, NULL), EC_OK);
    assert_int_equal(atomic_load(&calls), 2);
    ec_warm_queue_stop(q);
}

static void warm_queue__failure_is_recorded_with_reason(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 1);
    char id[64];
    ec_id_new(id, "env");
    ec_warm_req r = {.ws = "bad", .env_id = id};
    atomic_store(&gate_open, true);
    assert_int_equal(ec_warm_queue_submit(NULL, q, &r, NULL), EC_OK);
    json_t *j = NULL;
    assert_int_equal(ec_warm_queue_wait(&j, q, id, 10000, NULL), EC_OK);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"),
                                                             "message")), "nope==9"));
    json_decref(j);
    ec_warm_queue_stop(q);
    /* The record outlives the queue. */
    q = start(f, 1);
    assert_string_equal(state_of(q, id, &j), "failed");
    json_decref(j);
    ec_warm_queue_stop(q);
}

static void warm_queue__stop_leaves_jobs_queued_and_start_resumes(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 1);
    char a[64], b[64];
    ec_id_new(a, "env");
    ec_id_new(b, "env");
    ec_warm_req ra = {.ws = "a", .env_id = a}, rb = {.ws = "a", .env_id = b};
    assert_int_equal(ec_warm_queue_submit(NULL, q, &ra, NULL), EC_OK);
    assert_int_equal(ec_warm_queue_submit(NULL, q, &rb, NULL), EC_OK);
    wait_calls(1);
    assert_int_equal(ec_warm_queue_wait(NULL, q, a, 50, NULL), EC_EBUSY); /* still warming */
    ec_warm_queue_stop(q); /* a is cancelled mid-run, b never started */
    json_t *j = NULL;
    q = start(f, 1); /* both resume */
    atomic_store(&gate_open, true);
    assert_int_equal(ec_warm_queue_wait(&j, q, a, 10000, NULL), EC_OK);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
    json_decref(j);
    assert_int_equal(ec_warm_queue_wait(&j, q, b, 10000, NULL), EC_OK);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
    json_decref(j);
    assert_int_equal(atomic_load(&calls), 3);
    ec_warm_queue_stop(q);
}

static void warm_queue__unknown_environment_has_no_status(void **state)
{
    struct fx *f = *state;
    ec_warm_queue *q = start(f, 1);
    json_t *j = NULL;
    char id[64];
    ec_id_new(id, "env");
    assert_int_equal(ec_warm_queue_status(&j, q, id, NULL), EC_ENOTFOUND);
    ec_warm_queue_stop(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(warm_queue__runs_at_most_n_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(warm_queue__second_submit_joins_running_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warm_queue__change_while_running_runs_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warm_queue__failure_is_recorded_with_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warm_queue__stop_leaves_jobs_queued_and_start_resumes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(warm_queue__unknown_environment_has_no_status, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
