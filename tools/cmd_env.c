/* SPDX-License-Identifier: MIT */
/* `envcache env create|list|get|update|archive|delete`: the API's objects on the CLI. */
#include "tools/cli.h"
#include "store/util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char env_usage[] =
    "Usage: envcache env create -f FILE [--base DIGEST]\n"
    "       envcache env list [--include-archived] [--limit N] [--page CURSOR]\n"
    "       envcache env get ENV\n"
    "       envcache env update ENV -f FILE\n"
    "       envcache env archive ENV\n"
    "       envcache env delete ENV\n"
    "       envcache env lock ENV MANAGER\n\n"
    "FILE is a JSON body as the environments API takes it (\"-\" reads stdin); ENV is an\n"
    "environment's id or name. Output is the API's JSON objects. An environment's stack\n"
    "starts with --base, else with the store's default base (envcache base default) of\n"
    "the time of each warm-up.\n"
    EC_CLI_WS_HELP;

struct env_args {
    const char *file;
    const char *page;
    int limit;
    bool include_archived;
    const char *target;
    const char *base;
};

static int parse(ec_cli *cli, struct env_args *a, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"file", required_argument, NULL, 'f'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"page", required_argument, NULL, 'p'},
                                         {"include-archived", no_argument, NULL, 'a'},
                                         {"base", required_argument, NULL, 'b'},
                                         {0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hqf:", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h':
            fputs(env_usage, stdout);
            return -1; /* help shown */
        case 'f':
            a->file = optarg;
            break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000)
                return ec_cli_usage(cli, "--limit must be between 1 and 1000");
            a->limit = (int)v;
            break;
        }
        case 'p':
            a->page = optarg;
            break;
        case 'a':
            a->include_archived = true;
            break;
        case 'b':
            a->base = optarg;
            break;
        default:
            return ec_cli_usage(cli, "bad option");
        }
    }
    return 0;
}

static int finish(ec_cli *cli, int r, json_t *out, const ec_err *err)
{
    if (r < 0)
        return ec_cli_fail(cli, err);
    ec_cli_print_json(out);
    json_decref(out);
    return EC_EXIT_OK;
}

static int run(ec_cli *cli, const char *verb, struct env_args *a, const char *arg)
{
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *out = NULL, *body = NULL;
    const char *ws = ec_cli_ws(cli);
    EC_AUTOFREE char *id = NULL;
    int r = EC_OK;
    if (a->file && (r = ec_cli_read_json(&body, a->file, &err)) < 0)
        return ec_cli_fail(cli, &err);
    if (arg && (r = ec_env_resolve_id(&id, c, ws, arg, &err)) < 0) {
        json_decref(body);
        return ec_cli_fail(cli, &err);
    }
    ec_layer_info base;
    if (a->base && (r = ec_layer_resolve(&base, ec_cache_store(c), a->base, &err)) < 0) {
        json_decref(body);
        return ec_cli_fail(cli, &err);
    }
    ec_env_base_choice choice = {.mode = EC_ENV_BASE_EXPLICIT};
    if (a->base)
        choice.digest = base.digest;
    if (strcmp(verb, "create") == 0)
        r = ec_env_create_on(&out, c, ws, body, a->base ? &choice : NULL, &err);
    else if (strcmp(verb, "list") == 0) {
        ec_env_list_opts lo = {a->limit, a->page, a->include_archived};
        r = ec_env_list(&out, c, ws, &lo, &err);
    } else if (strcmp(verb, "get") == 0)
        r = ec_env_get(&out, c, ws, id, &err);
    else if (strcmp(verb, "update") == 0)
        r = ec_env_update(&out, c, ws, id, body, &err);
    else if (strcmp(verb, "archive") == 0)
        r = ec_env_archive(&out, c, ws, id, &err);
    else
        r = ec_env_delete(&out, c, ws, id, &err);
    json_decref(body);
    return finish(cli, r, out, &err);
}

int ec_cmd_env(ec_cli *cli, int argc, char **argv)
{
    static const struct {
        const char *verb;
        bool needs_file, needs_env;
    } verbs[] = {{"create", true, false}, {"list", false, false}, {"get", false, true},
                 {"update", true, true},  {"archive", false, true}, {"delete", false, true}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(env_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    if (strcmp(argv[1], "lock") == 0)
        return ec_cmd_env_lock(cli, argc - 1, argv + 1);
    for (size_t i = 0; i < EC_ARRAY_LEN(verbs); i++) {
        if (strcmp(argv[1], verbs[i].verb) != 0)
            continue;
        struct env_args a = {0};
        int p = parse(cli, &a, argc - 1, argv + 1);
        if (p != 0)
            return p < 0 ? EC_EXIT_OK : p;
        int rest = argc - 1 - optind;
        if (verbs[i].needs_file && !a.file)
            return ec_cli_usage(cli, "%s needs -f FILE (a JSON body)", verbs[i].verb);
        if (rest != (verbs[i].needs_env ? 1 : 0))
            return ec_cli_usage(cli, verbs[i].needs_env ? "%s takes one ENV (an id or a name)"
                                                        : "%s takes no arguments",
                                verbs[i].verb);
        return run(cli, verbs[i].verb, &a, verbs[i].needs_env ? argv[1 + optind] : NULL);
    }
    return ec_cli_usage(cli, "'%s' is not an env command (create, list, get, update, archive, delete)",
                        argv[1]);
}
