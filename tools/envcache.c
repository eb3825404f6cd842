/* SPDX-License-Identifier: MIT */
/* The envcache program: global options, then one git-style subcommand (tools/cmd_*.c). */
#include "tools/cli.h"

#include "store/util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EC_VERSION
#define EC_VERSION "0.1.0"
#endif

static const ec_cmd commands[] = {
    {"layer", ec_cmd_layer, "import, export and list layers (tar+zstd, content-addressed)"},
    {"env", ec_cmd_env, "create, list, get, update, archive and delete environments"},
    {"warm", ec_cmd_warm, "resolve, fetch and build an environment's layers ahead of time"},
    {"mount", ec_cmd_mount, "mount an environment's or some layers' stack for a session"},
    {"run", ec_cmd_run, "run a command in a new container of an environment's session"},
    {"umount", ec_cmd_umount, "unmount a session and discard its writes"},
    {"session", ec_cmd_session, "list sessions"},
    {"verify", ec_cmd_verify, "re-hash every blob and cross-check the index with the disk"},
    {"gc", ec_cmd_gc, "remove what nothing references; keep the store under a budget"},
    {"base", ec_cmd_base, "import or bootstrap base images; set the default base"},
    {"sandbox", ec_cmd_sandbox, "run a command in the prebuild sandbox and keep its layer"},
    {"serve", ec_cmd_serve, "serve the environments API, /metrics and the mirror over HTTP"},
    {"keys", ec_cmd_keys, "create, list and revoke API keys (one workspace each; stored hashed)"},
    {"net", ec_cmd_net, "prepare and tear down a session's network namespace (policy)"},
    {"push", ec_cmd_push, "upload an environment to an OCI registry (layers, stack, locks)"},
    {"pull", ec_cmd_pull, "bring an environment from an OCI registry into the store"},
    {"remote", ec_cmd_remote, "set the OCI registry consulted before building (shared tier)"},
    {"export", ec_cmd_export, "write an environment as an OCI image layout or docker-archive"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: envcache [--home DIR] [--workspace W] [--json] [--quiet]\n"
               "                COMMAND [ARGS…]\n\n"
               "A package cache and prebuild service: environments' packages resolved once,\n"
               "built into content-addressed layers, mounted under containers in milliseconds.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < EC_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nOptions:\n"
               "  --home DIR     the store (default: $ENVCACHE_HOME, else /var/lib/envcache)\n"
               "  --workspace W  the workspace of environments and sessions (default:\n"
               "                 $ENVCACHE_WORKSPACE, else \"" EC_DEFAULT_WORKSPACE "\");\n"
               "                 env, warm, mount, umount, session and keys use it.\n"
               "                 Give it before COMMAND.\n"
               "  --json         print data as JSON\n"
               "  --quiet        print only warnings and errors\n"
               "  --verbose      also print debugging detail (phases and their times)\n"
               "  --version      print the version\n\n"
               "Run 'envcache COMMAND --help' for a command's options.\n");
}

/* --workspace wins over $ENVCACHE_WORKSPACE; checked once the options are read, so that
 * --help and --version work whatever the environment holds. */
static int pick_workspace(ec_cli *cli, const char *opt)
{
    const char *env = getenv("ENVCACHE_WORKSPACE");
    if (opt)
        return ec_cli_set_ws(cli, opt, "--workspace");
    return env && *env ? ec_cli_set_ws(cli, env, "ENVCACHE_WORKSPACE") : EC_EXIT_OK;
}

int main(int argc, char **argv)
{
    ec_cli cli = {.prog = "envcache"};
    const char *ws = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            cli.home = argv[++i];
        else if (strncmp(argv[i], "--home=", 7) == 0)
            cli.home = argv[i] + 7;
        else if (strcmp(argv[i], "--workspace") == 0 && i + 1 < argc)
            ws = argv[++i];
        else if (strncmp(argv[i], "--workspace=", 12) == 0)
            ws = argv[i] + 12;
        else if (strcmp(argv[i], "--json") == 0)
            cli.json = true;
        else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            ec_cli_common_opt(&cli, 'q', NULL);
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            ec_log_set_level(EC_LOG_DEBUG);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EC_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("envcache %s\n", EC_VERSION);
            return EC_EXIT_OK;
        } else
            return ec_cli_usage(&cli, "unknown option %s", argv[i]);
    }
    int r = pick_workspace(&cli, ws);
    if (r != EC_EXIT_OK)
        return r;
    if (i == argc) {
        usage(stderr);
        return EC_EXIT_USAGE;
    }
    for (size_t c = 0; c < EC_ARRAY_LEN(commands); c++) {
        if (strcmp(argv[i], commands[c].name) == 0) {
            char prog[64];
            snprintf(prog, sizeof prog, "envcache %s", commands[c].name);
            cli.prog = prog;
            return commands[c].fn(&cli, argc - i, argv + i);
        }
    }
    return ec_cli_usage(&cli, "'%s' is not a command", argv[i]);
}
