/* SPDX-License-Identifier: MIT */
/* Reads the host's apt sources: the archive URL a bootstrap uses when none is given. */
#include "cache/env/base.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/fs.h"
#include "store/util/mem.h"

/* True when the whitespace-separated @list holds @word. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n) {
        bool start = p == list || p[-1] == ' ' || p[-1] == '\t';
        bool end = !p[n] || p[n] == ' ' || p[n] == '\t' || p[n] == '\n';
        if (start && end)
            return true;
    }
    return false;
}

static char *first_word(const char *s)
{
    s += strspn(s, " \t");
    return ec_xstrndup(s, strcspn(s, " \t\n"));
}

/* One-line format: "deb [opts] URL SUITE COMPONENT…". */
static char *from_list(char *text, const char *suite)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        if (strncmp(line, "deb ", 4) != 0)
            continue;
        char *rest = line + 4;
        rest += strspn(rest, " \t");
        if (*rest == '[')
            rest = strchr(rest, ']') ? strchr(rest, ']') + 1 : rest + strlen(rest);
        EC_AUTOFREE char *url = first_word(rest);
        rest += strspn(rest, " \t");
        rest += strcspn(rest, " \t");
        EC_AUTOFREE char *s = first_word(rest);
        if (*url && strcmp(s, suite) == 0)
            return ec_steal(&url);
    }
    return NULL;
}

/* deb822 format: stanzas of "Types:", "URIs:", "Suites:", separated by blank lines. */
static char *from_deb822(const char *text, const char *suite)
{
    char types[256] = "", uris[1024] = "", suites[512] = "";
    for (const char *line = text;;) {
        size_t n = strcspn(line, "\n");
        if (strncmp(line, "Types:", 6) == 0)
            snprintf(types, sizeof types, "%.*s", (int)(n - 6), line + 6);
        else if (strncmp(line, "URIs:", 5) == 0)
            snprintf(uris, sizeof uris, "%.*s", (int)(n - 5), line + 5);
        else if (strncmp(line, "Suites:", 7) == 0)
            snprintf(suites, sizeof suites, "%.*s", (int)(n - 7), line + 7);
        bool last = line[n] == '\0';
        if (n == 0 || last) { /* a blank line or the end closes the stanza */
            if (has_word(types, "deb") && has_word(suites, suite) && uris[0])
                return first_word(uris);
            types[0] = uris[0] = suites[0] = '\0';
            if (last)
                return NULL;
        }
        line += n + 1;
    }
}

static int sort_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static char *from_dir(const char *dir, const char *suite)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, sort_names);
    char *url = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        size_t len = strlen(name);
        bool deb822 = len > 8 && strcmp(name + len - 8, ".sources") == 0;
        bool list = len > 5 && strcmp(name + len - 5, ".list") == 0;
        EC_AUTOFREE char *path = ec_xasprintf("%s/%s", dir, name);
        EC_AUTOFREE char *text = NULL;
        if (!url && (deb822 || list) && ec_read_file(&text, NULL, path, 1 << 20, NULL) == 0)
            url = deb822 ? from_deb822(text, suite) : from_list(text, suite);
        free(ents[i]);
    }
    free(ents);
    return url;
}

int ec_apt_sources_mirror(char **url_out, const char *apt_dir, const char *suite, ec_err *err)
{
    const char *dir = apt_dir ? apt_dir : "/etc/apt";
    EC_AUTOFREE char *list = ec_xasprintf("%s/sources.list", dir);
    EC_AUTOFREE char *text = NULL;
    char *url = NULL;
    if (ec_read_file(&text, NULL, list, 1 << 20, NULL) == EC_OK)
        url = from_list(text, suite);
    if (!url) {
        EC_AUTOFREE char *d = ec_xasprintf("%s/sources.list.d", dir);
        url = from_dir(d, suite);
    }
    if (!url)
        return ec_fail(err, EC_ENOTFOUND, "no apt source in %s serves the suite %s; pass "
                       "--mirror URL", dir, suite);
    size_t n = strlen(url);
    while (n > 1 && url[n - 1] == '/')
        url[--n] = '\0';
    *url_out = url;
    return EC_OK;
}
