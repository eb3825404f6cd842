/* SPDX-License-Identifier: MIT */
/* `envcache serve`: the API and the mirror on one port until SIGTERM or SIGINT. */
#include "tools/cli.h"
#include "cache/api/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serve_usage[] =
    "Usage: envcache serve [--listen HOST:PORT] [--threads N] [--warm eager|session|off]\n"
    "                      [--warm-jobs N] [--session-wait DURATION] [--grace DURATION]\n"
    "                      [--timeout DURATION] [--max-connections N] [--no-auth]\n"
    "                      [--mirror-auth] [--pull-auth auto|on|off] [--pull-budget SIZE]\n"
    "                      [--min-free SIZE]\n"
    "                      [--access-log FILE|-|off] [--json]\n\n"
    "Serves the environments API, envcache's /cache endpoints, /healthz, /metrics and the\n"
    "registry mirror (/mirror/<manager>/) on one port (default 127.0.0.1:8080; port 0\n"
    "picks a free one). API requests need a key from `envcache keys create`, unless\n"
    "--no-auth puts them all on the default workspace; the mirror needs none unless\n"
    "--mirror-auth.\n\n"
    "  --warm eager     warm an environment when it is created or its config changes\n"
    "                   (default); session: when its first session asks; off: never\n"
    "  --warm-jobs N    environments warmed at once (default 4)\n"
    "  --session-wait D how long a new session waits for a warm-up (default 2m)\n"
    "  --grace D        how long in-flight requests get at SIGTERM (default 30s)\n"
    "  --timeout D      idle or stalled connections are closed after D (default 10s)\n"
    "  --max-connections N  connections held at once (default 10000); more are answered\n"
    "                   503; the descriptor limit is raised to fit, or N lowered (said)\n"
    "  --pull-auth P    whether the mirror's fetches from upstream (cache misses) need an API\n"
    "                   key: auto (default: when listening beyond loopback), on, off\n"
    "  --pull-budget S  bytes the mirror may fetch into the store per workspace (default\n"
    "                   10G; none: no budget); past it misses are 429\n"
    "  --min-free S     misses are 507 when the store's disk has less free (default 1G)\n"
    "  --access-log F   one JSON line per request to F (default -: stdout; off: none)\n"
    "  --json           print {\"listen\":…,\"port\":…} on stdout once listening\n\n"
    "SIGTERM or SIGINT stops gracefully: no new connections, warm-ups stop at a safe point\n"
    "and resume at the next start, in-flight requests finish.\n";

struct serve_args {
    ec_server_opts o;
    const char *log;
};

static int parse_ms(const ec_cli *cli, int *out, const char *opt, const char *text)
{
    int64_t secs;
    ec_err err = {0};
    if (ec_cli_parse_duration(&secs, text, &err) < 0 || secs < 0 || secs > 86400)
        return ec_cli_usage(cli, "%s: %s", opt, err.msg[0] ? err.msg : "out of range");
    *out = secs ? (int)secs * 1000 : 1;
    return 0;
}

static int parse_range_uint(const ec_cli *cli, unsigned *out, const char *opt,
                            const char *text, long max)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > max)
        return ec_cli_usage(cli, "%s must be between 1 and %ld", opt, max);
    *out = (unsigned)v;
    return 0;
}

static int parse_uint(const ec_cli *cli, unsigned *out, const char *opt, const char *text)
{
    return parse_range_uint(cli, out, opt, text, 4096);
}

/* SIZE (12M, 10G, …), or "none": no bound. */
static int parse_bytes(const ec_cli *cli, uint64_t *out, const char *opt, const char *text)
{
    ec_err err = {0};
    if (strcmp(text, "none") == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    if (ec_cli_parse_size(out, text, &err) < 0 || *out == 0)
        return ec_cli_usage(cli, "%s: a size such as 500M or 10G, or none", opt);
    return 0;
}

static int parse_warm(const ec_cli *cli, ec_warm_policy *out, const char *text)
{
    if (strcmp(text, "eager") == 0)
        *out = EC_WARM_EAGER;
    else if (strcmp(text, "session") == 0)
        *out = EC_WARM_ON_SESSION;
    else if (strcmp(text, "off") == 0)
        *out = EC_WARM_OFF;
    else
        return ec_cli_usage(cli, "--warm is eager, session or off");
    return 0;
}

static int parse(ec_cli *cli, struct serve_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        EC_CLI_COMMON_LONGOPTS,
        {"listen", required_argument, NULL, 'l'},      {"threads", required_argument, NULL, 't'},
        {"warm", required_argument, NULL, 'w'},        {"warm-jobs", required_argument, NULL, 'j'},
        {"session-wait", required_argument, NULL, 's'}, {"grace", required_argument, NULL, 'g'},
        {"timeout", required_argument, NULL, 'T'},     {"no-auth", no_argument, NULL, 'N'},
        {"mirror-auth", no_argument, NULL, 'M'},       {"access-log", required_argument, NULL, 'L'},
        {"max-connections", required_argument, NULL, 'C'},
        {"pull-auth", required_argument, NULL, 'P'}, {"pull-budget", required_argument, NULL, 'B'},
        {"min-free", required_argument, NULL, 'F'},
        {0}};
    int o, r = 0;
    unsigned timeout = 0;
    optind = 1;
    while (r == 0 && (o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(serve_usage, stdout); return -1;
        case 'l': a->o.listen = optarg; break;
        case 't': r = parse_uint(cli, &a->o.threads, "--threads", optarg); break;
        case 'C':
            r = parse_range_uint(cli, &a->o.max_connections, "--max-connections", optarg, 1000000);
            break;
        case 'w': r = parse_warm(cli, &a->o.warm, optarg); break;
        case 'j': r = parse_uint(cli, &a->o.warm_concurrency, "--warm-jobs", optarg); break;
        case 's': r = parse_ms(cli, &a->o.session_wait_ms, "--session-wait", optarg); break;
        case 'g': r = parse_ms(cli, &a->o.shutdown_grace_ms, "--grace", optarg); break;
        case 'T': {
            int ms = 0;
            r = parse_ms(cli, &ms, "--timeout", optarg);
            timeout = (unsigned)(ms + 999) / 1000;
            break;
        }
        case 'P':
            if (strcmp(optarg, "auto") == 0)
                a->o.pull_auth = EC_PULL_AUTH_AUTO;
            else if (strcmp(optarg, "on") == 0)
                a->o.pull_auth = EC_PULL_AUTH_ON;
            else if (strcmp(optarg, "off") == 0)
                a->o.pull_auth = EC_PULL_AUTH_OFF;
            else
                r = ec_cli_usage(cli, "--pull-auth is auto, on or off");
            break;
        case 'B': r = parse_bytes(cli, &a->o.pull_budget, "--pull-budget", optarg); break;
        case 'F': r = parse_bytes(cli, &a->o.min_free_bytes, "--min-free", optarg); break;
        case 'N': a->o.no_auth = true; break;
        case 'M': a->o.mirror_auth = true; break;
        case 'L': a->log = optarg; break;
        default: return ec_cli_usage(cli, "bad option");
        }
    }
    a->o.conn_timeout_s = timeout;
    if (r == 0 && optind != argc)
        return ec_cli_usage(cli, "serve takes no arguments");
    return r;
}

static FILE *open_log(const char *log)
{
    if (!log || strcmp(log, "-") == 0)
        return stdout;
    if (strcmp(log, "off") == 0)
        return NULL;
    return fopen(log, "ae");
}

/* Signals are blocked in every thread (the server's inherit the mask) and taken here
 * synchronously, so stopping runs in plain code, not in a signal handler. */
static int wait_for_stop(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    return sig;
}

int ec_cmd_serve(ec_cli *cli, int argc, char **argv)
{
    struct serve_args a = {0};
    int p = parse(cli, &a, argc, argv);
    if (p != 0)
        return p < 0 ? EC_EXIT_OK : p;
    a.o.access_log = open_log(a.log);
    if (a.log && strcmp(a.log, "off") != 0 && !a.o.access_log)
        return ec_cli_usage(cli, "--access-log: cannot open %s", a.log);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client closing early is a failed write, not our death */
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_server *s = NULL;
    ec_err err = {0};
    if (ec_server_start(&s, c, &a.o, &err) < 0)
        return ec_cli_fail(cli, &err);
    const char *listen = a.o.listen ? a.o.listen : "127.0.0.1:8080";
    fprintf(stderr, "envcache: serving on %s (port %u)\n", listen, ec_server_port(s));
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:i}", "listen", listen, "port", ec_server_port(s));
        ec_cli_print_json(j);
        json_decref(j);
    }
    fflush(stdout);
    int sig = wait_for_stop();
    fprintf(stderr, "envcache: %s: stopping (in-flight requests finish, warm-ups resume at "
                    "the next start)\n", strsignal(sig));
    ec_server_stop(s);
    if (a.o.access_log && a.o.access_log != stdout)
        fclose(a.o.access_log);
    return EC_EXIT_OK;
}
