/* SPDX-License-Identifier: MIT */
/* `envcache keys create --workspace W`: a new API key, shown once, stored only hashed. */
#include "tools/cli.h"
#include "cache/api/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keys_usage[] =
    "Usage: envcache keys create --workspace W [--json]\n"
    "       envcache --workspace W keys create [--json]\n\n"
    "Makes a new API key for workspace W and prints it. The key is shown this once: the\n"
    "store keeps only its sha256. Requests to `envcache serve` send it as x-api-key (or\n"
    "authorization: Bearer) and see only W's environments and sessions. W is the option\n"
    "after `create`, else the global --workspace or $ENVCACHE_WORKSPACE; a key is never\n"
    "made for the default workspace unless it is named.\n";

int ec_cmd_keys(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"workspace", required_argument, NULL, 'w'},
                                         {0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(keys_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    if (strcmp(argv[1], "create") != 0)
        return ec_cli_usage(cli, "'%s' is not a keys command (create)", argv[1]);
    const char *ws = cli->ws; /* the global choice, unless create names another */
    int o;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "hqw:", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(keys_usage, stdout), EC_EXIT_OK;
        if (o != 'w')
            return ec_cli_usage(cli, "bad option");
        ws = optarg;
    }
    if (!ws || optind != argc - 1)
        return ec_cli_usage(cli, "keys create needs --workspace W and no arguments");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTOFREE char *key = NULL;
    if (ec_key_create(&key, c, ws, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s}", "key", key, "workspace", ws);
        ec_cli_print_json(j);
        json_decref(j);
    } else
        printf("%s\n", key);
    return EC_EXIT_OK;
}
