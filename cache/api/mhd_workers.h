/* SPDX-License-Identifier: MIT */
/* libmicrohttpd daemons, each run by a thread of ours (mhd_workers.c). */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "store/util/err.h"

struct MHD_Daemon;
struct MHD_OptionItem;
typedef struct ec_mhd_workers ec_mhd_workers;

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

/** Stops the threads and their daemons (which close their connections). */
void ec_mhd_workers_stop(ec_mhd_workers *w);
