/* SPDX-License-Identifier: MIT */
/* `envcache base import|bootstrap|default`. */
#include "tools/cli.h"
#include "cache/env/base.h"

#include <stdio.h>
#include <string.h>

static const char base_usage[] =
    "Usage: envcache base import PATH [--json]\n"
    "       envcache base bootstrap [--runtimes] [--suite bookworm] [--variant minbase]\n"
    "                               [--include PKG,…] [--mirror URL] [--sources-dir DIR]\n"
    "                               [--no-security] [--force]\n"
    "                               [--json]\n"
    "       envcache base default [DIGEST | --clear] [--json]\n\n"
    "import     store a root file system, as a directory, tar or tar.zst (e.g. a container\n"
    "           image's) as a base layer and print its digest\n"
    "bootstrap  build a Debian root file system with mmdebstrap and import it; the same\n"
    "           arguments against an unchanged archive (its InRelease) reuse the layer\n"
    "           --runtimes         include the common runtimes (Python, Node.js, Ruby, Go,\n"
    "                              Rust, a C toolchain, git, curl, CA certificates; the\n"
    "                              list is in tools/CLI.md): what a new store's default\n"
    "                              base gets\n"
    "           --no-security      leave out the suite's security archive (default: in\n"
    "                              the base's sources when the host's sources have it)\n"
    "           --mirror URL       the archive URL (default: the package sources of the\n"
    "                              host that serve the suite)\n"
    "           --sources-dir DIR  where the package sources of the host live (default:\n"
    "                              their usual place)\n"
    "           --force            build even when the archive is unchanged\n"
    "default    print, set or clear the default base: environments without a base of\n"
    "           their own build on it at each warm-up\n";

static void print_layer(const ec_cli *cli, const ec_layer_info *l, int reused)
{
    char d[EC_DIGEST_STR_LEN];
    ec_digest_format(d, &l->digest);
    if (!cli->json) {
        printf("%s\n", d);
        return;
    }
    json_t *j = json_pack("{s:s, s:I, s:I, s:I}", "digest", d, "size", (json_int_t)l->size,
                          "uncompressed_size", (json_int_t)l->tar_size, "files",
                          (json_int_t)l->files);
    if (reused >= 0)
        json_object_set_new(j, "reused", json_boolean(reused));
    ec_cli_print_json(j);
    json_decref(j);
}

static int getopts(ec_cli *cli, int argc, char **argv, const struct option *opts,
                   ec_base_bootstrap_opts *bo, bool *clear)
{
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(base_usage, stdout); return EC_EXIT_OK;
        case 's': bo->suite = optarg; break;
        case 'v': bo->variant = optarg; break;
        case 'i': bo->include = optarg; break;
        case 'm': bo->mirror = optarg; break;
        case 'S': bo->sources_dir = optarg; break;
        case 'f': bo->force = true; break;
        case 'R': bo->runtimes = true; break;
        case 'N': bo->no_security = true; break;
        case 'c': *clear = true; break;
        default: return ec_cli_usage(cli, "bad option");
        }
    }
    return -1;
}

static int do_import(ec_cli *cli, ec_cache *c, int argc, char **argv)
{
    if (argc != 1)
        return ec_cli_usage(cli, "import takes one PATH (a directory, a tar or a tar.zst)");
    ec_layer_info l;
    ec_err err = {0};
    if (ec_base_import(&l, c, argv[0], &err) < 0)
        return ec_cli_fail(cli, &err);
    print_layer(cli, &l, -1);
    return EC_EXIT_OK;
}

static int do_bootstrap(ec_cli *cli, ec_cache *c, ec_base_bootstrap_opts *bo, int argc)
{
    if (argc != 0)
        return ec_cli_usage(cli, "bootstrap takes options only");
    ec_layer_info l;
    ec_err err = {0};
    bool reused = false;
    bo->quiet = cli->quiet;
    if (ec_base_bootstrap(&l, &reused, c, bo, &err) < 0)
        return ec_cli_fail(cli, &err);
    if (!cli->json && !cli->quiet)
        fprintf(stderr, "%s\n", reused ? "reused: the archive has not changed" : "built");
    print_layer(cli, &l, reused);
    return EC_EXIT_OK;
}

static int do_default(ec_cli *cli, ec_cache *c, bool clear, int argc, char **argv)
{
    ec_err err = {0};
    ec_layer_info l;
    char d[EC_DIGEST_STR_LEN];
    if (argc > 1 || (clear && argc))
        return ec_cli_usage(cli, "default takes one DIGEST, or --clear");
    if (clear)
        return ec_base_default_set(c, NULL, &err) < 0 ? ec_cli_fail(cli, &err) : EC_EXIT_OK;
    if (argc == 1) {
        if (ec_layer_resolve(&l, ec_cache_store(c), argv[0], &err) < 0 ||
            ec_base_default_set(c, &l.digest, &err) < 0)
            return ec_cli_fail(cli, &err);
        return EC_EXIT_OK;
    }
    int r = ec_base_default_get(&l.digest, c, &err);
    if (r < 0 && r != EC_ENOTFOUND)
        return ec_cli_fail(cli, &err);
    const char *s = r == EC_OK ? ec_digest_format(d, &l.digest) : NULL;
    if (cli->json) {
        json_t *j = json_pack("{s:s?}", "default_base", s);
        ec_cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s\n", s ? s : "(none)");
    }
    return EC_EXIT_OK;
}

int ec_cmd_base(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        EC_CLI_COMMON_LONGOPTS, {"suite", required_argument, NULL, 's'},
        {"variant", required_argument, NULL, 'v'}, {"include", required_argument, NULL, 'i'},
        {"mirror", required_argument, NULL, 'm'}, {"sources-dir", required_argument, NULL, 'S'},
        {"force", no_argument, NULL, 'f'}, {"clear", no_argument, NULL, 'c'},
        {"runtimes", no_argument, NULL, 'R'}, {"no-security", no_argument, NULL, 'N'}, {0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(base_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "import") && strcmp(sub, "bootstrap") && strcmp(sub, "default"))
        return ec_cli_usage(cli, "'%s' is not a base command (import, bootstrap, default)", sub);
    ec_base_bootstrap_opts bo = {0};
    bool clear = false;
    int rc = getopts(cli, argc - 1, argv + 1, opts, &bo, &clear);
    if (rc >= 0)
        return rc;
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    if (strcmp(sub, "import") == 0)
        return do_import(cli, c, rest, args);
    if (strcmp(sub, "bootstrap") == 0)
        return do_bootstrap(cli, c, &bo, rest);
    return do_default(cli, c, clear, rest, args);
}
