/* SPDX-License-Identifier: MIT */
/* Validation and normalisation of environment create and update bodies (API.md), no storage.
 *
 * Both functions produce the environment's normalised fields, exactly
 *   {"name", "description", "config": {"type", "networking", "packages"}, "metadata"}
 * with every default filled in: description "", metadata {}, networking
 * {"type":"unrestricted"} or, when limited, all of allowed_hosts,
 * allow_mcp_servers and allow_package_managers; packages {"type":"packages"}
 * plus all six lists in stack order.
 *
 * (ours) A JSON null counts as an omitted field (the default on create, the
 * current value on update), except for metadata values, where null and ""
 * delete the key (on create they are simply dropped).
 *
 * Every rejection is EC_EINVAL with a one-line message that starts with the
 * field path and says the rule, e.g.
 *   config.packages.pip[2]: "pandas===" is not a valid pip requirement: ...
 * and err->detail is set where API.md names the case: "invalid_metadata" for any
 * metadata problem, "invalid_config_type_change" when an update changes
 * config.type.
 *
 * Threads: pure functions of their arguments; the inputs are only read.
 */
#pragma once

#include <jansson.h>

#include "store/util/err.h"

/* API.md's limits; lengths count Unicode code points, not bytes. */
#define EC_ENV_NAME_MAX 256
#define EC_ENV_DESCRIPTION_MAX 1024
#define EC_ENV_METADATA_PAIRS_MAX 16
#define EC_ENV_METADATA_KEY_MAX 64
#define EC_ENV_METADATA_VALUE_MAX 512
#define EC_ENV_ALLOWED_HOSTS_MAX 64
#define EC_ENV_PACKAGES_MAX 256     /* entries per manager list */
#define EC_ENV_PACKAGE_TEXT_MAX 512 /* characters per entry */

/** Validates a create body (POST /v1/environments) and returns its normalised
 *  fields in *@out (owned by the caller; json_decref). EC_EINVAL as above. */
int ec_env_rules_create(json_t **out, const json_t *body, ec_err *err);

/** Applies an update body @patch (POST /v1/environments/{id}) to @current, an
 *  environment whose name, description, config and metadata are normalised
 *  (other members such as id are ignored), and returns the new normalised
 *  fields in *@out (owned by the caller). Omitted fields are kept; a given
 *  config.networking replaces the networking, a given package list replaces
 *  that list only; metadata is a patch. EC_EINVAL as above. */
int ec_env_rules_update(json_t **out, const json_t *current, const json_t *patch, ec_err *err);
