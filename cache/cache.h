/* SPDX-License-Identifier: MIT */
/* The service's face: environments, sessions and mounts, garbage collection policy.
 * Objects cross this boundary as jansson JSON in the API's shapes (API.md).
 * Threads: an ec_cache may be shared; each call opens its own short transactions. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/mount/mount.h" /* EC_MOUNT_* flags and modes */
#include "store/store.h"

typedef struct ec_cache ec_cache;

/** The workspace the CLI works on without a key. */
#define EC_DEFAULT_WORKSPACE "default"

/** Opens the store at @home (see ec_store_default_home) for the service's use. */
int ec_cache_open(ec_cache **out, const char *home, ec_err *err);
void ec_cache_close(ec_cache *c);
EC_DEFINE_AUTO(ec_cache, ec_cache_close)
/** Answers the loopback port of a mirror that serves this cache (starting one on first
 *  use, if that is how it works). */
typedef int (*ec_mirror_port_fn)(uint16_t *port, void *payload, ec_err *err);
/** Sets where build steps that fetch through the mirror reach it (`envcache serve` sets
 *  its own port; a warm-up from the command line, a mirror started on demand). @release
 *  (may be NULL) runs at ec_cache_close. Threads: set before warm-ups start. */
void ec_cache_set_mirror(ec_cache *c, ec_mirror_port_fn fn, void *payload,
                         void (*release)(void *payload));

/** The underlying store; borrowed for the cache's lifetime. */
ec_store *ec_cache_store(ec_cache *c);

/* --- ids --- */

/** Writes "<prefix>_" + 24 base62 characters that sort by creation time into @out. */
void ec_id_new(char out[64], const char *prefix);
/** True for "<prefix>_" + 24 base62 characters. */
bool ec_id_valid(const char *id, const char *prefix);

/* --- environments (API.md) --- */

/** How an environment chooses the base layer at the bottom of its stack. An envcache
 *  extension: the API's environment object does not show it. */
typedef enum ec_env_base_mode {
    EC_ENV_BASE_DEFAULT = 0, /* the store's default base at each warm-up, if one is set */
    EC_ENV_BASE_EXPLICIT,    /* the layer in .digest */
    EC_ENV_BASE_NONE,        /* no base */
} ec_env_base_mode;

typedef struct ec_env_base_choice {
    ec_env_base_mode mode;
    ec_digest digest; /* EC_ENV_BASE_EXPLICIT only */
} ec_env_base_choice;

/** "default", "explicit" or "none": the mode's name in records and the CLI's output. */
const char *ec_env_base_mode_name(ec_env_base_mode mode);

/** Creates an environment from an API create body. EC_EINVAL (message names the field),
 *  EC_ECONFLICT when the name is taken in @ws. *@out is the environment object. */
int ec_env_create(json_t **out, ec_cache *c, const char *ws, const json_t *body, ec_err *err);
/** Like ec_env_create, with the base chosen by @base; NULL = EC_ENV_BASE_DEFAULT.
 *  EC_ENOTFOUND when an explicit base is not a recorded layer. */
int ec_env_create_on(json_t **out, ec_cache *c, const char *ws, const json_t *body,
                     const ec_env_base_choice *base, ec_err *err);
/** Records a new base choice for environment @id of @ws and bumps updated_at. The stack
 *  already built stays until the next warm-up, which uses the new choice.
 *  EC_ENOTFOUND (unknown environment, or an explicit base that is not a recorded layer),
 *  EC_EARCHIVED. */
int ec_env_set_base(ec_cache *c, const char *ws, const char *id, const ec_env_base_choice *base,
                    ec_err *err);
/** The base choice recorded for environment @id of @ws. Records from before the choice
 *  was recorded count as explicit when their stack starts with a base layer, else as
 *  default. EC_ENOTFOUND. */
int ec_env_base_choice_lookup(ec_env_base_choice *out, ec_cache *c, const char *ws,
                              const char *id, ec_err *err);
/** The base layer environment @id of @ws should be built on now: the explicit layer, the
 *  store's current default base (ec_base_default_get), or none (*@has_base false, *@out
 *  untouched). A warm-up calls this once and builds on the answer. EC_ENOTFOUND for an
 *  unknown environment; an unset default base is not an error. */
int ec_env_base(ec_digest *out, bool *has_base, ec_cache *c, const char *ws, const char *id,
                ec_err *err);
/** EC_ENOTFOUND (detail environment_not_found) for unknown ids and other workspaces' ids. */
int ec_env_get(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err);
/** ec_env_get as compact JSON text (*@n bytes, NUL-terminated; caller frees): what the API
 *  answers, without parsing the record again while it is unchanged. */
int ec_env_get_text(char **out, size_t *n, ec_cache *c, const char *ws, const char *id,
                    ec_err *err);
typedef struct ec_env_list_opts {
    int limit;             /* 1–1000; 0 = 20 */
    const char *page;      /* a cursor from a previous answer, or NULL */
    bool include_archived;
} ec_env_list_opts;
/** {"data":[…], "next_page": "page_…"|null}, newest first. */
int ec_env_list(json_t **out, ec_cache *c, const char *ws, const ec_env_list_opts *opts,
                ec_err *err);
/** Applies an update body (API.md merge rules). EC_EARCHIVED on archived environments. */
int ec_env_update(json_t **out, ec_cache *c, const char *ws, const char *id,
                  const json_t *patch, ec_err *err);
/** Archives (idempotent). */
int ec_env_archive(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err);
/** Deletes; EC_EBUSY while a session references it. *@out is the deletion object. */
int ec_env_delete(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err);
/** Accepts an id or a name of @ws; *@id_out is the id (caller frees). EC_ENOTFOUND. */
int ec_env_resolve_id(char **id_out, ec_cache *c, const char *ws, const char *id_or_name,
                      ec_err *err);
/** The environment's stack: a JSON array of layer digests, lowest first (new reference):
 *  the one the last warm-up recorded, else (never warmed) the base ec_env_base gives now. */
int ec_env_stack(json_t **out, ec_cache *c, const char *ws, const char *id, ec_err *err);

/* --- sessions and mounts --- */

/** A bind mount into a session's container. */
typedef struct ec_bundle_bind {
    const char *src, *dst;
    bool read_only;
} ec_bundle_bind;

/** How a session's OCI bundle starts it (see ec_session_opts.bundle). */
typedef struct ec_bundle_opts {
    const char *const *argv;  /* NULL-terminated; NULL = /bin/sh */
    const char *const *env;   /* NULL-terminated "K=V" after PATH, HOME and TERM; or NULL */
    const char *cwd;          /* NULL = "/" */
    bool terminal;            /* the runtime gives the process a pseudo-terminal */
    const char *netns;        /* join this network namespace (a path); NULL = a new one
                                 with loopback only */
    const ec_bundle_bind *binds;
    size_t nbinds;
    const json_t *annotations; /* an object, or NULL */
    const json_t *hooks;       /* the runtime-spec's "hooks" object, or NULL */
} ec_bundle_opts;

typedef struct ec_session_opts {
    const char *ws;          /* workspace; NULL = default */
    const char *env_id;      /* mount this environment's stack, or */
    const char *const *layers; /* these layer digests (or prefixes), lowest first */
    size_t nlayers;
    const char *base_dir;    /* an extra read-only directory below everything, or NULL */
    const char *session_id;  /* NULL = a new sesn_… id */
    const char *target;      /* where the root file system appears (created if missing) */
    unsigned flags;          /* EC_MOUNT_* */
    const json_t *agent;     /* the API's agent, kept with the session; NULL = none */
    const ec_bundle_opts *bundle; /* also write an OCI bundle whose root is the target
                                     (the session object's "bundle"); NULL = none */
    const json_t *mcp_servers; /* the session's MCP endpoints (checked), kept; NULL = none */
} ec_session_opts;

/** Unpacks what is needed and mounts the stack at opts->target, recording a session.
 *  *@out is the session object (id, environment_id, target, mode, layers, …).
 *  EC_EARCHIVED for archived environments; EC_ECONFLICT when the session id exists, when
 *  another session is mounted at the target (detail "target_in_use"), or when the
 *  environment's warm-up has not run or failed (detail "environment_not_ready"). */
int ec_session_create(json_t **out, ec_cache *c, const ec_session_opts *opts, ec_err *err);
/** Lets session containers of @c (bundles) get the network their environment allows
 *  (cache/net/); without it they get loopback only. Threads: call before sharing @c. */
void ec_session_net_attach(ec_cache *c);
/** The OCI runtime config (runtime-spec 1.0) that starts session @id with root @root. */
json_t *ec_session_bundle_config(const char *id, const char *root, const ec_bundle_opts *o);
/** Finds a session by id or by target path. */
int ec_session_get(json_t **out, ec_cache *c, const char *ws, const char *id_or_target,
                   ec_err *err);
/** Unmounts, discards the session's writes, forgets the session; first stops and deletes
 *  a container still running from the session's bundle, if it has one. */
int ec_session_delete(json_t **out, ec_cache *c, const char *ws, const char *id_or_target,
                      ec_err *err);
/** ec_session_delete for a caller that knows the session's container is gone already
 *  (`envcache run`, after `runc run` returned). */
int ec_session_delete_stopped(json_t **out, ec_cache *c, const char *ws,
                              const char *id_or_target, ec_err *err);
/** The OCI runtime sessions run with: $ENVCACHE_OCI_RUNTIME, else "runc". */
const char *ec_session_runtime(void);
/** All sessions of @ws (NULL = every workspace) as a JSON array. */
int ec_session_list(json_t **out, ec_cache *c, const char *ws, ec_err *err);
/** Forgets the sessions of @ws (NULL = every workspace) whose mount is gone (unmounted by
 *  hand, a reboot), removing their directories and writes. Sessions still being mounted,
 *  or mounted in another mount namespace, are left alone. *@out (if not NULL) is the array
 *  of the session objects forgotten. */
int ec_session_reap(json_t **out, ec_cache *c, const char *ws, ec_err *err);

/* --- garbage collection policy --- */

typedef struct ec_gc_opts {
    bool dry_run;
    uint64_t max_size; /* 0 = no budget */
    int64_t grace;     /* seconds; unreferenced things younger than this stay */
} ec_gc_opts;

/** Marks from live environments' stacks and sessions, then sweeps (see store gc).
 *  *@out is a report: "items" (what was or would be removed: kind, object, reason, bytes,
 *  removed), "size_before", "size_after", "freed", "roots", "dry_run", and the budget's
 *  outcome: "max_size", "grace", "budget_met", "over_budget" (bytes above the budget after
 *  the plan), "held_bytes" {"pinned": live sessions' layers, "grace": used within the grace
 *  period, "referenced": mirror entries and build logs}, and "held" (what stays over the
 *  budget and why, each with kind "pinned", "grace" or "referenced"; empty when met). */
int ec_cache_gc(json_t **out, ec_cache *c, const ec_gc_opts *opts, ec_err *err);
