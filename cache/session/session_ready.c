/* SPDX-License-Identifier: MIT */
/* Whether an environment is ready to mount: a session on one whose warm-up has not run or
 * failed would mount a root without its packages, and the container would start without
 * them, with nothing said. The warm-up's per-manager records in WARM are the truth. */
#include "cache/session/session_int.h"
#include "cache/warm/idx_warm.h"
#include "store/util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The reasons, "; "-separated, bounded so the whole message fits an ec_err. */
struct not_ready {
    char text[800];
    size_t n;
    unsigned count;
};

static void add_reason(struct not_ready *nr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_reason(struct not_ready *nr, const char *fmt, ...)
{
    va_list ap;
    if (nr->count++ && nr->n < sizeof nr->text)
        nr->n += (size_t)snprintf(nr->text + nr->n, sizeof nr->text - nr->n, "; ");
    if (nr->n >= sizeof nr->text)
        return;
    va_start(ap, fmt);
    nr->n += (size_t)vsnprintf(nr->text + nr->n, sizeof nr->text - nr->n, fmt, ap);
    va_end(ap);
}

/* The record is what warm.c wrote (mgr_state, save_state). */
static void check_manager(struct not_ready *nr, ec_txn *txn, const char *env_id, const char *mgr)
{
    EC_AUTO(json_t) rec = NULL;
    if (ec_warm_state_get(&rec, txn, env_id, mgr, NULL) < 0)
        return add_reason(nr, "%s packages are not warmed yet", mgr);
    const char *state = json_string_value(json_object_get(rec, "state"));
    if (state && strcmp(state, "ready") == 0)
        return;
    if (state && strcmp(state, "failed") == 0) {
        json_t *e = json_object_get(rec, "error");
        const char *why = json_string_value(json_object_get(e, "message"));
        return add_reason(nr, "the warm-up of its %s packages failed: %.300s", mgr,
                          why ? why : "no reason was recorded");
    }
    /* "building", or a warm-up killed before it could say how it ended. */
    add_reason(nr, "the warm-up of its %s packages has not finished", mgr);
}

int ec_session__env_ready(ec_cache *c, const json_t *env, ec_err *err)
{
    const char *id = json_string_value(json_object_get(env, "id"));
    const char *name = json_string_value(json_object_get(env, "name"));
    json_t *packages = json_object_get(json_object_get(env, "config"), "packages");
    struct not_ready nr = {0};
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    const char *mgr;
    json_t *specs;
    json_object_foreach(packages, mgr, specs) /* other keys (a "type") are no manager's */
        if (json_is_array(specs) && json_array_size(specs))
            check_manager(&nr, txn, id, mgr);
    if (!nr.count)
        return EC_OK;
    r = ec_fail(err, EC_ECONFLICT, "environment \"%s\" (%s) is not ready: %s",
                name ? name : "", id, nr.text);
    ec_err_detail(err, "environment_not_ready");
    return r;
}
