/* SPDX-License-Identifier: MIT */
/* libmicrohttpd daemons, each run by a thread of ours (mhd_workers.c). */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "store/util/err.h"

struct MHD_Daemon;
struct MHD_OptionItem;
typedef struct ec_mhd_workers ec_mhd_workers;
typedef struct ec_mhd_worker *ec_mhd_waker;

/** Starts one daemon with the caller's options plus the workers' @flags and @opts (an
 *  MHD_OPTION_ARRAY's items). */
typedef struct MHD_Daemon *(*ec_mhd_start_fn)(unsigned flags, const struct MHD_OptionItem *opts,
                                              void *arg);

/** Starts @n daemons through @start and a thread to run each. */
int ec_mhd_workers_start(ec_mhd_workers **out, unsigned n, ec_mhd_start_fn start, void *arg,
                         ec_err *err);

/** Hands connection @fd (whose peer is @addr) to the next worker, which adds it to its
 *  daemon. The daemon owns @fd from here on, and closes it if it cannot take it. */
void ec_mhd_workers_add(ec_mhd_workers *w, int fd, const struct sockaddr *addr,
                        socklen_t alen);

/** The worker whose thread calls this (in MHD's callbacks), or NULL on any other thread. */
ec_mhd_waker ec_mhd_workers_current(void);

/** Wakes worker @w so that its daemon runs: after MHD_resume_connection from another
 *  thread, which MHD's external mode does not signal. NULL is ignored. */
void ec_mhd_workers_wake(ec_mhd_waker w);

/** Stops the threads and their daemons (which close their connections). */
void ec_mhd_workers_stop(ec_mhd_workers *w);
