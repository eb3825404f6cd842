/* SPDX-License-Identifier: MIT */
/* Image references: "[http://|https://]host[:port]/name[:tag][@sha256:…]". No registry is
 * implied: a reference always names its host. */
#include "cache/oci/oci_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

void ec_oci_ref_fini(ec_oci_ref *r)
{
    if (!r)
        return;
    free(r->base);
    free(r->host);
    free(r->repo);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof *r);
}

/* The distribution spec's name grammar, simplified: lower-case alphanumerics separated by
 * '.', '_', '__', '-' or '/', no separator at either end or twice. */
static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 255)
        return false;
    char prev = '/';
    for (const char *p = s; *p; p++) {
        bool sep = *p == '.' || *p == '_' || *p == '-' || *p == '/';
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || sep))
            return false;
        if (sep && (prev == '/' || *p == '/') && !(isalnum((unsigned char)prev) || prev == '_'))
            return false;
        prev = *p;
    }
    return prev != '/' && prev != '.' && prev != '-';
}

static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int ec_oci_ref_parse(ec_oci_ref *out, const char *text, bool repo_only, ec_err *err)
{
    memset(out, 0, sizeof *out);
    const char *scheme = "https";
    const char *p = text;
    if (strncmp(p, "http://", 7) == 0)
        scheme = "http", p += 7;
    else if (strncmp(p, "https://", 8) == 0)
        p += 8;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p)
        return ec_fail(err, EC_EINVAL, "\"%s\" is not an image reference: give the registry's "
                       "host, as in HOST:PORT/NAME:TAG", text);
    out->host = ec_xstrndup(p, (size_t)(slash - p));
    /* As docker reads a reference: the first part is a host only with a '.' or a ':' (or
     * "localhost"); otherwise it would be a path of an implied registry, and none is. */
    if (!strpbrk(out->host, ".:") && strcmp(out->host, "localhost") != 0) {
        ec_fail(err, EC_EINVAL, "\"%s\" names no registry: give the registry's host, as in "
                "HOST:PORT/NAME:TAG", text);
        ec_oci_ref_fini(out);
        return EC_EINVAL;
    }
    out->base = ec_xasprintf("%s://%s", scheme, out->host);
    EC_AUTOFREE char *rest = ec_xstrdup(slash + 1);
    char *at = strchr(rest, '@');
    if (at) {
        *at = '\0';
        ec_digest d;
        if (ec_digest_parse(&d, at + 1, NULL) < 0 || strncmp(at + 1, "sha256:", 7) != 0) {
            ec_oci_ref_fini(out);
            return ec_fail(err, EC_EINVAL, "\"%s\": \"%s\" is not a sha256 digest", text, at + 1);
        }
        out->digest = ec_xstrdup(at + 1);
    }
    char *colon = strrchr(rest, ':');
    if (colon) {
        *colon = '\0';
        if (!tag_ok(colon + 1)) {
            ec_oci_ref_fini(out);
            return ec_fail(err, EC_EINVAL, "\"%s\": \"%s\" is not a tag (letters, digits, "
                           "'_', '.', '-'; at most 128)", text, colon + 1);
        }
        out->tag = ec_xstrdup(colon + 1);
    }
    if (!name_ok(rest)) {
        ec_oci_ref_fini(out);
        return ec_fail(err, EC_EINVAL, "\"%s\": \"%s\" is not a repository name (lower-case "
                       "letters and digits, separated by '.', '_', '-' or '/')", text, rest);
    }
    out->repo = ec_xstrdup(rest);
    if (!repo_only && !out->tag && !out->digest) {
        ec_oci_ref_fini(out);
        return ec_fail(err, EC_EINVAL, "\"%s\" names no tag or digest: add :TAG", text);
    }
    return EC_OK;
}
