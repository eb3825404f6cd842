/* SPDX-License-Identifier: MIT */
/* Every manager's mirror routing (its serve op) on request paths as clients send them:
 * the first byte picks the manager, the rest is the path after /mirror/<manager>/. The
 * store is an empty one and the context answers from the store alone (cache_only), so
 * no path may reach the network: a serve op that tried would crash here on the missing
 * HTTP client. Every answer has a status, or an error that says why. */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <unistd.h>

#include "fetchers/manager.h"
#include "store/store.h"
#include "store/util/fs.h"

static ec_store *store;
static json_t *config;

/* One store for the process: a fresh directory, removed at exit. */
static char home[64];
static void cleanup(void)
{
    ec_store_close(store);
    ec_rm_rf(home, NULL);
}

static void setup(void)
{
    snprintf(home, sizeof home, "/tmp/ec-fuzz-serve.XXXXXX");
    if (!mkdtemp(home) || ec_store_open(&store, home, NULL) != EC_OK)
        abort();
    atexit(cleanup);
    /* apt's routes come from its sources; the others need none */
    config = json_pack("{s:[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}]}", "sources", "uri",
                       "http://127.0.0.1:9/debian", "suite", "bookworm", "components", "main",
                       "uri", "http://127.0.0.1:9/debian-security", "suite",
                       "bookworm-security", "components", "main");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        setup();
    size_t n;
    const ec_manager *const *ms = ec_managers(&n);
    if (size < 1 || n == 0)
        return 0;
    const ec_manager *m = ms[data[0] % n];
    if (!m->ops || !m->ops->serve)
        return 0;
    char *path = fuzz_cstr(data + 1, size - 1);
    ec_fetch_ctx ctx = {.store = store, .upstream = "http://127.0.0.1:9", .config = config,
                        .platform = "linux/amd64", .offline = true, .cache_only = true};
    ec_mirror_req req = {.method = (data[0] & 0x80) ? "HEAD" : "GET", .path = path,
                         .base_url = "http://127.0.0.1:8080/mirror/x"};
    ec_mirror_resp resp;
    ec_mirror_resp_init(&resp);
    ec_err err = {0};
    int r = m->ops->serve(&ctx, &req, &resp, &err);
    FUZZ_ASSERT(r < 0 ? err.msg[0] != '\0' : (resp.status >= 100 && resp.status < 600));
    ec_mirror_resp_fini(&resp);
    free(path);
    return 0;
}
