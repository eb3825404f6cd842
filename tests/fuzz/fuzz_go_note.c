/* SPDX-License-Identifier: MIT */
/* Signed notes of the checksum database (its /latest and /lookup answers: outside input)
 * checked against a verifier key. The first byte picks the key: even, a fixed test key
 * (the seeds hold a note it signed, so mutations reach the signature lines); odd, the
 * input's first line is the key (GOSUMDB's text), the rest the note. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/go/go_int.h"

static const char test_vkey[] = "sumdb.test+250bd79e+AegC+RqrnvMGMaDbVCxLkBZtc2V7NchOU9hw9SpmRfD8";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = fuzz_cstr(data + 1, size - 1);
    const char *vkey = test_vkey, *note = text;
    size_t n = size - 1;
    if (data[0] & 1) {
        char *nl = strchr(text, '\n');
        if (!nl) {
            free(text);
            return 0;
        }
        *nl = '\0';
        vkey = text;
        note = nl + 1;
        n = size - 1 - (size_t)(note - text);
    }
    size_t tl = 0;
    ec_err err = {0};
    if (go_note_verify(vkey, note, n, &tl, "fuzz", &err) == EC_OK)
        FUZZ_ASSERT(tl >= 1 && tl <= n && note[tl - 1] == '\n'); /* the signed text ends a line */
    else
        FUZZ_ASSERT(err.msg[0]);
    free(text);
    return 0;
}
