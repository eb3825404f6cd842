/* SPDX-License-Identifier: MIT */
/* `envcache warm ENV` and `envcache env lock ENV MANAGER`: build an environment's layers
 * ahead of time, and show what they were resolved to. */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

#include "cache/api/server.h"
#include "cache/warm/warm.h"
#include "fetchers/manager.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"

static const char warm_usage[] =
    "Usage: envcache warm [--refresh] [--lock-only] [--json] ENV\n\n"
    "Resolves, fetches and builds the layers of environment ENV (an id or a name), one per\n"
    "package manager, reusing every lock, artifact and layer the store already holds, and\n"
    "records the environment's stack so `envcache mount ENV TARGET` mounts it. A manager\n"
    "that fails does not stop the others; each failure is printed with its manager, and\n"
    "the exit status is 1 when any failed.\n\n"
    "  --refresh   resolve again even if the specs are unchanged (unpinned ones move)\n"
    "  --lock-only resolve and fetch the top manager (the last with packages) without\n"
    "              building its layer; the managers beneath are warmed as usual, the\n"
    "              stack is not recorded, and the result gives its lock in full\n"
    "  --json      print progress events as JSON lines, then one result line\n"
    "              ({\"event\":\"done\"} or {\"event\":\"failed\"}, with every manager)\n"
    "  -q, --quiet print no progress\n\n"
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
        if (json_object_get(m, "error")) {
            fprintf(stderr, "envcache: warm: %s\n", json_string_value(json_object_get(
                                                         json_object_get(m, "error"),
                                                         "message")));
            continue;
        }
        if (json_object_get(m, "lock_json")) {
            printf("%s: %lld packages, lock %s (not built)\n", mgr,
                   (long long)json_integer_value(json_object_get(m, "packages")),
                   json_string_value(json_object_get(m, "lock")));
            continue;
        }
        printf("%s: %lld packages, layer %s (%s), %s\n", mgr,
               (long long)json_integer_value(json_object_get(m, "packages")),
               json_string_value(json_object_get(m, "layer")),
               ec_cli_human(hs, (uint64_t)json_integer_value(json_object_get(m, "size"))),
               json_is_true(json_object_get(m, "reused")) ? "reused" : "built");
    }
    size_t nf = json_array_size(json_object_get(res, "failed"));
    if (nf)
        printf("%s: %zu of %zu package managers failed (%.2f s); `envcache warm %s` again once "
               "fixed\n", json_string_value(json_object_get(res, "env")), nf,
               json_object_size(json_object_get(res, "managers")), secs,
               json_string_value(json_object_get(res, "env")));
    else
        printf("warmed %s in %.2f s\n", json_string_value(json_object_get(res, "env")), secs);
}

static void print_json_result(json_t *res, int r, const ec_err *err)
{
    json_object_set_new(res, "event", json_string(r == EC_OK ? "done" : "failed"));
    if (r < 0)
        json_object_set_new(res, "error", json_pack("{s:s, s:s}", "type", ec_code_name(err->code),
                                                    "message", err->msg));
    char *s = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
}

int ec_cmd_warm(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"refresh", no_argument, NULL, 'r'},
                                         {"lock-only", no_argument, NULL, 'L'}, {0}};
    bool refresh = false, lock_only = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h') {
            fputs(warm_usage, stdout);
            return EC_EXIT_OK;
        }
        if (o != 'r' && o != 'L')
            return ec_cli_usage(cli, "bad option");
        refresh |= o == 'r';
        lock_only |= o == 'L';
    }
    if (argc - optind != 1)
        return ec_cli_usage(cli, "warm takes one ENV (an id or a name)");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *res = NULL;
    ec_warm_opts wo = {.ws = ec_cli_ws(cli), .env = argv[optind], .refresh = refresh,
                       .lock_only = lock_only, .progress = on_progress, .progress_ud = cli};
    ec_server_mirror_on_demand(c); /* for builds whose steps fetch through the mirror */
    int64_t t0 = ec_mono_us();
    int r = ec_warm_env(&res, c, &wo, &err);
    if (!cli->json && !cli->quiet)
        ec_progress(true, "%s", r == EC_OK ? "done" : "failed");
    if (!res && cli->json) /* failed before any manager ran: still one result line */
        res = json_pack("{s:s}", "env", argv[optind]);
    if (!res)
        return ec_cli_fail(cli, &err);
    if (cli->json)
        print_json_result(res, r, &err);
    else
        print_summary(res, (double)(ec_mono_us() - t0) / 1e6);
    json_decref(res);
    return r == EC_OK ? EC_EXIT_OK : EC_EXIT_FAIL;
}

int ec_cmd_env_lock(ec_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs("Usage: envcache env lock ENV MANAGER\n\nPrints the lock (canonical JSON) that "
              "MANAGER's layer of ENV was built from.\n" EC_CLI_WS_HELP, stdout);
        return EC_EXIT_OK;
    }
    if (argc != 3)
        return ec_cli_usage(cli, "lock takes ENV and MANAGER (%s)", ec_manager_names());
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
