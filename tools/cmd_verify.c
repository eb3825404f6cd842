/* SPDX-License-Identifier: MIT */
/* `envcache verify [--repair]`: exit 0 when the index and the disk agree. */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

static const char verify_usage[] =
    "Usage: envcache verify [--repair] [--json]\n\n"
    "Re-hashes every blob and cross-checks the index with blobs/, layers/ and tmp/.\n"
    "Problems (corrupt or missing blobs, layers whose blob is gone, store directories or\n"
    "files whose mode is looser than the store's private one) make it exit 1.\n"
    "Leftovers of interrupted work (intact unindexed blobs, stale temporaries) are\n"
    "listed but are not problems. --repair removes both and sets loose modes back.\n";

static void show(const ec_finding *f, void *payload)
{
    ec_cli *cli = payload;
    if (cli->json)
        return;
    printf("%-8s %-12s %s: %s%s\n", f->problem ? "PROBLEM" : "leftover", f->kind, f->object,
           f->reason, f->removed ? " (removed)" : "");
}

static void collect(const ec_finding *f, void *payload)
{
    json_array_append_new(payload, json_pack("{s:s, s:s, s:s, s:b, s:b, s:I}", "kind", f->kind,
                                             "object", f->object, "reason", f->reason, "problem",
                                             f->problem, "removed", f->removed, "bytes",
                                             (json_int_t)f->bytes));
}

static void on_finding(const ec_finding *f, void *payload)
{
    void **pp = payload;
    show(f, pp[0]);
    collect(f, pp[1]);
}

int ec_cmd_verify(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"repair", no_argument, NULL, 'r'}, {0}};
    bool repair = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(verify_usage, stdout), EC_EXIT_OK;
        if (o == 'r')
            repair = true;
        else
            return ec_cli_usage(cli, "bad option");
    }
    if (optind != argc)
        return ec_cli_usage(cli, "verify takes no arguments");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    ec_verify_stats st;
    json_t *items = json_array();
    void *pp[2] = {cli, items};
    if (ec_store_verify(&st, ec_cache_store(c), repair, on_finding, pp, &err) < 0) {
        json_decref(items);
        return ec_cli_fail(cli, &err);
    }
    if (cli->json) {
        json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "clean",
                              st.problems == 0, "blobs", (json_int_t)st.blobs, "layers",
                              (json_int_t)st.layers, "bytes", (json_int_t)st.bytes, "problems",
                              (json_int_t)st.problems, "leftovers", (json_int_t)st.leftovers,
                              "removed", (json_int_t)st.removed, "findings", items);
        ec_cli_print_json(j);
        json_decref(j);
    } else {
        char h[32];
        printf("verify: %llu blobs (%s), %llu layers checked: %llu problems, %llu leftovers%s\n",
               (unsigned long long)st.blobs, ec_cli_human(h, st.bytes),
               (unsigned long long)st.layers, (unsigned long long)st.problems,
               (unsigned long long)st.leftovers, repair ? ", repaired" : "");
        json_decref(items);
    }
    return st.problems && !repair ? EC_EXIT_FAIL : EC_EXIT_OK;
}
