/* SPDX-License-Identifier: MIT */
/* A session's container, as the OCI runtime sees it: tearing a session down stops and
 * deletes a container still running from its bundle (a client of `POST /v1/sessions`
 * started it), or its root could not be unmounted. */
#include "cache/session/session_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

const char *ec_session_runtime(void)
{
    const char *rt = getenv("ENVCACHE_OCI_RUNTIME");
    return rt && *rt ? rt : "runc";
}

void ec_session__runtime_delete(const char *id)
{
    const char *argv[] = {ec_session_runtime(), "delete", "--force", id, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    /* No runtime, or no such container: nothing runs from the bundle, which is the aim. */
    int status;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}
