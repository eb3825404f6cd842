/* SPDX-License-Identifier: MIT */
/* PyPI project pages (PEP 691 JSON, as the pip mirror's upstream sends them): a file's
 * entry and its sha256 looked up as the mirror and the resolver do. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "fetchers/pip/pip_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *page = json_loadb((const char *)data, size, 0, NULL);
    if (!page)
        return 0;
    static const char *const files[] = {"pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl", ""};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        pip_page_file(page, files[i]);
        for (int meta = 0; meta < 2; meta++) {
            ec_digest d;
            ec_err err = {0};
            if (pip_page_sha256(&d, page, "pkg", files[i], meta, &err) < 0)
                FUZZ_ASSERT(err.msg[0]);
        }
    }
    json_decref(page);
    return 0;
}
