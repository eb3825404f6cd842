/* SPDX-License-Identifier: MIT */
/* /v1/environments: the HTTP face of cache/env.c. The rules live there; this file reads
 * queries and bodies, queues warm-ups, and maps results to replies. */
#include "cache/cache_int.h"
#include "cache/api/server_int.h"

#include <stdlib.h>
#include <string.h>

/* --- warm-ups triggered by changes --- */

static void queue_warm(ec_req *rq, const char *id, bool changed)
{
    ec_server *s = rq->srv;
    if (!s->wq || s->o.warm != EC_WARM_EAGER)
        return;
    ec_warm_req wr = {.ws = rq->ws, .env_id = id, .changed = changed};
    ec_err err = {0};
    /* The environment is saved; a warm-up that cannot be queued now is queued by its first
     * session or by POST …/cache/warm, so the answer stays a success. */
    ec_warm_queue_submit(NULL, s->wq, &wr, &err);
}

static void reply(ec_req *rq, int r, json_t *out, const ec_err *err)
{
    if (r < 0)
        ec_reply_err(rq, err);
    else
        ec_reply_json(rq, 200, out);
}

/* --- handlers --- */

void ec_api_env_create(ec_req *rq)
{
    EC_AUTO(json_t) body = ec_req_json_body(rq);
    if (!body)
        return;
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_env_create(&out, rq->srv->c, rq->ws, body, &err);
    if (r == EC_OK)
        queue_warm(rq, json_string_value(json_object_get(out, "id")), false);
    reply(rq, r, out, &err);
}

static bool parse_bool(const char *v, bool *out)
{
    if (!v)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        return false;
    return true;
}

void ec_api_env_list(ec_req *rq)
{
    ec_env_list_opts o = {0};
    const char *limit = ec_req_query(rq, "limit");
    const char *inc = ec_req_query(rq, "include_archived");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (!*limit || *end || v < 1 || v > 1000)
            return ec_reply_fail(rq, 400, "limit: must be an integer between 1 and 1000, "
                                          "got \"%s\"", limit);
        o.limit = (int)v;
    }
    if (!parse_bool(inc, &o.include_archived))
        return ec_reply_fail(rq, 400, "include_archived: must be true or false, got \"%s\"",
                             inc);
    o.page = ec_req_query(rq, "page");
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_env_list(&out, rq->srv->c, rq->ws, &o, &err);
    reply(rq, r, out, &err);
}

void ec_api_env_get(ec_req *rq, const char *id)
{
    char *text = NULL;
    size_t n = 0;
    ec_err err = {0};
    if (ec_env_get_text(&text, &n, rq->srv->c, rq->ws, id, &err) < 0)
        return ec_reply_err(rq, &err);
    ec_reply_json_text(rq, 200, text, n);
}

void ec_api_env_update(ec_req *rq, const char *id)
{
    EC_AUTO(json_t) body = ec_req_json_body(rq);
    if (!body)
        return;
    EC_AUTO(json_t) before = NULL;
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_env_get(&before, rq->srv->c, rq->ws, id, &err);
    if (r == EC_OK)
        r = ec_env_update(&out, rq->srv->c, rq->ws, id, body, &err);
    /* Only a config change needs new layers; a rename or a metadata patch does not. */
    if (r == EC_OK && !json_equal(json_object_get(before, "config"),
                                  json_object_get(out, "config")))
        queue_warm(rq, id, true);
    reply(rq, r, out, &err);
}

void ec_api_env_archive(ec_req *rq, const char *id)
{
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_env_archive(&out, rq->srv->c, rq->ws, id, &err);
    reply(rq, r, out, &err);
}

void ec_api_env_delete(ec_req *rq, const char *id)
{
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_env_delete(&out, rq->srv->c, rq->ws, id, &err);
    if (r == EC_OK && rq->srv->wq)
        ec_warm_queue_forget(rq->srv->wq, id);
    reply(rq, r, out, &err);
}
