/* SPDX-License-Identifier: MIT */
/* `envcache gc [--dry-run] [--max-size SIZE] [--grace DURATION]`. */
#include "tools/cli.h"

#include <stdio.h>

static const char gc_usage[] =
    "Usage: envcache gc [--dry-run] [--max-size SIZE] [--grace DURATION] [--json]\n\n"
    "Removes layers and blobs that no environment or live session references and that\n"
    "are older than the grace period (default 1h), then the least recently used layers\n"
    "until the store is under --max-size (e.g. 20G). --dry-run lists what would go and why.\n";

static uint64_t field_u64(const json_t *o, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(o, key));
}

/* "1h", "90m", "45s": the grace period as --grace takes it. */
static const char *duration(char out[32], int64_t s)
{
    if (s && s % 3600 == 0)
        snprintf(out, 32, "%lldh", (long long)(s / 3600));
    else if (s && s % 60 == 0)
        snprintf(out, 32, "%lldm", (long long)(s / 60));
    else
        snprintf(out, 32, "%llds", (long long)s);
    return out;
}

/* A plan that stays over the budget says so, then which bytes stay for which cause. */
static void print_budget(const json_t *rep, bool dry_run)
{
    if (json_is_true(json_object_get(rep, "budget_met")))
        return;
    const json_t *held = json_object_get(rep, "held_bytes");
    char h[32], d[32];
    printf("gc%s: the budget of %s cannot be met: ", dry_run ? " (dry run)" : "",
           ec_cli_human(h, field_u64(rep, "max_size")));
    printf("the store stays %s over it, because of what gc may not remove:\n",
           ec_cli_human(h, field_u64(rep, "over_budget")));
    if (field_u64(held, "pinned"))
        printf("  %s pinned by live sessions (`envcache session ls`)\n",
               ec_cli_human(h, field_u64(held, "pinned")));
    if (field_u64(held, "grace"))
        printf("  %s used within the grace period of %s (a shorter --grace lets gc evict it)\n",
               ec_cli_human(h, field_u64(held, "grace")),
               duration(d, json_integer_value(json_object_get(rep, "grace"))));
    if (field_u64(held, "referenced"))
        printf("  %s referenced by mirror entries and build logs of kept layers\n",
               ec_cli_human(h, field_u64(held, "referenced")));
}

static void print_items(const json_t *items, const char *verb)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char h[32];
        printf("%s %-12s %s (%s): %s\n", verb, json_string_value(json_object_get(it, "kind")),
               json_string_value(json_object_get(it, "object")),
               ec_cli_human(h, field_u64(it, "bytes")),
               json_string_value(json_object_get(it, "reason")));
    }
}

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
        print_items(json_object_get(rep, "items"), go.dry_run ? "would remove" : "removed");
        print_items(json_object_get(rep, "held"), go.dry_run ? "would keep" : "kept");
        char a[32], b[32];
        printf("gc%s: store %s -> %s, %zu items%s\n", go.dry_run ? " (dry run)" : "",
               ec_cli_human(a, (uint64_t)json_integer_value(json_object_get(rep, "size_before"))),
               ec_cli_human(b, (uint64_t)json_integer_value(json_object_get(rep, "size_after"))),
               json_array_size(json_object_get(rep, "items")),
               go.dry_run ? " would be removed" : " removed");
        print_budget(rep, go.dry_run);
    }
    json_decref(rep);
    return EC_EXIT_OK;
}
