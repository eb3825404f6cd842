/* SPDX-License-Identifier: MIT */
/* resolve: pip's own resolver, run once in the sandbox on the base's Python against this
 * envcache's mirror (DESIGN.md allows the real client where it is the faithful choice).
 * So the chosen set is pip's by construction: the interpreter's own version, markers and
 * wheel tags (manylinux levels, abi3, pure), PEP 440 and pre-release rules, yanked files,
 * Requires-Python and pip's backtracking all come from pip itself. What envcache adds: pip
 * is a verified wheel from the index (never something installed beneath), it reads the
 * index through the mirror (so metadata and files land in the store, verified, and a
 * second resolve asks upstream nothing), and its report becomes a canonical lock whose
 * every file is checked against the index's sha256 again. */
#include "fetchers/pip/pip_int.h"
#include "fetchers/pip/pip_pick.h"

#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define REPORT_MARK "\n@@envcache-pip-report@@\n"

/* Runs in the sandbox: fetch the pip wheel from the mirror, run pip from it, print its
 * report after a mark. The wheel is unpacked first: importing pip from the directory
 * costs about a third less CPU than from the zip (zipimport), and pip's start-up is on
 * the resolve's critical path. argv: the wheel's path under the mirror's pip route, then
 * the requirements. A pip older than 23.2 reads the pages as HTML (simple-html/), the one
 * form where it takes a metadata file with no hash. */
static const char bootstrap[] =
    "import os, sys, urllib.request, zipfile\n"
    "m = os.environ['ENVCACHE_MIRROR'] + '/pip/'\n"
    "whl = '/tmp/' + sys.argv[1].rsplit('/', 1)[1]\n"
    "urllib.request.urlretrieve(m + sys.argv[1], whl)\n"
    "zipfile.ZipFile(whl).extractall('/tmp/envcache-pip')\n"
    "sys.path.insert(0, '/tmp/envcache-pip')\n"
    "import pip\n"
    "from pip._internal.cli.main import main\n"
    "v = tuple(int(x) for x in pip.__version__.split('.')[:2] if x.isdigit())\n"
    "simple = 'simple/' if v >= (23, 2) else 'simple-html/'\n"
    "rc = main(['install', '--dry-run', '--ignore-installed', '--quiet',\n"
    "           '--report', '/tmp/envcache-report.json', '--no-cache-dir',\n"
    "           '--disable-pip-version-check', '--no-input',\n"
    "           '--index-url', m + simple] + sys.argv[2:])\n"
    "if rc == 0:\n"
    "    sys.stdout.flush()\n"
    "    with open('/tmp/envcache-report.json') as f:\n"
    "        sys.stdout.write('" "\\n@@envcache-pip-report@@\\n" "' + f.read())\n"
    "sys.exit(rc)\n";

/* --- which pip resolves --- */

/* The resolver's wheel, in the store (verified) so the mirror serves it at once. */
static int pip_wheel(char **file_out, ec_fetch_ctx *ctx, const char *python, ec_err *err)
{
    EC_AUTO(json_t) page = NULL;
    int r = pip_page_get(&page, ctx, "pip", NULL, err);
    if (r < 0)
        return ec_err_prefix(err, "the resolver, pip itself"), r;
    EC_AUTOFREE char *file = pip_pick(page, python);
    if (!file)
        return ec_fail(err, EC_ENOTFOUND, "the index %s has no pip wheel that runs on Python "
                       "%s (pip resolves in the sandbox)", ctx->upstream, python);
    ec_digest d;
    r = pip_file_get(&d, ctx, "pip", file, NULL, err);
    if (r == EC_OK)
        *file_out = ec_steal(&file);
    return r;
}

/* --- the report → the lock --- */

static const char *url_file(const char *url)
{
    const char *q = strrchr(url, '/');
    return q ? q + 1 : url;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The PEP 658 metadata file the index lists for @file, verified (in the store already
 * when pip read it through the mirror). pip falls back to the wheel when the metadata
 * fails to download, so a tampered metadata file would pass unnoticed without this. */
static int metadata_checked(ec_fetch_ctx *ctx, const json_t *page, const char *name,
                            const char *file, ec_err *err)
{
    ec_digest want, got;
    if (pip_page_sha256(&want, page, name, file, true, NULL) < 0)
        return EC_OK; /* the index offers no metadata file for it */
    EC_AUTOFREE char *md = ec_xasprintf("%s.metadata", file);
    return pip_file_get(&got, ctx, name, md, NULL, err);
}

/* One package of pip's report, checked against the index page (the same sha256, a file
 * the index lists), as a lock entry. */
static int lock_package(json_t **out, ec_fetch_ctx *ctx, const json_t *item, ec_err *err)
{
    const json_t *md = json_object_get(item, "metadata");
    const json_t *di = json_object_get(item, "download_info");
    const char *rname = json_string_value(json_object_get(md, "name"));
    const char *version = json_string_value(json_object_get(md, "version"));
    const char *url = json_string_value(json_object_get(di, "url"));
    const char *sha = json_string_value(json_object_get(
        json_object_get(json_object_get(di, "archive_info"), "hashes"), "sha256"));
    if (!rname || !version || !url)
        return ec_fail(err, EC_EFORMAT, "pip's report has an entry without name, version or "
                       "url");
    EC_AUTOFREE char *name = pip_name_normalize(rname);
    EC_AUTOFREE char *file = ec_xstrndup(url_file(url), strcspn(url_file(url), "#?"));
    EC_AUTO(json_t) page = NULL;
    ec_digest want, got;
    char hex[EC_DIGEST_HEX_LEN];
    int r = pip_page_get(&page, ctx, name, NULL, err);
    if (r == EC_OK)
        r = pip_page_sha256(&want, page, name, file, false, err);
    if (r < 0)
        return r;
    if (!sha || ec_digest_parse(&got, sha, NULL) < 0 || !ec_digest_eq(&got, &want))
        return ec_fail(err, EC_EINTEGRITY, "%s: pip chose it with sha256 %s, the index says "
                       "%s", file, sha ? sha : "(none)", ec_digest_hex(hex, &want));
    r = metadata_checked(ctx, page, name, file, err);
    if (r < 0)
        return r;
    EC_AUTOFREE char *up = pip_file_url(ctx->upstream, name, pip_page_file(page, file));
    *out = json_pack("{s:s, s:s, s:s, s:s%, s:s, s:b, s:b}", "name", name, "version", version,
                     "file", file, "url", up, strcspn(up, "#"), "sha256",
                     ec_digest_hex(hex, &want), "sdist", !ends_with(file, ".whl"),
                     "requested", json_is_true(json_object_get(item, "requested")));
    json_t *extras = json_object_get(item, "requested_extras");
    if (json_array_size(extras))
        json_object_set(*out, "extras", extras);
    return EC_OK;
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

static int lock_packages(json_t **out, ec_fetch_ctx *ctx, const json_t *report, bool *sdists,
                         ec_err *err)
{
    const json_t *install = json_object_get(report, "install");
    size_t n = json_array_size(install), i;
    json_t **v = ec_xcalloc(n ? n : 1, sizeof *v);
    int r = EC_OK;
    for (i = 0; r == EC_OK && i < n; i++)
        r = lock_package(&v[i], ctx, json_array_get(install, i), err);
    if (r == EC_OK) {
        qsort(v, n, sizeof *v, by_name);
        *out = json_array();
        for (i = 0; i < n; i++) {
            *sdists |= json_is_true(json_object_get(v[i], "sdist"));
            json_array_append_new(*out, ec_steal(&v[i]));
        }
    }
    for (i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    return r;
}

static int report_parse(json_t **out, const char *text, ec_err *err)
{
    const char *mark = strstr(text, REPORT_MARK);
    if (!mark)
        return ec_fail(err, EC_EFORMAT, "pip printed no report");
    json_error_t je;
    *out = json_loads(mark + strlen(REPORT_MARK), 0, &je);
    return *out ? EC_OK : ec_fail(err, EC_EFORMAT, "pip's report is not JSON: %s", je.text);
}

/* pip, run where the packages will live; its output, or an error naming the specs. */
static int run_pip(char **out, ec_fetch_ctx *ctx, const ec_resolve_req *req, const char *file,
                   ec_err *err)
{
    static const char *const env[] = {"PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1",
                                      "PYTHONDONTWRITEBYTECODE=1", NULL};
    const char **argv = ec_xcalloc(req->nspecs + 6, sizeof *argv);
    EC_AUTOFREE char *wheel = ec_xasprintf("files/pip/%s", file);
    size_t k = 0;
    argv[k++] = "python3";
    argv[k++] = "-c";
    argv[k++] = bootstrap;
    argv[k++] = wheel;
    for (size_t i = 0; i < req->nspecs; i++)
        argv[k++] = req->texts[i];
    int r = ctx->sandbox_query(ctx->sandbox_ud, out, argv, env, err);
    free(argv);
    if (r < 0)
        ec_err_prefix(err, "pip could not resolve the requirements");
    return r;
}

int pip_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out, ec_err *err)
{
    if (!ctx->sandbox_query || !req->probe)
        return ec_fail(err, EC_EUNSUPPORTED, "pip resolves with pip itself on the Python "
                       "beneath, in the sandbox: this caller offers none");
    json_error_t je;
    EC_AUTO(json_t) python = json_loads(req->probe, JSON_DISABLE_EOF_CHECK, &je);
    const char *version = json_string_value(json_object_get(python, "version"));
    if (!version)
        return ec_fail(err, EC_EFORMAT, "the Python probe printed no version: %.200s",
                       req->probe);
    EC_AUTOFREE char *file = NULL, *text = NULL;
    EC_AUTO(json_t) report = NULL;
    json_t *packages = NULL;
    bool sdists = false;
    int64_t t0 = ec_mono_us();
    /* while pip starts, the pages it asks for first and the metadata it reads next */
    pip_ahead_begin(req->probe);
    if (!ctx->offline)
        for (size_t i = 0; i < req->nspecs; i++) {
            EC_AUTOFREE char *name = pip_name_normalize(req->specs[i].name);
            if (pip_name_ok(name))
                pip_ahead_project(ctx, name, req->specs[i].constraint);
        }
    int r = pip_wheel(&file, ctx, version, err);
    if (r == EC_OK)
        r = run_pip(&text, ctx, req, file, err);
    pip_ahead_end();
    int64_t t1 = ec_mono_us();
    if (r == EC_OK)
        r = report_parse(&report, text, err);
    if (r == EC_OK)
        r = lock_packages(&packages, ctx, report, &sdists, err);
    ec_debug("pip: resolved by pip in %lld ms, checked against the index in %lld ms",
             (long long)(t1 - t0) / 1000, (long long)(ec_mono_us() - t1) / 1000);
    if (r < 0) /* no fetch follows: nothing may go on using the store behind the caller */
        pip_prefetch_wait();
    if (r < 0)
        return r;
    json_t *specs = json_array();
    for (size_t i = 0; i < req->nspecs; i++)
        json_array_append_new(specs, json_string(req->texts[i]));
    const char *pv = json_string_value(json_object_get(report, "pip_version"));
    EC_AUTOFREE char *resolver = ec_xasprintf("pip %s", pv ? pv : "?");
    /* an sdist is built on the Python beneath: its layer is keyed on the layers beneath */
    *lock_out = json_pack("{s:s, s:i, s:o, s:o, s:O, s:s, s:s, s:b}", "manager", "pip",
                          "version", 1, "specs", specs, "packages", packages, "python", python,
                          "resolver", resolver, "resolver_wheel", file, "runs_code", sdists);
    if (sdists) { /* the wheels built from them are kept for these layers */
        EC_AUTOFREE char *on = pip_built_on(req->lowers, req->nlowers);
        json_object_set_new(*lock_out, "built_on", json_string(on));
    }
    return EC_OK;
}
