/* SPDX-License-Identifier: MIT */
/* Tests of cache/oci/reg_ref.c, the challenge parameters of reg_auth.c and the canonical
 * shapes of image.c: what a reference may be, what a registry's challenge says, and that
 * the same layers always give the same bytes. */
#include "tests/unit/helpers/ec_test.h"

#include <stdlib.h>
#include <string.h>

#include "cache/oci/oci_int.h"

static void reg_ref__parses_host_repo_tag_digest(void **state)
{
    (void)state;
    ec_oci_ref r;
    ec_err err = {0};
    assert_int_equal(ec_oci_ref_parse(&r, "127.0.0.1:5000/team/web:v1", false, &err), EC_OK);
    assert_string_equal(r.base, "https://127.0.0.1:5000");
    assert_string_equal(r.host, "127.0.0.1:5000");
    assert_string_equal(r.repo, "team/web");
    assert_string_equal(r.tag, "v1");
    assert_null(r.digest);
    ec_oci_ref_fini(&r);
    const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char text[200];
    snprintf(text, sizeof text, "http://localhost/a/b.c_d-e@%s", d);
    assert_int_equal(ec_oci_ref_parse(&r, text, false, &err), EC_OK);
    assert_string_equal(r.base, "http://localhost");
    assert_string_equal(r.repo, "a/b.c_d-e");
    assert_null(r.tag);
    assert_string_equal(r.digest, d);
    ec_oci_ref_fini(&r);
    assert_int_equal(ec_oci_ref_parse(&r, "reg.example:443/tier", true, &err), EC_OK);
    assert_null(r.tag);
    ec_oci_ref_fini(&r);
}

static void reg_ref__refuses_bad_references_naming_the_rule(void **state)
{
    (void)state;
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"team/web:v1", "names no registry"},
        {"web:v1", "give the registry's host"},
        {"127.0.0.1:5000/Team/web:v1", "not a repository name"},
        {"127.0.0.1:5000/team//web:v1", "not a repository name"},
        {"127.0.0.1:5000/team/web-:v1", "not a repository name"},
        {"127.0.0.1:5000/team/web:-v1", "not a tag"},
        {"127.0.0.1:5000/team/web", "names no tag or digest"},
        {"127.0.0.1:5000/team/web@sha256:12", "not a sha256 digest"},
        {"127.0.0.1:5000/team/web@md5:0123456789abcdef0123456789abcdef", "not a sha256"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ec_oci_ref r;
        ec_err err = {0};
        assert_int_equal(ec_oci_ref_parse(&r, bad[i].text, false, &err), EC_EINVAL);
        if (!strstr(err.msg, bad[i].says))
            fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].text, err.msg, bad[i].says);
        assert_null(r.repo); /* nothing to free on failure */
    }
}

static void reg_auth__challenge_params(void **state)
{
    (void)state;
    const char *ch = " realm=\"https://auth.test/token?x=1\",service=\"registry\","
                     "scope=\"repository:team/web:pull,push\",error=insufficient_scope";
    char *v = ec_reg__challenge_param(ch, "realm");
    assert_string_equal(v, "https://auth.test/token?x=1");
    free(v);
    v = ec_reg__challenge_param(ch, "scope");
    assert_string_equal(v, "repository:team/web:pull,push"); /* a comma inside quotes */
    free(v);
    v = ec_reg__challenge_param(ch, "error");
    assert_string_equal(v, "insufficient_scope"); /* unquoted */
    free(v);
    assert_null(ec_reg__challenge_param(ch, "ream"));
    assert_null(ec_reg__challenge_param(" realm=\"https://a/t?service=x\"", "service"));
    assert_null(ec_reg__challenge_param(" realm=\"unterminated", "realm"));
}

static void image__same_layers_same_bytes(void **state)
{
    (void)state;
    ec_layer_info l[2] = {{.size = 10, .tar_size = 20, .files = 3, .flags = EC_LAYER_BASE},
                          {.size = 11, .tar_size = 21, .files = 4}};
    memset(l[0].digest.b, 1, 32);
    memset(l[0].diff_id.b, 2, 32);
    memset(l[1].digest.b, 3, 32);
    memset(l[1].diff_id.b, 4, 32);
    char *a[2];
    for (int k = 0; k < 2; k++) {
        json_t *descs = json_array();
        for (int i = 0; i < 2; i++)
            json_array_append_new(descs, ec_oci_layer_desc(&l[i]));
        json_t *cfg = ec_oci_config(l, 2);
        char *ct = ec_oci_dump(cfg);
        ec_digest cd;
        ec_sha256_buf(&cd, ct, strlen(ct));
        json_t *m = ec_oci_manifest(ec_oci_desc(EC_OCI_CONFIG, &cd, strlen(ct)), descs, NULL);
        a[k] = ec_oci_dump(m);
        json_decref(m);
        json_decref(cfg);
        free(ct);
    }
    assert_string_equal(a[0], a[1]);
    assert_non_null(strstr(a[0], "\"org.envcache.layer.base\":\"true\""));
    assert_non_null(strstr(a[0], EC_OCI_LAYER_ZSTD));
    assert_null(strchr(a[0], '\n')); /* compact */
    free(a[0]);
    free(a[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reg_ref__parses_host_repo_tag_digest),
        cmocka_unit_test(reg_ref__refuses_bad_references_naming_the_rule),
        cmocka_unit_test(reg_auth__challenge_params),
        cmocka_unit_test(image__same_layers_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
