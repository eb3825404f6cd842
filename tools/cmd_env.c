/* SPDX-License-Identifier: MIT */
/* `envcache env create|list|get|update|archive|delete`: the API's objects on the CLI. */
#include "tools/cli.h"
#include "store/util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char env_usage[] =
    "Usage: envcache env create -f FILE [--base DIGEST | --no-base]\n"
    "       envcache env list [--include-archived] [--limit N] [--page CURSOR]\n"
    "       envcache env get ENV\n"
    "       envcache env update ENV [-f FILE] [--base DIGEST | --no-base | --default-base]\n"
    "       envcache env archive ENV\n"
    "       envcache env delete ENV\n"
    "       envcache env lock ENV MANAGER\n\n"
    "FILE is a JSON body as the environments API takes it (\"-\" reads stdin); ENV is an\n"
    "environment's id or name. Output is the API's JSON objects; create, get, update and\n"
    "archive add envcache's own field \"base\": {\"mode\": \"default\"|\"explicit\"|\"none\",\n"
    "\"digest\": the base layer a warm-up would use now, or null}.\n\n"
    "An environment's stack starts with a base layer, chosen at each warm-up:\n"
    "  --base DIGEST   always this layer (a digest or a unique prefix)\n"
    "  --no-base       no base layer\n"
    "  --default-base  the store's default base of the moment (envcache base default);\n"
    "                  what create chooses unless told otherwise\n"
    "A change of base takes effect at the environment's next warm-up.\n" EC_CLI_WS_HELP;

struct env_args {
    const char *file;
    const char *page;
    int limit;
    bool include_archived;
    const char *target;
    int nbase;         /* how many of --base, --no-base, --default-base were given */
    const char *base;  /* --base DIGEST */
    ec_env_base_mode base_mode;
};

static int base_opt(ec_cli *cli, struct env_args *a, int o, const char *arg)
{
    if (++a->nbase > 1)
        return ec_cli_usage(cli, "give one of --base, --no-base and --default-base");
    a->base = arg;
    a->base_mode = o == 'b' ? EC_ENV_BASE_EXPLICIT : o == 'N' ? EC_ENV_BASE_NONE
                                                              : EC_ENV_BASE_DEFAULT;
    return 0;
}

static int parse(ec_cli *cli, struct env_args *a, int argc, char **argv)
{
    static const struct option opts[] = {EC_CLI_COMMON_LONGOPTS,
                                         {"file", required_argument, NULL, 'f'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"page", required_argument, NULL, 'p'},
                                         {"include-archived", no_argument, NULL, 'a'},
                                         {"base", required_argument, NULL, 'b'},
                                         {"no-base", no_argument, NULL, 'N'},
                                         {"default-base", no_argument, NULL, 'D'},
                                         {0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hqf:", opts, NULL)) != -1) {
        if (ec_cli_common_opt(cli, o, optarg))
            continue;
        switch (o) {
        case 'h':
            fputs(env_usage, stdout);
            return -1; /* help shown */
        case 'f':
            a->file = optarg;
            break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000)
                return ec_cli_usage(cli, "--limit must be between 1 and 1000");
            a->limit = (int)v;
            break;
        }
        case 'p':
            a->page = optarg;
            break;
        case 'a':
            a->include_archived = true;
            break;
        case 'b':
        case 'N':
        case 'D':
            if (base_opt(cli, a, o, optarg) != 0)
                return EC_EXIT_USAGE;
            break;
        default:
            return ec_cli_usage(cli, "bad option");
        }
    }
    return 0;
}

/* --- the base choice --- */

/* The choice the options ask for; a --base prefix is resolved to its layer here. */
static int base_choice(ec_env_base_choice *out, ec_cache *c, const struct env_args *a,
                       ec_err *err)
{
    ec_layer_info l;
    out->mode = a->base_mode;
    if (a->base_mode != EC_ENV_BASE_EXPLICIT)
        return EC_OK;
    int r = ec_layer_resolve(&l, ec_cache_store(c), a->base, err);
    out->digest = l.digest;
    return r;
}

/* Adds envcache's "base" field to an environment object: the choice and what it gives. */
static int add_base(json_t *env, ec_cache *c, const char *ws, ec_err *err)
{
    const char *id = json_string_value(json_object_get(env, "id"));
    ec_env_base_choice b;
    ec_digest d;
    bool has_base;
    char s[EC_DIGEST_STR_LEN];
    int r = ec_env_base_choice_lookup(&b, c, ws, id, err);
    if (r == EC_OK)
        r = ec_env_base(&d, &has_base, c, ws, id, err);
    if (r < 0)
        return r;
    json_object_set_new(env, "base",
                        json_pack("{s:s, s:s?}", "mode", ec_env_base_mode_name(b.mode),
                                  "digest", has_base ? ec_digest_format(s, &d) : NULL));
    return EC_OK;
}

/* -f FILE and a base option apply one after the other; the body goes first because its
 * rules refuse more than a base change can. */
static int update(json_t **out, ec_cache *c, const char *ws, const char *id, const json_t *body,
                  const struct env_args *a, ec_err *err)
{
    ec_env_base_choice b;
    int r = a->nbase ? base_choice(&b, c, a, err) : EC_OK;
    if (r == EC_OK && body)
        r = ec_env_update(out, c, ws, id, body, err);
    if (r < 0 || !a->nbase)
        return r;
    json_decref(*out);
    *out = NULL;
    r = ec_env_set_base(c, ws, id, &b, err);
    return r < 0 ? r : ec_env_get(out, c, ws, id, err);
}

static int create(json_t **out, ec_cache *c, const char *ws, const json_t *body,
                  const struct env_args *a, ec_err *err)
{
    ec_env_base_choice b = {.mode = EC_ENV_BASE_DEFAULT};
    int r = a->nbase ? base_choice(&b, c, a, err) : EC_OK;
    return r < 0 ? r : ec_env_create_on(out, c, ws, body, &b, err);
}

static int finish(ec_cli *cli, int r, json_t *out, const ec_err *err)
{
    if (r == EC_OK)
        ec_cli_print_json(out);
    json_decref(out);
    return r < 0 ? ec_cli_fail(cli, err) : EC_EXIT_OK;
}

static int dispatch(json_t **out, ec_cache *c, const char *verb, const char *ws, const char *id,
                    const json_t *body, const struct env_args *a, ec_err *err)
{
    if (strcmp(verb, "create") == 0)
        return create(out, c, ws, body, a, err);
    if (strcmp(verb, "list") == 0) {
        ec_env_list_opts lo = {a->limit, a->page, a->include_archived};
        return ec_env_list(out, c, ws, &lo, err);
    }
    if (strcmp(verb, "get") == 0)
        return ec_env_get(out, c, ws, id, err);
    if (strcmp(verb, "update") == 0)
        return update(out, c, ws, id, body, a, err);
    if (strcmp(verb, "archive") == 0)
        return ec_env_archive(out, c, ws, id, err);
    return ec_env_delete(out, c, ws, id, err);
}

static int run(ec_cli *cli, const char *verb, struct env_args *a, const char *arg)
{
    EC_AUTO(ec_cache) c = NULL;
    if (ec_cli_open(&c, cli) < 0)
        return EC_EXIT_FAIL;
    ec_err err = {0};
    json_t *out = NULL, *body = NULL;
    const char *ws = ec_cli_ws(cli);
    EC_AUTOFREE char *id = NULL;
    int r = EC_OK;
    if (a->file)
        r = ec_cli_read_json(&body, a->file, &err);
    if (r == EC_OK && arg)
        r = ec_env_resolve_id(&id, c, ws, arg, &err);
    if (r == EC_OK)
        r = dispatch(&out, c, verb, ws, id, body, a, &err);
    /* One environment object out: show its base choice too (not a field of the API). */
    if (r == EC_OK && json_is_string(json_object_get(out, "name")))
        r = add_base(out, c, ws, &err);
    json_decref(body);
    return finish(cli, r, out, &err);
}

int ec_cmd_env(ec_cli *cli, int argc, char **argv)
{
    static const struct {
        const char *verb;
        bool needs_file, needs_env, takes_base;
    } verbs[] = {{"create", true, false, true},   {"list", false, false, false},
                 {"get", false, true, false},     {"update", false, true, true},
                 {"archive", false, true, false}, {"delete", false, true, false}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(env_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EC_EXIT_USAGE : EC_EXIT_OK;
    }
    if (strcmp(argv[1], "lock") == 0)
        return ec_cmd_env_lock(cli, argc - 1, argv + 1);
    for (size_t i = 0; i < EC_ARRAY_LEN(verbs); i++) {
        if (strcmp(argv[1], verbs[i].verb) != 0)
            continue;
        struct env_args a = {0};
        int p = parse(cli, &a, argc - 1, argv + 1);
        if (p != 0)
            return p < 0 ? EC_EXIT_OK : p;
        int rest = argc - 1 - optind;
        if (verbs[i].needs_file && !a.file)
            return ec_cli_usage(cli, "%s needs -f FILE (a JSON body)", verbs[i].verb);
        if (a.nbase && !verbs[i].takes_base)
            return ec_cli_usage(cli, "%s takes no base option (create and update do)",
                                verbs[i].verb);
        if (verbs[i].takes_base && verbs[i].needs_env && !a.file && !a.nbase)
            return ec_cli_usage(cli, "%s needs -f FILE, --base, --no-base or --default-base",
                                verbs[i].verb);
        if (rest != (verbs[i].needs_env ? 1 : 0))
            return ec_cli_usage(cli, verbs[i].needs_env ? "%s takes one ENV (an id or a name)"
                                                        : "%s takes no arguments",
                                verbs[i].verb);
        return run(cli, verbs[i].verb, &a, verbs[i].needs_env ? argv[1 + optind] : NULL);
    }
    return ec_cli_usage(cli, "'%s' is not an env command (create, list, get, update, archive, delete)",
                        argv[1]);
}
