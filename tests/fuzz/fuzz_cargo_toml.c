/* SPDX-License-Identifier: MIT */
/* Cargo.toml files of crates from the registry (normalized manifests) and cargo's config:
 * the values the resolver reads from them. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/cargo/cargo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    static const char *const keys[][2] = {{"package", "edition"}, {"package", "rust-version"},
                                          {"package", "resolver"}, {"workspace", "resolver"},
                                          {"registries.crates-io", "protocol"}, {"", "x"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *v = cargo_toml_get(text, keys[i][0], keys[i][1]);
        FUZZ_ASSERT(!v || strlen(v) <= size); /* a value is a piece of the text */
        free(v);
    }
    free(text);
    return 0;
}
