/* SPDX-License-Identifier: MIT */
/* Package specs of every manager: the first byte picks the manager, the rest is the
 * spec's text (what an API body or the CLI hands over). */
#include "tests/fuzz/fuzz.h"

#include "fetchers/manager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    const ec_manager *const *m = ec_managers(&n);
    if (size < 1 || n == 0)
        return 0;
    char *text = fuzz_cstr(data + 1, size - 1);
    ec_err err = {0};
    int r = ec_manager_spec_check(m[data[0] % n], text, &err);
    FUZZ_ASSERT(r == EC_OK || err.msg[0]); /* every refusal says why */
    free(text);
    return 0;
}
