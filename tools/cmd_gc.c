/* SPDX-License-Identifier: MIT */
/* `envcache gc [--dry-run] [--max-size SIZE] [--grace DURATION]`. */
#include "tools/cli.h"

#include <stdio.h>

static const char gc_usage[] =
    "Usage: envcache gc [--dry-run] [--max-size SIZE] [--grace DURATION] [--json]\n\n"
    "Removes layers and blobs that no environment or live session references and that\n"
    "are older than the grace period (default 1h), then the least recently used layers\n"
    "until the store is under --max-size (e.g. 20G). --dry-run lists what would go and why.\n";

int ec_cmd_gc(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"max-size", required_argument, NULL, 'm'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {0}};
    ec_gc_opts go = {.grace = 3600};
    ec_err err = {0};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hqn", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(gc_usage, stdout), EC_EXIT_OK;
        if (o == 'n')
            go.dry_run = true;
        else if (o == 'm' && ec_cli_parse_size(&go.max_size, optarg, &err) < 0)
            return ec_cli_usage(cli, "--max-size: %s", err.msg);
        else if (o == 'g' && ec_cli_parse_duration(&go.grace, optarg, &err) < 0)
            return ec_cli_usage(cli, "--grace: %s", err.msg);
        else if (o != 'm' && o != 'g')
            return ec_cli_usage(cli, "bad option");
    }
    if (optind != argc)
        return ec_cli_usage(cli, "gc takes no arguments");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    json_t *rep = NULL;
    if (ec_cache_gc(&rep, c, &go, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json) {
        ec_cli_print_json(rep);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(rep, "items"), i, it) {
            char h[32];
            printf("%s %-12s %s (%s): %s\n", go.dry_run ? "would remove" : "removed",
                   json_string_value(json_object_get(it, "kind")),
                   json_string_value(json_object_get(it, "object")),
                   ec_cli_human(h, (uint64_t)json_integer_value(json_object_get(it, "bytes"))),
                   json_string_value(json_object_get(it, "reason")));
        }
        char a[32], b[32];
        printf("gc%s: store %s -> %s, %zu items%s\n", go.dry_run ? " (dry run)" : "",
               ec_cli_human(a, (uint64_t)json_integer_value(json_object_get(rep, "size_before"))),
               ec_cli_human(b, (uint64_t)json_integer_value(json_object_get(rep, "size_after"))),
               json_array_size(json_object_get(rep, "items")),
               go.dry_run ? " would be removed" : " removed");
    }
    json_decref(rep);
    return EC_EXIT_OK;
}
