/* SPDX-License-Identifier: MIT */
/* PyPI's page for pip itself (PEP 691 JSON, outside input): the pip wheel the resolver
 * would run, picked for a few Pythons by version and Requires-Python. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "fetchers/pip/pip_pick.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *page = json_loadb((const char *)data, size, 0, NULL);
    if (!page)
        return 0;
    static const char *const pythons[] = {"3.11", "3.7.3", "2.7", "3", "", "3.12.1.4.5"};
    for (size_t i = 0; i < sizeof pythons / sizeof *pythons; i++) {
        char *file = pip_pick(page, pythons[i]);
        if (file) /* only a pip wheel for any Python */
            FUZZ_ASSERT(strncmp(file, "pip-", 4) == 0 && strstr(file, "-py3-none-any.whl"));
        free(file);
    }
    json_decref(page);
    return 0;
}
