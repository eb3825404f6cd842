/* SPDX-License-Identifier: MIT */
/* Module zips as the Go proxy serves them: their dirhash h1 (checked against the checksum
 * database before a zip is kept) and whether they hold a package directory. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/go/go_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char prefix[] = "example.com/m@v1.0.0/";
    char h1[64];
    ec_err err = {0};
    if (go_h1_zip(h1, data, size, prefix, &err) == EC_OK)
        FUZZ_ASSERT(strncmp(h1, "h1:", 3) == 0 && strlen(h1) == 47); /* h1: + base64(sha256) */
    else
        FUZZ_ASSERT(err.msg[0]);
    static const char *const dirs[] = {"", "cmd/tool", "internal"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        go_zip_has_package(data, size, prefix, dirs[i]);
    return 0;
}
