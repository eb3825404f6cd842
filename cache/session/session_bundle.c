/* SPDX-License-Identifier: MIT */
/* A session's OCI bundle: `<home>/sessions/<id>/bundle/config.json`, whose root is the
 * session's mounted root, so that any OCI runtime (runc) starts the session as a
 * container: its own mount, PID, IPC, UTS and network namespaces, /proc, /dev and /sys
 * as a container has them, and the capabilities a container engine grants by default.
 *
 * Why no cgroup namespace and no /sys/fs/cgroup mount: on hosts with the hybrid cgroup
 * layout (v1 controllers, v2 unified beside them) runc refuses both; the runtime still
 * puts the container in a cgroup of its own. */
#include "cache/session/session_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <string.h>

/* What Docker and Podman grant a container by default: enough for package managers and
 * servers as root inside, not enough to change the network or the host's mounts. */
static const char *const default_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",
    "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",     "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE",  NULL};

static json_t *str_array(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *capabilities(void)
{
    json_t *caps = json_object();
    static const char *const sets[] = {"bounding", "effective", "permitted", NULL};
    for (size_t i = 0; sets[i]; i++)
        json_object_set_new(caps, sets[i], str_array(default_caps));
    return caps;
}

static json_t *process(const ec_bundle_opts *o)
{
    static const char *const default_args[] = {"/bin/sh", NULL};
    json_t *env = json_pack("[s, s, s]",
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "HOME=/root", o->terminal ? "TERM=xterm" : "TERM=dumb");
    for (size_t i = 0; o->env && o->env[i]; i++)
        json_array_append_new(env, json_string(o->env[i]));
    /* No rlimits: the container inherits ours, which a runtime may not raise. */
    return json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:b}",
                     "terminal", o->terminal, "user", "uid", 0, "gid", 0, "args",
                     str_array(o->argv ? o->argv : default_args), "env", env, "cwd",
                     o->cwd ? o->cwd : "/", "capabilities", capabilities(), "noNewPrivileges", true);
}

static json_t *mounts(const ec_bundle_opts *o)
{
    json_t *m = json_pack(
        "[{s:s, s:s, s:s},"
        " {s:s, s:s, s:s, s:[s, s, s, s]},"
        " {s:s, s:s, s:s, s:[s, s, s, s, s, s]},"
        " {s:s, s:s, s:s, s:[s, s, s, s, s]},"
        " {s:s, s:s, s:s, s:[s, s, s]},"
        " {s:s, s:s, s:s, s:[s, s, s, s]}]",
        "destination", "/proc", "type", "proc", "source", "proc",
        "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
        "strictatime", "mode=755", "size=65536k",
        "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options", "nosuid",
        "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
        "destination", "/dev/shm", "type", "tmpfs", "source", "shm", "options", "nosuid",
        "noexec", "nodev", "mode=1777", "size=65536k",
        "destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options",
        "nosuid", "noexec", "nodev",
        "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid",
        "noexec", "nodev", "ro");
    for (size_t i = 0; i < o->nbinds; i++)
        json_array_append_new(
            m, json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination", o->binds[i].dst, "type",
                         "bind", "source", o->binds[i].src, "options", "rbind",
                         o->binds[i].read_only ? "ro" : "rw"));
    return m;
}

static json_t *linux_section(const ec_bundle_opts *o)
{
    json_t *net = o->netns ? json_pack("{s:s, s:s}", "type", "network", "path", o->netns)
                           : json_pack("{s:s}", "type", "network");
    return json_pack(
        "{s:{s:[{s:b, s:s}]}, s:[{s:s}, o, {s:s}, {s:s}, {s:s}],"
        " s:[s, s, s, s, s, s, s, s, s, s], s:[s, s, s, s, s]}",
        "resources", "devices", "allow", false, "access", "rwm", "namespaces", "type", "pid",
        net, "type", "ipc", "type", "uts", "type", "mount", "maskedPaths", "/proc/acpi",
        "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi", "readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
        "/proc/sysrq-trigger");
}

json_t *ec_session_bundle_config(const char *id, const char *root, const ec_bundle_opts *o)
{
    char host[64];
    snprintf(host, sizeof host, "%s", id); /* a UTS name holds 64 bytes */
    json_t *cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2",
                            "process", process(o), "root", "path", root, "readonly", false,
                            "hostname", host, "mounts", mounts(o), "linux", linux_section(o));
    if (o->annotations)
        json_object_set(cfg, "annotations", (json_t *)o->annotations);
    if (o->hooks)
        json_object_set(cfg, "hooks", (json_t *)o->hooks);
    return cfg;
}

int ec_session__bundle_write(char **path_out, const char *sdir, const char *id,
                             const char *root, const ec_bundle_opts *o, ec_err *err)
{
    EC_AUTOFREE char *dir = ec_xasprintf("%s/bundle", sdir);
    EC_AUTOFREE char *file = ec_xasprintf("%s/config.json", dir);
    EC_AUTO(json_t) cfg = ec_session_bundle_config(id, root, o);
    EC_AUTOFREE char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
    int r = ec_mkdir_p(dir, 0700, err);
    if (r == EC_OK)
        r = ec_write_file_volatile(file, text, strlen(text), 0600, err); /* a session's */
    if (r == EC_OK)
        *path_out = ec_steal(&dir);
    return r;
}
