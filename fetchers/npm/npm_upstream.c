/* SPDX-License-Identifier: MIT */
/* Where the host's npm is configured to fetch from: its npmrc files, in npm's order. */
#include "fetchers/npm/npm_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* "registry=URL" in an npmrc file (later lines win, as npm reads them). */
static char *npmrc_registry(const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len;
    if (!path || ec_read_file(&text, &len, path, 1 << 20, NULL) < 0)
        return NULL;
    char *found = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (strncmp(line, "registry", 8) != 0)
            continue;
        char *p = line + 8;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, " \t\r");
        free(found);
        found = ec_xasprintf("%.*s", (int)n, p);
    }
    return found;
}

char *ec_npm_registry_configured(void)
{
    EC_AUTOFREE char *user = getenv("HOME") ? ec_xasprintf("%s/.npmrc", getenv("HOME")) : NULL;
    const char *files[] = {getenv("npm_config_userconfig"), user, "/etc/npmrc",
                           "/usr/etc/npmrc"};
    for (size_t i = 0; i < EC_ARRAY_LEN(files); i++) {
        char *r = npmrc_registry(files[i]);
        if (r)
            return r;
    }
    return NULL;
}
