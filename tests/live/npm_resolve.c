/* SPDX-License-Identifier: MIT */
/* npm-resolve: runs the npm resolver against a live registry and prints the tree
 * as "path<TAB>name<TAB>version" lines (or the lock's packages with --json).
 * A test driver for tests/live/npm_diff.sh; not part of envcache itself.
 *
 *   npm-resolve --registry URL [--node V] [--npm V] [--cache DIR] [--json] SPEC...
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/manager.h"
#include "fetchers/npm/tree.h"
#include "store/util/mem.h"

struct reg {
    const char *base, *cache;
    char **names;
    ec_npm_packument **docs;
    size_t n;
};

static char *cache_file(const struct reg *r, const char *name)
{
    char *esc = ec_xstrdup(name);
    for (char *p = esc; *p; p++)
        if (*p == '/')
            *p = '%';
    char *f = ec_xasprintf("%s/%s.json", r->cache, esc);
    free(esc);
    return f;
}

static char *pkg_url(const struct reg *r, const char *name)
{
    const char *slash = strchr(name, '/');
    size_t bl = strlen(r->base);
    const char *sep = bl && r->base[bl - 1] == '/' ? "" : "/";
    if (slash) /* scoped: "@scope%2fname" */
        return ec_xasprintf("%s%s%.*s%%2f%s", r->base, sep, (int)(slash - name), name, slash + 1);
    return ec_xasprintf("%s%s%s", r->base, sep, name);
}

/* Fetches every missing packument in parallel, three tries each. */
static int fetch_many(struct reg *r, const char *const *names, size_t n)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        CURLM *m = curl_multi_init();
        size_t started = 0;
        CURL **h = ec_xcalloc(n + 1, sizeof(*h));
        FILE **f = ec_xcalloc(n + 1, sizeof(*f));
        char **tmp = ec_xcalloc(n + 1, sizeof(*tmp));
        struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*");
        for (size_t i = 0; i < n; i++) {
            char *file = cache_file(r, names[i]);
            if (access(file, R_OK) == 0) {
                free(file);
                continue;
            }
            tmp[i] = ec_xasprintf("%s.tmp", file);
            free(file);
            f[i] = fopen(tmp[i], "wb");
            char *url = pkg_url(r, names[i]);
            h[i] = curl_easy_init();
            curl_easy_setopt(h[i], CURLOPT_URL, url);
            curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
            curl_easy_setopt(h[i], CURLOPT_WRITEDATA, f[i]);
            curl_easy_setopt(h[i], CURLOPT_FAILONERROR, 1L);
            curl_easy_setopt(h[i], CURLOPT_ACCEPT_ENCODING, "");
            curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 120L);
            curl_easy_setopt(h[i], CURLOPT_PRIVATE, (char *)names[i]);
            curl_multi_add_handle(m, h[i]);
            free(url);
            started++;
        }
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 15L);
        int running = 1;
        while (started && running) {
            curl_multi_perform(m, &running);
            if (running)
                curl_multi_poll(m, NULL, 0, 1000, NULL);
        }
        int failed = 0;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            for (size_t i = 0; i < n; i++) {
                if (h[i] != msg->easy_handle)
                    continue;
                fclose(f[i]);
                f[i] = NULL;
                if (msg->data.result == CURLE_OK) {
                    char *file = cache_file(r, names[i]);
                    rename(tmp[i], file);
                    free(file);
                } else {
                    unlink(tmp[i]);
                    if (code != 404)
                        failed++;
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (h[i]) {
                curl_multi_remove_handle(m, h[i]);
                curl_easy_cleanup(h[i]);
            }
            if (f[i])
                fclose(f[i]);
            free(tmp[i]);
        }
        free(h);
        free(f);
        free(tmp);
        curl_slist_free_all(hdr);
        curl_multi_cleanup(m);
        if (!failed)
            return 0;
        sleep(1 + attempt);
    }
    return -1;
}

static int reg_prefetch(void *ud, const char *const *names, size_t n, ec_err *err)
{
    if (fetch_many(ud, names, n) < 0)
        return ec_fail(err, EC_ELIMIT, "could not fetch packuments after 3 tries");
    return EC_OK;
}

static int reg_get(void *ud, const char *name, const ec_npm_packument **out, ec_err *err)
{
    struct reg *r = ud;
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->names[i], name)) {
            *out = r->docs[i];
            return EC_OK;
        }
    }
    const char *one[] = {name};
    fetch_many(r, one, 1);
    char *file = cache_file(r, name);
    json_error_t jerr;
    json_t *doc = json_load_file(file, 0, &jerr);
    free(file);
    if (!doc)
        return ec_fail(err, EC_ENOTFOUND, "package %s not found in the registry", name);
    ec_npm_packument *p;
    int rc = ec_npm_packument_from_json(&p, name, doc, err);
    json_decref(doc);
    if (rc < 0)
        return rc;
    r->names = ec_xrealloc(r->names, (r->n + 1) * sizeof(*r->names));
    r->docs = ec_xrealloc(r->docs, (r->n + 1) * sizeof(*r->docs));
    r->names[r->n] = ec_xstrdup(name);
    r->docs[r->n++] = p;
    *out = p;
    return EC_OK;
}

int main(int argc, char **argv)
{
    struct reg r = {.cache = "/tmp/npm-resolve-cache"};
    ec_npm_pick_opts opts = {.plat = EC_NPM_PLATFORM_DEFAULT};
    bool as_json = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--json")) {
            as_json = true;
        } else if (i + 1 < argc && !strcmp(argv[i], "--registry")) {
            r.base = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--node")) {
            opts.plat.node_version = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--npm")) {
            opts.plat.npm_version = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--cache")) {
            r.cache = argv[++i];
        } else {
            fprintf(stderr, "npm-resolve: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!r.base || i == argc) {
        fprintf(stderr, "usage: npm-resolve --registry URL [--node V] [--npm V] [--cache DIR] [--json] SPEC...\n");
        return 2;
    }
    mkdir(r.cache, 0755);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ec_npm_registry reg = {reg_get, reg_prefetch, &r};
    ec_npm_tree *t = NULL;
    ec_err err = {0};
    size_t nspecs = (size_t)(argc - i);
    ec_spec *specs = ec_xcalloc(nspecs, sizeof *specs);
    int rc = EC_OK;
    for (size_t k = 0; k < nspecs && rc == EC_OK; k++)
        rc = ec_manager_find("npm")->parse(&specs[k], argv[i + (int)k], &err);
    if (rc == EC_OK)
        rc = ec_npm_tree_build(&t, &reg, specs, nspecs, &opts, &err);
    free(specs);
    if (rc < 0) {
        fprintf(stderr, "npm-resolve: %s\n", err.msg);
    } else if (as_json) {
        json_t *a = ec_npm_tree_lock_packages(t);
        json_dumpf(a, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(a);
    } else {
        for (size_t k = 0; k < t->n; k++)
            if (!t->nodes[k].bundled)
                printf("%s\t%s\t%s\n", t->nodes[k].path, t->nodes[k].package, t->nodes[k].version);
        for (size_t k = 0; k < json_array_size(t->notes); k++)
            fprintf(stderr, "note: %s\n", json_string_value(json_array_get(t->notes, k)));
    }
    ec_npm_tree_free(t);
    for (size_t k = 0; k < r.n; k++) {
        free(r.names[k]);
        ec_npm_packument_free(r.docs[k]);
    }
    free(r.names);
    free(r.docs);
    curl_global_cleanup();
    return rc < 0 ? 1 : 0;
}
