/* SPDX-License-Identifier: MIT */
/* The RubyGems compact index /versions file (the gem mirror's and resolver's input): the
 * MD5 it lists for a gem's info file, looked up for a few names as the index client does. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/gem/gem_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    static const char *const names[] = {"rack", "rack-test", "a", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char md5[33] = {0};
        if (gem_versions_md5(text, names[i], md5))
            FUZZ_ASSERT(strlen(md5) == 32);
    }
    free(text);
    return 0;
}
