/* SPDX-License-Identifier: MIT */
/* The pip mirror's project page (pip_page_render): upstream's PEP 691 JSON page, as the
 * input, rendered as the mirror answers it; the first byte picks JSON or HTML (its low
 * bit) and the project name. Whatever the page holds, the answer parses back: in JSON,
 * one entry per upstream file with its filename, each URL pointing at this mirror's file
 * route, hashes kept, no "dist-info-metadata" left; in HTML, one link per file with a
 * filename, its href the mirror's URL (and "#sha256=" hash when the page gives one), its
 * text the filename, every attribute value unescaping to what the page said. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <stdio.h>

#include "fetchers/pip/pip_int.h"
#include "store/util/mem.h"

#define BASE "http://127.0.0.1:8080/mirror/pip"

/* The text of @s up to the first @stop (an escaped HTML attribute or text), unescaped;
 * *@end after it. NULL when @stop never comes or an entity is not one the mirror writes. */
static char *unescape_until(const char *s, char stop, const char **end)
{
    ec_buf b = EC_BUF_INIT;
    static const struct { const char *ent; char c; } ents[] = {
        {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}};
    for (; *s && *s != stop; s++) {
        char c = *s;
        if (c == '&') {
            size_t i = 0;
            while (i < 4 && strncmp(s, ents[i].ent, strlen(ents[i].ent)) != 0)
                i++;
            if (i == 4) {
                ec_buf_fini(&b);
                return NULL;
            }
            c = ents[i].c;
            s += strlen(ents[i].ent) - 1;
        } else if (c == '<' || c == '>' || c == '"') {
            ec_buf_fini(&b); /* must have been escaped */
            return NULL;
        }
        if (ec_buf_add(&b, &c, 1, NULL) != EC_OK)
            abort();
    }
    if (*s != stop) {
        ec_buf_fini(&b);
        return NULL;
    }
    *end = s + 1;
    char *out = ec_xstrdup(ec_buf_str(&b));
    ec_buf_fini(&b);
    return out;
}

static char *file_url(const char *name, const char *fn)
{
    return ec_xasprintf(BASE "/files/%s/%s", name, fn);
}

static void check_json(const ec_buf *out, const json_t *orig, const char *name)
{
    json_t *page = json_loadb(out->p, out->n, 0, NULL);
    FUZZ_ASSERT(page);
    if (!json_is_array(json_object_get(orig, "files"))) { /* nothing to rewrite */
        FUZZ_ASSERT(json_equal(page, orig));
        json_decref(page);
        return;
    }
    json_t *files = json_object_get(page, "files"), *ofiles = json_object_get(orig, "files");
    FUZZ_ASSERT(json_array_size(files) == json_array_size(ofiles));
    FUZZ_ASSERT(json_is_array(files) == json_is_array(ofiles));
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i), *o = json_array_get(ofiles, i);
        const char *fn = json_string_value(json_object_get(o, "filename"));
        if (!fn) { /* not a file entry: passed on as it was */
            FUZZ_ASSERT(json_equal(f, o));
            continue;
        }
        FUZZ_ASSERT(json_equal(json_object_get(f, "filename"), json_object_get(o, "filename")));
        char *want = file_url(name, fn);
        const char *url = json_string_value(json_object_get(f, "url"));
        FUZZ_ASSERT(url && strcmp(url, want) == 0);
        free(want);
        FUZZ_ASSERT(!json_object_get(f, "dist-info-metadata"));
        json_t *oh = json_object_get(o, "hashes");
        FUZZ_ASSERT(oh ? json_equal(oh, json_object_get(f, "hashes"))
                       : !json_object_get(f, "hashes"));
        /* metadata a client can ask for stays announced (the older key's value moved) */
        json_t *om = json_object_get(o, "core-metadata");
        if (!om)
            om = json_object_get(o, "dist-info-metadata");
        size_t fl = strlen(fn);
        if ((om && json_is_object(om)) || (fl >= 4 && strcmp(fn + fl - 4, ".whl") == 0))
            FUZZ_ASSERT(json_object_get(f, "core-metadata")); /* wheels: advertised */
    }
    json_decref(page);
}

/* One rendered link: `    <a href="…"[ data-…="…"]*>TEXT</a><br/>\n`. */
static const char *check_link(const char *s, const json_t *f, const char *name)
{
    const char *fn = json_string_value(json_object_get(f, "filename"));
    const char *sha = json_string_value(json_object_get(json_object_get(f, "hashes"), "sha256"));
    const char *rp = json_string_value(json_object_get(f, "requires-python"));
    FUZZ_ASSERT(strncmp(s, "    <a", 6) == 0);
    s += 6;
    bool saw_href = false, saw_rp = false;
    while (*s == ' ') {
        const char *eq = strchr(s, '=');
        FUZZ_ASSERT(eq && eq[1] == '"');
        char *attr = ec_xstrndup(s + 1, (size_t)(eq - s - 1));
        char *val = unescape_until(eq + 2, '"', &s);
        FUZZ_ASSERT(val);
        if (strcmp(attr, "href") == 0) {
            char *url = file_url(name, fn);
            char *want = sha ? ec_xasprintf("%s#sha256=%s", url, sha) : ec_xstrdup(url);
            FUZZ_ASSERT(strcmp(val, want) == 0);
            free(url);
            free(want);
            saw_href = true;
        } else if (strcmp(attr, "data-requires-python") == 0) {
            FUZZ_ASSERT(rp && strcmp(val, rp) == 0);
            saw_rp = true;
        } else
            FUZZ_ASSERT(strcmp(attr, "data-yanked") == 0 ||
                        strcmp(attr, "data-core-metadata") == 0 ||
                        strcmp(attr, "data-dist-info-metadata") == 0);
        free(attr);
        free(val);
    }
    FUZZ_ASSERT(saw_href && saw_rp == (rp != NULL));
    FUZZ_ASSERT(*s == '>');
    char *text = unescape_until(s + 1, '<', &s);
    FUZZ_ASSERT(text && strcmp(text, fn) == 0);
    free(text);
    FUZZ_ASSERT(strncmp(s - 1, "</a><br/>\n", 10) == 0);
    return s + 9;
}

static void check_html(const ec_buf *out, const json_t *page, const char *name)
{
    const char *s = ec_buf_str(out);
    const char *body = strstr(s, "<body>\n    <h1>Links for ");
    FUZZ_ASSERT(strncmp(s, "<!DOCTYPE html>\n", 16) == 0 && body);
    s = strchr(body + 7, '\n') + 1;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        if (json_string_value(json_object_get(f, "filename")))
            s = check_link(s, f, name);
    }
    FUZZ_ASSERT(strcmp(s, "  </body>\n</html>\n") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *page = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!page)
        return 0;
    static const char *const names[] = {"pkg", "a", "zope-interface", "x1-2"};
    const char *name = names[(data[0] >> 1) % 4];
    bool json = data[0] & 1;
    json_t *orig = json_deep_copy(page);
    ec_mirror_req req = {.method = "GET", .path = "", .base_url = BASE};
    ec_buf out = EC_BUF_INIT;
    int r = pip_page_render(&out, &req, name, page, json);
    FUZZ_ASSERT(r == EC_OK);
    if (json)
        check_json(&out, orig, name);
    else
        check_html(&out, orig, name);
    ec_buf_fini(&out);
    json_decref(orig);
    json_decref(page);
    return 0;
}
