/* SPDX-License-Identifier: MIT */
/* Tests of cache/layer_key.c: which inputs change a layer key and which do not. */
#include "tests/unit/helpers/ec_test.h"

#include <string.h>

#include "cache/warm/layer_key.h"

static ec_digest dg(unsigned char v)
{
    ec_digest d;
    memset(d.b, v, sizeof d.b);
    return d;
}

static ec_digest key_of(const ec_layer_key_in *in)
{
    ec_digest d;
    ec_err err = {0};
    assert_int_equal(ec_layer_key(&d, in, &err), EC_OK);
    return d;
}

static void layer_key__runs_code_depends_on_lowers(void **state)
{
    (void)state;
    ec_digest lock = dg(1), base_a[2] = {dg(2), dg(3)}, base_b[2] = {dg(4), dg(3)};
    ec_digest swapped[2] = {dg(3), dg(2)};
    ec_layer_key_in in = {"npm", &lock, "linux/amd64", "1", true, base_a, 2};
    ec_digest a = key_of(&in);
    in.lowers = base_b;
    ec_digest b = key_of(&in);
    assert_false(ec_digest_eq(&a, &b)); /* another base never reuses the layer */
    in.lowers = swapped;
    ec_digest c = key_of(&in);
    assert_false(ec_digest_eq(&a, &c)); /* order matters */
    in.nlowers = 1;
    in.lowers = base_a;
    ec_digest d = key_of(&in);
    assert_false(ec_digest_eq(&a, &d));
}

static void layer_key__no_code_ignores_lowers(void **state)
{
    (void)state;
    ec_digest lock = dg(1), base_a = dg(2), base_b = dg(4);
    ec_layer_key_in in = {"pip", &lock, "linux/amd64", "1", false, &base_a, 1};
    ec_digest a = key_of(&in);
    in.lowers = &base_b;
    ec_digest b = key_of(&in);
    in.nlowers = 0;
    ec_digest c = key_of(&in);
    assert_true(ec_digest_eq(&a, &b));
    assert_true(ec_digest_eq(&a, &c));
    in.runs_code = true;
    in.lowers = &base_a;
    in.nlowers = 1;
    ec_digest d = key_of(&in);
    assert_false(ec_digest_eq(&a, &d)); /* the flag itself is an input */
}

static void layer_key__each_field_counts(void **state)
{
    (void)state;
    ec_digest lock = dg(1), lock2 = dg(9);
    ec_layer_key_in in = {"npm", &lock, "linux/amd64", "1", false, NULL, 0};
    ec_digest a = key_of(&in), x;
    ec_layer_key_in v[] = {in, in, in, in};
    v[0].manager = "pip";
    v[1].lock = &lock2;
    v[2].platform = "linux/arm64";
    v[3].builder = "2";
    for (size_t i = 0; i < 4; i++) {
        x = key_of(&v[i]);
        assert_false(ec_digest_eq(&a, &x));
    }
    /* Field boundaries cannot be forged: "np"+"m…" is not "npm"+"…". */
    ec_layer_key_in s1 = {"npmlinux", &lock, "x", "1", false, NULL, 0};
    ec_layer_key_in s2 = {"npm", &lock, "linuxx", "1", false, NULL, 0};
    a = key_of(&s1);
    x = key_of(&s2);
    assert_false(ec_digest_eq(&a, &x));
    /* Stable: the same inputs give the same key. */
    a = key_of(&in);
    x = key_of(&in);
    assert_true(ec_digest_eq(&a, &x));
}

static void layer_key__rejects_missing_inputs(void **state)
{
    (void)state;
    ec_digest lock = dg(1), out;
    ec_err err = {0};
    ec_layer_key_in in = {NULL, &lock, "linux/amd64", "1", false, NULL, 0};
    assert_int_equal(ec_layer_key(&out, &in, &err), EC_EINVAL);
    in = (ec_layer_key_in){"npm", NULL, "linux/amd64", "1", false, NULL, 0};
    assert_int_equal(ec_layer_key(&out, &in, NULL), EC_EINVAL);
    in = (ec_layer_key_in){"npm", &lock, "linux/amd64", "1", true, NULL, 2};
    assert_int_equal(ec_layer_key(&out, &in, NULL), EC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_key__runs_code_depends_on_lowers),
        cmocka_unit_test(layer_key__no_code_ignores_lowers),
        cmocka_unit_test(layer_key__each_field_counts),
        cmocka_unit_test(layer_key__rejects_missing_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
