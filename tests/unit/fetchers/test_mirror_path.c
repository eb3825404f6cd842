/* SPDX-License-Identifier: MIT */
/* The mirrors' request-path decoder, shared by npm and apt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fetchers/mirror_index.h"

static void check(const char *in, const char *want)
{
    char *got = ec_mirror_path_decode(in);
    assert_string_equal(got, want);
    free(got);
}

static void mirror_path__decodes_escapes_and_stops_at_the_query(void **state)
{
    (void)state;
    check("/@types%2fnode", "/@types/node");
    check("/@types%2Fnode", "/@types/node");
    check("/pool/main/g/gcc/libstdc%2b%2b6_12.deb", "/pool/main/g/gcc/libstdc++6_12.deb");
    check("/express?write=true", "/express");
    check("/a%3Fb", "/a?b");  /* an escaped '?' is part of the path */
    check("/nul%00x", "/nul%00x"); /* never a NUL in the middle */
    check("/bad%zz%4", "/bad%zz%4"); /* malformed escapes stay as they are */
    check("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mirror_path__decodes_escapes_and_stops_at_the_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
