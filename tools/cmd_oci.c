/* SPDX-License-Identifier: MIT */
/* `envcache push`, `pull`, `remote` and `export`: environments on OCI registries and as
 * OCI images (cache/oci/). */
#include "tools/cli.h"
#include "cache/oci/oci.h"
#include "fetchers/fetcher.h"

#include <stdio.h>
#include <string.h>

static const char push_usage[] =
    "Usage: envcache push ENV REF [--json]\n\n"
    "Uploads environment ENV (an id or a name) to the OCI registry reference REF\n"
    "([http://]HOST[:PORT]/NAME:TAG): its layers as tar+zstd blobs, its stack as an image\n"
    "manifest, its record and each manager's lock and build record as artifacts attached\n"
    "to the manifest. Blobs the registry has are not sent again.\n"
    "Credentials: ENVCACHE_REGISTRY_USER and ENVCACHE_REGISTRY_PASSWORD, else the auth\n"
    "files of podman/skopeo ($REGISTRY_AUTH_FILE, containers/auth.json) or docker\n"
    "(~/.docker/config.json). TLS trust: ENVCACHE_REGISTRY_CA=FILE, else\n"
    "/etc/containers/certs.d/HOST/ca.crt, else the system's.\n" EC_CLI_WS_HELP;

static const char pull_usage[] =
    "Usage: envcache pull REF [--name NAME] [--json]\n\n"
    "Brings the environment pushed to REF into this store: layers (each blob checked\n"
    "against its digest, each tar against its diff_id), locks and the environment's\n"
    "record, ready to mount. --name records it under another name. Credentials and TLS\n"
    "as for 'envcache push'.\n" EC_CLI_WS_HELP;

static const char remote_usage[] =
    "Usage: envcache remote set URL [--no-push]\n"
    "       envcache remote unset\n"
    "       envcache remote show [--json]\n\n"
    "The remote tier: a repository ([http://]HOST[:PORT]/NAME) on an OCI registry that\n"
    "warm-ups consult before resolving and building (locks and layers found there are\n"
    "pulled), that sessions pull missing layers from, and that layers built here are\n"
    "pushed to (unless --no-push). $ENVCACHE_REMOTE (and $ENVCACHE_REMOTE_PUSH=0) win over\n"
    "what is set here.\n";

static const char export_usage[] =
    "Usage: envcache export ENV (--oci DIR | --docker-archive FILE) [--tag TAG] [--zstd]\n"
    "                       [--json]\n\n"
    "Writes environment ENV's stack as an image: an OCI image layout in the new directory\n"
    "DIR, or a docker-archive tar (layers uncompressed). An OCI layout's layers are the\n"
    "same tars, gzip-compressed, which every OCI tool reads (umoci 0.4 reads no zstd);\n"
    "--zstd writes the store's tar+zstd blobs as they are (no re-compression, smaller).\n"
    "TAG defaults to latest.\n"
    EC_CLI_WS_HELP;

/* Parses the common options; returns -1 to go on, else an exit status. */
static int opts_loop(ec_cli *cli, int argc, char **argv, const char *usage,
                     const struct option *extra, int (*on)(int o, const char *arg, void *ud),
                     void *ud)
{
    struct option opts[16] = {EC_CLI_COMMON_LONGOPTS};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i].name && n < 15; i++)
        opts[n++] = extra[i];
    int o;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(usage, stdout), EC_EXIT_OK;
        if (o == '?' || !on || on(o, optarg, ud) < 0)
            return ec_cli_usage(cli, "bad option");
    }
    return -1;
}

static void print_stats(const json_t *out)
{
    json_t *s = json_object_get(out, "stats");
    printf("%lld requests; blobs: %lld sent, %lld mounted, %lld already there, %lld "
           "downloaded (%lld bytes)\n",
           json_integer_value(json_object_get(s, "requests")),
           json_integer_value(json_object_get(s, "blobs_sent")),
           json_integer_value(json_object_get(s, "blobs_mounted")),
           json_integer_value(json_object_get(s, "blobs_present")),
           json_integer_value(json_object_get(s, "blobs_got")),
           json_integer_value(json_object_get(s, "bytes_got")));
}

int ec_cmd_push(ec_cli *cli, int argc, char **argv)
{
    cli->prog = "envcache push";
    int x = opts_loop(cli, argc, argv, push_usage, NULL, NULL, NULL);
    if (x >= 0)
        return x;
    if (optind != argc - 2)
        return ec_cli_usage(cli, "push takes ENV and REF");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTO(json_t) out = NULL;
    if (ec_oci_push(&out, c, ec_cli_ws(cli), argv[optind], argv[optind + 1], &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json)
        ec_cli_print_json(out);
    else if (!cli->quiet) {
        printf("pushed %s as %s@%s\n", argv[optind], argv[optind + 1],
               json_string_value(json_object_get(out, "digest")));
        print_stats(out);
    }
    return EC_EXIT_OK;
}

static int pull_opt(int o, const char *arg, void *ud)
{
    ec_oci_pull_opts *po = ud;
    if (o != 'N')
        return -1;
    po->name = arg;
    return 0;
}

int ec_cmd_pull(ec_cli *cli, int argc, char **argv)
{
    cli->prog = "envcache pull";
    static const struct option extra[] = {{"name", required_argument, NULL, 'N'}, {0}};
    ec_oci_pull_opts po = {0};
    int x = opts_loop(cli, argc, argv, pull_usage, extra, pull_opt, &po);
    if (x >= 0)
        return x;
    if (optind != argc - 1)
        return ec_cli_usage(cli, "pull takes one REF");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTO(json_t) out = NULL;
    if (ec_oci_pull(&out, c, ec_cli_ws(cli), argv[optind], &po, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json)
        ec_cli_print_json(out);
    else if (!cli->quiet) {
        printf("pulled %s as environment %s (%s)\n", argv[optind],
               json_string_value(json_object_get(out, "name")),
               json_string_value(json_object_get(out, "id")));
        print_stats(out);
    }
    return EC_EXIT_OK;
}

static int remote_opt(int o, const char *arg, void *ud)
{
    (void)arg;
    if (o != 'P')
        return -1;
    *(bool *)ud = false;
    return 0;
}

int ec_cmd_remote(ec_cli *cli, int argc, char **argv)
{
    cli->prog = "envcache remote";
    static const struct option extra[] = {{"no-push", no_argument, NULL, 'P'}, {0}};
    bool push = true;
    int x = opts_loop(cli, argc, argv, remote_usage, extra, remote_opt, &push);
    if (x >= 0)
        return x;
    const char *verb = optind < argc ? argv[optind] : NULL;
    if (!verb)
        return ec_cli_usage(cli, "say set URL, unset or show");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    if (strcmp(verb, "set") == 0 || strcmp(verb, "unset") == 0) {
        bool set = verb[0] == 's';
        if (optind + (set ? 2 : 1) != argc)
            return ec_cli_usage(cli, set ? "set takes one URL" : "unset takes nothing");
        if (ec_oci_remote_set(c, set ? argv[optind + 1] : NULL, push, &err) < 0)
            return ec_cli_fail(cli, &err);
        return EC_EXIT_OK;
    }
    if (strcmp(verb, "show") != 0)
        return ec_cli_usage(cli, "unknown action \"%s\": say set URL, unset or show", verb);
    ec_oci_remote rem;
    int r = ec_oci_remote_get(&rem, c, &err);
    if (r < 0 && r != EC_ENOTFOUND)
        return ec_cli_fail(cli, &err);
    if (cli->json) {
        EC_AUTO(json_t) j = r == EC_OK ? json_pack("{s:s, s:b}", "url", rem.url, "push",
                                                   rem.push)
                                       : json_pack("{s:n}", "url");
        ec_cli_print_json(j);
    } else if (r == EC_OK)
        printf("%s%s\n", rem.url, rem.push ? "" : " (no push)");
    else
        printf("no remote\n");
    ec_oci_remote_fini(&rem);
    return EC_EXIT_OK;
}

struct export_args {
    const char *oci, *archive, *tag;
    bool zstd;
};

static int export_opt(int o, const char *arg, void *ud)
{
    struct export_args *a = ud;
    if (o == 'O')
        a->oci = arg;
    else if (o == 'D')
        a->archive = arg;
    else if (o == 'T')
        a->tag = arg;
    else if (o == 'Z')
        a->zstd = true;
    else
        return -1;
    return 0;
}

int ec_cmd_export(ec_cli *cli, int argc, char **argv)
{
    cli->prog = "envcache export";
    static const struct option extra[] = {{"oci", required_argument, NULL, 'O'},
                                          {"docker-archive", required_argument, NULL, 'D'},
                                          {"tag", required_argument, NULL, 'T'},
                                          {"zstd", no_argument, NULL, 'Z'},
                                          {0}};
    struct export_args a = {0};
    int x = opts_loop(cli, argc, argv, export_usage, extra, export_opt, &a);
    if (x >= 0)
        return x;
    if (optind != argc - 1)
        return ec_cli_usage(cli, "export takes one ENV");
    if (!a.oci == !a.archive)
        return ec_cli_usage(cli, "give one of --oci DIR and --docker-archive FILE");
    if (a.archive && a.zstd)
        return ec_cli_usage(cli, "--zstd applies to --oci (a docker-archive's layers are "
                                 "uncompressed)");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTO(json_t) out = NULL;
    if (ec_oci_export(&out, c, ec_cli_ws(cli), argv[optind],
                      a.oci ? EC_OCI_LAYOUT : EC_OCI_DOCKER_ARCHIVE, a.oci ? a.oci : a.archive,
                      a.tag, !a.zstd, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (cli->json)
        ec_cli_print_json(out);
    else if (!cli->quiet)
        printf("%s\n", json_string_value(json_object_get(out, "path")));
    return EC_EXIT_OK;
}
