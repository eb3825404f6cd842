/* SPDX-License-Identifier: MIT */
/* npm packuments as the mirror reads them (upstream's answers): tarball URLs pointed at
 * the mirror, and a tarball's dist entry found by its file name. */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "fetchers/npm/npm_int.h"
#include "fetchers/npm/npm_mirror_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char up[] = "http://upstream.test/", base[] = "http://127.0.0.1:1/mirror/npm";
    ec_buf out = EC_BUF_INIT;
    ec_err err = {0};
    FUZZ_ASSERT(ec_npm_mirror_rewrite(&out, (const char *)data, size, up, base, &err) == EC_OK);
    bool mentions = size >= sizeof up - 2 && memmem(data, size, up, sizeof up - 2);
    if (!mentions) /* nothing of upstream's: the body as it came */
        FUZZ_ASSERT(out.n == size && (!size || memcmp(out.p, data, size) == 0));
    ec_buf_fini(&out);
    static const char *const files[] = {"pkg-1.0.0.tgz", "pkg-2.0.0-beta.1.tgz", ""};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        ec_npm_find_dist f = {.file = files[i]};
        ec_err e = {0};
        if (ec_npm_find_in_doc("pkg", (const char *)data, size, &f, &e) != EC_OK)
            FUZZ_ASSERT(e.msg[0] && !f.url);
        if (f.url)
            FUZZ_ASSERT(strcmp(ec_npm_url_file(f.url), files[i]) == 0 && f.what);
        free(f.url);
        free(f.integrity);
        free(f.shasum);
        free(f.what);
    }
    return 0;
}
