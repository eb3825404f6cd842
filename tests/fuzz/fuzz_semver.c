/* SPDX-License-Identifier: MIT */
/* npm's semver versions and ranges (every dependency of every packument, every npm spec):
 * the input split at its first newline into a version and a range. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/npm/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char *nl = strchr(text, '\n');
    const char *range = nl ? nl + 1 : text;
    if (nl)
        *nl = '\0';
    ec_semver v;
    ec_err err = {0};
    bool valid = ec_semver_parse(&v, text, &err) == EC_OK;
    ec_semver_range *r = NULL;
    ec_err e2 = {0};
    if (ec_semver_range_parse(&r, range, &e2) == EC_OK)
        ec_semver_range_free(r);
    else
        FUZZ_ASSERT(e2.msg[0]);
    bool sat = ec_semver_satisfies(text, range);
    FUZZ_ASSERT(valid || !sat); /* only a version can satisfy a range */
    free(text);
    return 0;
}
