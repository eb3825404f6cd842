/* SPDX-License-Identifier: MIT */
/* Which pip resolves: the newest final pip wheel on the index page (outside input) whose
 * Requires-Python admits the base's Python; apart from the network code so a fuzz target
 * reaches it. */
#include "fetchers/pip/pip_pick.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/auto.h"
#include "store/util/mem.h"

/* "X.Y[.Z…]" with digits only (final releases); the parts in @v. */
static int version_parts(const char *s, long v[4])
{
    int n = 0;
    memset(v, 0, 4 * sizeof *v);
    while (n < 4 && isdigit((unsigned char)*s)) {
        v[n++] = strtol(s, (char **)&s, 10);
        if (*s != '.')
            break;
        s++;
    }
    return *s ? -1 : n;
}

static int version_cmp(const long a[4], const long b[4])
{
    for (int i = 0; i < 4; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* pip's own Requires-Python has only ever been ">=X.Y" plus "!=" exclusions of old
 * versions: anything else is not a pip to pick. */
static bool requires_python_ok(const char *rp, const long py[4])
{
    if (!rp)
        return true;
    for (const char *p = rp; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        if (strncmp(p, ">=", 2) == 0) {
            EC_AUTOFREE char *v = ec_xstrndup(p + 2, n - 2);
            long want[4];
            char *end = v + strlen(v);
            while (end > v && end[-1] == ' ')
                *--end = '\0';
            if (version_parts(v, want) < 1 || version_cmp(py, want) < 0)
                return false;
        } else if (n && strncmp(p, "!=", 2) != 0)
            return false;
        p += n;
    }
    return true;
}

char *pip_pick(const json_t *page, const char *python)
{
    long py[4], best[4] = {0}, v[4];
    char *pick = NULL;
    if (version_parts(python, py) < 2)
        return NULL;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(page, "files"), i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));
        json_t *y = json_object_get(f, "yanked");
        if (!fn || strncmp(fn, "pip-", 4) != 0 || (y && !json_is_false(y)))
            continue;
        const char *tag = strstr(fn, "-py3-none-any.whl");
        if (!tag || tag < fn + 4 || strcmp(tag, "-py3-none-any.whl") != 0)
            continue;
        EC_AUTOFREE char *ver = ec_xstrndup(fn + 4, (size_t)(tag - fn - 4));
        if (version_parts(ver, v) < 2 || (pick && version_cmp(v, best) <= 0) ||
            !requires_python_ok(json_string_value(json_object_get(f, "requires-python")), py))
            continue;
        free(pick);
        pick = ec_xstrdup(fn);
        memcpy(best, v, sizeof best);
    }
    return pick;
}
