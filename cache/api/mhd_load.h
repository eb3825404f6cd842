/* SPDX-License-Identifier: MIT */
/* libmicrohttpd is loaded when a server first starts (mhd_load.c). */
#pragma once

/** Why libmicrohttpd cannot be used (a sentence naming the library and the package to
 *  install), or NULL when it is loaded. Loads it if nobody has yet. */
const char *ec_mhd_unavailable(void);
