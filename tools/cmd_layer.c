/* SPDX-License-Identifier: MIT */
/* `envcache layer import|export|ls`. */
#include "tools/cli.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char layer_usage[] =
    "Usage: envcache layer import PATH [--base] [--threads N] [--max-bytes SIZE] [--max-entries N] [--json]\n"
    "       envcache layer export DIGEST -o FILE\n"
    "       envcache layer ls [--json]\n\n"
    "import   store a directory, a tar or a tar.zst as a layer and print its digest;\n"
    "         --json adds diff_id, sizes and the file count\n"
    "export   write a layer's blob (tar+zstd), verified against its digest\n"
    "ls       list the layers in the store\n";

static json_t *layer_json(const ec_layer_info *l)
{
    char d[EC_DIGEST_STR_LEN], di[EC_DIGEST_STR_LEN];
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:I, s:I}", "digest",
                     ec_digest_format(d, &l->digest), "diff_id", ec_digest_format(di, &l->diff_id),
                     "size", (json_int_t)l->size, "uncompressed_size", (json_int_t)l->tar_size,
                     "files", (json_int_t)l->files, "base", (l->flags & EC_LAYER_BASE) != 0,
                     "created", (json_int_t)l->created, "last_used", (json_int_t)l->last_used);
}

static int do_import(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"base", no_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-bytes", required_argument, NULL, 'B'},
                                         {"max-entries", required_argument, NULL, 'E'},
                                         {0}};
    ec_pack_opts po = {0};
    ec_unpack_limits lim = {0};
    unsigned flags = 0;
    ec_err err = {0};
    int o;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(layer_usage, stdout), EC_EXIT_OK;
        if (o == 'b')
            flags |= EC_LAYER_BASE;
        else if (o == 't') {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 256)
                return ec_cli_usage(cli, "--threads must be between 1 and 256");
            po.threads = (int)t;
        }
        else if (o == 'B' && ec_cli_parse_size(&lim.max_bytes, optarg, &err) < 0)
            return ec_cli_usage(cli, "--max-bytes: %s", err.msg);
        else if (o == 'E')
            lim.max_entries = strtoull(optarg, NULL, 10);
        else if (o == '?')
            return ec_cli_usage(cli, "bad option");
    }
    if (optind != argc - 1)
        return ec_cli_usage(cli, "import takes one PATH (a directory, a tar or a tar.zst)");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_layer_info l;
    if (ec_layer_import(&l, ec_cache_store(c), argv[optind], flags, &po, &lim, &err) < 0)
        return ec_cli_fail(cli, &err);
    char d[EC_DIGEST_STR_LEN];
    if (cli->json) {
        json_t *j = layer_json(&l);
        ec_cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s\n", ec_digest_format(d, &l.digest));
    }
    return EC_EXIT_OK;
}

static int do_export(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"output", required_argument, NULL, 'o'}, {0}};
    const char *out = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "hqo:", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(layer_usage, stdout), EC_EXIT_OK;
        if (o == 'o')
            out = optarg;
        else
            return ec_cli_usage(cli, "bad option");
    }
    if (optind != argc - 1 || !out)
        return ec_cli_usage(cli, "export takes one DIGEST and -o FILE");
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    ec_layer_info l;
    if (ec_layer_resolve(&l, ec_cache_store(c), argv[optind], &err) < 0)
        return ec_cli_fail(cli, &err);
    EC_AUTOFREE char *tmp = ec_xasprintf("%s.partial", out);
    EC_AUTOFD int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ec_fail_sys(&err, errno, "cannot create %s", tmp);
        return ec_cli_fail(cli, &err);
    }
    /* Written under a temporary name, so a corrupt blob never appears at FILE. */
    if (ec_blob_copy_verified(ec_cache_store(c), &l.digest, fd, &err) < 0 ||
        (fsync(fd) < 0 && ec_fail_sys(&err, errno, "cannot fsync %s", tmp)) ||
        (rename(tmp, out) < 0 && ec_fail_sys(&err, errno, "cannot rename %s to %s", tmp, out))) {
        unlink(tmp);
        return ec_cli_fail(cli, &err);
    }
    return EC_EXIT_OK;
}

struct ls_ctx {
    ec_txn *txn;
    json_t *out;
    ec_err *err;
};

static int ls_one(const void *k, size_t kl, const void *v, size_t vl, void *payload)
{
    struct ls_ctx *ls = payload;
    ec_digest d;
    ec_layer_info l;
    (void)v;
    (void)vl;
    if (kl != 32)
        return 0;
    memcpy(d.b, k, 32);
    int r = ec_layer_lookup(&l, ls->txn, &d, ls->err);
    if (r < 0)
        return r;
    json_array_append_new(ls->out, layer_json(&l));
    return 0;
}

static int do_ls(ec_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS, {0}};
    int o;
    while ((o = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        if (o == 'h')
            return fputs(layer_usage, stdout), EC_EXIT_OK;
        return ec_cli_usage(cli, "bad option");
    }
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    EC_AUTO(ec_txn) txn = NULL;
    json_t *out = json_array();
    struct ls_ctx ls = {NULL, out, &err};
    if (ec_txn_begin(&txn, ec_cache_store(c), EC_TXN_READ, &err) < 0 ||
        (ls.txn = txn,
         ec_kv_each(txn, &ec_tbl_layers, NULL, 0, false, NULL, 0, ls_one, &ls, &err)) < 0) {
        json_decref(out);
        return ec_cli_fail(cli, &err);
    }
    size_t i;
    json_t *v;
    if (cli->json) {
        ec_cli_print_json(out);
    } else {
        printf("%-71s %10s %12s %8s\n", "DIGEST", "SIZE", "UNPACKED", "FILES");
        json_array_foreach(out, i, v) {
            char a[32], b[32];
            printf("%-71s %10s %12s %8lld%s\n", json_string_value(json_object_get(v, "digest")),
                   ec_cli_human(a, (uint64_t)json_integer_value(json_object_get(v, "size"))),
                   ec_cli_human(b, (uint64_t)json_integer_value(json_object_get(v, "uncompressed_size"))),
                   (long long)json_integer_value(json_object_get(v, "files")),
                   json_is_true(json_object_get(v, "base")) ? "  base" : "");
        }
    }
    json_decref(out);
    return EC_EXIT_OK;
}

int ec_cmd_layer(ec_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(layer_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    optind = 1;
    if (strcmp(argv[1], "import") == 0)
        return do_import(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return do_export(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "ls") == 0)
        return do_ls(cli, argc - 1, argv + 1);
    return ec_cli_usage(cli, "'%s' is not a layer command (import, export, ls)", argv[1]);
}
