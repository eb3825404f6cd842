/* SPDX-License-Identifier: MIT */
/* What every subcommand of the envcache program shares: options, output, errors. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"

typedef struct ec_cli {
    const char *home; /* --home, else $ENVCACHE_HOME, else /var/lib/envcache */
    bool json;        /* --json: output is data */
    bool quiet;
    const char *prog; /* "envcache layer import" for messages */
    const char *ws;   /* --workspace, else $ENVCACHE_WORKSPACE; NULL = neither given */
} ec_cli;

/* The paragraph each --help of a command on environments or sessions ends with. */
#define EC_CLI_WS_HELP                                                                     \
    "\nWorks in one workspace: 'envcache --workspace W COMMAND …' (before the command),\n" \
    "else $ENVCACHE_WORKSPACE, else \"" EC_DEFAULT_WORKSPACE "\".\n"

typedef int (*ec_cmd_fn)(ec_cli *cli, int argc, char **argv);

typedef struct ec_cmd {
    const char *name;
    ec_cmd_fn fn;
    const char *summary;
} ec_cmd;

/* Exit statuses. */
enum { EC_EXIT_OK = 0, EC_EXIT_FAIL = 1, EC_EXIT_USAGE = 2 };

/** Prints "envcache: error: MSG" (from @err) and returns EC_EXIT_FAIL. */
int ec_cli_fail(const ec_cli *cli, const ec_err *err);
/** Prints a usage error naming the command, points at --help, returns EC_EXIT_USAGE. */
int ec_cli_usage(const ec_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The workspace commands on environments and sessions work in: cli->ws, else
 *  EC_DEFAULT_WORKSPACE. */
const char *ec_cli_ws(const ec_cli *cli);
/** Takes workspace @ws from @from ("--workspace", "ENVCACHE_WORKSPACE") if it is a valid
 *  name; else prints a usage error and returns EC_EXIT_USAGE. */
int ec_cli_set_ws(ec_cli *cli, const char *ws, const char *from);
/** Opens the cache at the CLI's home, printing the error on failure. */
int ec_cli_open(ec_cache **out, const ec_cli *cli);
/** Prints @j as indented JSON to stdout. */
void ec_cli_print_json(const json_t *j);
/** Handles the options every command takes (--home, --json, --quiet); returns true if
 *  @opt was one of them. */
bool ec_cli_common_opt(ec_cli *cli, int opt, const char *arg);
#define EC_CLI_COMMON_LONGOPTS                                                   \
    {"home", required_argument, NULL, 'H'}, {"json", no_argument, NULL, 'J'},    \
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}
/** Parses "10G", "512M", "1.5GiB", "100000" into bytes. */
int ec_cli_parse_size(uint64_t *out, const char *text, ec_err *err);
/** Parses "30s", "15m", "2h", "7d", "0" into seconds. */
int ec_cli_parse_duration(int64_t *out, const char *text, ec_err *err);
/** Formats bytes for people ("1.2 MiB"). */
const char *ec_cli_human(char out[32], uint64_t bytes);
/** Reads a JSON file ("-" = stdin); errors name the file, line and column. */
int ec_cli_read_json(json_t **out, const char *path, ec_err *err);

/* Subcommands (tools/cmd_*.c). */
int ec_cmd_layer(ec_cli *cli, int argc, char **argv);
int ec_cmd_env(ec_cli *cli, int argc, char **argv);
int ec_cmd_mount(ec_cli *cli, int argc, char **argv);
int ec_cmd_umount(ec_cli *cli, int argc, char **argv);
int ec_cmd_run(ec_cli *cli, int argc, char **argv);
int ec_cmd_session(ec_cli *cli, int argc, char **argv);
int ec_cmd_verify(ec_cli *cli, int argc, char **argv);
int ec_cmd_gc(ec_cli *cli, int argc, char **argv);
int ec_cmd_warm(ec_cli *cli, int argc, char **argv);
int ec_cmd_env_lock(ec_cli *cli, int argc, char **argv);
int ec_cmd_base(ec_cli *cli, int argc, char **argv);
int ec_cmd_sandbox(ec_cli *cli, int argc, char **argv);
int ec_cmd_serve(ec_cli *cli, int argc, char **argv);
int ec_cmd_keys(ec_cli *cli, int argc, char **argv);
int ec_cmd_net(ec_cli *cli, int argc, char **argv);
int ec_cmd_push(ec_cli *cli, int argc, char **argv);
int ec_cmd_pull(ec_cli *cli, int argc, char **argv);
int ec_cmd_remote(ec_cli *cli, int argc, char **argv);
int ec_cmd_export(ec_cli *cli, int argc, char **argv);
