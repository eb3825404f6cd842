/* SPDX-License-Identifier: MIT */
/* The libsolv side of ec_apt_pool (apt_pool.c), for the solver (apt_solve.c). */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include <solv/pool.h>
#include <solv/repo.h>

#include "fetchers/apt/apt_int.h"

struct ec_apt_pool {
    Pool *pool;
    /* the first index, parsed by a feed thread from the pipe apt_index.c writes into */
    Repo *first;
    bool first_ok;      /* fed to its end and verified as first_blob */
    ec_digest first_blob;
    int rfd, wfd;       /* the pipe; wfd -1 when no feed runs */
    pthread_t th;
    bool parse_failed;  /* set by the feed thread, read after the join */
    bool write_failed;  /* set by the feeding thread */
};

/** Loads libsolvext (apt_solvext.c) once; EC_EUNSUPPORTED naming the package when it
 *  cannot be. */
int ec_apt__solvext_load(ec_err *err);
/** repo_add_debpackages(@repo, @fp, 0) from libsolvext: 0, or non-zero on a parse error
 *  (pool_errstr says which) or when libsolvext could not be loaded. */
int ec_apt__add_debpackages(Repo *repo, FILE *fp);

/** Loads @idx into the pool in order, the first from its verified feed when it matches;
 *  each repo's appdata is its index. */
int ec_apt__pool_load_indexes(ec_apt_pool *p, const ec_apt_index *idx, size_t nidx,
                              ec_err *err);
