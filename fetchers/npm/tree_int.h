/* SPDX-License-Identifier: MIT */
/* The arborist model shared by tree.c (the breadth-first build), tree_place.c
 * (canPlace and placement) and tree_lock.c (output). Internal to fetchers/npm. */
#pragma once

#include "fetchers/npm/tree.h"

typedef enum tedge_type { TE_PROD, TE_OPTIONAL, TE_PEER, TE_PEEROPT } tedge_type;

typedef struct tedge {
    const char *name, *spec;
    tedge_type type;
} tedge;

typedef struct tnode {
    const char *name, *pkg;    /* folder name; registry name */
    const ec_npm_manifest *m;  /* NULL for the root */
    struct tnode *parent;
    struct tnode **kids;
    size_t nkids, capkids;
    tedge *edges;
    size_t nedges;
    bool is_root, top, gone, seen, inert, optional, peer;
} tnode;

/* A dependency to place and its peer set (arborist's virtual root): peers[i]
 * are resolved for the peer edges of the dep and of each other. */
typedef struct tdep {
    const char *name, *pkg;
    const ec_npm_manifest *m;
} tdep;

typedef struct tpeers {
    tdep *v;
    size_t n;
} tpeers;

typedef struct tbuild {
    const ec_npm_registry *reg;
    const ec_npm_pick_opts *opts;
    tnode *root;
    tnode **all;
    size_t nall, capall;
    tnode **queue;
    size_t nq, capq;
    char **asked; /* names already handed to prefetch */
    size_t nasked, capasked;
    json_t *notes;
} tbuild;

/* tree.c */
tnode *npm_tree_node_new(tbuild *b, const char *name, const char *pkg, const ec_npm_manifest *m);
void npm_tree_attach(tnode *parent, tnode *kid);
void npm_tree_detach(tnode *kid);
tnode *npm_tree_child(const tnode *n, const char *name);
tnode *npm_tree_resolve(const tnode *from, const char *name);
const tedge *npm_tree_edge(const tnode *n, const char *name);
bool npm_tree_edge_valid(const tnode *from, const tedge *e);
bool npm_tree_spec_ok(const char *spec, const char *pkg, const ec_npm_manifest *m);
bool npm_tree_is_descendant(const tnode *n, const tnode *of);
void npm_tree_enqueue(tbuild *b, tnode *n);
int npm_tree_depth(const tnode *n);
char *npm_tree_path(const tnode *n);
int npm_tree_collate(const char *a, const char *b);
void npm_tree_edges_of(const tnode *n, const ec_npm_manifest *m, tedge **out, size_t *nout);

/* tree_place.c */
int npm_tree_place(tbuild *b, tnode *from, const tedge *e, const tdep *dep, const tpeers *peers,
                   ec_err *err);

/* tree_lock.c */
int npm_tree_output(ec_npm_tree **out, tbuild *b);
