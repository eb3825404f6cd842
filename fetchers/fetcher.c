/* SPDX-License-Identifier: MIT */
/* The helpers every fetcher shares: locks, install results and their notes, responses. */
#include "fetchers/fetcher.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/mem.h"

char *ec_lock_dump(const json_t *lock)
{
    return json_dumps(lock, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
}

void ec_lock_digest(const json_t *lock, ec_digest *out)
{
    char *s = ec_lock_dump(lock);
    ec_sha256_buf(out, s ? s : "", s ? strlen(s) : 0);
    free(s);
}

void ec_install_result_fini(ec_install_result *r)
{
    for (size_t i = 0; i < r->nsteps; i++) {
        ec_build_step *s = &r->steps[i];
        free(s->what);
        free(s->cwd);
        for (char **a = s->argv; a && *a; a++)
            free(*a);
        free(s->argv);
        for (char **e = s->env; e && *e; e++)
            free(*e);
        free(s->env);
    }
    for (char **k = r->keep; k && *k; k++)
        free(*k);
    free(r->keep);
    free(r->steps);
    for (size_t i = 0; i < r->nnotes; i++) {
        free(r->notes[i].package);
        free(r->notes[i].version);
        json_decref(r->notes[i].detail);
    }
    free(r->notes);
    memset(r, 0, sizeof *r);
}

/* --- notes --- */

static const struct {
    const char *name;
    bool warns;
} note_kinds[EC_NOTE__COUNT] = {
    [EC_NOTE_SCRIPTS_NOT_RUN] = {"scripts_not_run", true},
    [EC_NOTE_SCRIPTS] = {"maintainer_scripts", false},
    [EC_NOTE_SKIPPED_OPTIONAL] = {"skipped_optional", false},
    [EC_NOTE_UPGRADE] = {"upgrade", false},
    [EC_NOTE_UPGRADE_LEFTOVER] = {"upgrade_leftover", true},
    [EC_NOTE_TRIGGER] = {"trigger", false},
    [EC_NOTE_FILE_CONFLICT] = {"file_conflict", true},
};

const char *ec_note_kind_name(ec_note_kind k)
{
    return (unsigned)k < EC_NOTE__COUNT ? note_kinds[k].name : "note";
}

bool ec_note_kind_parse(ec_note_kind *out, const char *name)
{
    for (unsigned k = 0; name && k < EC_NOTE__COUNT; k++)
        if (strcmp(note_kinds[k].name, name) == 0) {
            *out = (ec_note_kind)k;
            return true;
        }
    return false;
}

bool ec_note_kind_warns(ec_note_kind k)
{
    return (unsigned)k < EC_NOTE__COUNT && note_kinds[k].warns;
}

void ec_install_note(ec_install_result *r, ec_note_kind kind, const char *package,
                     const char *version, json_t *detail)
{
    r->notes = ec_xrealloc(r->notes, (r->nnotes + 1) * sizeof *r->notes);
    r->notes[r->nnotes++] = (ec_note){.kind = kind,
                                      .package = package ? ec_xstrdup(package) : NULL,
                                      .version = version ? ec_xstrdup(version) : NULL,
                                      .detail = detail};
}

json_t *ec_install_notes_json(const ec_install_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->nnotes; i++) {
        const ec_note *n = &r->notes[i];
        json_t *o = n->detail ? json_deep_copy(n->detail) : json_object();
        json_object_set_new(o, "kind", json_string(ec_note_kind_name(n->kind)));
        if (n->package)
            json_object_set_new(o, "package", json_string(n->package));
        if (n->version)
            json_object_set_new(o, "version", json_string(n->version));
        json_array_append_new(a, o);
    }
    return a;
}

void ec_mirror_resp_init(ec_mirror_resp *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

void ec_mirror_resp_fini(ec_mirror_resp *r)
{
    ec_buf_fini(&r->body);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}
