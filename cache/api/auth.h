/* SPDX-License-Identifier: MIT */
/* API keys: each maps to one workspace; only the key's sha256 is stored (table KEYS).
 * Threads: safe from any thread on a shared ec_cache. */
#pragma once

#include "cache/cache.h"

/** True for 1-64 characters of [A-Za-z0-9._-] (workspaces are key prefixes, so no '/'). */
bool ec_workspace_valid(const char *ws);

/** Makes a new key for @ws and records its hash. *@key_out ("eck_" + 40 base62 characters)
 *  is the only copy of the key; caller frees. EC_EINVAL for a bad workspace name. */
int ec_key_create(char **key_out, ec_cache *c, const char *ws, ec_err *err);

/** The workspace @key belongs to; caller frees *@ws_out. EC_ENOTFOUND for unknown keys. */
int ec_key_lookup(char **ws_out, ec_cache *c, const char *key, ec_err *err);
