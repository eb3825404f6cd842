/* SPDX-License-Identifier: MIT */
/* envcache-mount: the container start-up hook. Mounts an environment's stack for a
 * session exactly as `envcache mount ENV TARGET` does, from a binary that links only
 * LMDB, jansson and libcrypto.
 *
 * Why a second binary: `envcache` links every library of every command (curl, libarchive,
 * libsolv and theirs, 60 shared objects), and loading them costs ~10 ms before main(),
 * far more than the mount itself. A start-up hook runs once per container, so it
 * stays lean: it never unpacks a layer. When a layer is not unpacked yet (warm-ups leave
 * them unpacked), it hands the whole request to `envcache mount`. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/api/auth.h"
#include "cache/cache.h"
#include "tools/hook/oci_hook.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define NOT_UNPACKED "is not unpacked yet"

/* Replaces the store's unpacking version at link time, so that neither libarchive nor
 * zstd (nor what they load) is linked into the hook: mounting never extracts here. */
int ec_layer_ensure_unpacked(char **path_out, ec_store *st, const ec_layer_info *layer,
                             ec_err *err)
{
    char hex[EC_DIGEST_HEX_LEN];
    EC_AUTOFREE char *rel = ec_xasprintf("layers/%s", ec_digest_hex(hex, &layer->diff_id));
    EC_AUTOFREE char *dir = ec_store_path(st, rel);
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return ec_fail(err, EC_ENOTFOUND, "layer %s " NOT_UNPACKED, hex);
    *path_out = ec_steal(&dir);
    return EC_OK;
}

static const char usage[] =
    "Usage: envcache-mount [--home DIR] [--workspace W] [--session ID] [--copy] [--json]\n"
    "                      ENV TARGET\n"
    "       envcache-mount [--home DIR] [--workspace W] --oci-hook[=STAGE]\n\n"
    "The container start-up hook: mounts environment ENV's layers at TARGET for a session,\n"
    "as `envcache mount ENV TARGET` does, with a private writable upper. Layers that are\n"
    "not unpacked yet are handed to `envcache mount`, which unpacks them. ENV is looked up\n"
    "in workspace W, else $ENVCACHE_WORKSPACE, else \"default\".\n\n"
    "--oci-hook: run as an OCI runtime hook, reading the container's state on standard\n"
    "input. As a createRuntime (or prestart) hook it mounts a new session of the\n"
    "environment named by the container's annotation envcache.environment (workspace:\n"
    "annotation envcache.workspace, else as above) over the bundle's root file system;\n"
    "as a poststop hook it forgets that session and discards its writes. STAGE\n"
    "(createRuntime, prestart, poststop) defaults to what the state's status says.\n";

/* `envcache` next to this binary, else on PATH. */
static void hand_over(char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        EC_AUTOFREE char *full = ec_xasprintf("%.*s/envcache", (int)(slash - self), self);
        if (access(full, X_OK) == 0) {
            argv[0] = full;
            execv(full, argv);
        }
    }
    argv[0] = "envcache";
    execvp("envcache", argv);
    fprintf(stderr, "envcache-mount: cannot run envcache mount: %s\n", strerror(errno));
}

static int mount_env(const char *home, ec_session_opts *so, const char *env, bool json,
                     ec_err *err)
{
    EC_AUTO(ec_cache) c = NULL;
    EC_AUTOFREE char *id = NULL;
    json_t *s = NULL;
    int64_t t0 = ec_mono_us();
    int r = ec_cache_open(&c, ec_store_default_home(home), err);
    if (r == EC_OK)
        r = ec_env_resolve_id(&id, c, so->ws, env, err);
    so->env_id = id;
    if (r == EC_OK)
        r = ec_session_create(&s, c, so, err);
    if (r < 0)
        return r;
    if (json) {
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text);
        free(text);
    } else
        printf("mounted session %s at %s (%s, %zu layers, %.1f ms)\n",
               json_string_value(json_object_get(s, "id")),
               json_string_value(json_object_get(s, "target")),
               json_string_value(json_object_get(s, "mode")),
               json_array_size(json_object_get(s, "layers")), (ec_mono_us() - t0) / 1000.0);
    json_decref(s);
    return EC_OK;
}

static int oci_hook(const char *home, const char *ws, const char *stage)
{
    ec_err err = {0};
    if (stage && strcmp(stage, "createRuntime") != 0 && strcmp(stage, "prestart") != 0 &&
        strcmp(stage, "poststop") != 0) {
        fprintf(stderr, "envcache-mount: --oci-hook=%s: use createRuntime, prestart or "
                        "poststop\n", stage);
        return 2;
    }
    if (ec_hook_oci(home, ws, stage, &err) == EC_OK)
        return 0;
    /* The runtime shows the hook's standard error with its own failure. */
    fprintf(stderr, "envcache-mount: error: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                         {"session", required_argument, NULL, 's'},
                                         {"workspace", required_argument, NULL, 'w'},
                                         {"copy", no_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"oci-hook", optional_argument, NULL, 'O'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *env_ws = getenv("ENVCACHE_WORKSPACE");
    ec_session_opts so = {.ws = env_ws && *env_ws ? env_ws : EC_DEFAULT_WORKSPACE,
                          .flags = EC_MOUNT_ALLOW_COPY};
    const char *home = NULL;
    bool json = false, oci = false;
    const char *stage = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'H': home = optarg; break;
        case 's': so.session_id = optarg; break;
        case 'w': so.ws = optarg; break;
        case 'c': so.flags |= EC_MOUNT_FORCE_COPY; break;
        case 'J': json = true; break;
        case 'O': oci = true; stage = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (oci && argc == optind)
        return oci_hook(home, so.ws, stage);
    if (argc - optind != 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (!ec_workspace_valid(so.ws)) {
        fprintf(stderr, "envcache-mount: \"%s\" is not a workspace name\n", so.ws);
        return 2;
    }
    so.target = argv[optind + 1];
    ec_err err = {0};
    if (mount_env(home, &so, argv[optind], json, &err) == EC_OK)
        return 0;
    if (strstr(err.msg, NOT_UNPACKED)) {
        /* envcache [--home H] mount [--session S] [--copy] [--json] ENV TARGET */
        char *av[16];
        int k = 0;
        av[k++] = "envcache";
        if (home) {
            av[k++] = "--home";
            av[k++] = (char *)home;
        }
        if (json)
            av[k++] = "--json";
        av[k++] = "--workspace";
        av[k++] = (char *)so.ws;
        av[k++] = "mount";
        if (so.session_id) {
            av[k++] = "--session";
            av[k++] = (char *)so.session_id;
        }
        if (so.flags & EC_MOUNT_FORCE_COPY)
            av[k++] = "--copy";
        av[k++] = argv[optind];
        av[k++] = argv[optind + 1];
        av[k] = NULL;
        hand_over(av);
        return 1;
    }
    fprintf(stderr, "envcache-mount: error: %s\n", err.msg);
    /* The cache's message speaks to API clients as well; what to run is ours to say. */
    if (strcmp(err.detail, "environment_not_ready") == 0)
        fprintf(stderr, "envcache-mount: hint: run `envcache warm %s` (after fixing its "
                        "packages, if a warm-up failed), then start again\n", argv[optind]);
    return 1;
}
