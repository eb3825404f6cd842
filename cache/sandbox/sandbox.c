/* SPDX-License-Identifier: MIT */
/* The sandbox's mechanism: namespaces, the overlay root, limits, the log; no store.
 *
 * One clone3 makes the sandbox's first process (PID 1 of new mount, PID, IPC, UTS and
 * network namespaces) and hands the parent a pidfd. That process mounts the overlay
 * root, /proc, /dev and /tmp in its own mount namespace, pivots into it, reports "ready"
 * (with the mirror's listening socket) over a unix socket, forks the command once and
 * reaps until it ends, then sends its wait status and exits. Its exit tears down every
 * mount and every process of the sandbox, so a killed sandbox leaves nothing behind.
 * The parent relays the log, enforces the time limit through the pidfd, and runs the
 * mirror forwarder.
 */
#include "cache/sandbox/sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

extern char **environ;

/* The kernel's struct clone_args (v2), spelled out: <linux/sched.h> clashes with glibc's. */
struct ec_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};

/* What every sandboxed command starts with; @o->env adds to it. */
static const char *const base_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "TMPDIR=/tmp",
    "TERM=dumb",
    "DEBIAN_FRONTEND=noninteractive",
    "SOURCE_DATE_EPOCH=0",
};

/* Device nodes of the minimal /dev: name, mode, major, minor. */
static const struct {
    const char *name;
    unsigned maj, min;
} dev_nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9},
    {"tty", 5, 0},
};

static const char *const dev_links[][2] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    {"ptmx", "pts/ptmx"},
};

bool ec_sandbox_ok(const ec_sandbox_result *r)
{
    return r->status == 0 && !r->signal && !r->timed_out && !r->oom;
}

/* --- the child: PID 1 of the sandbox --- */

struct child {
    const ec_sandbox_opts *o;
    char *upper, *work, *root;
    ec_mount_prepared ovl; /* made by the parent: the child only attaches it */
    char **envp;
    int sync;  /* the child's end of the unix socket */
    int log_w; /* the log pipe's write end */
    bool rlimit;
};

/* Reports a setup failure to the parent and ends the sandbox. */
static _Noreturn void child_die(const struct child *c, const ec_err *err)
{
    char msg[sizeof err->msg + 8];
    int n = snprintf(msg, sizeof msg, "E%d %s", err->code ? err->code : EC_ESYS, err->msg);
    ec_sandbox__send(c->sync, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, -1);
    _exit(127);
}

static int mount_fs(const char *root, const char *dir, const char *type, unsigned long flags,
                    const char *data, unsigned mode, ec_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return ec_fail_sys(err, errno, "sandbox: cannot create %s", path);
    if (mount(type, path, type, flags, data) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot mount %s on /%s", type, dir);
    return EC_OK;
}

/* tmpfs with device nodes made in place: cheaper than bind-mounting the host's. */
static int make_dev(const char *root, ec_err *err)
{
    int r = mount_fs(root, "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k", 0755,
                     err);
    if (r < 0)
        return r;
    char path[4096];
    for (size_t i = 0; i < EC_ARRAY_LEN(dev_nodes); i++) {
        snprintf(path, sizeof path, "%s/dev/%s", root, dev_nodes[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(dev_nodes[i].maj, dev_nodes[i].min)) < 0 ||
            chmod(path, 0666) < 0)
            return ec_fail_sys(err, errno, "sandbox: cannot create /dev/%s", dev_nodes[i].name);
    }
    for (size_t i = 0; i < EC_ARRAY_LEN(dev_links); i++) {
        snprintf(path, sizeof path, "%s/dev/%s", root, dev_links[i][0]);
        if (symlink(dev_links[i][1], path) < 0)
            return ec_fail_sys(err, errno, "sandbox: cannot create /dev/%s", dev_links[i][0]);
    }
    snprintf(path, sizeof path, "%s/dev/shm", root);
    mkdir(path, 01777);
    snprintf(path, sizeof path, "%s/dev/pts", root);
    mkdir(path, 0755);
    return EC_OK;
}

/* Everything from here to exec runs in a copy of a possibly threaded process made by a raw
 * clone3, which skips glibc's fork handlers: another thread may have held malloc's lock at
 * that instant. So nothing below allocates; what needs memory was made before the clone. */
static int child_mounts(const struct child *c, ec_err *err)
{
    /* Nothing we mount may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot make the mounts private");
    int r = ec_mount_overlay_attach(&c->ovl, c->root, err);
    if (c->ovl.fd >= 0) /* attached: the mount lives in this namespace now */
        close(c->ovl.fd);
    if (r == EC_OK)
        r = mount_fs(c->root, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555, err);
    if (r == EC_OK)
        r = make_dev(c->root, err);
    if (r == EC_OK)
        r = mount_fs(c->root, "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777, err);
    return r;
}

static int child_pivot(const struct child *c, ec_err *err)
{
    if (chdir(c->root) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot enter %s", c->root);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return ec_fail_sys(err, errno, "sandbox: pivot_root failed");
    /* The old root now sits on top of the new one: detach it. */
    if (umount2(".", MNT_DETACH) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot detach the old root");
    const char *cwd = c->o->cwd ? c->o->cwd : "/";
    if (chdir(cwd) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot change to %s", cwd);
    return EC_OK;
}

static int child_setup(const struct child *c, int *listen_fd, ec_err *err)
{
    int r = child_mounts(c, err);
    if (r == EC_OK)
        r = ec_sandbox__lo_up(err);
    if (r == EC_OK && c->o->mirror_port > 0)
        r = ec_sandbox__listen(listen_fd, c->o->mirror_port, err);
    if (r == EC_OK && sethostname("envcache-sandbox", 16) < 0)
        r = ec_fail_sys(err, errno, "sandbox: cannot set the host name");
    if (r == EC_OK)
        r = child_pivot(c, err);
    return r;
}

static _Noreturn void exec_command(const struct child *c)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(c->log_w, 1) < 0 || dup2(c->log_w, 2) < 0)
        _exit(126);
    if (c->rlimit) {
        struct rlimit rl = {c->o->memory, c->o->memory};
        setrlimit(RLIMIT_AS, &rl);
    }
    signal(SIGPIPE, SIG_DFL);
    int e = c->o->skip_sleeps ? ec_sandbox__skip_sleeps() : 0;
    if (e < 0) /* only slower: say so in the log and go on */
        dprintf(2, "sandbox: sleeps are not skipped: %s\n", strerror(-e));
    e = c->o->skip_syncs ? ec_sandbox__skip_syncs() : 0;
    if (e < 0)
        dprintf(2, "sandbox: syncs are not skipped: %s\n", strerror(-e));
    environ = c->envp; /* execvp searches the sandbox's PATH */
    execvp(c->o->argv[0], (char *const *)c->o->argv);
    dprintf(2, "sandbox: cannot run %s: %s\n", c->o->argv[0], strerror(errno));
    _exit(127);
}

/* PID 1 forks the command and reaps everything until the command itself ends; then it
 * reports the command's wait status. Its own exit kills whatever the command left. */
static _Noreturn void child_main(struct child *c)
{
    ec_err err = {0};
    int listen_fd = -1;
    if (child_setup(c, &listen_fd, &err) < 0)
        child_die(c, &err);
    /* A raw fork, as the raw clone3 that made this process: glibc's fork() takes malloc's
     * locks first, and one that another thread of the parent held at the clone3 stays
     * held here forever (two sandboxes started from two threads at once deadlocked). */
    pid_t cmd = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (cmd < 0) {
        ec_fail_sys(&err, errno, "sandbox: cannot fork the command");
        child_die(c, &err);
    }
    if (cmd == 0)
        exec_command(c);
    close(c->log_w);
    ec_sandbox__send(c->sync, "R", 1, listen_fd);
    if (listen_fd >= 0)
        close(listen_fd);
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR)
            continue;
        if (p == cmd || p < 0) {
            char msg[16];
            int n = snprintf(msg, sizeof msg, "S%d", p == cmd ? st : -1);
            ec_sandbox__send(c->sync, msg, (size_t)n, -1);
            _exit(0);
        }
    }
}

/* --- the parent --- */

static char **make_envp(const ec_sandbox_opts *o)
{
    size_t n = EC_ARRAY_LEN(base_env), k = 0;
    char **envp = ec_xcalloc(n + o->nenv + 1, sizeof *envp);
    for (size_t i = 0; i < n; i++)
        envp[k++] = (char *)base_env[i];
    for (size_t i = 0; i < o->nenv; i++)
        envp[k++] = (char *)o->env[i];
    return envp;
}

/* cgroup v2 where the memory controller is delegated to our cgroup's children;
 * else the caller falls back to RLIMIT_AS. */
struct cgroup {
    char path[4096];
    int fd;
};

static bool cgroup_create(struct cgroup *cg, uint64_t memory)
{
    cg->fd = -1;
    EC_AUTOFREE char *self = NULL;
    if (ec_read_file(&self, NULL, "/proc/self/cgroup", 65536, NULL) < 0)
        return false;
    char *line = strstr(self, "0::");
    if (!line || (line != self && line[-1] != '\n'))
        return false;
    line += 3;
    line[strcspn(line, "\n")] = '\0';
    char ctl[4096 + 64];
    snprintf(ctl, sizeof ctl, "/sys/fs/cgroup%s/cgroup.subtree_control",
             strcmp(line, "/") == 0 ? "" : line);
    EC_AUTOFREE char *sub = NULL;
    if (ec_read_file(&sub, NULL, ctl, 4096, NULL) < 0 || !strstr(sub, "memory"))
        return false;
    char rnd[17];
    ec_random_hex(rnd, 8);
    snprintf(cg->path, sizeof cg->path, "/sys/fs/cgroup%s/envcache-sandbox-%s",
             strcmp(line, "/") == 0 ? "" : line, rnd);
    if (mkdir(cg->path, 0755) < 0)
        return false;
    char val[32], file[4096 + 32];
    int n = snprintf(val, sizeof val, "%llu", (unsigned long long)memory);
    snprintf(file, sizeof file, "%s/memory.max", cg->path);
    EC_AUTOFD int mx = open(file, O_WRONLY | O_CLOEXEC); /* cgroupfs: write in place */
    bool ok = mx >= 0 && write(mx, val, (size_t)n) == n;
    snprintf(file, sizeof file, "%s/memory.swap.max", cg->path);
    EC_AUTOFD int sw = open(file, O_WRONLY | O_CLOEXEC);
    if (sw >= 0 && write(sw, "0", 1) < 0)
        ec_debug("sandbox: cannot turn off swap for %s", cg->path);
    cg->fd = ok ? open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (cg->fd < 0) {
        rmdir(cg->path);
        return false;
    }
    return true;
}

static bool cgroup_oom(const struct cgroup *cg)
{
    char file[4096 + 32];
    EC_AUTOFREE char *ev = NULL;
    snprintf(file, sizeof file, "%s/memory.events", cg->path);
    if (ec_read_file(&ev, NULL, file, 4096, NULL) < 0)
        return false;
    const char *k = strstr(ev, "oom_kill ");
    return k && strtol(k + 9, NULL, 10) > 0;
}

static void cgroup_remove(struct cgroup *cg)
{
    if (cg->fd < 0)
        return;
    close(cg->fd);
    cg->fd = -1;
    if (rmdir(cg->path) < 0)
        ec_warn("sandbox: cannot remove the cgroup %s: %s", cg->path, strerror(errno));
}

/* Keeps the last EC_SANDBOX_TAIL - 1 bytes of the log. */
static void tail_add(ec_sandbox_result *r, size_t *len, const char *p, size_t n)
{
    const size_t cap = EC_SANDBOX_TAIL - 1;
    if (n >= cap) {
        memcpy(r->tail, p + n - cap, cap);
        *len = cap;
    } else {
        if (*len + n > cap) {
            size_t drop = *len + n - cap;
            memmove(r->tail, r->tail + drop, *len - drop);
            *len -= drop;
        }
        memcpy(r->tail + *len, p, n);
        *len += n;
    }
    r->tail[*len] = '\0';
}

struct run {
    const ec_sandbox_opts *o;
    ec_sandbox_result *res;
    size_t tail_len;
    int pidfd, sync, log_r;
    bool ready, exited, status_seen;
    ec_sandbox_fwd *fwd;
    ec_err setup_err;
};

static void on_log(struct run *rn)
{
    char buf[65536];
    ssize_t n = read(rn->log_r, buf, sizeof buf);
    if (n <= 0) {
        close(rn->log_r);
        rn->log_r = -1;
        return;
    }
    if (rn->o->log_fd >= 0 && write(rn->o->log_fd, buf, (size_t)n) != n)
        ec_debug("sandbox: short write to the log");
    tail_add(rn->res, &rn->tail_len, buf, (size_t)n);
}

static void on_sync(struct run *rn)
{
    char msg[sizeof rn->setup_err.msg + 16];
    int fd = -1;
    ssize_t n = ec_sandbox__recv(rn->sync, msg, sizeof msg - 1, &fd);
    if (n <= 0) {
        close(rn->sync);
        rn->sync = -1;
        return;
    }
    msg[n] = '\0';
    if (msg[0] == 'R') {
        rn->ready = true;
        if (fd >= 0 && ec_sandbox__fwd_start(&rn->fwd, fd, rn->o->mirror_port,
                                              &rn->setup_err) < 0)
            pidfd_send_signal(rn->pidfd, SIGKILL, NULL, 0);
        return;
    }
    if (fd >= 0)
        close(fd);
    if (msg[0] == 'S') {
        int st = (int)strtol(msg + 1, NULL, 10);
        rn->status_seen = true;
        if (WIFEXITED(st))
            rn->res->status = WEXITSTATUS(st);
        else if (WIFSIGNALED(st))
            rn->res->signal = WTERMSIG(st);
    } else if (msg[0] == 'E') {
        char *text = strchr(msg, ' ');
        ec_fail(&rn->setup_err, (int)strtol(msg + 1, NULL, 10), "%s", text ? text + 1 : msg);
    }
}

static void on_exit_of_pid1(struct run *rn)
{
    siginfo_t si = {0};
    if (waitid((idtype_t)P_PIDFD, (id_t)rn->pidfd, &si, WEXITED) < 0)
        return;
    rn->exited = true;
    if (!rn->status_seen && si.si_code != CLD_EXITED) /* killed: time limit or OOM */
        rn->res->signal = si.si_status;
}

/* Relays the log and the child's messages until PID 1 is gone and both are drained. */
static void run_loop(struct run *rn, int64_t deadline)
{
    while (!rn->exited || rn->log_r >= 0 || rn->sync >= 0) {
        struct pollfd p[3] = {{rn->log_r, POLLIN, 0}, {rn->sync, POLLIN, 0},
                              {rn->exited ? -1 : rn->pidfd, POLLIN, 0}};
        int timeout = -1;
        if (rn->exited) {
            timeout = 1000; /* draining: everything inside is dead, EOF is near */
        } else if (!rn->res->timed_out) {
            int64_t left = (deadline - ec_mono_us()) / 1000;
            timeout = left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
        }
        int n = poll(p, 3, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0 && !rn->exited && !rn->res->timed_out && ec_mono_us() >= deadline) {
            rn->res->timed_out = true;
            pidfd_send_signal(rn->pidfd, SIGKILL, NULL, 0);
            continue;
        }
        if (n == 0 && rn->exited)
            break; /* nothing more will come */
        if (p[0].revents)
            on_log(rn);
        if (p[1].revents)
            on_sync(rn);
        if (p[2].revents)
            on_exit_of_pid1(rn);
    }
}

static pid_t spawn(int *pidfd, struct child *c, int cgroup_fd)
{
    struct ec_clone_args ca = {
        .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
                 CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)pidfd,
        .exit_signal = SIGCHLD,
    };
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0)
        child_main(c);
    return (pid_t)pid;
}

static int make_dirs(struct child *c, const char *workdir, ec_err *err)
{
    c->upper = c->o->upper ? ec_xstrdup(c->o->upper) : ec_xasprintf("%s/upper", workdir);
    c->work = ec_xasprintf("%s/work", workdir);
    c->root = ec_xasprintf("%s/root", workdir);
    int r = ec_mkdir_p(c->upper, 0755, err);
    if (r == EC_OK)
        r = ec_mkdir_p(c->work, 0700, err);
    if (r == EC_OK)
        r = ec_mkdir_p(c->root, 0755, err);
    return r;
}

static void free_child(struct child *c)
{
    ec_mount_prepared_fini(&c->ovl);
    free(c->upper);
    free(c->work);
    free(c->root);
    free(c->envp);
}

static int start(struct run *rn, struct child *c, struct cgroup *cg, ec_err *err)
{
    int sp[2], lp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return ec_fail_sys(err, errno, "sandbox: cannot create its control socket");
    if (pipe2(lp, O_CLOEXEC) < 0) {
        close(sp[0]);
        close(sp[1]);
        return ec_fail_sys(err, errno, "sandbox: cannot create its log pipe");
    }
    c->sync = sp[1];
    c->log_w = lp[1];
    rn->sync = sp[0];
    rn->log_r = lp[0];
    pid_t pid = spawn(&rn->pidfd, c, cg->fd);
    int e = errno;
    close(sp[1]);
    close(lp[1]);
    /* The child holds the overlay now; our reference would keep it alive (and its upper
     * busy for the next step) after the sandbox ends. */
    ec_mount_prepared_fini(&c->ovl);
    if (pid < 0) {
        close(rn->sync);
        close(rn->log_r);
        rn->sync = rn->log_r = -1;
        if (e == EPERM)
            return ec_fail(err, EC_EUNSUPPORTED, "sandbox: creating namespaces needs root "
                           "(CAP_SYS_ADMIN): %s", strerror(e));
        return ec_fail_sys(err, e, "sandbox: clone3 failed");
    }
    return EC_OK;
}

/* In a chroot "/" is not a mount point: its propagation cannot be made private and
 * pivot_root refuses, so the sandbox could not keep its mounts to itself (bubblewrap and
 * unshare(1) fail there the same way). Say so before trying. */
bool ec_sandbox_root_is_mount(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char mp[4096];
        /* id parent major:minor root mount-point … */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, "/") == 0)
            found = true;
    }
    fclose(f);
    return found;
}

int ec_sandbox_exec(ec_sandbox_result *out, const ec_sandbox_opts *o, ec_err *err)
{
    if (!out || !o || !o->argv || !o->argv[0] || !o->workdir || (o->nlowers && !o->lowers))
        return ec_fail(err, EC_EINVAL, "sandbox: a command and a work directory are required");
    if (!ec_sandbox_root_is_mount())
        return ec_fail(err, EC_EUNSUPPORTED,
                       "sandbox: / is not a mount point here (a chroot?), so the sandbox "
                       "cannot keep its mounts private; run envcache on the host, in a VM "
                       "or in a container");
    *out = (ec_sandbox_result){.status = -1, .limit = "none"};
    struct child c = {.o = o, .sync = -1, .log_w = -1, .ovl = {.fd = -1}};
    struct cgroup cg = {.fd = -1};
    int r = make_dirs(&c, o->workdir, err);
    if (r == EC_OK)
        r = ec_mount_overlay_prepare(&c.ovl, o->lowers, o->nlowers, c.upper, c.work, c.root,
                                     EC_MOUNT_VOLATILE, err);
    if (r < 0) {
        free_child(&c);
        return r;
    }
    if (o->memory) {
        c.rlimit = !cgroup_create(&cg, o->memory);
        out->limit = c.rlimit ? "RLIMIT_AS" : "cgroup v2 memory.max";
        ec_info("sandbox: memory limit %llu bytes through %s", (unsigned long long)o->memory,
                out->limit);
    }
    c.envp = make_envp(o);
    struct run rn = {.o = o, .res = out, .pidfd = -1, .sync = -1, .log_r = -1};
    int64_t t0 = ec_mono_us();
    r = start(&rn, &c, &cg, err);
    if (r == EC_OK) {
        int64_t limit = o->timeout_ms > 0 ? o->timeout_ms : EC_SANDBOX_DEFAULT_TIMEOUT_MS;
        run_loop(&rn, t0 + limit * 1000);
        close(rn.pidfd);
    }
    out->elapsed_us = ec_mono_us() - t0;
    ec_sandbox__fwd_stop(rn.fwd);
    if (cg.fd >= 0)
        out->oom = cgroup_oom(&cg);
    cgroup_remove(&cg);
    free_child(&c);
    if (r == EC_OK && rn.setup_err.code != EC_OK)
        r = ec_fail(err, rn.setup_err.code, "%s", rn.setup_err.msg);
    else if (r == EC_OK && !rn.ready && !out->timed_out)
        r = ec_fail(err, EC_ESYS, "sandbox: it ended before it was set up");
    return r;
}
