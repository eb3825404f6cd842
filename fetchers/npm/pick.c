/* SPDX-License-Identifier: MIT */
/* npm-pick-manifest: which version of a packument a tag, version or range selects. */
#include "fetchers/npm/packument.h"

#include <string.h>

/* npa's reading of a registry spec: a version when semver.valid(spec, loose)
 * (we accept a leading "=" or "v" as loose mode does), else a range when it
 * parses as one, else a dist-tag. */
typedef enum spec_kind { SPEC_VERSION, SPEC_RANGE, SPEC_TAG } spec_kind;

static spec_kind spec_classify(const char *spec, ec_semver *v, ec_semver_range **r)
{
    const char *p = spec;
    while (*p == ' ' || *p == '=' || *p == 'v')
        p++;
    if (ec_semver_parse(v, p, NULL) == EC_OK)
        return SPEC_VERSION;
    if (ec_semver_range_parse(r, spec, NULL) == EC_OK)
        return SPEC_RANGE;
    return SPEC_TAG;
}

static bool tag_name_ok(const char *tag)
{
    /* npa refuses tags that encodeURIComponent would change */
    for (const char *p = tag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_.!~*'()", *p)))
            return false;
    return *tag != '\0';
}

/* The sort key of npm-pick-manifest, best first: (not deprecated and engine
 * ok), engine ok, not deprecated, then the version. prefer_platform (our
 * addition, off by default) slots in after the engine. */
static unsigned pick_rank(const ec_npm_manifest *m, const ec_npm_pick_opts *o)
{
    bool eng = ec_npm_engine_ok(m, &o->plat), live = !m->deprecated;
    bool plat = !o->prefer_platform || ec_npm_platform_ok(m, &o->plat);
    return (unsigned)(live && eng) << 3 | (unsigned)eng << 2 | (unsigned)plat << 1 | live;
}

static int pick_range(const ec_npm_manifest **out, const ec_npm_packument *p,
                      const ec_semver_range *r, const char *wanted, const ec_npm_pick_opts *o,
                      ec_err *err)
{
    const char *latest = ec_npm_packument_tag(p, "latest");
    const ec_npm_manifest *lm = latest ? ec_npm_packument_lookup(p, latest) : NULL;
    /* range "*" admits a pre-release latest too: pick-manifest skips satisfies() */
    bool star = !strcmp(wanted, "*");
    if (lm && (star || ec_semver_range_test(r, &lm->semver)) && !lm->deprecated &&
        ec_npm_engine_ok(lm, &o->plat) && (!o->prefer_platform || ec_npm_platform_ok(lm, &o->plat))) {
        *out = lm; /* "latest wins" */
        return EC_OK;
    }
    const ec_npm_manifest *best = NULL;
    unsigned best_rank = 0;
    for (size_t i = p->nversions; i-- > 0;) { /* highest version first */
        const ec_npm_manifest *m = &p->versions[i];
        if (!ec_semver_range_test(r, &m->semver))
            continue;
        unsigned rank = pick_rank(m, o);
        if (!best || rank > best_rank) {
            best = m;
            best_rank = rank;
        }
    }
    if (!best)
        return ec_fail(err, EC_ENOTFOUND, "no version of %s matches \"%s\" (latest is %s)", p->name,
                       wanted, latest ? latest : "not set");
    *out = best;
    return EC_OK;
}

int ec_npm_pick(const ec_npm_manifest **out, const ec_npm_packument *p, const char *wanted,
                const ec_npm_pick_opts *opts, ec_err *err)
{
    ec_semver v;
    EC_AUTO(ec_semver_range) r = NULL;
    const char *spec = wanted && *wanted ? wanted : "*";

    switch (spec_classify(spec, &v, &r)) {
    case SPEC_VERSION: {
        char text[EC_SEMVER_MAX + 64];
        ec_semver_format(&v, text, sizeof(text));
        const ec_npm_manifest *m = ec_npm_packument_lookup(p, text);
        if (!m)
            return ec_fail(err, EC_ENOTFOUND, "no version of %s matches \"%s\" (latest is %s)",
                           p->name, spec, ec_npm_packument_tag(p, "latest") ?: "not set");
        *out = m;
        return EC_OK;
    }
    case SPEC_RANGE:
        return pick_range(out, p, r, spec, opts, err);
    case SPEC_TAG:
        break;
    }
    if (!tag_name_ok(spec))
        return ec_fail(err, EC_EINVAL, "\"%s\" is not a valid version, range or tag for %s", spec,
                       p->name);
    const char *tv = ec_npm_packument_tag(p, spec);
    const ec_npm_manifest *m = tv ? ec_npm_packument_lookup(p, tv) : NULL;
    if (m) {
        *out = m;
        return EC_OK;
    }
    if (tv)
        return ec_fail(err, EC_ENOTFOUND, "%s: dist-tag \"%s\" names version %s, which is missing",
                       p->name, spec, tv);
    return ec_fail(err, EC_ENOTFOUND, "%s has no dist-tag \"%s\"", p->name, spec);
}
