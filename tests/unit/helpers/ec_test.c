/* SPDX-License-Identifier: MIT */
/* Implementation of the unit-test fixtures. */
#include "tests/unit/helpers/ec_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

char *ect_tmpdir(void)
{
    const char *base = getenv("EC_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    ec_mkdir_p(base, 0755, NULL);
    char *tmpl = ec_xasprintf("%s/ect-XXXXXX", base);
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

void ect_rmdir(char *dir)
{
    if (dir) {
        ec_err err = {0};
        ec_rm_rf(dir, &err);
        free(dir);
    }
}

void ect_write(const char *dir, const char *rel, const char *text, unsigned mode)
{
    char *path = ec_xasprintf("%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(ec_mkdir_p(path, 0755, NULL), EC_OK);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    free(path);
}

static int count_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        n++;
        if (de->d_type == DT_DIR) {
            char *sub = ec_xasprintf("%s/%s", path, de->d_name);
            n += count_tree(sub);
            free(sub);
        }
    }
    closedir(d);
    return n;
}

int ect_count(const char *dir, const char *rel)
{
    char *path = ec_xasprintf("%s/%s", dir, rel);
    int n = count_tree(path);
    free(path);
    return n;
}

void ect_sh(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    int rc = system(cmd); /* tests only: builds fixtures with the real tools */
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
    free(cmd);
}

int ect_store_setup(void **state)
{
    struct ect_store_fixture *fx = ec_xcalloc(1, sizeof *fx);
    ec_err err = {0};
    fx->home = ect_tmpdir();
    if (ec_store_open(&fx->st, fx->home, &err) != EC_OK) {
        fprintf(stderr, "store open failed: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

int ect_store_teardown(void **state)
{
    struct ect_store_fixture *fx = *state;
    ec_store_close(fx->st);
    ect_rmdir(fx->home);
    free(fx);
    return 0;
}
