/* SPDX-License-Identifier: MIT */
/* Where the host's cargo is configured to fetch crates from: source replacement of
 * crates-io, or a default registry, in its config files ($CARGO_HOME first, as cargo
 * reads its home's config last but lets it win over nothing else we can see here). Only
 * sparse registries are usable: a git index names no HTTP upstream. */
#include "fetchers/cargo/cargo_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* The string value of KEY in [TABLE] of a config.toml text (dotted or quoted table names
 * as cargo writes them: [source.crates-io], [registries."my-reg"]), or NULL. */
char *cargo_toml_get(const char *text, const char *table, const char *key)
{
    bool in = false;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        const char *p = line, *end = line + n;
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p == '[') {
            char name[256] = "";
            size_t k = 0;
            for (p++; p < end && *p != ']' && k + 1 < sizeof name; p++)
                if (*p != '"' && *p != '\'' && *p != ' ')
                    name[k++] = *p;
            name[k] = '\0';
            in = strcmp(name, table) == 0;
        } else if (in && (size_t)(end - p) > strlen(key) && strncmp(p, key, strlen(key)) == 0) {
            p += strlen(key);
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p == '=') {
                for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
                    ;
                if (p < end && (*p == '"' || *p == '\'')) {
                    char q = *p++;
                    const char *e = memchr(p, q, (size_t)(end - p));
                    if (e)
                        return ec_xasprintf("%.*s", (int)(e - p), p);
                }
            }
        }
        line += n + (line[n] == '\n');
    }
    return NULL;
}

/* A sparse index URL as the upstream (no "sparse+"), or NULL for anything else. */
static char *sparse_url(char *v)
{
    char *r = v && strncmp(v, "sparse+", 7) == 0 ? ec_xstrdup(v + 7) : NULL;
    free(v);
    return r;
}

static char *config_index(const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len;
    if (!path || ec_read_file(&text, &len, path, 1 << 20, NULL) < 0)
        return NULL;
    EC_AUTOFREE char *with = cargo_toml_get(text, "source.crates-io", "replace-with");
    if (!with)
        with = cargo_toml_get(text, "registry", "default");
    if (!with)
        return sparse_url(cargo_toml_get(text, "registries.crates-io", "index"));
    EC_AUTOFREE char *src = ec_xasprintf("source.%s", with);
    EC_AUTOFREE char *reg = ec_xasprintf("registries.%s", with);
    char *url = sparse_url(cargo_toml_get(text, src, "registry"));
    return url ? url : sparse_url(cargo_toml_get(text, reg, "index"));
}

char *cargo_index_configured(void)
{
    const char *home = getenv("HOME");
    const char *ch = getenv("CARGO_HOME");
    EC_AUTOFREE char *cargo_home = ch && *ch ? ec_xstrdup(ch)
                                  : home ? ec_xasprintf("%s/.cargo", home) : NULL;
    if (!cargo_home)
        return NULL;
    const char *names[] = {"config.toml", "config"};
    for (size_t i = 0; i < EC_ARRAY_LEN(names); i++) {
        EC_AUTOFREE char *path = ec_xasprintf("%s/%s", cargo_home, names[i]);
        char *url = config_index(path);
        if (url)
            return url;
    }
    return NULL;
}
