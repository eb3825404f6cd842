/* SPDX-License-Identifier: MIT */
/* ec_apt_solve from the command line, for the differential test against apt:
 *   apt-solve-driver [--arch A] [--status FILE] [--recommends] [--json]
 *                    --index URI SUITE COMPONENT PACKAGES_FILE ... -- SPEC...
 * prints "name version arch" per package to install (or the lock's packages as JSON).
 * The first index reaches the pool as a warm-up's does: fed in pieces while "it downloads",
 * the others parsed from their files. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/apt/apt_int.h"

static int feed_first(ec_apt_pool *pool, ec_apt_index *ix, ec_err *err)
{
    FILE *f = fopen(ix->path, "re");
    if (!f)
        return ec_fail_sys(err, errno, "cannot open %s", ix->path);
    ec_sha256 *h = ec_sha256_new();
    char buf[1 << 16];
    size_t n;
    ec_apt_pool_feed_begin(pool);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ec_sha256_update(h, buf, n);
        ec_apt_pool_feed(pool, buf, n);
    }
    fclose(f);
    ec_sha256_final(h, &ix->blob);
    ec_apt_pool_feed_end(pool, &ix->blob);
    return EC_OK;
}

int main(int argc, char **argv)
{
    ec_apt_solve_opts o = {.arch = "amd64"};
    ec_apt_index idx[64];
    ec_apt_source src[64];
    size_t nidx = 0;
    int json = 0, i = 1;
    memset(idx, 0, sizeof idx);
    memset(src, 0, sizeof src);
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            o.arch = argv[++i];
        } else if (!strcmp(argv[i], "--status") && i + 1 < argc) {
            o.status = argv[++i];
        } else if (!strcmp(argv[i], "--recommends")) {
            o.recommends = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--index") && i + 4 < argc && nidx < 64) {
            src[nidx].uri = argv[i + 1];
            src[nidx].suite = argv[i + 2];
            const char *slash = strrchr(argv[i + 1], '/');
            src[nidx].name = (char *)(slash ? slash + 1 : argv[i + 1]);
            idx[nidx].source = &src[nidx];
            idx[nidx].component = argv[i + 3];
            idx[nidx].path = argv[i + 4];
            nidx++;
            i += 4;
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            fprintf(stderr, "usage: %s [--arch A] [--status F] [--recommends] [--json] "
                            "--index URI SUITE COMP FILE ... -- SPEC...\n", argv[0]);
            return 2;
        }
    }
    json_t *out = NULL;
    ec_err err = {0};
    EC_AUTO(ec_apt_pool) pool = NULL;
    if (ec_apt_pool_new(&pool, o.status, &err) < 0 ||
        (nidx && feed_first(pool, &idx[0], &err) < 0)) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    o.pool = pool;
    int r = ec_apt_solve_texts(&out, idx, nidx, (const char *const *)argv + i, (size_t)(argc - i), &o,
                         &err);
    if (r < 0) {
        fprintf(stderr, "error (%s): %s\n", ec_code_name(r), err.msg);
        return 1;
    }
    if (json) {
        char *s = json_dumps(out, JSON_INDENT(1) | JSON_SORT_KEYS);
        puts(s);
        free(s);
    } else {
        size_t k;
        json_t *p;
        json_array_foreach(out, k, p)
        {
            const char *up = json_string_value(json_object_get(p, "upgrades"));
            printf("%s %s %s%s%s\n", json_string_value(json_object_get(p, "name")),
                   json_string_value(json_object_get(p, "version")),
                   json_string_value(json_object_get(p, "arch")), up ? " upgrades " : "",
                   up ? up : "");
        }
    }
    json_decref(out);
    return 0;
}
