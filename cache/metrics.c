/* SPDX-License-Identifier: MIT */
/* The metrics registry: a locked hash of series whose values are updated atomically. */
#include "cache/metrics.h"
#include "store/util/mem.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256
/* Latency bounds in seconds: loopback API calls sit in the sub-millisecond buckets, layer
 * builds in the last ones. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,
                                30,     60,      300};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct ec_metric {
    struct ec_metric *next;
    char *name, *labels;
    ec_metric_kind kind;
    _Atomic uint64_t value;         /* counter, gauge, histogram count */
    _Atomic uint64_t sum_ns;        /* histogram sum */
    _Atomic uint64_t bucket[NBOUNDS]; /* histogram: observations <= bounds[i] (not cumulative) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ec_metric *table[BUCKETS];
static size_t count;

static size_t slot(const char *name, const char *labels)
{
    size_t h = 5381;
    for (const char *p = name; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (const char *p = labels; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h % BUCKETS;
}

/* Each thread remembers the series it found last, one per slot: a request looks up four
 * series, and the registry's one lock, taken by every server thread for each of them,
 * was a hot spot. A remembered series stays valid until ec_metrics_reset, which starts a
 * new generation that empties every thread's memory. */
#define TCACHE 64
static _Atomic unsigned generation;
static _Thread_local struct {
    unsigned generation;
    ec_metric *m[TCACHE];
} tcache;

static ec_metric *remembered(size_t s, const char *name, const char *labels)
{
    unsigned g = atomic_load_explicit(&generation, memory_order_acquire);
    if (tcache.generation != g) {
        memset(tcache.m, 0, sizeof tcache.m);
        tcache.generation = g;
        return NULL;
    }
    ec_metric *m = tcache.m[s % TCACHE];
    return m && strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0 ? m : NULL;
}

ec_metric *ec_metrics_get(const char *name, const char *labels, ec_metric_kind kind)
{
    if (!labels)
        labels = "";
    size_t s = slot(name, labels);
    ec_metric *m = remembered(s, name, labels);
    if (m)
        return m;
    pthread_mutex_lock(&lock);
    m = table[s];
    while (m && (strcmp(m->name, name) != 0 || strcmp(m->labels, labels) != 0))
        m = m->next;
    if (!m) {
        m = ec_xcalloc(1, sizeof *m);
        m->name = ec_xstrdup(name);
        m->labels = ec_xstrdup(labels);
        m->kind = kind;
        m->next = table[s];
        table[s] = m;
        count++;
    }
    pthread_mutex_unlock(&lock);
    assert(m->kind == kind);
    tcache.m[s % TCACHE] = m;
    return m;
}

void ec_metric_add(ec_metric *m, uint64_t v)
{
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

void ec_metric_set(ec_metric *m, uint64_t v)
{
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

void ec_metric_observe(ec_metric *m, double seconds)
{
    size_t i = 0;
    while (i < NBOUNDS && seconds > bounds[i])
        i++;
    if (i < NBOUNDS)
        atomic_fetch_add_explicit(&m->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

uint64_t ec_metric_value(const ec_metric *m)
{
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

void ec_metrics_inc(const char *name, const char *labels, uint64_t v)
{
    ec_metric_add(ec_metrics_get(name, labels, EC_METRIC_COUNTER), v);
}

void ec_metrics_observe(const char *name, const char *labels, double seconds)
{
    ec_metric_observe(ec_metrics_get(name, labels, EC_METRIC_HISTOGRAM), seconds);
}

void ec_metrics_label_escape(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 2 < cap; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[k++] = '\\';
            out[k++] = *s == '\n' ? 'n' : *s;
        } else
            out[k++] = *s;
    }
    out[k] = '\0';
}

/* --- rendering --- */

static int by_name(const void *a, const void *b)
{
    const ec_metric *x = *(ec_metric *const *)a, *y = *(ec_metric *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static const char *kind_name(ec_metric_kind k)
{
    return k == EC_METRIC_COUNTER ? "counter" : k == EC_METRIC_GAUGE ? "gauge" : "histogram";
}

/* "{labels,extra}" or "{extra}" or "" — Prometheus wants no empty braces. */
static int add_labels(ec_buf *out, const char *labels, const char *extra, ec_err *err)
{
    if (!*labels && !extra)
        return EC_OK;
    return ec_buf_addf(out, err, "{%s%s%s}", labels, *labels && extra ? "," : "",
                       extra ? extra : "");
}

static int render_histogram(ec_buf *out, const ec_metric *m, ec_err *err)
{
    uint64_t cum = 0;
    int r = EC_OK;
    char le[48];
    for (size_t i = 0; r == EC_OK && i < NBOUNDS; i++) {
        cum += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
        snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
        if ((r = ec_buf_addf(out, err, "%s_bucket", m->name)) == EC_OK &&
            (r = add_labels(out, m->labels, le, err)) == EC_OK)
            r = ec_buf_addf(out, err, " %llu\n", (unsigned long long)cum);
    }
    uint64_t n = ec_metric_value(m);
    double sum = (double)atomic_load_explicit(&m->sum_ns, memory_order_relaxed) / 1e9;
    if (r == EC_OK && (r = ec_buf_addf(out, err, "%s_bucket", m->name)) == EC_OK &&
        (r = add_labels(out, m->labels, "le=\"+Inf\"", err)) == EC_OK)
        r = ec_buf_addf(out, err, " %llu\n%s_sum", (unsigned long long)n, m->name);
    if (r == EC_OK && (r = add_labels(out, m->labels, NULL, err)) == EC_OK)
        r = ec_buf_addf(out, err, " %.9f\n%s_count", sum, m->name);
    if (r == EC_OK && (r = add_labels(out, m->labels, NULL, err)) == EC_OK)
        r = ec_buf_addf(out, err, " %llu\n", (unsigned long long)n);
    return r;
}

static int render_one(ec_buf *out, const ec_metric *m, const ec_metric *prev, ec_err *err)
{
    int r = EC_OK;
    if (!prev || strcmp(prev->name, m->name) != 0)
        r = ec_buf_addf(out, err, "# TYPE %s %s\n", m->name, kind_name(m->kind));
    if (r < 0)
        return r;
    if (m->kind == EC_METRIC_HISTOGRAM)
        return render_histogram(out, m, err);
    if ((r = ec_buf_adds(out, m->name, err)) < 0 || (r = add_labels(out, m->labels, NULL, err)) < 0)
        return r;
    return ec_buf_addf(out, err, " %llu\n", (unsigned long long)ec_metric_value(m));
}

int ec_metrics_render(ec_buf *out, ec_err *err)
{
    pthread_mutex_lock(&lock);
    size_t n = 0;
    ec_metric **all = ec_xcalloc(count + 1, sizeof *all);
    for (size_t i = 0; i < BUCKETS; i++)
        for (ec_metric *m = table[i]; m; m = m->next)
            all[n++] = m;
    pthread_mutex_unlock(&lock);
    /* Series are never freed outside ec_metrics_reset, so rendering needs no lock. */
    if (n)
        qsort(all, n, sizeof *all, by_name);
    int r = EC_OK;
    for (size_t i = 0; r == EC_OK && i < n; i++)
        r = render_one(out, all[i], i ? all[i - 1] : NULL, err);
    free(all);
    return r;
}

void ec_metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < BUCKETS; i++) {
        while (table[i]) {
            ec_metric *m = table[i];
            table[i] = m->next;
            free(m->name);
            free(m->labels);
            free(m);
        }
    }
    count = 0;
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_mutex_unlock(&lock);
}
