/* SPDX-License-Identifier: MIT */
/* Logging to stderr for people: levels, and whether progress may redraw a line. */
#pragma once

#include <stdbool.h>

enum ec_log_level { EC_LOG_ERROR, EC_LOG_WARN, EC_LOG_INFO, EC_LOG_DEBUG };

/** Sets the threshold; messages above it are dropped. Default: EC_LOG_INFO. */
void ec_log_set_level(enum ec_log_level level);
void ec_log(enum ec_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ec_warn(...) ec_log(EC_LOG_WARN, __VA_ARGS__)
#define ec_info(...) ec_log(EC_LOG_INFO, __VA_ARGS__)
#define ec_debug(...) ec_log(EC_LOG_DEBUG, __VA_ARGS__)
/** True when stderr is a terminal, so progress may redraw one line. */
bool ec_log_is_tty(void);
/** Progress: redraws one line on a terminal; elsewhere prints plain lines, at most one
 *  per second unless @final. */
void ec_progress(bool final, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
