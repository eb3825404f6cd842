/* SPDX-License-Identifier: MIT */
/* Packuments parsed on worker threads while the network thread keeps downloading.
 *
 * Parsing is most of a resolve's CPU (tens of MB of JSON for a few hundred packages) and
 * would otherwise stall every transfer in flight while one document is parsed. Workers
 * only parse; everything that touches the resolver's state happens on the caller's
 * thread when it takes the results. */
#include "fetchers/npm/npm_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/mem.h"

typedef struct parse_job {
    struct parse_job *next;
    char *name;
    char *body;
    size_t len;
    ec_npm_packument *doc;
    int rc;
    ec_err err;
} parse_job;

struct ec_npm_parse_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    parse_job *todo, **todo_tail;
    parse_job *ready, **ready_tail;
    size_t pending; /* put but not yet taken */
    bool stop;
    pthread_t *threads;
    unsigned nthreads;
};

static void push(parse_job ***tail, parse_job *j)
{
    j->next = NULL;
    **tail = j;
    *tail = &j->next;
}

static parse_job *pop(parse_job **head, parse_job ***tail)
{
    parse_job *j = *head;
    if (j && !(*head = j->next))
        *tail = head;
    return j;
}

static void *worker(void *arg)
{
    ec_npm_parse_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        parse_job *j;
        while (!(j = pop(&p->todo, &p->todo_tail)) && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (!j)
            break;
        pthread_mutex_unlock(&p->mu);
        j->rc = ec_npm_packument_parse(&j->doc, j->name, j->body, j->len, &j->err);
        free(j->body);
        j->body = NULL;
        pthread_mutex_lock(&p->mu);
        push(&p->ready_tail, j);
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ec_npm_parse_pool *ec_npm_parse_pool_new(void)
{
    ec_npm_parse_pool *p = ec_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->todo_tail = &p->todo;
    p->ready_tail = &p->ready;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->nthreads = cpus < 1 ? 1 : cpus > 8 ? 8 : (unsigned)cpus;
    p->threads = ec_xcalloc(p->nthreads, sizeof *p->threads);
    json_object_seed(0); /* jansson seeds its hash once; not from several threads at once */
    for (unsigned i = 0; i < p->nthreads; i++)
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->nthreads = i; /* fewer workers; with none, take() parses inline */
            break;
        }
    return p;
}

void ec_npm_parse_pool_put(ec_npm_parse_pool *p, const char *name, const char *body,
                           size_t len)
{
    parse_job *j = ec_xcalloc(1, sizeof *j);
    j->name = ec_xstrdup(name);
    j->body = ec_xmalloc(len + 1);
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->len = len;
    pthread_mutex_lock(&p->mu);
    push(&p->todo_tail, j);
    p->pending++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

bool ec_npm_parse_pool_take(ec_npm_parse_pool *p, bool wait, ec_npm_parse_result *out)
{
    pthread_mutex_lock(&p->mu);
    parse_job *j = pop(&p->ready, &p->ready_tail);
    if (!j && !p->nthreads && (j = pop(&p->todo, &p->todo_tail))) {
        pthread_mutex_unlock(&p->mu); /* no workers: parse here */
        j->rc = ec_npm_packument_parse(&j->doc, j->name, j->body, j->len, &j->err);
        free(j->body);
        pthread_mutex_lock(&p->mu);
    }
    while (!j && wait && p->pending)
        if (!(j = pop(&p->ready, &p->ready_tail)))
            pthread_cond_wait(&p->done, &p->mu);
    if (j)
        p->pending--;
    pthread_mutex_unlock(&p->mu);
    if (!j)
        return false;
    *out = (ec_npm_parse_result){.name = j->name, .doc = j->doc, .rc = j->rc, .err = j->err};
    free(j);
    return true;
}

void ec_npm_parse_pool_free(ec_npm_parse_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    ec_npm_parse_result r;
    while (p->pending && ec_npm_parse_pool_take(p, false, &r)) {
        free(r.name);
        ec_npm_packument_free(r.doc);
    }
    for (parse_job *j = p->todo, *n; j; j = n) { /* never started */
        n = j->next;
        free(j->name);
        free(j->body);
        free(j);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}
