/* SPDX-License-Identifier: MIT */
/* Unit tests of apt_sources.c: the config, one-line and deb822 sources of a base. */
#include "tests/unit/helpers/ec_test.h"

#include <stdlib.h>
#include <string.h>

#include "fetchers/apt/apt_int.h"

static const ec_apt_source *find(const ec_apt_sources *s, const char *uri, const char *suite)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].uri, uri) == 0 && strcmp(s->v[i].suite, suite) == 0)
            return &s->v[i];
    return NULL;
}

static void apt_sources__base_one_line_and_deb822(void **state)
{
    (void)state;
    char *root = ect_tmpdir();
    ect_write(root, "etc/apt/sources.list",
              "# a comment\n"
              "deb http://a.example/debian bookworm main contrib # trailing comment\n"
              "deb-src http://a.example/debian bookworm main\n"
              "deb [arch=arm64] http://ports.example/debian bookworm main\n"
              "deb [ signed-by=/k/a.gpg arch=amd64,i386 ] http://b.example/x/debian-security/ "
              "bookworm-security main\n"
              "deb http://flat.example/repo ./\n",
              0644);
    ect_write(root, "etc/apt/sources.list.d/b.sources",
              "Types: deb deb-src\n"
              "URIs: http://c.example/debian\n"
              "Suites: bookworm bookworm-updates\n"
              "Components: main\n"
              " non-free-firmware\n"
              "Signed-By: /usr/share/keyrings/c.gpg\n"
              "\n"
              "# disabled\n"
              "Types: deb\n"
              "URIs: http://off.example/debian\n"
              "Suites: bookworm\n"
              "Components: main\n"
              "Enabled: no\n"
              "\n"
              "Types: deb\n"
              "URIs: http://inline.example/debian\n"
              "Suites: sid\n"
              "Components: main\n"
              "Signed-By:\n"
              " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
              " .\n"
              " abc\n"
              " -----END PGP PUBLIC KEY BLOCK-----\n",
              0644);
    ect_write(root, "etc/apt/sources.list.d/a.list", "deb http://d.example/ubuntu jammy main\n",
              0644);
    ect_write(root, "etc/apt/sources.list.d/z.list.disabled", "deb http://e.example/x y z\n",
              0644);
    ec_fetch_ctx ctx = {.lowers_root = root};
    ec_apt_sources s;
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&s, &ctx, &err), EC_OK);
    assert_string_equal(s.arch, "amd64");
    assert_string_equal(s.keyring, "/usr/share/keyrings/debian-archive-keyring.gpg");
    assert_int_equal(s.n, 6);
    /* sources.list first, then sources.list.d/ in name order */
    assert_string_equal(s.v[0].uri, "http://a.example/debian");
    assert_string_equal(s.v[2].uri, "http://d.example/ubuntu");

    const ec_apt_source *a = find(&s, "http://a.example/debian", "bookworm");
    assert_non_null(a);
    assert_int_equal(a->ncomponents, 2);
    assert_string_equal(a->components[1], "contrib");
    assert_string_equal(a->name, "debian");
    assert_null(a->signed_by);
    const ec_apt_source *b = find(&s, "http://b.example/x/debian-security", "bookworm-security");
    assert_non_null(b);
    assert_string_equal(b->name, "debian-security");
    assert_string_equal(b->signed_by, "/k/a.gpg");
    assert_null(find(&s, "http://ports.example/debian", "bookworm"));
    const ec_apt_source *c = find(&s, "http://c.example/debian", "bookworm-updates");
    assert_non_null(c);
    assert_non_null(find(&s, "http://c.example/debian", "bookworm"));
    assert_int_equal(c->ncomponents, 2);
    assert_string_equal(c->components[1], "non-free-firmware");
    assert_string_equal(c->signed_by, "/usr/share/keyrings/c.gpg");
    assert_null(find(&s, "http://off.example/debian", "bookworm"));
    const ec_apt_source *in = find(&s, "http://inline.example/debian", "sid");
    assert_non_null(in);
    assert_null(in->signed_by); /* inline keys: the default keyring */
    assert_string_equal(find(&s, "http://d.example/ubuntu", "jammy")->name, "ubuntu");
    ec_apt_sources_fini(&s);
    ect_rmdir(root);
}

static void apt_sources__config_wins(void **state)
{
    (void)state;
    json_t *cfg = json_pack("{s:[{s:s, s:s, s:[s,s], s:s}], s:s, s:s}", "sources", "uri",
                            "http://m.example/debian/", "suite", "bookworm", "components",
                            "main", "contrib", "signed_by", "/k.gpg", "arch", "arm64",
                            "keyring", "/default.gpg");
    ec_fetch_ctx ctx = {.config = cfg, .lowers_root = "/nonexistent"};
    ec_apt_sources s;
    ec_err err = {0};
    assert_int_equal(ec_apt_sources_load(&s, &ctx, &err), EC_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.v[0].uri, "http://m.example/debian");
    assert_string_equal(s.v[0].name, "debian");
    assert_string_equal(s.v[0].signed_by, "/k.gpg");
    assert_int_equal(s.v[0].ncomponents, 2);
    assert_string_equal(s.arch, "arm64");
    assert_string_equal(s.keyring, "/default.gpg");
    ec_apt_sources_fini(&s);
    json_decref(cfg);

    cfg = json_pack("{s:[{s:s}]}", "sources", "uri", "http://m.example/debian");
    ctx.config = cfg;
    assert_int_equal(ec_apt_sources_load(&s, &ctx, &err), EC_EINVAL);
    assert_non_null(strstr(err.msg, "sources[0]"));
    json_decref(cfg);
}

static void apt_sources__empty_base_falls_back_to_host(void **state)
{
    (void)state;
    char *root = ect_tmpdir();
    ec_fetch_ctx ctx = {.lowers_root = root};
    ec_apt_sources s;
    ec_err err = {0};
    int rc = ec_apt_sources_load(&s, &ctx, &err);
    /* the host may or may not have sources; either way the answer is well-formed */
    if (rc == EC_OK) {
        assert_true(s.n > 0);
        ec_apt_sources_fini(&s);
    } else {
        assert_int_equal(rc, EC_ENOTFOUND);
        assert_non_null(strstr(err.msg, "no apt sources"));
    }
    ect_rmdir(root);
}

/* The bases hook: the archive of a suite from a sources directory (the one-line and the
 * deb822 forms, in apt's reading order), as a bootstrap without --mirror asks it. */
static void apt_sources__bases_archive_of_a_suite(void **state)
{
    (void)state;
    char *dir = ect_tmpdir(), *url = NULL;
    ec_err err = {0};
    ect_write(dir, "sources.list.d/a.sources",
              "Types: deb\nURIs: http://mirror.test/debian/\nSuites: bookworm bookworm-updates\n"
              "Components: main\n\nTypes: deb\nURIs: http://sec.test/x\n"
              "Suites: bookworm-security\nComponents: main\n",
              0644);
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "bookworm", NULL), EC_OK);
    assert_string_equal(url, "http://mirror.test/debian");
    free(url);
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "bookworm-security", NULL), EC_OK);
    assert_string_equal(url, "http://sec.test/x");
    free(url);
    /* sources.list is read before sources.list.d/, and options are skipped */
    ect_write(dir, "sources.list", "# c\ndeb [signed-by=/k.gpg] http://one.test/d trixie main\n"
              "deb http://two.test/d bookworm main\n"
              "deb [arch=none-such] http://three.test/d forky main\n", 0644);
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "trixie", NULL), EC_OK);
    assert_string_equal(url, "http://one.test/d");
    free(url);
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "bookworm", NULL), EC_OK);
    assert_string_equal(url, "http://two.test/d");
    free(url);
    /* an entry for another architecture does not serve the host's bootstrap */
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "forky", NULL), EC_ENOTFOUND);
    assert_int_equal(ec_apt_bases.archive_find(&url, dir, "sid", &err), EC_ENOTFOUND);
    assert_non_null(strstr(err.msg, "sid"));
    assert_non_null(strstr(err.msg, dir));
    ect_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apt_sources__base_one_line_and_deb822),
        cmocka_unit_test(apt_sources__config_wins),
        cmocka_unit_test(apt_sources__empty_base_falls_back_to_host),
        cmocka_unit_test(apt_sources__bases_archive_of_a_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
