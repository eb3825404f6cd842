/* SPDX-License-Identifier: MIT */
/* The Range header of a GET against a file of known size, by RFC 9110, 14.1-14.2.
 * Threads: pure; no state. */
#pragma once

#include <stdint.h>

enum { EC_RANGE_IGNORE = -1, EC_RANGE_UNSATISFIABLE = 0, EC_RANGE_ONE = 1 };

/** Parses @h against a file of @size bytes. EC_RANGE_ONE: serve [*@start, *@start + *@len)
 *  with 206 (the only case that writes the outputs). EC_RANGE_UNSATISFIABLE: 416. EC_RANGE_IGNORE:
 *  malformed, another unit, or several ranges: serve the whole file with 200. */
int ec_http_range_parse(const char *h, uint64_t size, uint64_t *start, uint64_t *len);
