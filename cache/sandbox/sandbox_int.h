/* SPDX-License-Identifier: MIT */
/* Private to the sandbox's files: the network plumbing sandbox.c uses. */
#pragma once

#include "cache/sandbox/sandbox.h"

/** Records @log as the build log of @layer (idx_build_logs.c). */
int ec_sandbox__log_put(ec_store *st, const ec_digest *layer, const ec_digest *log,
                        ec_err *err);

/* --- inside the sandbox's network namespace (the child, before exec) --- */

/** Brings up the loopback interface of the current network namespace. */
int ec_sandbox__lo_up(ec_err *err);
/** A listening TCP socket on 127.0.0.1:@port of the current network namespace. */
int ec_sandbox__listen(int *fd_out, int port, ec_err *err);

/** Installs the seccomp filter that makes relative sleeps return at once, for this
 *  process and what it runs. 0, or -errno (-ENOSYS on an architecture it does not know). */
int ec_sandbox__skip_sleeps(void);
int ec_sandbox__skip_syncs(void);

/* --- passing a descriptor over a unix socket --- */

/** Sends @len bytes of @msg, and @fd (if >= 0) as SCM_RIGHTS. */
int ec_sandbox__send(int sock, const void *msg, size_t len, int fd);
/** Receives one message into @msg (at most @cap bytes) and a descriptor, if any, into
 *  *@fd_out (-1 if none). Returns the message's length, 0 at EOF, -1 with errno. */
ssize_t ec_sandbox__recv(int sock, void *msg, size_t cap, int *fd_out);

/* --- the mirror forwarder (the parent, in the host's network namespace) --- */

typedef struct ec_sandbox_fwd ec_sandbox_fwd;
/** Accepts connections on @listen_fd (a socket of the sandbox's namespace; consumed) and
 *  relays each to 127.0.0.1:@port of the caller's namespace, on a thread of its own. */
int ec_sandbox__fwd_start(ec_sandbox_fwd **out, int listen_fd, int port, ec_err *err);
/** Stops accepting, closes every relayed connection and joins the threads. NULL is fine. */
void ec_sandbox__fwd_stop(ec_sandbox_fwd *f);
