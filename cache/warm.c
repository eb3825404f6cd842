/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER, to be replaced by the real warm-up (resolve, fetch, build) being written in
 * parallel. It exists only so that the serve branch links: the warm-up queue
 * (warm_queue.c) calls ec_warm_env, and tests inject their own warm function instead.
 * It refuses honestly rather than pretend an environment is warm. */
#include "cache/warm.h"

int ec_warm_env(json_t **out, ec_cache *c, const ec_warm_opts *opts, ec_err *err)
{
    (void)c;
    (void)opts;
    if (out)
        *out = NULL;
    return ec_fail(err, EC_EUNSUPPORTED, "warm-up is not built yet");
}
