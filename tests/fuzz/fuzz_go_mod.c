/* SPDX-License-Identifier: MIT */
/* go.mod files as the module proxy serves them (the go resolver's input): module, go,
 * toolchain, require, retract, replace and exclude, blocks and comments. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/go/go_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    go_modfile m;
    ec_err err = {0};
    memset(&m, 0, sizeof m);
    if (go_modfile_parse(&m, (const char *)data, size, "go.mod", &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    else
        go_modfile_retracted(&m, "v1.2.3");
    go_modfile_fini(&m);
    return 0;
}
