/* SPDX-License-Identifier: MIT */
/* Environments created and changed: the paths that validate a body (env_rules.c, which
 * checks each spec through the manager table). Kept apart from env.c's reads so that the
 * start-up hook, which only reads, links neither the rules nor any fetcher. */
#include "cache/cache_int.h"
#include "cache/env/env_int.h"
#include "cache/env/env_rules_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <string.h>

static json_t *env_object(const char *id, const json_t *fields, const char *created,
                          const char *updated)
{
    return json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:n, s:s, s:s}", "id", id, "type",
                     "environment", "name", json_object_get(fields, "name"), "description",
                     json_object_get(fields, "description"), "config",
                     json_object_get(fields, "config"), "metadata",
                     json_object_get(fields, "metadata"), "archived_at", "created_at", created,
                     "updated_at", updated);
}

static int name_taken(ec_err *err, const char *name)
{
    return ec_fail(err, EC_ECONFLICT,
                   "name: an environment named \"%s\" already exists in this workspace "
                   "(archived environments keep their names)",
                   name);
}

int ec_env_create(json_t **out, ec_cache *c, const char *ws, const json_t *body, ec_err *err)
{
    return ec_env_create_on(out, c, ws, body, NULL, err);
}

int ec_env_create_on(json_t **out, ec_cache *c, const char *ws, const json_t *body,
                     const ec_env_base_choice *base, ec_err *err)
{
    static const ec_env_base_choice follow_default = {.mode = EC_ENV_BASE_DEFAULT};
    EC_AUTO(json_t) fields = NULL;
    EC_AUTO(json_t) stack = NULL;
    base = base ? base : &follow_default;
    int r = ec_env_rules_create(&fields, body, err);
    if (r == EC_OK)
        r = ec_env__initial_stack(&stack, c, base, err);
    if (r < 0)
        return r;
    char id[64], now[32];
    ec_id_new(id, "env");
    ec_cache__rfc3339(now, ec_now());
    EC_AUTO(json_t) env = env_object(id, fields, now, now);
    EC_AUTO(json_t) rec = json_pack("{s:O, s:O, s:o}", "env", env, "stack", stack, "base",
                                    ec_env__base_json(base));
    const char *name = json_string_value(json_object_get(fields, "name"));
    EC_AUTO(ec_txn) txn = NULL;
    if ((r = ec_txn_begin(&txn, c->st, 0, err)) < 0)
        return r;
    r = ec_env__name_put(txn, ws, name, id, err);
    if (r == EC_ECONFLICT)
        return name_taken(err, name);
    if (r < 0 || (r = ec_cache__env_save(txn, ws, id, rec, err)) < 0)
        return r;
    if ((r = ec_txn_commit(ec_steal(&txn), err)) < 0)
        return r;
    *out = ec_steal(&env);
    return EC_OK;
}

static int rename_env(ec_txn *txn, const char *ws, const char *id, const char *old_name,
                      const char *new_name, ec_err *err)
{
    if (strcmp(old_name, new_name) == 0)
        return EC_OK;
    int r = ec_env__name_put(txn, ws, new_name, id, err);
    if (r == EC_ECONFLICT)
        return name_taken(err, new_name);
    if (r < 0)
        return r;
    r = ec_env__name_del(txn, ws, old_name, err);
    return r == EC_ENOTFOUND ? EC_OK : r;
}

int ec_env_update(json_t **out, ec_cache *c, const char *ws, const char *id,
                  const json_t *patch, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    EC_AUTO(json_t) fields = NULL;
    int r = ec_env__change_begin(&txn, &rec, c, ws, id, err);
    if (r < 0)
        return r;
    json_t *env = json_object_get(rec, "env");
    if ((r = ec_env_rules_update(&fields, env, patch, err)) < 0)
        return r;
    r = rename_env(txn, ws, id, json_string_value(json_object_get(env, "name")),
                   json_string_value(json_object_get(fields, "name")), err);
    if (r < 0)
        return r;
    char now[32];
    ec_cache__rfc3339(now, ec_now());
    json_object_update_existing(env, fields);
    json_object_set_new(env, "updated_at", json_string(now));
    if ((r = ec_cache__env_save(txn, ws, id, rec, err)) < 0 || (r = ec_txn_commit(ec_steal(&txn), err)) < 0)
        return r;
    *out = json_incref(env);
    return EC_OK;
}
