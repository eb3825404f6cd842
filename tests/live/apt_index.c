/* SPDX-License-Identifier: MIT */
/* apt-index: verifies the host's configured Debian archive with the apt fetcher's index
 * code and prints one line per Packages index ("suite<TAB>component<TAB>bytes<TAB>Date"),
 * then gets them again and prints "second<TAB>requests=N" (N must be 0 within the TTL).
 * A test driver for tests/live/test_apt_index.sh; not part of envcache itself.
 *
 *   apt-index STORE_DIR SUITE [COMPONENT] [KEYRING]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/mem.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: apt-index STORE_DIR SUITE [COMPONENT] [KEYRING]\n");
        return 2;
    }
    const char *comp = argc > 3 ? argv[3] : "main";
    ec_err err = {0};
    ec_store *st = NULL;
    ec_http *h = NULL;
    if (ec_store_open(&st, argv[1], &err) < 0 || ec_http_new(&h, NULL, &err) < 0) {
        fprintf(stderr, "apt-index: %s\n", err.msg);
        return 1;
    }
    json_t *cfg = json_object();
    if (argc > 4)
        json_object_set_new(cfg, "keyring", json_string(argv[4]));
    ec_fetch_ctx ctx = {.store = st, .http = h, .config = cfg};
    ec_apt_sources all, s = {0};
    if (ec_apt_sources_load(&all, &ctx, &err) < 0) {
        fprintf(stderr, "apt-index: %s\n", err.msg);
        return 1;
    }
    /* Only SUITE's COMPONENT of the host's sources (borrowed entries). */
    s.arch = all.arch;
    s.keyring = all.keyring;
    s.v = ec_xcalloc(all.n, sizeof *s.v);
    for (size_t i = 0; i < all.n; i++) {
        if (strcmp(all.v[i].suite, argv[2]) != 0)
            continue;
        for (size_t j = 0; j < all.v[i].ncomponents; j++)
            if (strcmp(all.v[i].components[j], comp) == 0) {
                s.v[s.n] = all.v[i];
                s.v[s.n].components = &all.v[i].components[j];
                if (argc > 4) /* KEYRING replaces the source's Signed-By too */
                    s.v[s.n].signed_by = NULL;
                s.v[s.n++].ncomponents = 1;
            }
    }
    if (!s.n) {
        fprintf(stderr, "apt-index: the host's apt sources have no %s %s\n", argv[2], comp);
        return 77;
    }
    int rc = 0;
    for (int round = 0; round < 2 && rc == 0; round++) {
        ec_http_stats before, after;
        ec_http_stats_get(h, &before);
        ec_apt_index *idx = NULL;
        size_t n = 0;
        if (ec_apt_indexes_get(&idx, &n, &ctx, &s, NULL, &err) < 0) {
            fprintf(stderr, "apt-index: %s\n", err.msg);
            rc = 1;
            break;
        }
        ec_http_stats_get(h, &after);
        for (size_t i = 0; round == 0 && i < n; i++) {
            struct stat sb;
            stat(idx[i].path, &sb);
            printf("%s\t%s\t%lld\t%s\n", idx[i].source->suite, idx[i].component,
                   (long long)sb.st_size, idx[i].release_date);
        }
        if (round == 1)
            printf("second\trequests=%llu\n",
                   (unsigned long long)(after.requests - before.requests));
        ec_apt_indexes_free(idx, n);
    }
    free(s.v);
    ec_apt_sources_fini(&all);
    json_decref(cfg);
    ec_http_free(h);
    ec_store_close(st);
    return rc;
}
