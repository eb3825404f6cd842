/* SPDX-License-Identifier: MIT */
/* crates.io-style index files (one JSON object per line, as the sparse index serves
 * them): the line of a version found as the cargo mirror and resolver find it. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "fetchers/cargo/cargo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    static const char *const vers[] = {"1.0.0", "0.1.0-alpha.1", ""};
    for (size_t i = 0; i < sizeof vers / sizeof *vers; i++)
        json_decref(cargo_index_find(text, vers[i]));
    free(text);
    return 0;
}
