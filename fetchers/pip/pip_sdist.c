/* SPDX-License-Identifier: MIT */
/* sdists, built into wheels once per base. pip (the lock's resolver wheel) builds the sdist
 * in the sandbox over the layers beneath, on their Python (PEP 517; build dependencies from
 * the mirror, nothing else reachable), and the wheel it made is kept in the store, keyed
 * by the sdist's sha256 and the layers it was built on (the lock's "built_on"). Another
 * lock with the same sdist on the same layers installs that wheel without building it: a
 * layer key that changes (another package beside it) does not rebuild an sdist. The built
 * wheel is installed natively like any other.
 *
 * The wheel comes back through the query's output (base64 after a mark; a query returns
 * at most 32 MiB, so a built wheel may be up to about 24 MiB). */
#include "fetchers/pip/pip_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fetchers/mirror_index.h"
#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

#define WHEEL_MARK "\n@@envcache-pip-wheel@@\n"

/* argv: the resolver wheel's and the sdist's paths under the mirror's pip route. */
static const char build_script[] =
    "import base64, glob, json, os, sys, urllib.request\n"
    "m = os.environ['ENVCACHE_MIRROR'] + '/pip/'\n"
    "def get(path):\n"
    "    dest = '/tmp/' + path.rsplit('/', 1)[1]\n"
    "    urllib.request.urlretrieve(m + path, dest)\n"
    "    return dest\n"
    "sys.path.insert(0, get(sys.argv[1]))\n"
    "sdist = get(sys.argv[2])\n"
    "from pip._internal.cli.main import main\n"
    "out = '/tmp/envcache-built'\n"
    "rc = main(['wheel', '--no-deps', '--no-cache-dir', '--disable-pip-version-check',\n"
    "           '--no-input', '--wheel-dir', out, '--index-url', m + 'simple/', sdist])\n"
    "if rc == 0:\n"
    "    whl = sorted(glob.glob(out + '/*.whl'))[0]\n"
    "    data = base64.b64encode(open(whl, 'rb').read()).decode()\n"
    "    sys.stdout.flush()\n"
    "    sys.stdout.write('" "\\n@@envcache-pip-wheel@@\\n" "' +\n"
    "                     json.dumps({'file': os.path.basename(whl), 'data': data}) + '\\n')\n"
    "sys.exit(rc)\n";

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

char *pip_built_on(const ec_digest *lowers, size_t n)
{
    json_t *a = json_array();
    char s[EC_DIGEST_STR_LEN], hex[EC_DIGEST_HEX_LEN];
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ec_digest_format(s, &lowers[i])));
    ec_digest d;
    ec_lock_digest(a, &d);
    json_decref(a);
    return ec_xstrdup(ec_digest_hex(hex, &d));
}

/* The store's keys of a built wheel: its blob, and a blob holding its file name. */
static char *built_key(const char *what, const json_t *pkg, const char *built_on)
{
    return ec_xasprintf("pip/%s/%s/%s", what, str(pkg, "sha256"), built_on);
}

static int built_find(ec_digest *wheel, char **file, ec_store *st, const json_t *pkg,
                      const char *built_on)
{
    EC_AUTOFREE char *kw = built_key("built", pkg, built_on);
    EC_AUTOFREE char *kf = built_key("built-file", pkg, built_on);
    ec_digest fd;
    if (ec_mirror_digest_get(st, kw, wheel, NULL) < 0 ||
        ec_mirror_digest_get(st, kf, &fd, NULL) < 0)
        return EC_ENOTFOUND;
    EC_AUTOFREE char *path = ec_blob_path(st, &fd);
    size_t n = 0;
    ec_digest got;
    if (ec_read_file(file, &n, path, 4096, NULL) < 0)
        return EC_ENOTFOUND;
    ec_sha256_buf(&got, *file, n);
    if (!ec_digest_eq(&got, &fd) || n == 0 || memchr(*file, '/', n)) {
        free(*file);
        *file = NULL;
        return EC_ENOTFOUND;
    }
    return EC_OK;
}

static int built_record(ec_store *st, const json_t *pkg, const char *built_on,
                        const ec_digest *wheel, const char *file, ec_err *err)
{
    EC_AUTOFREE char *kw = built_key("built", pkg, built_on);
    EC_AUTOFREE char *kf = built_key("built-file", pkg, built_on);
    ec_digest fd;
    int r = ec_blob_put_buf(&fd, st, file, strlen(file), err);
    if (r == EC_OK)
        r = ec_mirror_digest_put(st, kf, &fd, err);
    return r == EC_OK ? ec_mirror_digest_put(st, kw, wheel, err) : r;
}

/* What the build printed after its mark → the wheel, stored. */
static int wheel_take(ec_digest *out, char **file_out, const char *text, const json_t *pkg,
                      ec_fetch_ctx *ctx, ec_err *err)
{
    const char *mark = strstr(text, WHEEL_MARK);
    json_error_t je;
    EC_AUTO(json_t) j = mark ? json_loads(mark + strlen(WHEEL_MARK), JSON_DISABLE_EOF_CHECK, &je)
                             : NULL;
    const char *file = str(j, "file"), *data = str(j, "data");
    size_t n = data ? strlen(data) : 0;
    if (!file || !data || n % 4 || strchr(file, '/') || strlen(file) < 5 ||
        strcmp(file + strlen(file) - 4, ".whl") != 0)
        return ec_fail(err, EC_EFORMAT, "building %s: pip printed no wheel", str(pkg, "file"));
    unsigned char *bin = ec_xmalloc(n / 4 * 3 + 1);
    int k = EVP_DecodeBlock(bin, (const unsigned char *)data, (int)n);
    if (k >= 0)
        k -= (n >= 1 && data[n - 1] == '=') + (n >= 2 && data[n - 2] == '=');
    int r = k < 0 ? ec_fail(err, EC_EFORMAT, "building %s: the wheel pip printed is not "
                            "base64", str(pkg, "file"))
                  : ec_blob_put_buf(out, ctx->store, bin, (size_t)k, err);
    free(bin);
    if (r == EC_OK)
        *file_out = ec_xstrdup(file);
    return r;
}

static int build(ec_digest *wheel, char **file, ec_fetch_ctx *ctx, const json_t *lock,
                 const json_t *pkg, ec_err *err)
{
    const char *resolver = str(lock, "resolver_wheel");
    if (!resolver)
        return ec_fail(err, EC_EFORMAT, "the pip lock names no pip wheel to build %s with",
                       str(pkg, "file"));
    if (!ctx->sandbox_query)
        return ec_fail(err, EC_EUNSUPPORTED, "building %s needs the sandbox, and this caller "
                       "offers none", str(pkg, "file"));
    if (ctx->progress) {
        ec_progress_event p = {.manager = "pip", .phase = EC_PHASE_BUILDING,
                               .item = str(pkg, "file")};
        ctx->progress(&p, ctx->progress_ud);
    }
    EC_AUTOFREE char *rw = ec_xasprintf("files/pip/%s", resolver);
    EC_AUTOFREE char *sd = ec_xasprintf("files/%s/%s", str(pkg, "name"), str(pkg, "file"));
    const char *argv[] = {"python3", "-c", build_script, rw, sd, NULL};
    static const char *const env[] = {"PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1",
                                      "PYTHONDONTWRITEBYTECODE=1", NULL};
    EC_AUTOFREE char *text = NULL;
    int r = ctx->sandbox_query(ctx->sandbox_ud, &text, argv, env, err);
    pip_prefetch_wait(); /* what pip's reads of build dependencies started */
    if (r < 0)
        return ec_err_prefix(err, "building the sdist %s", str(pkg, "file")), r;
    return wheel_take(wheel, file, text, pkg, ctx, err);
}

int pip_sdist_wheel(json_t **out, ec_fetch_ctx *ctx, const json_t *lock, const json_t *pkg,
                    ec_err *err)
{
    const char *built_on = str(lock, "built_on");
    ec_digest wheel;
    EC_AUTOFREE char *file = NULL;
    int r;
    if (built_on && built_find(&wheel, &file, ctx->store, pkg, built_on) == EC_OK) {
        ec_info("pip: %s: the wheel built from it on these layers before, %s", str(pkg, "file"),
                file);
        r = EC_OK;
    } else {
        ec_info("pip: building %s into a wheel (once for these layers)", str(pkg, "file"));
        r = build(&wheel, &file, ctx, lock, pkg, err);
        if (r == EC_OK && built_on)
            r = built_record(ctx->store, pkg, built_on, &wheel, file, err);
    }
    if (r < 0)
        return r;
    char hex[EC_DIGEST_HEX_LEN];
    *out = json_pack("{s:s?, s:s?, s:s, s:s, s:O?}", "name", str(pkg, "name"), "version",
                     str(pkg, "version"), "file", file, "sha256", ec_digest_hex(hex, &wheel),
                     "requested", json_object_get(pkg, "requested"));
    return *out ? EC_OK : ec_fail(err, EC_ENOMEM, "out of memory");
}
