/* SPDX-License-Identifier: MIT */
/* The artifact gate and its streams: a reader that waits for an artifact gets its stream,
 * reads the body as it arrives (across a retried attempt), and sees a failed download as
 * an error; streams nobody read are freed when their download ends. */
#include "tests/unit/helpers/ec_test.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "fetchers/apt/apt_int.h"

static ec_digest digest_of(const char *s)
{
    ec_digest d;
    ec_sha256_buf(&d, s, strlen(s));
    return d;
}

static size_t read_all(ec_apt_stream *s, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t k = ec_apt_stream_read(s, out + n, cap - n < 7 ? cap - n : 7);
        assert_true(k >= 0);
        if (k == 0)
            return n;
        n += (size_t)k;
    }
}

/* A stream of @name offered on @g (*@p, the producer's side) and taken by a waiting
 * reader (returned). */
static ec_apt_stream *claimed(ec_store *st, ec_apt_gate *g, const char *name,
                                   ec_apt_stream **p)
{
    ec_digest d = digest_of(name);
    ec_apt_stream *r = NULL;
    *p = ec_apt_gate_stream_new(g, &d);
    assert_int_equal(ec_apt_gate_wait_stream(g, st, &d, &r, NULL), EC_OK);
    assert_non_null(r);
    return r;
}

/* A retry restarts the body: the reader goes on from where it was, in the new attempt. */
static void test_restart(void **state)
{
    struct ect_store_fixture *f = *state;
    ec_apt_gate g;
    ec_apt_gate_init(&g);
    ec_apt_stream *p, *r = claimed(f->st, &g, "body", &p);

    ec_apt_stream_append(p, "0123456789", 10);
    char buf[64] = {0};
    assert_int_equal(ec_apt_stream_read(r, buf, 4), 4);
    assert_memory_equal(buf, "0123", 4);
    /* the rest of the first attempt is dropped; the second starts from byte 0 again */
    ec_apt_stream_restart(p);
    ec_apt_stream_append(p, "01", 2);
    ec_apt_stream_append(p, "23ABCDEF", 8);
    ec_apt_stream_end(p, true);
    size_t n = read_all(r, buf, sizeof buf);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "ABCDEF", 6);
    ec_apt_stream_release(r);
    assert_int_equal(g.nstreams, 0);
    ec_apt_gate_fini(&g);
}

static void test_failed(void **state)
{
    struct ect_store_fixture *f = *state;
    ec_apt_gate g;
    ec_apt_gate_init(&g);
    ec_digest d = digest_of("failing");
    ec_apt_stream *p, *r = claimed(f->st, &g, "failing", &p);
    ec_apt_stream_append(p, "abc", 3);
    ec_apt_stream_end(p, false);
    char buf[8];
    errno = 0;
    assert_int_equal(ec_apt_stream_read(r, buf, sizeof buf), -1);
    assert_int_equal(errno, EIO);
    ec_apt_stream_release(r);

    /* a failed stream is not offered again: the waiter gets the downloads' error */
    ec_err why = {0};
    ec_fail(&why, EC_ENETWORK, "fetching failing.deb: HTTP 503");
    ec_apt_gate_finish(&g, EC_ENETWORK, &why);
    ec_err err = {0};
    r = NULL;
    assert_int_equal(ec_apt_gate_wait_stream(&g, f->st, &d, &r, &err), EC_ENETWORK);
    assert_null(r);
    assert_non_null(strstr(err.msg, "HTTP 503"));
    ec_apt_gate_fini(&g);
}

/* A stream that no reader took goes with its download's end; the blob serves the waiter. */
static void test_unclaimed(void **state)
{
    struct ect_store_fixture *f = *state;
    ec_apt_gate g;
    ec_apt_gate_init(&g);
    const char *body = "a whole artifact";
    ec_digest d = digest_of(body), put;
    ec_apt_stream *p = ec_apt_gate_stream_new(&g, &d);
    ec_apt_stream_append(p, body, strlen(body));
    assert_int_equal(ec_blob_put_buf(&put, f->st, body, strlen(body), NULL), EC_OK);
    assert_true(ec_digest_eq(&put, &d));
    ec_apt_stream_end(p, true);
    assert_int_equal(g.nstreams, 0);
    ec_apt_stream *r = NULL;
    assert_int_equal(ec_apt_gate_wait_stream(&g, f->st, &d, &r, NULL), EC_OK);
    assert_null(r); /* stored: read it from the store */
    ec_apt_gate_fini(&g);
}

struct producer {
    ec_apt_gate *g;
    ec_digest d;
    const char *body;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    usleep(50 * 1000); /* the reader is waiting before the stream even exists */
    ec_apt_stream *s = ec_apt_gate_stream_new(p->g, &p->d);
    size_t len = strlen(p->body);
    for (size_t i = 0; i < len; i += 3) {
        usleep(2000);
        ec_apt_stream_append(s, p->body + i, len - i < 3 ? len - i : 3);
    }
    ec_apt_stream_end(s, true);
    return NULL;
}

/* The reader blocks for a stream, then for each next byte, and wakes for both. */
static void test_threads(void **state)
{
    struct ect_store_fixture *f = *state;
    ec_apt_gate g;
    ec_apt_gate_init(&g);
    struct producer pr = {.g = &g, .body = "the quick brown fox jumps over the lazy dog"};
    pr.d = digest_of(pr.body);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, produce, &pr), 0);
    ec_apt_stream *r = NULL;
    assert_int_equal(ec_apt_gate_wait_stream(&g, f->st, &pr.d, &r, NULL), EC_OK);
    assert_non_null(r);
    char buf[128] = {0};
    size_t n = read_all(r, buf, sizeof buf);
    pthread_join(th, NULL);
    assert_int_equal(n, strlen(pr.body));
    assert_string_equal(buf, pr.body);
    ec_apt_stream_release(r);
    ec_apt_gate_fini(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_failed, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed, ect_store_setup, ect_store_teardown),
        cmocka_unit_test_setup_teardown(test_threads, ect_store_setup, ect_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
