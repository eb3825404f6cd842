/* SPDX-License-Identifier: MIT */
/* `envcache keys create|list|revoke`: API keys, shown once at create, stored only hashed;
 * listed by id (a prefix of their hash), revoked at once for running servers too. */
#include "tools/cli.h"
#include "cache/api/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keys_usage[] =
    "Usage: envcache keys create --workspace W [--json]\n"
    "       envcache keys list [--workspace W] [--json]\n"
    "       envcache keys revoke ID|KEY [--json]\n\n"
    "create makes a new API key for workspace W and prints it. The key is shown this once:\n"
    "the store keeps only its sha256. Requests to `envcache serve` send it as x-api-key (or\n"
    "authorization: Bearer) and see only W's environments and sessions. W is the option\n"
    "after `create`, else the global --workspace or $ENVCACHE_WORKSPACE; a key is never\n"
    "made for the default workspace unless it is named.\n\n"
    "list shows each key's id (the first 12 hex digits of its sha256, never the key), its\n"
    "workspace and when it was made; --workspace W (or the global choice) lists W's only.\n\n"
    "revoke removes one key, named by its id (at least 8 digits, matching one key) or by\n"
    "the key itself. A running server refuses it (401) from its next request.\n";

static int keys_list(ec_cli *cli, ec_cache *c, const char *ws)
{
    ec_err err = {0};
    json_t *arr = NULL;
    if (ec_key_list(&arr, c, ws, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json) {
        json_t *j = json_pack("{s:o}", "keys", arr);
        ec_cli_print_json(j);
        json_decref(j);
        return EC_EXIT_OK;
    }
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k)
        printf("%s  %-20s  %s\n", json_string_value(json_object_get(k, "id")),
               json_string_value(json_object_get(k, "workspace")),
               json_string_value(json_object_get(k, "created_at")));
    json_decref(arr);
    return EC_EXIT_OK;
}

static int keys_revoke(ec_cli *cli, ec_cache *c, const char *which)
{
    ec_err err = {0};
    ec_key_rec rec;
    if (ec_key_revoke(&rec, c, which, &err) < 0)
        return ec_cli_fail(cli, &err);
    char id[13];
    snprintf(id, sizeof id, "%.12s", rec.sha256);
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:b}", "id", id, "workspace", rec.workspace,
                              "revoked", 1);
        ec_cli_print_json(j);
        json_decref(j);
    } else if (!cli->quiet)
        printf("revoked key %s of workspace %s\n", id, rec.workspace);
    return EC_EXIT_OK;
}

int ec_cmd_keys(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"workspace", required_argument, NULL, 'w'},
                                         {0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(keys_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "create") != 0 && strcmp(cmd, "list") != 0 && strcmp(cmd, "revoke") != 0)
        return ec_cli_usage(cli, "'%s' is not a keys command (create, list, revoke)", cmd);
    const char *ws = cli->ws; /* the global choice, unless the command names another */
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
    int nargs = argc - 1 - optind;
    if (strcmp(cmd, "revoke") == 0 && nargs != 1)
        return ec_cli_usage(cli, "keys revoke needs one key id (from `envcache keys list`) "
                            "or key");
    if (strcmp(cmd, "list") == 0 && nargs != 0)
        return ec_cli_usage(cli, "keys list takes no arguments");
    if (strcmp(cmd, "create") == 0 && (!ws || nargs != 0))
        return ec_cli_usage(cli, "keys create needs --workspace W and no arguments");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    if (strcmp(cmd, "list") == 0)
        return keys_list(cli, c, ws);
    if (strcmp(cmd, "revoke") == 0)
        return keys_revoke(cli, c, argv[1 + optind]);
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
