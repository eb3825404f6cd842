/* SPDX-License-Identifier: MIT */
/* A session's container, as the OCI runtime sees it: tearing a session down stops and
 * deletes a container still running from its bundle (a client of `POST /v1/sessions`
 * started it), or its root could not be unmounted. */
#include "cache/session/session_int.h"

#include <stdlib.h>

#include "store/util/spawn.h"

const char *ec_session_runtime(void)
{
    const char *rt = getenv("ENVCACHE_OCI_RUNTIME");
    return rt && *rt ? rt : "runc";
}

void ec_session__runtime_delete(const char *id)
{
    const char *argv[] = {ec_session_runtime(), "delete", "--force", id, NULL};
    int status;
    /* No runtime, or no such container: nothing runs from the bundle, which is the aim. */
    (void)ec_spawn_wait(&status, argv, NULL, NULL);
}
