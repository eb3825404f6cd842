/* SPDX-License-Identifier: MIT */
/* envcache-mount as an OCI runtime hook (runtime-spec, "Lifecycle" and "Hooks"): the
 * runtime writes the container's state as JSON on our standard input.
 *
 * createRuntime/prestart (state "creating" or "created"): a new session of the
 * environment named by the bundle's annotation `envcache.environment` is mounted inside
 * the container's mount namespace and put over the bundle's root (see
 * cache/mount/mount_adopt.c for how, and why there). The session id is the container
 * id, so the poststop call finds it.
 * poststop (state "stopped"): the session is forgotten and its writes discarded; its
 * mount went away with the container's mount namespace. */
#include "tools/hook/oci_hook.h"
#include "fetchers/fetcher.h" /* EC_AUTO(json_t) */
#include "store/util/auto.h"
#include "store/util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ANNOT_ENV "envcache.environment"
#define ANNOT_WS "envcache.workspace"

static const char *annotation(const json_t *state, const json_t *config, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(state, "annotations"), key));
    if (!v)
        v = json_string_value(json_object_get(json_object_get(config, "annotations"), key));
    return v;
}

/* The bundle's root file system, absolute (config.json's root.path may be relative). */
static int bundle_root(char **out, json_t **config_out, const char *bundle, ec_err *err)
{
    EC_AUTOFREE char *path = ec_xasprintf("%s/config.json", bundle);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg)
        return ec_fail(err, EC_EINVAL, "cannot read the bundle's %s: %s", path, je.text);
    const char *root = json_string_value(json_object_get(json_object_get(cfg, "root"), "path"));
    if (!root) {
        json_decref(cfg);
        return ec_fail(err, EC_EINVAL, "%s has no root.path", path);
    }
    *out = root[0] == '/' ? ec_xstrdup(root) : ec_xasprintf("%s/%s", bundle, root);
    *config_out = cfg;
    return EC_OK;
}

/* Enters the container's mount namespace, and its root as the runtime sees it: setns()
 * moves us to the namespace's own root, which is not the runtime's when the runtime runs
 * chrooted (then our store's paths would not be there). The container's process has not
 * pivoted yet, so its root is the runtime's root in that namespace. */
static int enter_mount_ns(json_int_t pid, ec_err *err)
{
    char path[64], rootp[64];
    snprintf(path, sizeof path, "/proc/%lld/ns/mnt", (long long)pid);
    snprintf(rootp, sizeof rootp, "/proc/%lld/root", (long long)pid);
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ec_fail_sys(err, errno, "cannot open the container's mount namespace %s", path);
    EC_AUTOFD int root = open(rootp, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return ec_fail_sys(err, errno, "cannot open the container's root %s", rootp);
    if (setns(fd, CLONE_NEWNS) < 0)
        return ec_fail_sys(err, errno, "cannot enter the container's mount namespace");
    if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return ec_fail_sys(err, errno, "cannot enter the container's root");
    return EC_OK;
}

static int start(ec_cache *c, const json_t *state, const char *ws, const char *home,
                 ec_err *err)
{
    const char *id = json_string_value(json_object_get(state, "id"));
    const char *bundle = json_string_value(json_object_get(state, "bundle"));
    json_int_t pid = json_integer_value(json_object_get(state, "pid"));
    if (!id || !bundle || pid <= 0)
        return ec_fail(err, EC_EINVAL, "the container state on standard input lacks id, "
                                       "bundle or pid: is this an OCI runtime's hook call?");
    EC_AUTOFREE char *root = NULL;
    EC_AUTO(json_t) cfg = NULL;
    int r = bundle_root(&root, &cfg, bundle, err);
    if (r < 0)
        return r;
    const char *env = annotation(state, cfg, ANNOT_ENV);
    if (!env)
        return ec_fail(err, EC_EINVAL, "container %s has no annotation %s naming the "
                                       "environment to mount", id, ANNOT_ENV);
    const char *aws = annotation(state, cfg, ANNOT_WS);
    EC_AUTOFREE char *env_id = NULL;
    if ((r = ec_env_resolve_id(&env_id, c, aws ? aws : ws, env, err)) < 0)
        return r;
    if ((r = enter_mount_ns(pid, err)) < 0)
        return r;
    EC_AUTOFREE char *stack = ec_xasprintf("%s/sessions/%s/root", home, id);
    ec_session_opts so = {.ws = aws ? aws : ws, .env_id = env_id, .session_id = id,
                          .target = stack};
    EC_AUTO(json_t) s = NULL;
    if ((r = ec_session_create(&s, c, &so, err)) < 0)
        return r;
    if ((r = ec_mount_adopt_root(stack, root, err)) < 0) {
        EC_AUTO(json_t) gone = NULL;
        ec_session_delete(&gone, c, so.ws, id, NULL);
    }
    return r;
}

static int stop(ec_cache *c, const json_t *state, const char *ws, ec_err *err)
{
    const char *id = json_string_value(json_object_get(state, "id"));
    if (!id)
        return ec_fail(err, EC_EINVAL, "the container state on standard input has no id");
    const char *aws = annotation(state, NULL, ANNOT_WS);
    EC_AUTO(json_t) gone = NULL;
    int r = ec_session_delete(&gone, c, aws ? aws : ws, id, err);
    /* A container whose start failed before the mount has no session: nothing to do. */
    return r == EC_ENOTFOUND ? (ec_err_clear(err), EC_OK) : r;
}

int ec_hook_oci(const char *home, const char *ws, const char *stage, ec_err *err)
{
    json_error_t je;
    EC_AUTO(json_t) state = json_loadf(stdin, 0, &je);
    if (!state)
        return ec_fail(err, EC_EINVAL, "cannot read the container state (JSON) on standard "
                                       "input: %s", je.text);
    const char *status = json_string_value(json_object_get(state, "status"));
    bool stopping = stage ? strcmp(stage, "poststop") == 0
                          : (status && strcmp(status, "stopped") == 0);
    EC_AUTO(ec_cache) c = NULL;
    int r = ec_cache_open(&c, ec_store_default_home(home), err);
    if (r < 0)
        return r;
    return stopping ? stop(c, state, ws, err)
                    : start(c, state, ws, ec_store_home(ec_cache_store(c)), err);
}
