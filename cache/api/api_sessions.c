/* SPDX-License-Identifier: MIT */
/* /v1/sessions: waits for the environment's warm-up where needed, then mounts a private
 * root file system from its layers (cache/session.c). Creating and deleting run deferred:
 * waiting and mounting must not hold a worker thread. */
#include "cache/cache_int.h"
#include "cache/api/server_int.h"
#include "cache/net/net.h"
#include "store/util/mem.h"

#include <string.h>

static const char *const session_fields[] = {"agent", "environment_id", "title", "metadata",
                                             "mcp_servers"};

/* --- body --- */

static bool known_field(const char *k)
{
    for (size_t i = 0; i < EC_ARRAY_LEN(session_fields); i++)
        if (strcmp(k, session_fields[i]) == 0)
            return true;
    return false;
}

static bool agent_valid(const json_t *a)
{
    if (json_is_string(a))
        return json_string_length(a) > 0;
    return json_is_object(a) && json_is_string(json_object_get(a, "type")) &&
           json_is_string(json_object_get(a, "id"));
}

/* mcp_servers (ours): at most 16 of {"type": "url", "url": URL, "name": …}; the URL is
 * what a limited environment with allow_mcp_servers admits (cache/net/). */
static bool mcp_valid(ec_req *rq, const json_t *v)
{
    if (!v)
        return true;
    if (!json_is_array(v) || json_array_size(v) > 16) {
        ec_reply_fail(rq, 400, "mcp_servers: must be an array of at most 16 objects");
        return false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        char what[48];
        ec_err err = {0};
        snprintf(what, sizeof what, "mcp_servers[%zu].url", i);
        const char *url = json_string_value(json_object_get(m, "url"));
        if (!json_is_object(m) || !url) {
            ec_reply_fail(rq, 400, "%s: required, a string", what);
            return false;
        }
        if (ec_net_mcp_url_check(url, what, &err) < 0) {
            ec_reply_fail(rq, 400, "%s", err.msg);
            return false;
        }
    }
    return true;
}

/* Replies 400 and returns false when the body breaks a rule. */
static bool check_body(ec_req *rq, const json_t *body)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (!known_field(k)) {
            ec_reply_fail(rq, 400, "unknown field \"%s\"", k);
            return false;
        }
    }
    if (!agent_valid(json_object_get(body, "agent"))) {
        ec_reply_fail(rq, 400, "agent: required, a string id or an object with \"type\" "
                               "and \"id\"");
        return false;
    }
    if (!json_is_string(json_object_get(body, "environment_id"))) {
        ec_reply_fail(rq, 400, "environment_id: required, a string");
        return false;
    }
    return mcp_valid(rq, json_object_get(body, "mcp_servers"));
}

/* --- warm-up --- */

static bool active(const json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "state"));
    return st && (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0);
}

/* A ready job older than the environment's last change warmed an older config. */
static bool stale(const json_t *job, const json_t *env)
{
    const char *queued = json_string_value(json_object_get(job, "queued_at"));
    const char *updated = json_string_value(json_object_get(env, "updated_at"));
    return !queued || (updated && strcmp(updated, queued) > 0);
}

/* Makes sure the environment is warm; replies and returns false when it is not. */
static bool ensure_warm(ec_req *rq, const json_t *env, const char *id)
{
    ec_server *s = rq->srv;
    if (s->o.warm == EC_WARM_OFF)
        return true;
    ec_err err = {0};
    EC_AUTO(json_t) job = NULL;
    int r = ec_warm_queue_status(&job, s->wq, id, &err);
    if (r < 0 && r != EC_ENOTFOUND) {
        ec_reply_err(rq, &err);
        return false;
    }
    if (r == EC_ENOTFOUND || (!active(job) && stale(job, env))) {
        ec_warm_req wr = {.ws = rq->ws, .env_id = id};
        json_decref(ec_steal(&job));
        ec_err_clear(&err);
        r = ec_warm_queue_submit(NULL, s->wq, &wr, &err);
    }
    json_decref(ec_steal(&job));
    if (r == EC_OK)
        r = ec_warm_queue_wait(&job, s->wq, id, s->o.session_wait_ms, &err);
    if (r == EC_EBUSY) {
        ec_reply_fail(rq, 503, "%s", err.msg);
        return false;
    }
    if (r < 0) {
        ec_reply_err(rq, &err);
        return false;
    }
    const char *st = json_string_value(json_object_get(job, "state"));
    if (st && strcmp(st, "failed") == 0) {
        const char *msg = json_string_value(json_object_get(json_object_get(job, "error"),
                                                            "message"));
        ec_reply_fail(rq, 400, "environment %s: its packages failed to install: %s", id,
                      msg ? msg : "unknown reason");
        return false;
    }
    return true;
}

/* --- handlers --- */

static void create_work(ec_req *rq)
{
    EC_AUTO(json_t) body = ec_req_json_body(rq);
    if (!body || !check_body(rq, body))
        return;
    const char *env_id = json_string_value(json_object_get(body, "environment_id"));
    EC_AUTO(json_t) env = NULL;
    ec_err err = {0};
    if (ec_env_get(&env, rq->srv->c, rq->ws, env_id, &err) < 0)
        return ec_reply_err(rq, &err);
    if (!json_is_null(json_object_get(env, "archived_at"))) {
        ec_cache__env_archived(&err, env_id, "no new session may use it");
        return ec_reply_err(rq, &err);
    }
    if (!ensure_warm(rq, env, env_id))
        return;
    char id[64];
    ec_id_new(id, "sesn");
    EC_AUTOFREE char *target =
        ec_xasprintf("%s/sessions/%s/root", ec_store_home(ec_cache_store(rq->srv->c)), id);
    /* The agent is stored with the session, so that GET answers what create answered. */
    /* The bundle starts a shell; a client sets process.args, or runs its own bundle with
     * envcache-mount as a hook. */
    ec_bundle_opts bundle = {0};
    ec_session_opts so = {.ws = rq->ws, .env_id = env_id, .session_id = id, .target = target,
                          .flags = EC_MOUNT_ALLOW_COPY, .agent = json_object_get(body, "agent"),
                          .bundle = &bundle, .mcp_servers = json_object_get(body, "mcp_servers")};
    json_t *out = NULL;
    if (ec_session_create(&out, rq->srv->c, &so, &err) < 0)
        return ec_reply_err(rq, &err);
    ec_reply_json(rq, 200, out);
}

void ec_api_session_create(ec_req *rq)
{
    ec_req_defer(rq, create_work);
}

static int not_found(ec_err *err, const char *id)
{
    return ec_fail(err, EC_ENOTFOUND, "session %s not found", id);
}

void ec_api_session_get(ec_req *rq, const char *id)
{
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_id_valid(id, "sesn") ? ec_session_get(&out, rq->srv->c, rq->ws, id, &err)
                                    : not_found(&err, id);
    if (r < 0)
        return ec_reply_err(rq, &err);
    ec_reply_json(rq, 200, out);
}

static void delete_work(ec_req *rq)
{
    const char *id = strrchr(rq->url, '/') + 1;
    json_t *out = NULL;
    ec_err err = {0};
    int r = ec_id_valid(id, "sesn") ? ec_session_delete(&out, rq->srv->c, rq->ws, id, &err)
                                    : not_found(&err, id);
    if (r < 0)
        return ec_reply_err(rq, &err);
    ec_reply_json(rq, 200, out);
}

void ec_api_session_delete(ec_req *rq, const char *id)
{
    (void)id; /* the deferred work reads it again from the URL, which outlives this call */
    ec_req_defer(rq, delete_work);
}
