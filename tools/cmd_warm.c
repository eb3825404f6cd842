/* SPDX-License-Identifier: MIT */
/* `envcache warm ENV` and `envcache env lock ENV MANAGER`: build an environment's layers
 * ahead of time, and show what they were resolved to. */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

#include "cache/warm/warm.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"

static const char warm_usage[] =
    "Usage: envcache warm [--refresh] [--json] ENV\n\n"
    "Resolves, fetches and builds the layers of environment ENV (an id or a name), one per\n"
    "package manager, reusing every lock, artifact and layer the store already holds, and\n"
    "records the environment's stack so `envcache mount --env ENV` mounts it.\n\n"
    "  --refresh   resolve again even if the specs are unchanged (unpinned ones move)\n"
    "  --json      print progress events and the result as JSON lines\n\n"
    "Progress redraws one line on a terminal and prints plain lines elsewhere.\n" EC_CLI_WS_HELP;

static const char *const phase_names[] = {"resolving", "downloading", "installing",
                                          "building", "packing"};

static void on_progress(const ec_progress_event *p, void *ud)
{
    const ec_cli *cli = ud;
    char b1[32];
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s?}", "event", "progress",
                              "manager", p->manager, "phase", phase_names[p->phase], "done",
                              (json_int_t)p->done, "total", (json_int_t)p->total, "bytes",
                              (json_int_t)p->bytes_done, "item", p->item);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        fflush(stdout);
        free(s);
        json_decref(j);
    } else if (!cli->quiet && p->total && p->bytes_done)
        ec_progress(false, "%s: %s %llu of %llu (%s)", p->manager, phase_names[p->phase],
                    (unsigned long long)p->done, (unsigned long long)p->total,
                    ec_cli_human(b1, p->bytes_done));
    else if (!cli->quiet && p->total)
        ec_progress(false, "%s: %s %llu of %llu", p->manager, phase_names[p->phase],
                    (unsigned long long)p->done, (unsigned long long)p->total);
    else if (!cli->quiet)
        ec_progress(false, "%s: %s%s%s", p->manager, phase_names[p->phase],
                    p->item ? " " : "", p->item ? p->item : "");
}

static void print_summary(const json_t *res, double secs)
{
    const char *mgr;
    json_t *m;
    char hs[32];
    json_object_foreach(json_object_get(res, "managers"), mgr, m) {
        printf("%s: %lld packages, layer %s (%s), %s\n", mgr,
               (long long)json_integer_value(json_object_get(m, "packages")),
               json_string_value(json_object_get(m, "layer")),
               ec_cli_human(hs, (uint64_t)json_integer_value(json_object_get(m, "size"))),
               json_is_true(json_object_get(m, "reused")) ? "reused" : "built");
    }
    printf("warmed %s in %.2f s\n", json_string_value(json_object_get(res, "env")), secs);
}

int ec_cmd_warm(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"refresh", no_argument, NULL, 'r'}, {0}};
    bool refresh = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h') {
            fputs(warm_usage, stdout);
            return EC_EXIT_OK;
        }
        if (o != 'r')
            return ec_cli_usage(cli, "bad option");
        refresh = true;
    }
    if (argc - optind != 1)
        return ec_cli_usage(cli, "warm takes one ENV (an id or a name)");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *res = NULL;
    ec_warm_opts wo = {.ws = ec_cli_ws(cli), .env = argv[optind], .refresh = refresh,
                       .progress = on_progress, .progress_ud = cli};
    int64_t t0 = ec_mono_us();
    int r = ec_warm_env(&res, c, &wo, &err);
    if (!cli->json && !cli->quiet)
        ec_progress(true, "%s", r == EC_OK ? "done" : "failed");
    if (r < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json) {
        json_object_set_new(res, "event", json_string("done"));
        char *s = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
    } else
        print_summary(res, (double)(ec_mono_us() - t0) / 1e6);
    json_decref(res);
    return EC_EXIT_OK;
}

int ec_cmd_env_lock(ec_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs("Usage: envcache env lock ENV MANAGER\n\nPrints the lock (canonical JSON) that "
              "MANAGER's layer of ENV was built from.\n" EC_CLI_WS_HELP, stdout);
        return EC_EXIT_OK;
    }
    if (argc != 3)
        return ec_cli_usage(cli, "lock takes ENV and MANAGER (apt, cargo, gem, go, npm, pip)");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *lock = NULL, *env = NULL;
    EC_AUTOFREE char *id = NULL;
    /* ec_env_lock takes an id on trust: see that it is an environment of this workspace. */
    if (ec_env_resolve_id(&id, c, ec_cli_ws(cli), argv[1], &err) < 0 ||
        ec_env_get(&env, c, ec_cli_ws(cli), id, &err) < 0)
        return ec_cli_fail(cli, &err);
    json_decref(env);
    if (ec_env_lock(&lock, c, ec_cli_ws(cli), argv[1], argv[2], &err) < 0)
        return ec_cli_fail(cli, &err);
    char *s = json_dumps(lock, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", s);
    free(s);
    json_decref(lock);
    return EC_EXIT_OK;
}
