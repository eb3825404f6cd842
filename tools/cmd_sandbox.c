/* SPDX-License-Identifier: MIT */
/* `envcache sandbox run`: one command in the prebuild sandbox, for debugging. */
#include "tools/cli.h"
#include "cache/env/base.h"
#include "cache/sandbox/sandbox.h"
#include "store/util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sandbox_usage[] =
    "Usage: envcache sandbox run [--base DIGEST | --no-base] [--layers D1,D2,…] [--timeout S]\n"
    "                            [--memory BYTES] [--mirror PORT] [--env NAME=VALUE]…\n"
    "                            [--cwd DIR] [--skip-sleeps] [--skip-syncs] [--discard]\n"
    "                            [--log] [--json]\n"
    "                            -- CMD [ARG…]\n\n"
    "Runs CMD once in the prebuild sandbox: its root is an overlay of the base and the\n"
    "layers with a fresh writable upper, in its own mount, PID, IPC, UTS and network\n"
    "namespaces, with /proc, a minimal /dev, a tmpfs /tmp and a fixed environment. What\n"
    "it writes, minus caches and logs, becomes a layer; its digest is printed.\n\n"
    "  --base DIGEST  the base layer (default: the store's default base, if set)\n"
    "  --no-base      no base, even when a default is set\n"
    "  --layers LIST  further layers, lowest first\n"
    "  --timeout S    time limit (30s, 15m, 2h; default 1h)\n"
    "  --memory SIZE  memory limit (512M, 2G): cgroup v2 where delegated, else RLIMIT_AS\n"
    "  --mirror PORT  make 127.0.0.1:PORT of this host reachable inside; nothing else is\n"
    "  --env N=V      add a variable to the fixed environment (repeatable)\n"
    "  --cwd DIR      working directory inside (default /)\n"
    "  --skip-sleeps  relative sleeps return at once, as in warm-ups' build steps\n"
    "  --skip-syncs   fsync and the other syncs return at once, as in build steps (the\n"
    "                 layer is synced as a whole when it is stored)\n"
    "  --discard      keep nothing: run, report, throw the upper away\n"
    "  --log          copy the command's output to stderr\n"
    "  --json         print the layer, the log's blob and how the run went\n";

struct sb_args {
    ec_sandbox_build_opts bo;
    ec_digest base, *layers;
    const char *base_text;
    char *layer_list;
    const char **env;
    bool no_base, discard;
};

static int parse_layers(ec_cli *cli, ec_cache *c, struct sb_args *a)
{
    if (!a->layer_list)
        return EC_EXIT_OK;
    size_t cap = 1;
    for (const char *p = a->layer_list; *p; p++)
        cap += *p == ',';
    a->layers = ec_xcalloc(cap, sizeof *a->layers);
    char *save = NULL;
    for (char *t = strtok_r(a->layer_list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        ec_layer_info l;
        ec_err err = {0};
        if (ec_layer_resolve(&l, ec_cache_store(c), t, &err) < 0)
            return ec_cli_fail(cli, &err);
        a->layers[a->bo.nlayers++] = l.digest;
    }
    a->bo.layers = a->layers;
    return EC_EXIT_OK;
}

static int pick_base(ec_cli *cli, ec_cache *c, struct sb_args *a)
{
    ec_err err = {0};
    if (a->no_base)
        return EC_EXIT_OK;
    if (a->base_text) {
        ec_layer_info l;
        if (ec_layer_resolve(&l, ec_cache_store(c), a->base_text, &err) < 0)
            return ec_cli_fail(cli, &err);
        a->base = l.digest;
    } else {
        int r = ec_base_default_get(&a->base, c, &err);
        if (r == EC_ENOTFOUND)
            return EC_EXIT_OK;
        if (r < 0)
            return ec_cli_fail(cli, &err);
    }
    a->bo.base = &a->base;
    return EC_EXIT_OK;
}

static int parse_opt(ec_cli *cli, struct sb_args *a, int o, size_t *nenv)
{
    ec_err err = {0};
    int64_t secs;
    switch (o) {
    case 'b': a->base_text = optarg; return -1;
    case 'N': a->no_base = true; return -1;
    case 'L': a->layer_list = optarg; return -1;
    case 'c': a->bo.cwd = optarg; return -1;
    case 'd': a->discard = true; return -1;
    case 'l': a->bo.echo = true; return -1;
    case 'S': a->bo.skip_sleeps = true; return -1;
    case 'Y': a->bo.skip_syncs = true; return -1;
    case 'e': a->env[(*nenv)++] = optarg; return -1;
    case 't':
        if (ec_cli_parse_duration(&secs, optarg, &err) < 0 || secs == 0)
            return ec_cli_usage(cli, "--timeout: %s", err.msg[0] ? err.msg : "must be > 0");
        a->bo.timeout_ms = secs * 1000;
        return -1;
    case 'm':
        if (ec_cli_parse_size(&a->bo.memory, optarg, &err) < 0)
            return ec_cli_usage(cli, "--memory: %s", err.msg);
        return -1;
    case 'p': {
        char *end;
        long p = strtol(optarg, &end, 10);
        if (*end || p < 1 || p > 65535)
            return ec_cli_usage(cli, "--mirror takes a port number (1-65535)");
        a->bo.mirror_port = (int)p;
        return -1;
    }
    }
    return ec_cli_usage(cli, "bad option");
}

static void print_result(const ec_cli *cli, const struct sb_args *a, const ec_sandbox_build *b)
{
    char d[EC_DIGEST_STR_LEN], lg[EC_DIGEST_STR_LEN];
    if (!cli->json) {
        if (a->discard)
            printf("exit status %d (%.1f ms)\n", b->run.status, (double)b->run.elapsed_us / 1000);
        else
            printf("%s\n", ec_digest_format(d, &b->layer.digest));
        return;
    }
    json_t *j = json_pack("{s:i, s:f, s:s, s:b}", "status", b->run.status, "elapsed_ms",
                          (double)b->run.elapsed_us / 1000, "memory_limit", b->run.limit,
                          "discarded", a->discard);
    if (!a->discard) {
        json_object_set_new(j, "layer", json_string(ec_digest_format(d, &b->layer.digest)));
        json_object_set_new(j, "log", json_string(ec_digest_format(lg, &b->log)));
        json_object_set_new(j, "files", json_integer((json_int_t)b->layer.files));
        json_object_set_new(j, "size", json_integer((json_int_t)b->layer.size));
    }
    ec_cli_print_json(j);
    json_decref(j);
}

static int do_run(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        EC_CLI_COMMON_LONGOPTS, {"base", required_argument, NULL, 'b'},
        {"no-base", no_argument, NULL, 'N'}, {"layers", required_argument, NULL, 'L'},
        {"timeout", required_argument, NULL, 't'}, {"memory", required_argument, NULL, 'm'},
        {"mirror", required_argument, NULL, 'p'}, {"env", required_argument, NULL, 'e'},
        {"cwd", required_argument, NULL, 'c'}, {"discard", no_argument, NULL, 'd'},
        {"log", no_argument, NULL, 'l'}, {"skip-sleeps", no_argument, NULL, 'S'},
        {"skip-syncs", no_argument, NULL, 'Y'}, {0}};
    struct sb_args a = {0};
    EC_AUTOFREE const char **env = ec_xcalloc((size_t)argc + 1, sizeof *env);
    size_t nenv = 0;
    a.env = env;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(sandbox_usage, stdout), EC_EXIT_OK;
        int rc = parse_opt(cli, &a, o, &nenv);
        if (rc >= 0)
            return rc;
    }
    if (optind >= argc)
        return ec_cli_usage(cli, "run needs a command after --");
    a.bo.argv = (const char *const *)argv + optind;
    a.bo.env = env;
    a.bo.nenv = nenv;
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    int rc = pick_base(cli, c, &a);
    if (rc == EC_EXIT_OK)
        rc = parse_layers(cli, c, &a);
    if (rc != EC_EXIT_OK) {
        free(a.layers);
        return rc;
    }
    ec_sandbox_build b;
    ec_err err = {0};
    a.bo.discard = a.discard;
    int r = ec_sandbox_build_layer(&b, c, &a.bo, &err);
    free(a.layers);
    if (r < 0)
        return ec_cli_fail(cli, &err);
    print_result(cli, &a, &b);
    return EC_EXIT_OK;
}

int ec_cmd_sandbox(ec_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(sandbox_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    if (strcmp(argv[1], "run") == 0)
        return do_run(cli, argc - 1, argv + 1);
    return ec_cli_usage(cli, "'%s' is not a sandbox command (run)", argv[1]);
}
