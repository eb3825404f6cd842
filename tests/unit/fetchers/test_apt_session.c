/* SPDX-License-Identifier: MIT */
/* fetchers/apt/apt_session.c: a session root's apt sources, both forms, written again as
 * one sources.list through the mirror's routes; sources.list.d's files emptied; a root
 * without apt sources gets nothing. */
#include "tests/unit/helpers/ec_test.h"

#include <stdlib.h>
#include <string.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

struct got {
    char *path[8], *text[8];
    size_t n;
};

static int put(void *ud, const char *path, const char *text, ec_err *err)
{
    (void)err;
    struct got *g = ud;
    assert_true(g->n < 8);
    g->path[g->n] = ec_xstrdup(path);
    g->text[g->n++] = ec_xstrdup(text);
    return EC_OK;
}

static const char *text_of(const struct got *g, const char *path)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->path[i], path) == 0)
            return g->text[i];
    return NULL;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->path[i]), free(g->text[i]);
}

static void write_at(const char *root, const char *rel, const char *text)
{
    char *p = ec_xasprintf("%s/%s", root, rel), *dir = ec_xstrdup(p);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(ec_mkdir_p(dir, 0755, NULL), EC_OK);
    assert_int_equal(ec_write_file_atomic(p, text, strlen(text), 0644, NULL), EC_OK);
    free(dir);
    free(p);
}

static void apt_session__sources_through_the_mirror(void **state)
{
    (void)state;
    char *root = ect_tmpdir();
    write_at(root, "etc/apt/sources.list",
             "deb [signed-by=/usr/share/keyrings/k.gpg] http://archive.test/debian bookworm "
             "main contrib\n");
    write_at(root, "etc/apt/sources.list.d/security.sources",
             "Types: deb\nURIs: http://security.test/debian-security\n"
             "Suites: bookworm-security\nComponents: main\n");
    write_at(root, "etc/apt/sources.list.d/old.list.disabled", "deb http://x.test/y z main\n");
    struct got g = {0};
    assert_int_equal(ec_apt_session_render(root, "http://10.0.0.1:8080/mirror", put, &g, NULL),
                     EC_OK);
    const char *list = text_of(&g, "etc/apt/sources.list");
    assert_non_null(list);
    assert_non_null(strstr(list, "deb [signed-by=/usr/share/keyrings/k.gpg] "
                                 "http://10.0.0.1:8080/mirror/apt/debian bookworm main contrib\n"));
    assert_non_null(strstr(list, "deb http://10.0.0.1:8080/mirror/apt/debian-security "
                                 "bookworm-security main\n"));
    assert_null(strstr(list, "archive.test"));
    assert_string_equal(text_of(&g, "etc/apt/sources.list.d/security.sources"), "");
    assert_null(text_of(&g, "etc/apt/sources.list.d/old.list.disabled"));
    assert_int_equal(g.n, 2);
    got_free(&g);
    ect_rmdir(root);
}

static void apt_session__no_sources_puts_nothing(void **state)
{
    (void)state;
    char *root = ect_tmpdir();
    struct got g = {0};
    ec_err err = {0};
    assert_int_equal(ec_apt_session_render(root, "http://10.0.0.1:8080/mirror", put, &g, &err),
                     EC_OK);
    assert_int_equal(g.n, 0);
    assert_string_equal(err.msg, "");
    ect_rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_session__sources_through_the_mirror),
        cmocka_unit_test(apt_session__no_sources_puts_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
