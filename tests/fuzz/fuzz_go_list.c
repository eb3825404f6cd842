/* SPDX-License-Identifier: MIT */
/* Go proxy @v/list answers (the go resolver's input): the list parsed, then a version
 * picked for each kind of query as go's queryProxy picks it, with and without a go.mod's
 * retractions. The input: the list, then optionally "\n--\n" and go.mod text. */
#include "tests/fuzz/fuzz.h"

#include "fetchers/go/go_vlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char *sep = strstr(text, "\n--\n");
    go_modfile retr;
    memset(&retr, 0, sizeof retr);
    bool have_mod = false;
    if (sep) {
        *sep = '\0';
        ec_err err = {0};
        have_mod = go_modfile_parse(&retr, sep + 4, strlen(sep + 4), "go.mod", &err) == EC_OK;
        if (!have_mod)
            FUZZ_ASSERT(err.msg[0]);
    }
    go_vlist l;
    go_vlist_parse(&l, text);
    for (size_t i = 0; i + 1 < l.n; i++) /* ascending, every entry a canonical release */
        FUZZ_ASSERT(go_vcmp(l.v[i], l.v[i + 1]) <= 0 && go_version_valid(l.v[i]));
    static const char *const queries[] = {"latest", "v1", "v1.2", "<v1.2.3", "<=v1.2.3",
                                          ">v1.2.3", ">=v0.0.0", "v1.2.3", "main"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        const char *arg;
        go_qkind k = go_query_kind(queries[i], &arg);
        for (int r = 0; r < 2; r++) {
            const char *v = go_vlist_pick(&l, k, arg, r && have_mod ? &retr : NULL);
            if (v && r && have_mod)
                FUZZ_ASSERT(!go_modfile_retracted(&retr, v));
            bool found = false; /* a pick is one of the list's own versions */
            for (size_t j = 0; v && j < l.n && !found; j++)
                found = l.v[j] == v;
            FUZZ_ASSERT(!v || found);
        }
    }
    go_vlist_free(&l);
    go_modfile_fini(&retr);
    free(text);
    return 0;
}
