/* SPDX-License-Identifier: MIT */
/* Test driver for the apt install step: stores .debs as blobs, runs ec_apt_install on a
 * lock and prints the build steps, the notes and the time as one JSON document.
 *
 *   apt-install-driver STORE_HOME BASE_ROOT|- STAGING LOCK.json DEB...
 *
 * LOCK.json is {"packages":[{name, version, arch, multi_arch, sha256}, …]}; each DEB is
 * put into the store first (its digest must be one of the lock's). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/fs.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s STORE_HOME BASE_ROOT|- STAGING LOCK.json DEB...\n", argv[0]);
        return 2;
    }
    ec_err err = {0};
    ec_store *st = NULL;
    if (ec_store_open(&st, argv[1], &err) < 0) {
        fprintf(stderr, "store: %s\n", err.msg);
        return 1;
    }
    int64_t t0 = ec_mono_us();
    for (int i = 5; i < argc; i++) {
        ec_digest d;
        if (ec_blob_put_file(&d, st, argv[i], NULL, &err) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], err.msg);
            return 1;
        }
    }
    int64_t t1 = ec_mono_us();
    json_t *lock = json_load_file(argv[4], 0, NULL);
    if (!lock) {
        fprintf(stderr, "%s: not JSON\n", argv[4]);
        return 1;
    }
    ec_fetch_ctx ctx = {.store = st, .lowers_root = argv[2][0] == '-' ? NULL : argv[2],
                        .platform = "linux/amd64"};
    ec_install_result res = {0};
    int rc = ec_apt_install(&ctx, NULL, lock, argv[3], &res, &err);
    int64_t t2 = ec_mono_us();
    if (rc < 0) {
        fprintf(stderr, "install: %s\n", err.msg);
        return 1;
    }
    json_t *steps = json_array();
    for (size_t i = 0; i < res.nsteps; i++) {
        json_t *a = json_array(), *e = json_array();
        for (char **p = res.steps[i].argv; p && *p; p++)
            json_array_append_new(a, json_string(*p));
        for (char **p = res.steps[i].env; p && *p; p++)
            json_array_append_new(e, json_string(*p));
        json_array_append_new(steps, json_pack("{s:s, s:s, s:o, s:o}", "what",
                                               res.steps[i].what, "cwd", res.steps[i].cwd,
                                               "argv", a, "env", e));
    }
    json_t *out = json_pack("{s:o, s:o, s:I, s:I}", "steps", steps, "notes",
                            ec_install_notes_json(&res), "store_ms",
                            (json_int_t)((t1 - t0) / 1000), "install_ms",
                            (json_int_t)((t2 - t1) / 1000));
    json_dumpf(out, stdout, JSON_INDENT(1));
    putchar('\n');
    json_decref(out);
    json_decref(lock);
    ec_install_result_fini(&res);
    ec_store_close(st);
    return 0;
}
