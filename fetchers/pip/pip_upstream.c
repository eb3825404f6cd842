/* SPDX-License-Identifier: MIT */
/* Where the host's pip is configured to fetch from: index-url in its configuration files,
 * read in pip's order (global, user, site, then $PIP_CONFIG_FILE; a later file wins, and
 * within one file the [install] section wins over [global]). PIP_CONFIG_FILE=/dev/null
 * turns the files off, as it does for pip. */
#include "fetchers/pip/pip_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

/* "index-url = URL" (or index_url, ':' for '=') in [install] else [global] of one file. */
static char *conf_index(const char *path)
{
    EC_AUTOFREE char *text = NULL;
    size_t len;
    if (!path || ec_read_file(&text, &len, path, 1 << 20, NULL) < 0)
        return NULL;
    char *found[2] = {NULL, NULL}; /* [global], [install] */
    int section = -1;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*l))
            l++;
        if (*l == '[') {
            section = strncmp(l, "[global]", 8) == 0 ? 0 : strncmp(l, "[install]", 9) == 0 ? 1
                                                                                         : -1;
            continue;
        }
        if (section < 0 || (strncmp(l, "index-url", 9) != 0 && strncmp(l, "index_url", 9) != 0))
            continue;
        char *p = l + 9;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=' && *p != ':')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, " \t\r");
        if (!n)
            continue;
        free(found[section]);
        found[section] = ec_xstrndup(p, n);
    }
    if (found[1]) {
        free(found[0]);
        return found[1];
    }
    return found[0];
}

char *pip_index_configured(void)
{
    const char *env_file = getenv("PIP_CONFIG_FILE");
    if (env_file && strcmp(env_file, "/dev/null") == 0)
        return NULL;
    const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME"),
               *venv = getenv("VIRTUAL_ENV");
    EC_AUTOFREE char *legacy = home ? ec_xasprintf("%s/.pip/pip.conf", home) : NULL;
    EC_AUTOFREE char *user = xdg && *xdg ? ec_xasprintf("%s/pip/pip.conf", xdg)
                             : home      ? ec_xasprintf("%s/.config/pip/pip.conf", home)
                                         : NULL;
    EC_AUTOFREE char *site = venv ? ec_xasprintf("%s/pip.conf", venv) : NULL;
    const char *files[] = {"/etc/xdg/pip/pip.conf", "/etc/pip.conf", legacy, user, site,
                           env_file};
    char *url = NULL;
    for (size_t i = 0; i < EC_ARRAY_LEN(files); i++) {
        char *u = conf_index(files[i]);
        if (u) {
            free(url);
            url = u;
        }
    }
    return url;
}
