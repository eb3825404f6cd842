/* SPDX-License-Identifier: MIT */
/* Index files (one JSON object per line, from the sparse index: outside input) as the
 * install writes its local registry from them (cargo_index_select, what index_crate does
 * with the file). The input's first line says what the lock holds: the versions locked
 * (space-separated; a first byte of '!' for a root crate, "*" alone for a crate the lock
 * does not hold, whose lines are all kept); the rest is the index file. Kept lines come
 * in order, each a whole line of the file naming a locked version (a line the cargo
 * mirror's cargo_index_find finds for it too); every crate named into the wanted set is
 * a dependency of a kept line; keeping every line of a file and selecting again keeps
 * the same lines. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <stdio.h>

#include "fetchers/cargo/cargo_int.h"
#include "store/util/buf.h"

typedef struct kept {
    const char *text, *last; /* the file; the end of the last kept line */
    json_t *lines;           /* each kept line, as a string */
    json_t *deps;            /* every crate a kept line depends on ("package", else "name") */
    const json_t *locked;
} kept;

static int keep(void *arg, const char *line, size_t n, ec_err *err)
{
    kept *k = arg;
    (void)err;
    FUZZ_ASSERT(line >= k->last && memchr(line, '\n', n) == NULL);
    FUZZ_ASSERT(line[n] == '\n' || line[n] == '\0');
    FUZZ_ASSERT(line == k->text || line[-1] == '\n'); /* a whole line */
    k->last = line + n;
    json_t *j = json_loadb(line, n, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "vers"));
    FUZZ_ASSERT(v && (!k->locked || json_object_get(k->locked, v)));
    /* the mirror's reader finds a line of that version (asked for the first few only:
     * each search reads the file again) */
    if (json_array_size(k->lines) < 4) {
        json_t *found = cargo_index_find(k->text, v);
        FUZZ_ASSERT(found && json_equal(json_object_get(found, "vers"), json_object_get(j, "vers")));
        json_decref(found);
    }
    size_t i;
    json_t *dep;
    json_array_foreach(json_object_get(j, "deps"), i, dep) {
        const char *pk = json_string_value(json_object_get(dep, "package"));
        const char *dn = pk ? pk : json_string_value(json_object_get(dep, "name"));
        if (dn)
            json_object_set_new(k->deps, dn, json_true());
    }
    json_decref(j);
    json_array_append_new(k->lines, json_stringn(line, n));
    return EC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    char *nl = strchr(in, '\n');
    if (!nl) {
        free(in);
        return 0;
    }
    *nl = '\0';
    const char *text = nl + 1, *first = in;
    bool root = *first == '!';
    first += root;
    json_t *locked = NULL;
    if (strcmp(first, "*") != 0) {
        locked = json_object();
        char *save = NULL;
        for (char *v = strtok_r((char *)first, " ", &save); v; v = strtok_r(NULL, " ", &save))
            json_object_set_new(locked, v, json_true());
    }
    json_t *wanted = json_object();
    kept k = {.text = text, .last = text, .lines = json_array(), .deps = json_object(),
              .locked = locked};
    ec_err err = {0};
    FUZZ_ASSERT(cargo_index_select(text, locked, wanted, root, keep, &k, &err) == EC_OK);
    if (!locked)
        FUZZ_ASSERT(json_object_size(wanted) == 0);
    const char *name;
    json_t *v;
    json_object_foreach(wanted, name, v)
        FUZZ_ASSERT(json_object_get(k.deps, name));
    /* the kept lines as a file of their own: selected again, all of them, the same */
    ec_buf again = EC_BUF_INIT;
    size_t i;
    json_t *l;
    json_array_foreach(k.lines, i, l) {
        FUZZ_ASSERT(ec_buf_add(&again, json_string_value(l), json_string_length(l), NULL) ==
                    EC_OK);
        FUZZ_ASSERT(ec_buf_add(&again, "\n", 1, NULL) == EC_OK);
    }
    json_t *wanted2 = json_object();
    kept k2 = {.text = ec_buf_str(&again), .last = ec_buf_str(&again), .lines = json_array(),
               .deps = json_object(), .locked = locked};
    FUZZ_ASSERT(cargo_index_select(k2.text, locked, wanted2, root, keep, &k2, &err) == EC_OK);
    FUZZ_ASSERT(json_equal(k.lines, k2.lines) && json_equal(wanted, wanted2));
    ec_buf_fini(&again);
    json_decref(k2.lines);
    json_decref(k2.deps);
    json_decref(k.deps);
    json_decref(wanted2);
    json_decref(k.lines);
    json_decref(wanted);
    json_decref(locked);
    free(in);
    return 0;
}
