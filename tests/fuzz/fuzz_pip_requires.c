/* SPDX-License-Identifier: MIT */
/* METADATA files (a wheel's, or upstream's PEP 658 copy: outside input) read line by line
 * for their "Requires-Dist:" lines, as the pip mirror reads them to fetch ahead
 * (pip_requires_dist). Each line is a requirement exactly when it starts with the field's
 * name; the name comes out normalized (normalizing it again changes nothing), the
 * specifier trimmed and without the marker's ';'; and the requirement written back in its
 * plain form ("Requires-Dist: NAME (SPEC) ; M") reads back the same. */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "fetchers/pip/pip_int.h"
#include "store/util/mem.h"

static void check_line(const char *l)
{
    char *name = NULL, *spec = NULL;
    bool marker = false;
    bool is = pip_requires_dist(l, &name, &spec, &marker);
    FUZZ_ASSERT(is == (strncmp(l, "Requires-Dist:", 14) == 0));
    if (!is)
        return;
    FUZZ_ASSERT(name);
    char *again = pip_name_normalize(name);
    FUZZ_ASSERT(strcmp(again, name) == 0);
    free(again);
    for (const char *p = name; *p; p++)
        FUZZ_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
    /* a ';' inside an extras' brackets is no marker; any other is */
    FUZZ_ASSERT(marker ? strchr(l, ';') != NULL : strchr(l, '[') || !strchr(l, ';'));
    if (spec) {
        size_t n = strlen(spec);
        FUZZ_ASSERT(n > 0 && !strchr(spec, ';') && !strchr(" \t(", spec[0]) &&
                    !strchr(" \t)\r", spec[n - 1]));
    }
    char *plain = ec_xasprintf("Requires-Dist: %s%s%s%s%s", name, spec ? " (" : "",
                               spec ? spec : "", spec ? ")" : "", marker ? " ; extra" : "");
    char *name2 = NULL, *spec2 = NULL;
    bool marker2 = false;
    FUZZ_ASSERT(pip_requires_dist(plain, &name2, &spec2, &marker2));
    FUZZ_ASSERT(strcmp(name, name2) == 0 && marker == marker2);
    FUZZ_ASSERT(spec ? spec2 && strcmp(spec, spec2) == 0 : !spec2);
    free(plain);
    free(name2);
    free(spec2);
    free(name);
    free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        check_line(l);
    free(text);
    return 0;
}
