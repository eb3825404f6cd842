/* SPDX-License-Identifier: MIT */
/* go-resolve: runs the go fetcher's resolve (and with --fetch, its fetch) against a
 * proxy and prints the lock. A driver for tests/live/test_go_diff.sh and the integrity
 * tests; not part of envcache itself.
 *
 *   go-resolve --store DIR --proxy LIST --gosumdb "name+hash+key [url]|off"
 *              [--nosumdb GLOBS] [--probe GOVERSION] [--fetch] SPEC...
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/manager.h"
#include "store/util/mem.h"

int main(int argc, char **argv)
{
    const char *store = NULL, *proxy = NULL, *sumdb = NULL, *nosum = "", *probe = NULL;
    bool fetch = false;
    static const struct option opts[] = {
        {"store", required_argument, NULL, 's'}, {"proxy", required_argument, NULL, 'p'},
        {"gosumdb", required_argument, NULL, 'd'}, {"nosumdb", required_argument, NULL, 'n'},
        {"probe", required_argument, NULL, 'g'}, {"fetch", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 's': store = optarg; break;
        case 'p': proxy = optarg; break;
        case 'd': sumdb = optarg; break;
        case 'n': nosum = optarg; break;
        case 'g': probe = optarg; break;
        case 'f': fetch = true; break;
        default: return 2;
        }
    }
    if (!store || !proxy || !sumdb || optind >= argc) {
        fprintf(stderr, "usage: go-resolve --store DIR --proxy LIST --gosumdb DB [--nosumdb G] "
                        "[--probe GOVERSION] [--fetch] SPEC...\n");
        return 2;
    }
    const ec_manager *m = ec_manager_find("go");
    ec_err err = {0};
    ec_store *st = NULL;
    ec_http *http = NULL;
    if (ec_store_open(&st, store, &err) < 0 || ec_http_new(&http, NULL, &err) < 0) {
        fprintf(stderr, "go-resolve: %s\n", err.msg);
        return 1;
    }
    size_t n = (size_t)(argc - optind);
    ec_spec *specs = ec_xcalloc(n, sizeof *specs);
    for (size_t i = 0; i < n; i++)
        if (m->parse(&specs[i], argv[optind + (int)i], &err) < 0) {
            fprintf(stderr, "go-resolve: %s\n", err.msg);
            return 1;
        }
    json_t *cfg = json_pack("{s:s, s:s}", "gosumdb", sumdb, "gonosumdb", nosum);
    ec_fetch_ctx ctx = {.store = st, .http = http, .upstream = proxy, .config = cfg,
                        .platform = "linux/amd64"};
    ec_resolve_req req = {.specs = specs, .texts = (const char *const *)argv + optind,
                          .nspecs = n, .platform = "linux/amd64", .upstream = proxy,
                          .probe = probe};
    json_t *lock = NULL;
    int r = m->ops->resolve(&ctx, &req, &lock, &err);
    if (r == EC_OK && fetch)
        r = m->ops->fetch(&ctx, lock, &err);
    if (r < 0)
        fprintf(stderr, "go-resolve: %s (%s)\n", err.msg, ec_code_name(r));
    else {
        json_dumpf(lock, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        putchar('\n');
    }
    json_decref(lock);
    json_decref(cfg);
    free(specs);
    ec_http_free(http);
    ec_store_close(st);
    return r == EC_OK ? 0 : r == EC_EINTEGRITY ? 3 : 1;
}
