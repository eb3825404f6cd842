/* SPDX-License-Identifier: MIT */
/* RubyGems compact index /info files (the gem mirror's and resolver's input): versions,
 * platforms, dependencies with requirements, checksums. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/gem/gem_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gem_info gi;
    ec_err err = {0};
    memset(&gi, 0, sizeof gi);
    if (gem_info_parse(&gi, "pkg", (const char *)data, size, &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    gem_info_free(&gi);
    return 0;
}
