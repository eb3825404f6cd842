/* SPDX-License-Identifier: MIT */
/* Mirror request paths as the mirrors decode them (percent-escapes, a query cut off). */
#include "tests/fuzz/fuzz.h"

#include "fetchers/mirror_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_cstr(data, size);
    char *dec = ec_mirror_path_decode(path);
    FUZZ_ASSERT(strlen(dec) <= strlen(path)); /* decoding never grows */
    free(dec);
    free(path);
    return 0;
}
