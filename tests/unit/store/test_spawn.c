/* SPDX-License-Identifier: MIT */
/* store/util/spawn.c: exit statuses and signals, stderr's first line for messages, a log
 * that takes both streams, a program that cannot be started. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>

#include "store/util/fs.h"
#include "store/util/mem.h"
#include "store/util/spawn.h"

static void spawn__exit_status_and_signal(void **state)
{
    (void)state;
    int st = -1;
    const char *ok[] = {"true", NULL};
    assert_int_equal(ec_spawn_wait(&st, ok, NULL, NULL), EC_OK);
    assert_int_equal(st, 0);
    const char *three[] = {"sh", "-c", "exit 3", NULL};
    assert_int_equal(ec_spawn_wait(&st, three, NULL, NULL), EC_OK);
    assert_int_equal(st, 3);
    const char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
    assert_int_equal(ec_spawn_wait(&st, killed, NULL, NULL), EC_OK);
    assert_int_equal(st, 128 + 9);
}

static void spawn__why_is_the_first_line_of_stderr(void **state)
{
    (void)state;
    int st;
    char why[16];
    ec_spawn_opts o = {.why = why, .why_cap = sizeof why};
    /* more than the pipe holds after the first line: the program must not block */
    const char *argv[] = {"sh", "-c",
                          "echo out; echo 'first line of the error' >&2; "
                          "head -c 200000 /dev/zero >&2; exit 1",
                          NULL};
    assert_int_equal(ec_spawn_wait(&st, argv, &o, NULL), EC_OK);
    assert_int_equal(st, 1);
    assert_string_equal(why, "first line of t"); /* cut to the buffer */
}

static void spawn__log_takes_both_streams(void **state)
{
    (void)state;
    char *dir = ect_tmpdir();
    char *log = ec_xasprintf("%s/log", dir);
    int st;
    ec_spawn_opts o = {.log = log};
    const char *argv[] = {"sh", "-c", "echo to-out; echo to-err >&2", NULL};
    assert_int_equal(ec_spawn_wait(&st, argv, &o, NULL), EC_OK);
    char *text = NULL;
    assert_int_equal(ec_read_file(&text, NULL, log, 1024, NULL), EC_OK);
    assert_string_equal(text, "to-out\nto-err\n");
    free(text);
    free(log);
    ect_rmdir(dir);
}

static void spawn__missing_program_is_named(void **state)
{
    (void)state;
    int st;
    ec_err err = {0};
    const char *argv[] = {"envcache-no-such-program", NULL};
    assert_int_equal(ec_spawn_wait(&st, argv, NULL, &err), EC_ESYS);
    assert_non_null(strstr(err.msg, "cannot run envcache-no-such-program"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawn__exit_status_and_signal),
        cmocka_unit_test(spawn__why_is_the_first_line_of_stderr),
        cmocka_unit_test(spawn__log_takes_both_streams),
        cmocka_unit_test(spawn__missing_program_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
