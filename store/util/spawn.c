/* SPDX-License-Identifier: MIT */
#include "store/util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The first line of what arrives on @fd until its end; the rest is read and dropped so
 * the program never blocks on a full pipe. */
static void read_first_line(int fd, char *why, size_t cap)
{
    size_t k = 0;
    char sink[512];
    ssize_t r;
    while ((r = read(fd, k + 1 < cap ? why + k : sink, k + 1 < cap ? cap - 1 - k : sizeof sink)) >
               0 ||
           (r < 0 && errno == EINTR))
        if (r > 0 && k + 1 < cap)
            k += (size_t)r;
    why[k] = '\0';
    why[strcspn(why, "\n")] = '\0';
}

int ec_spawn_wait(int *status, const char *const *argv, const ec_spawn_opts *o, ec_err *err)
{
    static const ec_spawn_opts none;
    o = o ? o : &none;
    int pfd[2] = {-1, -1};
    if (o->why && o->why_cap && pipe2(pfd, O_CLOEXEC) < 0)
        return ec_fail_sys(err, errno, "cannot make a pipe to read %s's errors", argv[0]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (o->log)
        posix_spawn_file_actions_addopen(&fa, 1, o->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (pfd[1] >= 0)
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    else
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (rc != 0) {
        if (pfd[0] >= 0)
            close(pfd[0]);
        return ec_fail_sys(err, rc, "cannot run %s (is it installed? tools/install-deps.sh)",
                           argv[0]);
    }
    if (pfd[0] >= 0) {
        read_first_line(pfd[0], o->why, o->why_cap);
        close(pfd[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return ec_fail_sys(err, errno, "cannot wait for %s", argv[0]);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return EC_OK;
}
