/* SPDX-License-Identifier: MIT */
/* Debian Release files (the text InRelease signs): fields, dates, checksum lists. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/apt/apt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    ec_apt_release rel;
    ec_err err = {0};
    memset(&rel, 0, sizeof rel);
    if (ec_apt_release_parse(&rel, text, strlen(text), &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    ec_apt_release_fini(&rel); /* what parse made before failing is the caller's */
    free(text);
    return 0;
}
