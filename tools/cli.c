/* SPDX-License-Identifier: MIT */
/* Shared plumbing of the envcache subcommands: errors, options, sizes, JSON output. */
#include "tools/cli.h"
#include "cache/api/auth.h"
#include "cache/oci/oci.h"
#include "store/util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ec_cli_fail(const ec_cli *cli, const ec_err *err)
{
    (void)cli;
    fprintf(stderr, "envcache: error: %s\n",
            err->msg[0] ? err->msg : ec_code_text(err->code));
    return EC_EXIT_FAIL;
}

int ec_cli_usage(const ec_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cli->prog);
    return EC_EXIT_USAGE;
}

const char *ec_cli_ws(const ec_cli *cli)
{
    return cli->ws ? cli->ws : EC_DEFAULT_WORKSPACE;
}

int ec_cli_set_ws(ec_cli *cli, const char *ws, const char *from)
{
    /* Workspaces prefix the store's keys, so a bad name must stop here, not in a lookup. */
    if (!ec_workspace_valid(ws))
        return ec_cli_usage(cli, "%s \"%s\" is not a workspace name: use 1-64 letters, "
                                 "digits, '.', '_' or '-'", from, ws);
    cli->ws = ws;
    return EC_EXIT_OK;
}

int ec_cli_open(ec_cache **out, const ec_cli *cli)
{
    ec_err err = {0};
    const char *home = ec_store_default_home(cli->home);
    if (ec_cache_open(out, home, &err) < 0) {
        ec_cli_fail(cli, &err);
        if (err.sys == EACCES || err.sys == EROFS)
            fprintf(stderr, "envcache: hint: the store %s is not writable for you; run as root "
                            "or pick another with --home DIR or ENVCACHE_HOME\n", home);
        return -1;
    }
    ec_session_net_attach(*out); /* session containers get their environment's network */
    ec_oci_attach(*out); /* sessions pull what this node lacks from the remote tier */
    return 0;
}

void ec_cli_print_json(const json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

bool ec_cli_common_opt(ec_cli *cli, int opt, const char *arg)
{
    switch (opt) {
    case 'H':
        cli->home = arg;
        return true;
    case 'J':
        cli->json = true;
        return true;
    case 'q':
        cli->quiet = true;
        ec_log_set_level(EC_LOG_WARN);
        return true;
    }
    return false;
}

int ec_cli_parse_size(uint64_t *out, const char *text, ec_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a size: use bytes or K, M, G, T", text);
    static const char *const units = "KMGT";
    const char *u = *end ? strchr(units, *end & ~0x20) : NULL;
    if (*end && !u)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a size: use bytes or K, M, G, T", text);
    if (u) {
        for (const char *p = units; p <= u; p++)
            v *= 1024;
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (*end)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a size: use bytes or K, M, G, T", text);
    *out = (uint64_t)v;
    return EC_OK;
}

int ec_cli_parse_duration(int64_t *out, const char *text, ec_err *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a duration: use e.g. 30s, 15m, 2h, 7d",
                       text);
    int64_t mult = 1;
    switch (*end) {
    case '\0':
    case 's':
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    default:
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a duration: use e.g. 30s, 15m, 2h, 7d",
                       text);
    }
    if (*end && end[1])
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a duration: use e.g. 30s, 15m, 2h, 7d",
                       text);
    *out = v * mult;
    return EC_OK;
}

const char *ec_cli_human(char out[32], uint64_t bytes)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, 32, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return out;
}

int ec_cli_read_json(json_t **out, const char *path, ec_err *err)
{
    json_error_t jerr;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!j)
        return ec_fail(err, EC_EINVAL, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                       jerr.column, jerr.text);
    *out = j;
    return EC_OK;
}
