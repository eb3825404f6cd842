/* SPDX-License-Identifier: MIT */
/* crates.io-style index files (one JSON object a line, as the sparse index serves them):
 * the version cargo install would choose for a few requirements and toolchains, yanked
 * versions and rust-versions as the resolver weighs them. The first byte picks the
 * requirement and the toolchain (one pick an input: each reads every line as JSON). */
#include "tests/fuzz/fuzz.h"

#include "fetchers/cargo/cargo_pick.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = fuzz_cstr(data + 1, size - 1);
    static const char *const reqs[] = {"*", "^1.0", "=0.1.0-alpha.1", ">=1, <2", "~0.3"};
    static const char *const rustcs[] = {"1.70.0", "1.96.0", "x"};
    cargo_req req;
    ec_err e = {0};
    if (cargo_req_parse(&req, reqs[data[0] % 5], &e) != EC_OK)
        abort(); /* the harness's own requirements */
    cargo_root rt = {.name = "pkg"};
    ec_err err = {0};
    int r = cargo_pick(&rt, text, &req, rustcs[(data[0] / 5) % 3], "pkg", &err);
    FUZZ_ASSERT(r == EC_OK || err.msg[0]);
    cargo_version v; /* what is chosen matches (unless cut to fit vers[]) */
    if (r == EC_OK && strlen(rt.vers) < sizeof rt.vers - 1)
        FUZZ_ASSERT(cargo_version_parse(&v, rt.vers) && cargo_req_matches(&req, &v));
    free(text);
    return 0;
}
