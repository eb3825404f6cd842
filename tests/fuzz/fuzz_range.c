/* SPDX-License-Identifier: MIT */
/* The Range header (RFC 9110): the first two bytes give the file size (0-65535), the rest
 * is the header's value. A range served lies inside the file. */
#include "tests/fuzz/fuzz.h"

#include "cache/api/http_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint64_t fsize = (uint64_t)data[0] << 8 | data[1];
    char *h = fuzz_cstr(data + 2, size - 2);
    uint64_t start = 0, len = 0;
    int r = ec_http_range_parse(h, fsize, &start, &len);
    FUZZ_ASSERT(r == EC_RANGE_IGNORE || r == EC_RANGE_UNSATISFIABLE || r == EC_RANGE_ONE);
    if (r == EC_RANGE_ONE)
        FUZZ_ASSERT(len > 0 && start < fsize && len <= fsize - start);
    free(h);
    return 0;
}
