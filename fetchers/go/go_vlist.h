/* SPDX-License-Identifier: MIT */
/* Private to fetchers/go/: a module's version list (the proxy's @v/list answer) and the
 * queries that pick from it, apart from the network code so a fuzz target reaches them. */
#pragma once

#include <stddef.h>

#include "fetchers/go/go_int.h"

typedef struct go_vlist {
    char **v;
    size_t n;
} go_vlist;

/** @v/list text (modified in place: split at white space) → its canonical, non-pseudo
 *  versions, ascending; @text NULL gives an empty list. */
void go_vlist_parse(go_vlist *out, char *text);
void go_vlist_free(go_vlist *l);

typedef enum go_qkind {
    GO_Q_LATEST, GO_Q_EXACT, GO_Q_PREFIX, GO_Q_LT, GO_Q_LE, GO_Q_GT, GO_Q_GE, GO_Q_REV
} go_qkind;

/** What a query asks for; @arg: its version part (after "<", ">=", …, or all of it). */
go_qkind go_query_kind(const char *q, const char **arg);
/** Releases before pre-releases; the highest, or for > and >= the lowest ("nearest");
 *  versions @retr retracts skipped (when given). NULL: none. */
const char *go_vlist_pick(const go_vlist *l, go_qkind k, const char *arg,
                          const go_modfile *retr);
