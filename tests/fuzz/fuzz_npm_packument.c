/* SPDX-License-Identifier: MIT */
/* npm packuments as the registry (or a mirror's upstream) sends them, then a version
 * picked from each for a few specs as the resolver picks them. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/npm/packument.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_npm_packument *p = NULL;
    ec_err err = {0};
    if (ec_npm_packument_parse(&p, "pkg", (const char *)data, size, &err) < 0) {
        FUZZ_ASSERT(err.msg[0]);
        return 0;
    }
    static const char *const wanted[] = {"latest", "*", "^1.0.0", "~2.3", ">=1 <3 || 4.x",
                                         "1.0.0-beta.1"};
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        const ec_npm_manifest *m = NULL;
        ec_npm_pick_opts opts = {0};
        ec_err e = {0};
        if (ec_npm_pick(&m, p, wanted[i], &opts, &e) == EC_OK)
            FUZZ_ASSERT(m && ec_npm_packument_lookup(p, m->version) == m);
    }
    for (size_t i = 0; i < p->nversions; i++)
        FUZZ_ASSERT(ec_npm_packument_lookup(p, p->versions[i].version) != NULL);
    ec_npm_packument_free(p);
    return 0;
}
