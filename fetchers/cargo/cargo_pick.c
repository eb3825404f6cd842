/* SPDX-License-Identifier: MIT */
/* The version of a crate that cargo install would choose, from the crate's index file
 * (one JSON object a line, as the sparse index serves it: outside input); apart from the
 * resolver's network code so a fuzz target reaches it. */
#include "fetchers/cargo/cargo_pick.h"

#include <stdio.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

/* "1.70" → 1.70.0, for comparing rust-versions. */
static bool rust_version(cargo_version *v, const char *s)
{
    char buf[64];
    int dots = 0;
    for (const char *p = s; *p; p++)
        dots += *p == '.';
    snprintf(buf, sizeof buf, "%s%s", s, dots == 0 ? ".0.0" : dots == 1 ? ".0" : "");
    return cargo_version_parse(v, buf);
}

/* What cargo install says when the newest match needs a newer rustc: it does not fall
 * back by itself; it names the newest match the toolchain can build. */
static int too_new(const cargo_root *rt, const char *spec, json_t *w, json_t *ok,
                   const char *rustc, ec_err *err)
{
    const char *rv = json_string_value(json_object_get(w, "rust_version"));
    const char *okv = json_string_value(json_object_get(ok, "vers"));
    const char *okrv = json_string_value(json_object_get(ok, "rust_version"));
    EC_AUTOFREE char *hint = !ok ? ec_xstrdup("no version that matches supports it")
                             : okrv ? ec_xasprintf("%s %s supports rustc %s", rt->name, okv, okrv)
                                    : ec_xasprintf("%s %s has an unspecified minimum rustc "
                                                   "version", rt->name, okv);
    return ec_fail(err, EC_EINVAL, "cargo: \"%s\": cannot install %s %s: it requires rustc %s "
                   "or newer, and the toolchain beneath has rustc %s (%s), as cargo install "
                   "says: pin a version it supports, or give the environment a newer toolchain",
                   spec, rt->name, rt->vers, rv, rustc, hint);
}

int cargo_pick(cargo_root *rt, const char *text, const cargo_req *req, const char *rustc,
               const char *spec, ec_err *err)
{
    cargo_version best = {0}, best_ok = {0}, tool;
    bool have_tool = rust_version(&tool, rustc);
    json_t *jb = NULL, *jok = NULL;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        json_t *j = json_loadb(line, n, 0, NULL);
        line += n + (line[n] == '\n');
        cargo_version v, rv;
        const char *vs = json_string_value(json_object_get(j, "vers"));
        const char *rvs = json_string_value(json_object_get(j, "rust_version"));
        if (!vs || !cargo_version_parse(&v, vs) || json_is_true(json_object_get(j, "yanked")) ||
            json_integer_value(json_object_get(j, "v")) > 2 || !cargo_req_matches(req, &v)) {
            json_decref(j);
            continue;
        }
        bool fits = !rvs || !have_tool || !rust_version(&rv, rvs) ||
                    cargo_version_cmp(&rv, &tool) <= 0;
        if (!jb || cargo_version_cmp(&v, &best) > 0) {
            json_decref(jb);
            jb = json_incref(j);
            best = v;
        }
        if (fits && (!jok || cargo_version_cmp(&v, &best_ok) > 0)) {
            json_decref(jok);
            jok = json_incref(j);
            best_ok = v;
        }
        json_decref(j);
    }
    int r = EC_OK;
    if (!jb)
        r = ec_fail(err, EC_ENOTFOUND, "cargo: \"%s\": crate %s has no version that matches "
                    "and is not yanked", spec, rt->name);
    else {
        snprintf(rt->vers, sizeof rt->vers, "%s", json_string_value(json_object_get(jb, "vers")));
        const char *ck = json_string_value(json_object_get(jb, "cksum"));
        snprintf(rt->cksum, sizeof rt->cksum, "%s", ck ? ck : "");
        if (!jok || cargo_version_cmp(&best_ok, &best) != 0) /* the newest does not fit */
            r = too_new(rt, spec, jb, jok, rustc, err);
    }
    json_decref(jb);
    json_decref(jok);
    return r;
}
