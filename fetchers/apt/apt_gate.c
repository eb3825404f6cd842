/* SPDX-License-Identifier: MIT */
/* Downloads overlapping install: the gate an install waits at for an artifact, and the
 * streams through which it can read one while it still downloads. */
#include "fetchers/apt/apt_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/mem.h"

/* Consumed bytes are dropped from the front once this many have piled up. */
#define STREAM_COMPACT (4u << 20)

struct ec_apt_stream {
    ec_apt_gate *g; /* its mutex and condition guard every field below */
    ec_digest digest;
    int refs;            /* the gate's list, the producer, the reader */
    char *buf;           /* bytes [base, base + len) of the body */
    size_t len, cap;
    uint64_t base;
    uint64_t rd;         /* the reader's offset */
    uint64_t wr;         /* the producer's offset in the current attempt */
    bool claimed;        /* a reader took it */
    bool ended, ok;
};

void ec_apt_gate_init(ec_apt_gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void stream_unref_locked(ec_apt_stream *s)
{
    if (--s->refs > 0)
        return;
    free(s->buf);
    free(s);
}

/* Off the gate's list, dropping the list's reference; the lock is held.
 * The caller holds a reference of its own, so this never frees s (keeping
 * the free out of this path also keeps gcc's use-after-free analysis right). */
static void stream_unlist_locked(ec_apt_stream *s)
{
    ec_apt_gate *g = s->g;
    for (size_t i = 0; i < g->nstreams; i++)
        if (g->streams[i] == s) {
            g->streams[i] = g->streams[--g->nstreams];
            s->refs--;
            return;
        }
}

void ec_apt_gate_fini(ec_apt_gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->nstreams) {
        ec_apt_stream *s = g->streams[0];
        s->refs++; /* ours, for the unlisting */
        stream_unlist_locked(s);
        stream_unref_locked(s);
    }
    pthread_mutex_unlock(&g->mu);
    free(g->streams);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

void ec_apt_gate_signal(ec_apt_gate *g)
{
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void ec_apt_gate_finish(ec_apt_gate *g, int rc, const ec_err *err)
{
    pthread_mutex_lock(&g->mu);
    g->done = true;
    g->rc = rc;
    if (rc < 0 && err)
        g->err = *err;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A stream of @d that no reader took and whose download has not failed; lock held. */
static ec_apt_stream *stream_find_locked(ec_apt_gate *g, const ec_digest *d)
{
    for (size_t i = 0; i < g->nstreams; i++) {
        ec_apt_stream *s = g->streams[i];
        if (!s->claimed && !(s->ended && !s->ok) && ec_digest_eq(&s->digest, d))
            return s;
    }
    return NULL;
}

int ec_apt_gate_wait_stream(ec_apt_gate *g, ec_store *st, const ec_digest *d,
                            ec_apt_stream **sp, ec_err *err)
{
    if (sp)
        *sp = NULL;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        /* checked under the lock: a signal between the check and the wait is not lost */
        if (ec_store_has_blob(st, d))
            break;
        ec_apt_stream *s = sp ? stream_find_locked(g, d) : NULL;
        if (s) {
            s->claimed = true;
            s->refs++;
            *sp = s;
            break;
        }
        if (g->done) {
            int rc = g->rc < 0 ? g->rc : EC_ENOTFOUND;
            if (g->rc < 0 && err)
                *err = g->err;
            else
                ec_fail(err, rc, "an artifact was not downloaded");
            pthread_mutex_unlock(&g->mu);
            return rc;
        }
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return EC_OK;
}

int ec_apt_gate_wait(ec_apt_gate *g, ec_store *st, const ec_digest *d, ec_err *err)
{
    return ec_apt_gate_wait_stream(g, st, d, NULL, err);
}

/* --- streams --- */

ec_apt_stream *ec_apt_gate_stream_new(ec_apt_gate *g, const ec_digest *d)
{
    ec_apt_stream *s = ec_xcalloc(1, sizeof *s);
    s->g = g;
    s->digest = *d;
    s->refs = 2; /* the list and the producer */
    pthread_mutex_lock(&g->mu);
    g->streams = ec_xrealloc(g->streams, (g->nstreams + 1) * sizeof *g->streams);
    g->streams[g->nstreams++] = s;
    pthread_cond_broadcast(&g->cv); /* a reader may be waiting for this artifact */
    pthread_mutex_unlock(&g->mu);
    return s;
}

void ec_apt_stream_append(ec_apt_stream *s, const void *p, size_t n)
{
    pthread_mutex_lock(&s->g->mu);
    uint64_t end = s->base + s->len;
    /* after a restart, the new attempt's bytes below what is held are held already */
    if (!s->ended && s->wr + n > end && s->wr <= end) {
        size_t skip = (size_t)(end - s->wr), add = n - skip;
        if (s->len + add > s->cap) {
            s->cap = s->len + add > 2 * s->cap ? s->len + add : 2 * s->cap;
            s->buf = ec_xrealloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->len, (const char *)p + skip, add);
        s->len += add;
        pthread_cond_broadcast(&s->g->cv);
    }
    s->wr += n;
    pthread_mutex_unlock(&s->g->mu);
}

void ec_apt_stream_restart(ec_apt_stream *s)
{
    pthread_mutex_lock(&s->g->mu);
    /* what the reader has not consumed came from the failed attempt: it comes again */
    s->len = (size_t)(s->rd - s->base);
    s->wr = 0;
    pthread_mutex_unlock(&s->g->mu);
}

void ec_apt_stream_end(ec_apt_stream *s, bool ok)
{
    ec_apt_gate *g = s->g;
    pthread_mutex_lock(&g->mu);
    s->ended = true;
    s->ok = ok;
    if (!s->claimed) /* no reader came: the blob (or the error) is all the install needs */
        stream_unlist_locked(s);
    pthread_cond_broadcast(&g->cv);
    stream_unref_locked(s);
    pthread_mutex_unlock(&g->mu);
}

ssize_t ec_apt_stream_read(ec_apt_stream *s, void *buf, size_t cap)
{
    pthread_mutex_t *mu = &s->g->mu;
    pthread_mutex_lock(mu);
    while (s->rd == s->base + s->len && !s->ended)
        pthread_cond_wait(&s->g->cv, mu);
    size_t avail = (size_t)(s->base + s->len - s->rd);
    if (s->ended && !s->ok) {
        pthread_mutex_unlock(mu);
        errno = EIO;
        return -1;
    }
    size_t n = avail < cap ? avail : cap;
    if (n) /* an empty body never got a buffer: no offset from NULL (UB) */
        memcpy(buf, s->buf + (s->rd - s->base), n);
    s->rd += n;
    size_t used = (size_t)(s->rd - s->base);
    if (used >= STREAM_COMPACT) {
        memmove(s->buf, s->buf + used, s->len - used);
        s->len -= used;
        s->base = s->rd;
    }
    pthread_mutex_unlock(mu);
    return (ssize_t)n;
}

void ec_apt_stream_release(ec_apt_stream *s)
{
    if (!s)
        return;
    pthread_mutex_t *mu = &s->g->mu; /* s may be gone before the unlock */
    pthread_mutex_lock(mu);
    stream_unlist_locked(s);
    stream_unref_locked(s);
    pthread_mutex_unlock(mu);
}
