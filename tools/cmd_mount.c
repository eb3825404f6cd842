/* SPDX-License-Identifier: MIT */
/* `envcache mount`, `envcache umount` and `envcache session ls`. */
#include "tools/cli.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char mount_usage[] =
    "Usage: envcache mount (ENV | --layers D1,D2,…) [--session ID] TARGET [--base DIR] [--copy]\n\n"
    "Mounts the stack (base lowest, then each layer in order) at TARGET with overlayfs:\n"
    "layers are read-only lower directories and the session gets a private upper, so\n"
    "writes never reach the cache. Where overlayfs is refused it copies instead\n"
    "(reflinks where the file system has them, never hard links) and says so.\n\n"
    "  --layers LIST  comma-separated layer digests (or unique prefixes), lowest first\n"
    "  --session ID   the session's id (default: a new sesn_… id)\n"
    "  --base DIR     an extra read-only directory below every layer\n"
    "  --copy         copy instead of trying overlayfs\n"
    "  --no-copy      fail instead of copying when overlayfs is refused\n"
    "  --json         print the session object\n" EC_CLI_WS_HELP;

static const char umount_usage[] =
    "Usage: envcache umount (TARGET | --session ID)\n\n"
    "Unmounts a session, discards its writes and forgets it. TARGET may be relative to\n"
    "the current directory.\n" EC_CLI_WS_HELP;

static const char session_usage[] =
    "Usage: envcache session ls [--all-workspaces] [--json]\n\n"
    "Lists the sessions of the workspace, each with its workspace, first forgetting those\n"
    "whose mount is gone (unmounted by hand, a reboot), with their writes.\n\n"
    "  --all-workspaces  list the sessions of every workspace\n" EC_CLI_WS_HELP;

static size_t split_layers(char ***out, char *list)
{
    size_t n = 0, cap = 8;
    char **v = ec_xmalloc(cap * sizeof *v);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == cap)
            v = ec_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = tok;
    }
    *out = v;
    return n;
}

/* The cache's message speaks to API clients as well; what to run is the CLI's to say. */
static int mount_fail(const ec_cli *cli, const ec_err *err, const char *env)
{
    int rc = ec_cli_fail(cli, err);
    if (env && strcmp(err->detail, "environment_not_ready") == 0)
        fprintf(stderr, "envcache: hint: run `envcache warm %s` (after fixing its packages, "
                        "if a warm-up failed), then mount again\n", env);
    return rc;
}

int ec_cmd_mount(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"layers", required_argument, NULL, 'L'},
                                         {"session", required_argument, NULL, 's'},
                                         {"base", required_argument, NULL, 'b'},
                                         {"copy", no_argument, NULL, 'c'},
                                         {"no-copy", no_argument, NULL, 'n'},
                                         {0}};
    ec_session_opts so = {.ws = ec_cli_ws(cli), .flags = EC_MOUNT_ALLOW_COPY};
    char *layers = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h':
            fputs(mount_usage, stdout);
            return EC_EXIT_OK;
        case 'L':
            layers = optarg;
            break;
        case 's':
            so.session_id = optarg;
            break;
        case 'b':
            so.base_dir = optarg;
            break;
        case 'c':
            so.flags |= EC_MOUNT_FORCE_COPY;
            break;
        case 'n':
            so.flags &= ~(unsigned)EC_MOUNT_ALLOW_COPY;
            break;
        default:
            return ec_cli_usage(cli, "bad option");
        }
    }
    int rest = argc - optind;
    if (rest != (layers ? 1 : 2))
        return ec_cli_usage(cli, "give ENV and TARGET, or --layers LIST and TARGET");
    so.target = argv[argc - 1];
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTOFREE char *env_id = NULL;
    EC_AUTOFREE char **list = NULL;
    if (layers) {
        so.nlayers = split_layers(&list, layers);
        so.layers = (const char *const *)list;
    } else {
        if (ec_env_resolve_id(&env_id, c, so.ws, argv[optind], &err) < 0)
            return ec_cli_fail(cli, &err);
        so.env_id = env_id;
    }
    json_t *s = NULL;
    int64_t t0 = ec_mono_us();
    if (ec_session_create(&s, c, &so, &err) < 0)
        return mount_fail(cli, &err, layers ? NULL : argv[optind]);
    if (cli->json)
        ec_cli_print_json(s);
    else
        printf("mounted session %s at %s (%s, %zu layers, %.1f ms)\n",
               json_string_value(json_object_get(s, "id")),
               json_string_value(json_object_get(s, "target")),
               json_string_value(json_object_get(s, "mode")),
               json_array_size(json_object_get(s, "layers")), (ec_mono_us() - t0) / 1000.0);
    if (strcmp(json_string_value(json_object_get(s, "mode")), "copy") == 0 &&
        !(so.flags & EC_MOUNT_FORCE_COPY))
        ec_warn("overlayfs was refused here: the layers were copied instead");
    json_decref(s);
    return EC_EXIT_OK;
}

/* Sessions record absolute targets; TARGET is relative to the cwd. The directory may be
 * gone (a reboot cleared a tmpfs), so realpath is not enough. */
static char *absolute_target(const char *path)
{
    char cwd[PATH_MAX];
    char *abs = realpath(path, NULL);
    if (abs)
        return abs;
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        return ec_xstrdup(path);
    return ec_xasprintf("%s/%s", cwd, path);
}

/* TARGET first; a bare word that is no session's target may still be an id, as before. */
static int delete_session(json_t **out, ec_cache *c, const char *ws, const char *which,
                          bool by_id, ec_err *err)
{
    if (by_id)
        return ec_session_delete(out, c, ws, which, err);
    EC_AUTOFREE char *target = absolute_target(which);
    int r = ec_session_delete(out, c, ws, target, err);
    if (r != EC_ENOTFOUND || strchr(which, '/'))
        return r;
    ec_err_clear(err);
    return ec_session_delete(out, c, ws, which, err);
}

int ec_cmd_umount(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"session", required_argument, NULL, 's'}, {0}};
    const char *which = NULL;
    bool by_id = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(umount_usage, stdout), EC_EXIT_OK;
        if (o == 's')
            which = optarg, by_id = true;
        else
            return ec_cli_usage(cli, "bad option");
    }
    if (!which && optind == argc - 1)
        which = argv[optind];
    else if (optind != argc)
        return ec_cli_usage(cli, "give TARGET or --session ID");
    if (!which)
        return ec_cli_usage(cli, "give TARGET or --session ID");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *out = NULL;
    if (delete_session(&out, c, ec_cli_ws(cli), which, by_id, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json)
        ec_cli_print_json(out);
    else if (!cli->quiet)
        printf("unmounted session %s; its writes were discarded\n",
               json_string_value(json_object_get(out, "id")));
    json_decref(out);
    return EC_EXIT_OK;
}

/* A reboot or a manual umount leaves a record without a mount: forget it, saying so. */
static int reap_sessions(const ec_cli *cli, ec_cache *c, ec_err *err)
{
    json_t *gone = NULL;
    int r = ec_session_reap(&gone, c, NULL, err);
    size_t i;
    json_t *s;
    json_array_foreach(gone, i, s) {
        if (!cli->quiet)
            fprintf(stderr, "envcache: forgot session %s: nothing is mounted at %s any more\n",
                    json_string_value(json_object_get(s, "id")),
                    json_string_value(json_object_get(s, "target")));
    }
    json_decref(gone);
    return r;
}

int ec_cmd_session(ec_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "ls") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(session_usage, help ? stdout : stderr);
        return help ? EC_EXIT_OK : EC_EXIT_USAGE;
    }
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"all-workspaces", no_argument, NULL, 'A'}, {0}};
    const char *ws = ec_cli_ws(cli);
    int o;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(session_usage, stdout), EC_EXIT_OK;
        if (o != 'A')
            return ec_cli_usage(cli, "bad option");
        ws = NULL; /* every workspace */
    }
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *list = NULL;
    if (reap_sessions(cli, c, &err) < 0 || ec_session_list(&list, c, ws, &err) < 0)
        return ec_cli_fail(cli, &err);
    size_t i;
    json_t *s;
    /* Sessions still being mounted, or mounted in another mount namespace, show as not
     * mounted here. */
    json_array_foreach(list, i, s) {
        const char *mode = json_string_value(json_object_get(s, "mode"));
        const char *target = json_string_value(json_object_get(s, "target"));
        bool live = mode && strcmp(mode, "overlay") == 0 ? ec_mount_is_mountpoint(target)
                                                          : mode && strcmp(mode, "copy") == 0;
        json_object_set_new(s, "mounted", json_boolean(live));
    }
    if (cli->json) {
        ec_cli_print_json(list);
    } else {
        printf("%-32s %-16s %-8s %-8s %-7s %-30s %s\n", "SESSION", "WORKSPACE", "MODE",
               "MOUNTED", "LAYERS", "ENVIRONMENT", "TARGET");
        json_array_foreach(list, i, s) {
            const char *env = json_string_value(json_object_get(s, "environment_id"));
            const char *sws = json_string_value(json_object_get(s, "workspace"));
            printf("%-32s %-16s %-8s %-8s %-7zu %-30s %s\n",
                   json_string_value(json_object_get(s, "id")), sws ? sws : "-",
                   json_string_value(json_object_get(s, "mode")),
                   json_is_true(json_object_get(s, "mounted")) ? "yes" : "NO",
                   json_array_size(json_object_get(s, "layers")), env ? env : "-",
                   json_string_value(json_object_get(s, "target")));
        }
    }
    json_decref(list);
    return EC_EXIT_OK;
}
