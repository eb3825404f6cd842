/* SPDX-License-Identifier: MIT */
/* envcache-mount's OCI runtime hook mode (see oci_hook.c). */
#pragma once

#include "cache/cache.h"

/** Reads the container state from standard input; @stage "poststop" (or a state of
 *  "stopped" when @stage is NULL) forgets the container's session, any other mounts a new
 *  session of the environment in annotation `envcache.environment` over the bundle's
 *  root, inside the container's mount namespace. @ws is the workspace unless the
 *  annotation `envcache.workspace` names one. */
int ec_hook_oci(const char *home, const char *ws, const char *stage, ec_err *err);
