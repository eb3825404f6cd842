/* SPDX-License-Identifier: MIT */
/* An environment's base choice (explicit layer, none, or the store's default) in its
 * record, and the answer to "which base now", asked by every warm-up. */
#include "cache/env/base.h"
#include "cache/cache_int.h"
#include "cache/env/env_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#include <assert.h>
#include <string.h>

static const char *const mode_names[] = {
    [EC_ENV_BASE_DEFAULT] = "default",
    [EC_ENV_BASE_EXPLICIT] = "explicit",
    [EC_ENV_BASE_NONE] = "none",
};

const char *ec_env_base_mode_name(ec_env_base_mode mode)
{
    assert((size_t)mode < EC_ARRAY_LEN(mode_names));
    return mode_names[mode];
}

json_t *ec_env__base_json(const ec_env_base_choice *b)
{
    json_t *j = json_pack("{s:s}", "mode", ec_env_base_mode_name(b->mode));
    char s[EC_DIGEST_STR_LEN];
    if (b->mode == EC_ENV_BASE_EXPLICIT)
        json_object_set_new(j, "digest", json_string(ec_digest_format(s, &b->digest)));
    return j;
}

/* An explicit base must be a recorded layer when it is chosen, not first at warm-up. */
static int check_layer(ec_txn *txn, const ec_env_base_choice *b, ec_err *err)
{
    ec_layer_info l;
    char s[EC_DIGEST_STR_LEN];
    if (!b || b->mode != EC_ENV_BASE_EXPLICIT)
        return EC_OK;
    int r = ec_layer_lookup(&l, txn, &b->digest, err);
    if (r == EC_ENOTFOUND)
        ec_err_prefix(err, "base %s", ec_digest_format(s, &b->digest));
    return r;
}

int ec_env__initial_stack(json_t **out, ec_cache *c, const ec_env_base_choice *b, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    char s[EC_DIGEST_STR_LEN];
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r == EC_OK)
        r = check_layer(txn, b, err);
    if (r < 0)
        return r;
    *out = b && b->mode == EC_ENV_BASE_EXPLICIT ? json_pack("[s]", ec_digest_format(s, &b->digest))
                                                : json_array();
    return EC_OK;
}

/* --- reading the choice --- */

static int parse_choice(ec_env_base_choice *out, const json_t *j, const char *id, ec_err *err)
{
    const char *mode = json_string_value(json_object_get(j, "mode"));
    for (size_t m = 0; mode && m < EC_ARRAY_LEN(mode_names); m++) {
        if (strcmp(mode, mode_names[m]) != 0)
            continue;
        out->mode = (ec_env_base_mode)m;
        if (out->mode != EC_ENV_BASE_EXPLICIT)
            return EC_OK;
        const char *d = json_string_value(json_object_get(j, "digest"));
        if (d && ec_digest_parse(&out->digest, d, NULL) == EC_OK)
            return EC_OK;
        break;
    }
    return ec_fail(err, EC_EFORMAT, "environment %s: its base record is malformed", id);
}

/* Records written before the choice was: create copied the base (given or default) to
 * the bottom of the stack, so a base layer there was chosen then; without one, nothing
 * was ever chosen, which is what "default" means now. */
static void legacy_choice(ec_env_base_choice *out, ec_txn *txn, const json_t *stack)
{
    ec_layer_info l;
    const char *first = json_string_value(json_array_get(stack, 0));
    out->mode = EC_ENV_BASE_DEFAULT;
    if (first && ec_digest_parse(&out->digest, first, NULL) == EC_OK &&
        ec_layer_lookup(&l, txn, &out->digest, NULL) == EC_OK && (l.flags & EC_LAYER_BASE))
        out->mode = EC_ENV_BASE_EXPLICIT;
}

static int record_choice(ec_env_base_choice *out, ec_txn *txn, const json_t *rec,
                         const char *id, ec_err *err)
{
    const json_t *j = json_object_get(rec, "base");
    memset(out, 0, sizeof *out);
    if (j)
        return parse_choice(out, j, id, err);
    legacy_choice(out, txn, json_object_get(rec, "stack"));
    return EC_OK;
}

int ec_env_base_choice_lookup(ec_env_base_choice *out, ec_cache *c, const char *ws,
                              const char *id, ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_txn_begin(&txn, c->st, EC_TXN_READ, err);
    if (r < 0 || (r = ec_cache__env_load(&rec, txn, ws, id, err)) < 0)
        return r;
    return record_choice(out, txn, rec, id, err);
}

int ec_env_base(ec_digest *out, bool *has_base, ec_cache *c, const char *ws, const char *id,
                ec_err *err)
{
    ec_env_base_choice b;
    int r = ec_env_base_choice_lookup(&b, c, ws, id, err);
    *has_base = false;
    if (r < 0 || b.mode == EC_ENV_BASE_NONE)
        return r;
    if (b.mode == EC_ENV_BASE_EXPLICIT) {
        *out = b.digest;
        *has_base = true;
        return EC_OK;
    }
    ec_err e = {0}; /* an unset default is an answer, so its message must not reach @err */
    r = ec_base_default_get(out, c, &e);
    if (r == EC_ENOTFOUND)
        return EC_OK;
    if (r < 0 && err)
        *err = e;
    *has_base = r == EC_OK;
    return r;
}

/* --- changing the choice --- */

int ec_env_set_base(ec_cache *c, const char *ws, const char *id, const ec_env_base_choice *base,
                    ec_err *err)
{
    EC_AUTO(ec_txn) txn = NULL;
    EC_AUTO(json_t) rec = NULL;
    int r = ec_env__change_begin(&txn, &rec, c, ws, id, err);
    if (r < 0)
        return r;
    json_t *env = json_object_get(rec, "env");
    if ((r = check_layer(txn, base, err)) < 0)
        return r;
    char now[32];
    ec_cache__rfc3339(now, ec_now());
    json_object_set_new(rec, "base", ec_env__base_json(base));
    json_object_set_new(env, "updated_at", json_string(now));
    if ((r = ec_cache__env_save(txn, ws, id, rec, err)) < 0)
        return r;
    return ec_txn_commit(ec_steal(&txn), err);
}
