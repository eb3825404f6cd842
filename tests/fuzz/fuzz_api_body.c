/* SPDX-License-Identifier: MIT */
/* The environments API's JSON bodies: parsed as the server parses them, then checked as a
 * create and as an update of what the create made (or of an empty environment). */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "cache/env/env_rules_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    json_t *made = NULL, *updated = NULL;
    ec_err err = {0};
    if (ec_env_rules_create(&made, body, &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    json_t *base = made ? json_incref(made) : json_pack("{s:s}", "name", "x");
    json_t *current = NULL;
    ec_err e0 = {0};
    if (ec_env_rules_create(&current, base, &e0) == EC_OK) {
        ec_err e2 = {0};
        if (ec_env_rules_update(&updated, current, body, &e2) < 0)
            FUZZ_ASSERT(e2.msg[0]);
    }
    json_decref(current);
    json_decref(base);
    json_decref(made);
    json_decref(updated);
    json_decref(body);
    return 0;
}
