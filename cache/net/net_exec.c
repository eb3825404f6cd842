/* SPDX-License-Identifier: MIT */
/* Running the tools a session's network is made with (ip, nft, squid, dnsmasq, openssl):
 * argument vectors through posix_spawn, never a shell. */
#include "cache/net/net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"
#include "store/util/spawn.h"

extern char **environ;

static void join_argv(char *out, size_t cap, const char *const *argv)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; argv[i] && k + 1 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? " " : "", argv[i]);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int ec_net__run_status(int *status, char why[256], const char *const *argv, ec_err *err)
{
    char sink[256];
    ec_spawn_opts o = {.why = why ? why : sink, .why_cap = 256};
    int r = ec_spawn_wait(status, argv, &o, err);
    if (r < 0)
        ec_err_prefix(err, "net");
    return r;
}

int ec_net__run(const char *const *argv, ec_err *err)
{
    int st;
    char why[256];
    int r = ec_net__run_status(&st, why, argv, err);
    if (r < 0)
        return r;
    if (st != 0) {
        char cmd[384];
        join_argv(cmd, sizeof cmd, argv);
        return ec_fail(err, EC_ESYS, "net: '%s' failed (status %d): %s", cmd, st,
                       why[0] ? why : "no message");
    }
    return EC_OK;
}

int ec_net__spawn(pid_t *pid_out, const char *const *argv, const char *log, int pass_fd,
                  ec_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (pass_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, pass_fd, NET_PASS_FD);
    posix_spawnattr_init(&at);
    /* Its own session: a terminal's ^C to the caller does not stop the gate, and
     * signals come only from ec_net__stop. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    int rc = posix_spawnp(pid_out, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return ec_fail_sys(err, rc, "net: cannot start %s (is it installed? tools/install-deps.sh)",
                           argv[0]);
    return EC_OK;
}

/* True while @pid runs a command line containing @mark; a zombie child is reaped. */
static bool runs(pid_t pid, const char *mark)
{
    if (pid <= 0)
        return false;
    waitpid(pid, NULL, WNOHANG); /* ours when the caller started it; else ECHILD */
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    EC_AUTOFD int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return false; /* a zombie has an empty command line */
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, mark) != NULL;
}

void ec_net__stop(pid_t pid, const char *mark, int sig)
{
    if (!runs(pid, mark))
        return;
    kill(pid, sig);
    for (int i = 0; i < 100 && runs(pid, mark); i++)
        sleep_ms(20);
    if (runs(pid, mark)) {
        kill(pid, SIGKILL);
        for (int i = 0; i < 100 && runs(pid, mark); i++)
            sleep_ms(20);
    }
}

static bool accepts(const char *addr, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &a.sin_addr);
    EC_AUTOFD int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
}

/* The last line of @log that says FATAL or ERROR (the tools' own words for why they
 * stopped), else "". */
static void last_fatal(char out[200], const char *log)
{
    EC_AUTOFREE char *text = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (ec_read_file(&text, &len, log, 1u << 20, NULL) < 0)
        return;
    for (char *l = text; *l;) {
        size_t n = strcspn(l, "\n");
        if ((memmem(l, n, "FATAL", 5) || memmem(l, n, "ERROR", 5) || memmem(l, n, "dnsmasq:", 8)))
            snprintf(out, 200, "%.*s", (int)(n < 199 ? n : 199), l);
        l += n + (l[n] == '\n');
    }
}

int ec_net__wait_listen(const char *addr, int port, pid_t pid, int ms, const char *what,
                        const char *log, ec_err *err)
{
    /* polled every 2 ms: a resolver is up within a few, and a session waits for it */
    for (int waited = 0; waited < ms; waited += 2) {
        if (accepts(addr, port))
            return EC_OK;
        if (kill(pid, 0) < 0 || waitpid(pid, NULL, WNOHANG) == pid) {
            char last[200];
            last_fatal(last, log);
            return ec_fail(err, EC_ESYS, "net: %s exited before listening on %s:%d%s%s", what,
                           addr, port, last[0] ? ": " : "", last);
        }
        sleep_ms(2);
    }
    return ec_fail(err, EC_ESYS, "net: %s did not listen on %s:%d within %d ms", what, addr,
                   port, ms);
}
