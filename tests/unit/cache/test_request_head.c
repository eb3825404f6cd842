/* SPDX-License-Identifier: MIT */
/* The accept front's check of a request head (cache/api/request_head.c): each head gets the
 * same verdict whether it arrives whole or a byte at a time (the front feeds what it has
 * peeked so far, again and again), and a good head is never refused on the way. */
#include "tests/unit/helpers/ec_test.h"

#include <stdio.h>
#include <string.h>

#include "cache/api/request_head.h"

static const ec_head_limits lim = {.url_max = 64, .header_max = 128, .fields_max = 4};

static const struct {
    const char *head;
    int status; /* 0: accepted */
} cases[] = {
    {"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 0},
    {"\r\nGET /a?b=c HTTP/1.1\r\nhOsT: t\r\nX-A: b\r\n\r\nbody", 0},
    {"GET / HTTP/1.0\r\n\r\n", 0},
    {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 0},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 0}, /* an empty host is still one */
    {"GET / HTTP/1.1\r\nHost: t\r\nHostname: u\r\n\r\n", 0},
    {"GET / HTTP/1.1\r\n\r\n", 400},
    /* refused at the head's end: the body is not read as another request's head */
    {"PUT / HTTP/1.1\r\ncontent-length: 9\r\n\r\nHEAD /x H", 400},
    {"GET / HTTP/1.1\r\nHostx: t\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
    {"GET / HTTX/1.1\r\nHost: t\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400},
    {"FOO / HTTP/1.1\r\nHost: t\r\n\r\n", 501},
    {"\x01\x02 / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1 \r\n\r\nx", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length-X: 1 \r\nContent-Lengt: 2 \r\n\r\n", 0},
    {"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"
     "Host: t\r\n\r\n", 414},
    {"GET / HTTP/1.1\r\nHost: t\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", 431},
    {"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400}, /* obsolete line folding */
    {"GET / HTTP/1.1\r\nHost: t\r\nX:\r\n b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: t\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 431},
};

static int verdict_status(ec_head_verdict v, const ec_head *h)
{
    return v == EC_HEAD_OK ? 0 : v == EC_HEAD_BAD ? h->status : -1;
}

static void head__whole_or_in_pieces_alike(void **state)
{
    (void)state;
    for (size_t i = 0; i < EC_ARRAY_LEN(cases); i++) {
        const char *s = cases[i].head;
        size_t n = strlen(s);
        ec_head whole;
        ec_head_init(&whole, &lim);
        int got = verdict_status(ec_head_feed(&whole, s, n), &whole);
        if (got != cases[i].status)
            fail_msg("case %zu (%s): %d, want %d (%s)", i, s, got, cases[i].status, whole.msg);
        ec_head bytewise;
        ec_head_init(&bytewise, &lim);
        int v = -1;
        for (size_t k = 1; k <= n && v < 0; k++) {
            v = verdict_status(ec_head_feed(&bytewise, s, k), &bytewise);
            if (cases[i].status == 0 && v > 0)
                fail_msg("case %zu: a good head refused after %zu bytes: %s", i, k,
                         bytewise.msg);
        }
        if (v != cases[i].status)
            fail_msg("case %zu (%s) byte by byte: %d, want %d (%s)", i, s, v, cases[i].status,
                     bytewise.msg);
        if (v > 0)
            assert_string_equal(bytewise.msg, whole.msg);
        if (v > 0 && strncmp(s, "PUT", 3) == 0)
            assert_int_equal(whole.p.method, HTTP_PUT);
    }
}

static void head__overflow_and_truncation_are_refused(void **state)
{
    (void)state;
    ec_head h;
    ec_head_init(&h, &lim);
    const char *part = "GET /abc";
    assert_int_equal(ec_head_feed(&h, part, strlen(part)), EC_HEAD_MORE);
    ec_head_overflow(&h);
    assert_int_equal(h.status, 414); /* still in the target */
    ec_head_init(&h, &lim);
    part = "GET / HTTP/1.1\r\nHost: t\r\nX: ab";
    assert_int_equal(ec_head_feed(&h, part, strlen(part)), EC_HEAD_MORE);
    ec_head_overflow(&h);
    assert_int_equal(h.status, 431);
    ec_head_init(&h, &lim);
    assert_int_equal(ec_head_feed(&h, part, strlen(part)), EC_HEAD_MORE);
    ec_head_truncated(&h);
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(h.msg, "closed before"));
}

static void span_text(char *out, size_t cap, const char *all, ec_head_span sp)
{
    snprintf(out, cap, "%.*s", (int)sp.len, all + sp.off);
}

/* The target and each field are found where they lie, however the head was cut, so the
 * connection can use them without a copy; an empty value has no place. */
static void head__spans_name_the_target_and_fields(void **state)
{
    (void)state;
    static const char s[] = "\r\nPOST /a/b?c=%20d HTTP/1.1\r\nHost: h.example\r\n"
                            "X-Empty:\r\nX-Pad:   v w  \r\ncontent-length: 2\r\n\r\nxy";
    static const char *const want[][2] = {
        {"Host", "h.example"}, {"X-Empty", ""}, {"X-Pad", "v w  "}, {"content-length", "2"}};
    size_t n = strlen(s);
    for (size_t step = 1; step <= n; step++) { /* fed in pieces of @step bytes */
        ec_head h;
        ec_head_limits big = {.url_max = 64, .header_max = 256, .fields_max = 8};
        ec_head_init(&h, &big);
        ec_head_verdict v = EC_HEAD_MORE;
        for (size_t k = step; v == EC_HEAD_MORE; k = k + step < n ? k + step : n)
            v = ec_head_feed(&h, s, k);
        assert_int_equal(v, EC_HEAD_OK);
        char got[64];
        span_text(got, sizeof got, s, h.url);
        assert_string_equal(got, "/a/b?c=%20d");
        assert_int_equal(h.fields, 4);
        for (size_t i = 0; i < 4; i++) {
            span_text(got, sizeof got, s, h.f[i].name);
            assert_string_equal(got, want[i][0]);
            span_text(got, sizeof got, s, h.f[i].value);
            if (strcmp(got, want[i][1]) != 0)
                fail_msg("step %zu, field %zu: value \"%s\", want \"%s\"", step, i, got,
                         want[i][1]);
        }
        assert_int_equal(h.len, n - 2); /* the body is not the head's */
    }
}

static void head__unescape_decodes_and_keeps_bad_escapes(void **state)
{
    (void)state;
    char a[] = "/a%2Fb%zz%4+c%00d";
    assert_int_equal(ec_http_unescape(a, false), 13);
    assert_memory_equal(a, "/a/b%zz%4+c\0d", 13);
    char q[] = "x+y%3D1";
    ec_http_unescape(q, true);
    assert_string_equal(q, "x y=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head__whole_or_in_pieces_alike),
        cmocka_unit_test(head__overflow_and_truncation_are_refused),
        cmocka_unit_test(head__spans_name_the_target_and_fields),
        cmocka_unit_test(head__unescape_decodes_and_keeps_bad_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
