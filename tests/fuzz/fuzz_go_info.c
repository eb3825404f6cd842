/* SPDX-License-Identifier: MIT */
/* A module proxy's .info and @latest answers (JSON: outside input) read for their Version
 * (go_info_version, what resolving a query does with them). A version comes out only
 * when the document is JSON with a string "Version" that is canonical semver as go writes
 * it, and exactly that string; written back as a document of its own, it reads back the
 * same. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "fetchers/go/go_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = go_info_version(data, size);
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    const char *want = json_string_value(json_object_get(j, "Version"));
    if (!v) {
        FUZZ_ASSERT(!want || !go_version_valid(want));
    } else {
        FUZZ_ASSERT(want && strcmp(v, want) == 0 && go_version_valid(v));
        FUZZ_ASSERT(v[0] == 'v' && go_vcmp(v, v) == 0);
        json_t *doc = json_pack("{s:s, s:s}", "Version", v, "Time", "2024-01-01T00:00:00Z");
        char *text = json_dumps(doc, JSON_COMPACT);
        char *again = go_info_version(text, strlen(text));
        FUZZ_ASSERT(again && strcmp(again, v) == 0);
        free(again);
        free(text);
        json_decref(doc);
    }
    json_decref(j);
    free(v);
    return 0;
}
