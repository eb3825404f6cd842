/* SPDX-License-Identifier: MIT */
/* The mirrors' single-flight table (ec_flight_enter/leave), nested as pip's mirror nests
 * it: a metadata flight held while the page's and the wheel's flights are entered. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "fetchers/mirror_index.h"

/* More owners at once than the table once had slots (64): each holds its own outer key
 * while it enters an inner one, as a mirror request thread does with no cap on threads. */
#define OWNERS 200

static pthread_barrier_t all_hold_outer;
static atomic_int downloads, done, inner_owned;

static void *owner(void *arg)
{
    char outer[64];
    snprintf(outer, sizeof outer, "test/metadata/%d", (int)(intptr_t)arg);
    if (!ec_flight_enter(outer))
        return (void *)1; /* nobody else has this key */
    pthread_barrier_wait(&all_hold_outer);
    /* its own page: a key only it asks for */
    char inner[64];
    snprintf(inner, sizeof inner, "test/page/%d", (int)(intptr_t)arg);
    if (!ec_flight_enter(inner))
        return (void *)1;
    atomic_fetch_add(&inner_owned, 1);
    ec_flight_leave(inner);
    /* the one wheel they all want: downloaded once (the "store" is `done`) */
    bool own = false;
    while (!atomic_load(&done) && !(own = ec_flight_enter("test/file/shared.whl")))
        ;
    if (own) {
        if (!atomic_load(&done)) {
            atomic_fetch_add(&downloads, 1);
            usleep(1000); /* a download the others wait on */
            atomic_store(&done, 1);
        }
        ec_flight_leave("test/file/shared.whl");
    }
    ec_flight_leave(outer);
    return NULL;
}

static void flight__nested_owners_beyond_any_table_size_finish(void **state)
{
    (void)state;
    /* before, the 65th owner waited for a slot held by owners waiting for slots: a hang,
     * which this turns into a failure well before ctest's own timeout */
    alarm(240);
    pthread_barrier_init(&all_hold_outer, NULL, OWNERS);
    pthread_t th[OWNERS];
    for (intptr_t i = 0; i < OWNERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, owner, (void *)i), 0);
    for (int i = 0; i < OWNERS; i++) {
        void *rv;
        assert_int_equal(pthread_join(th[i], &rv), 0);
        assert_null(rv);
    }
    alarm(0);
    pthread_barrier_destroy(&all_hold_outer);
    assert_int_equal(atomic_load(&inner_owned), OWNERS);
    assert_int_equal(atomic_load(&downloads), 1);
}

static void flight__a_key_has_one_owner_until_it_leaves(void **state)
{
    (void)state;
    assert_true(ec_flight_enter("test/one"));
    assert_true(ec_flight_enter("test/two")); /* another key is free */
    ec_flight_leave("test/two");
    ec_flight_leave("test/one");
    assert_true(ec_flight_enter("test/one")); /* free again once left */
    ec_flight_leave("test/one");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flight__a_key_has_one_owner_until_it_leaves),
        cmocka_unit_test(flight__nested_owners_beyond_any_table_size_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
