/* SPDX-License-Identifier: MIT */
/* Debian control stanzas (a .deb's control file, a Packages record): field look-ups as
 * the apt fetcher does them, continuation lines included. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/apt/apt_deb_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    static const char *const fields[] = {"Package", "Version", "Architecture", "Depends",
                                         "Multi-Arch", "Description", "Conffiles"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        char *v = ec_apt__field(text, fields[i]);
        FUZZ_ASSERT(!v || strlen(v) <= strlen(text));
        free(v);
    }
    free(text);
    return 0;
}
