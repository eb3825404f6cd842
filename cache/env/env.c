/* SPDX-License-Identifier: MIT */
/* Environments: the API object's life cycle in LMDB (create, list, get, update, archive,
 * delete), with the name index per workspace. Creating and changing one, the paths that
 * validate, are env_write.c: a program that only reads (the start-up hook) links no rules
 * and no fetcher. */
#include "cache/cache_int.h"
#include "cache/env/env_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <string.h>

#define EC_LIST_LIMIT_DEFAULT 20
#define EC_LIST_LIMIT_MAX 1000

int ec_env_get(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    *out = json_incref(json_object_get(rec, "env"));
    return EC_OK;
}

int ec_env_get_text(char **out, size_t *n, ec_cache *c, const char *ws, const char *id,
                    ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    return r < 0 ? r : ec_cache__env_rendered(out, n, txn, ws, id, err);
}

int ec_env_stack(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    json_t *stack = json_object_get(rec, "stack");
    if (json_array_size(stack)) {
        *out = json_incref(stack);
        return EC_OK;
    }
    /* Not warmed yet: the base it would be built on now, as a session of it mounts. */
    ec_txn_abort(ec_steal(&txn));
    ec_digest d;
    bool has_base;
    char s[EC_DIGEST_STR_LEN];
    if ((r = ec_env_base(&d, &has_base, c, ws, id, err)) < 0)
        return r;
    *out = has_base ? json_pack("[s]", ec_digest_format(s, &d)) : json_array();
    return EC_OK;
}

/* --- listing --- */

struct list_ctx {
    json_t *data;
    int want; /* limit + 1: one more than shown tells whether a next page exists */
    bool include_archived;
    ec_err *err;
};

static int list_one(const json_t *rec, void *payload)
{
    struct list_ctx *l = payload;
    if (!rec)
        return ec_fail(l->err, EC_EFORMAT, "an environment record is not valid JSON");
    json_t *env = json_object_get(rec, "env");
    if (l->include_archived || json_is_null(json_object_get(env, "archived_at")))
        json_array_append(l->data, env);
    return (int)json_array_size(l->data) >= l->want;
}

/* The environment id a page starts after, borrowed from @page; NULL for the first page. */
static int parse_cursor(const char **after_out, const char *page, ec_err *err)
{
    *after_out = NULL;
    if (!page || !*page)
        return EC_OK;
    if (strncmp(page, "page_", 5) != 0 || !ec_id_valid(page + 5, "env"))
        return ec_fail(err, EC_EINVAL, "page: \"%s\" is not a cursor this server gave", page);
    *after_out = page + 5;
    return EC_OK;
}

int ec_env_list(json_t **out, ec_cache *c, const char *ws, const ec_env_list_opts *opts,
                ec_err *err)
{
    int limit = opts->limit ? opts->limit : EC_LIST_LIMIT_DEFAULT;
    if (limit < 1 || limit > EC_LIST_LIMIT_MAX)
        return ec_fail(err, EC_EINVAL, "limit: must be between 1 and %d, got %d",
                       EC_LIST_LIMIT_MAX, limit);
    const char *after = NULL;
    int r = parse_cursor(&after, opts->page, err);
    if (r < 0)
        return r;
    EC_AUTO(json_t) data = json_array();
    struct list_ctx l = {data, limit + 1, opts->include_archived, err};
    EC_AUTO(ec_txn) txn = NULL;
    if ((r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err)) < 0)
        return r;
    r = ec_env__each(txn, ws, after, list_one, &l, err);
    if (r < 0)
        return r;
    json_t *next = json_null();
    if ((int)json_array_size(data) > limit) {
        json_array_remove(data, (size_t)limit);
        const char *last = json_string_value(json_object_get(json_array_get(data, (size_t)limit - 1), "id"));
        EC_AUTOFREE char *cursor = ec_xasprintf("page_%s", last);
        next = json_string(cursor);
    }
    *out = json_pack("{s:O, s:o}", "data", data, "next_page", next);
    return EC_OK;
}

/* --- changes --- */


int ec_cache__env_archived(ec_err *err, const char *id, const char *what)
{
    int r = ec_fail(err, EC_EARCHIVED, "environment %s is archived: %s", id, what);
    ec_err_detail(err, "environment_archived");
    return r;
}


int ec_env__change_begin(ec_txn **txn_out, json_t **rec_out, ec_cache *c, const char *ws,
                         const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    if (!json_is_null(json_object_get(json_object_get(rec, "env"), "archived_at")))
        return ec_cache__env_archived(err, id, "it cannot be changed");
    *txn_out = ec_steal(&txn);
    *rec_out = ec_steal(&rec);
    return EC_OK;
}

int ec_env_archive(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    json_t *env = json_object_get(rec, "env");
    if (json_is_null(json_object_get(env, "archived_at"))) {
        char now[32];
        ec_cache__rfc3339(now, ec_now());
        json_object_set_new(env, "archived_at", json_string(now));
        json_object_set_new(env, "updated_at", json_string(now));
        if ((r = ec_cache__env_save(txn, ws, id, rec, err)) < 0 ||
            (r = ec_txn_commit(ec_steal(&txn), err)) < 0)
            return r;
    }
    *out = json_incref(env);
    return EC_OK;
}

int ec_env_delete(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, 0, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    if (ec_cache__env_in_use(c, txn, id))
        return ec_fail(err, EC_EBUSY,
                       "environment %s is used by a live session; delete its sessions first "
                       "(DELETE /v1/sessions/{id})",
                       id);
    const char *name = json_string_value(json_object_get(json_object_get(rec, "env"), "name"));
    if ((r = ec_env__del(txn, ws, id, name ? name : "", err)) < 0 ||
        (r = ec_txn_commit(ec_steal(&txn), err)) < 0)
        return r;
    *out = json_pack("{s:s, s:s}", "id", id, "type", "environment_deleted");
    return EC_OK;
}

int ec_env_resolve_id(char **id_out, ec_cache *c, const char *ws, const char *id_or_name,
                      ec_err *err)
{
    if (ec_id_valid(id_or_name, "env")) {
        *id_out = ec_xstrdup(id_or_name);
        return EC_OK;
    }
    EC_AUTO(ec_txn) txn = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0)
        return r;
    r = ec_env__name_lookup(id_out, txn, ws, id_or_name, err);
    return r == EC_ENOTFOUND ? ec_cache__env_not_found(err, id_or_name) : r;
}
