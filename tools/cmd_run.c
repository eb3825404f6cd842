/* SPDX-License-Identifier: MIT */
/* `envcache run ENV -- CMD…`: a new session of ENV as a container, CMD in it, its exit
 * status ours. The session (root, bundle) is the one `POST /v1/sessions` prepares; an
 * OCI runtime (runc by default) starts it in the foreground, so the terminal, signals
 * and the exit status pass through the runtime as they do for `runc run`. */
#include "tools/cli.h"
#include "fetchers/fetcher.h" /* EC_AUTO(json_t) */
#include "cache/api/server.h"
#include "cache/env/base.h"
#include "cache/warm/warm.h"
#include "store/util/mem.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char run_usage[] =
    "Usage: envcache run ENV [--session ID] [--keep] [--runtime PATH] [--env K=V]…\n"
    "                    [--cwd DIR] [--tty | --no-tty] -- CMD [ARG…]\n\n"
    "Runs CMD in a new container whose root is a new session of environment ENV: its own\n"
    "mount, PID, IPC, UTS and network namespaces, /proc, /dev and /sys as a container has\n"
    "them. Exits with CMD's status (128+N when a signal N ended it). The session and its\n"
    "writes go away after, unless --keep.\n\n"
    "  --session ID    the session's id (default: a new sesn_… id); also the container's\n"
    "  --keep          keep the session (its root, writes and bundle) after CMD exits;\n"
    "                  remove it with `envcache umount --session ID`\n"
    "  --runtime PATH  the OCI runtime (default: $ENVCACHE_OCI_RUNTIME, else runc)\n"
    "  --env K=V       set a variable in CMD's environment (repeatable)\n"
    "  --cwd DIR       CMD's working directory inside (default /)\n"
    "  --tty, --no-tty give CMD a terminal (default: when stdin and stdout are terminals)\n"
    "  --json          print the session object before CMD starts (to stderr)\n"
    EC_CLI_WS_HELP;

typedef struct run_opts {
    const char *env, *session_id, *runtime, *cwd;
    bool keep;
    int tty; /* -1 = decide by isatty */
    const char **envv;
    size_t nenv;
    char **cmd;
} run_opts;

static volatile sig_atomic_t child_pid;

/* The runtime forwards signals to the container; terminal signals reach it through the
 * process group already, the rest we pass on. */
static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static int wait_runtime(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 125;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}

static int start_runtime(const run_opts *ro, const char *bundle, const char *id)
{
    const char *rt = ro->runtime;
    const char *argv[] = {rt, "run", "--bundle", bundle, id, NULL};
    struct sigaction sa = {.sa_handler = forward}, ign = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execvp(rt, (char **)argv);
        fprintf(stderr, "envcache run: cannot run the OCI runtime %s: %s (install runc, or "
                        "give another with --runtime)\n", rt, strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &ign, NULL); /* the runtime, in our process group, has it too */
    sigaction(SIGQUIT, &ign, NULL);
    return wait_runtime(pid);
}

static int parse(run_opts *ro, ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"session", required_argument, NULL, 's'},
                                         {"keep", no_argument, NULL, 'k'},
                                         {"runtime", required_argument, NULL, 'r'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"cwd", required_argument, NULL, 'C'},
                                         {"tty", no_argument, NULL, 't'},
                                         {"no-tty", no_argument, NULL, 'T'},
                                         {0}};
    int o;
    optind = 1;
    /* "+": options end at the first non-option (ENV), so CMD's own options stay its own. */
    while ((o = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(run_usage, stdout); return 1;
        case 's': ro->session_id = optarg; break;
        case 'k': ro->keep = true; break;
        case 'r': ro->runtime = optarg; break;
        case 'C': ro->cwd = optarg; break;
        case 't': ro->tty = 1; break;
        case 'T': ro->tty = 0; break;
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return ec_cli_usage(cli, "--env takes NAME=VALUE, not \"%s\"", optarg);
            ro->envv = ec_xrealloc(ro->envv, (ro->nenv + 2) * sizeof *ro->envv);
            ro->envv[ro->nenv++] = optarg;
            ro->envv[ro->nenv] = NULL;
            break;
        default: return ec_cli_usage(cli, "bad option");
        }
    }
    if (optind >= argc)
        return ec_cli_usage(cli, "give ENV, then -- and the command to run");
    ro->env = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc)
        return ec_cli_usage(cli, "give the command to run after --");
    ro->cmd = argv + optind;
    return 0;
}

static bool stack_has_base(ec_cache *c, const char *ws, const char *env_id)
{
    EC_AUTO(json_t) stack = NULL;
    ec_layer_info l;
    return ec_env_stack(&stack, c, ws, env_id, NULL) == EC_OK && json_array_size(stack) &&
           ec_layer_resolve(&l, ec_cache_store(c),
                            json_string_value(json_array_get(stack, 0)), NULL) == EC_OK &&
           (l.flags & EC_LAYER_BASE);
}

/* A container needs a root with a shell and its runtimes: an environment that follows the
 * default base gets it (made on this first need), and a warm-up puts it under the stack
 * (the layers built are reused). Environments without a base by choice run as they are. */
static int ensure_root(ec_cache *c, const char *ws, const char *env_id, ec_err *err)
{
    ec_env_base_choice choice;
    int r = ec_env_base_choice_lookup(&choice, c, ws, env_id, err);
    if (r < 0 || choice.mode != EC_ENV_BASE_DEFAULT || stack_has_base(c, ws, env_id))
        return r;
    ec_digest d;
    if ((r = ec_base_default_ensure(&d, c, false, err)) < 0)
        return r;
    EC_AUTO(json_t) res = NULL;
    const ec_warm_opts wo = {.ws = ws, .env = env_id};
    return ec_warm_env(&res, c, &wo, err);
}

int ec_cmd_run(ec_cli *cli, int argc, char **argv)
{
    run_opts ro = {.tty = -1};
    EC_AUTOFREE const char **envv_owner = NULL;
    int pr = parse(&ro, cli, argc, argv);
    envv_owner = ro.envv;
    if (pr != 0)
        return pr == 1 ? EC_EXIT_OK : pr;
    if (!ro.runtime)
        ro.runtime = ec_session_runtime();
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_server_mirror_on_demand(c); /* the session's package managers install through it */
    ec_err err = {0};
    EC_AUTOFREE char *env_id = NULL;
    if (ec_env_resolve_id(&env_id, c, ec_cli_ws(cli), ro.env, &err) < 0 ||
        ensure_root(c, ec_cli_ws(cli), env_id, &err) < 0)
        return ec_cli_fail(cli, &err);
    char idbuf[64];
    if (!ro.session_id) {
        ec_id_new(idbuf, "sesn");
        ro.session_id = idbuf;
    }
    EC_AUTOFREE char *target = ec_xasprintf("%s/sessions/%s/root",
                                            ec_store_home(ec_cache_store(c)), ro.session_id);
    ec_bundle_opts bo = {.argv = (const char *const *)ro.cmd, .env = ro.envv, .cwd = ro.cwd,
                         .terminal = ro.tty >= 0 ? ro.tty : isatty(0) && isatty(1)};
    ec_session_opts so = {.ws = ec_cli_ws(cli), .env_id = env_id,
                          .session_id = ro.session_id, .target = target,
                          .flags = EC_MOUNT_ALLOW_COPY, .bundle = &bo};
    EC_AUTO(json_t) s = NULL;
    if (ec_session_create(&s, c, &so, &err) < 0) {
        int rc = ec_cli_fail(cli, &err);
        if (strcmp(err.detail, "environment_not_ready") == 0)
            fprintf(stderr, "envcache: hint: run `envcache warm %s`, then run again\n", ro.env);
        return rc;
    }
    if (cli->json) {
        char *text = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "%s\n", text);
        free(text);
    }
    const char *bundle = json_string_value(json_object_get(s, "bundle"));
    int rc = start_runtime(&ro, bundle, ro.session_id);
    if (!ro.keep) {
        EC_AUTO(json_t) gone = NULL;
        if (ec_session_delete_stopped(&gone, c, so.ws, ro.session_id, &err) < 0)
            fprintf(stderr, "envcache run: warning: session %s stays: %s (remove it with "
                            "`envcache umount --session %s`)\n", ro.session_id, err.msg,
                    ro.session_id);
    } else if (!cli->quiet)
        fprintf(stderr, "envcache run: kept session %s at %s\n", ro.session_id, target);
    return rc;
}
