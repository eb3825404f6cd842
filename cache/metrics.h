/* SPDX-License-Identifier: MIT */
/* Process-wide metrics: counters, gauges and latency histograms, rendered as Prometheus text.
 *
 * Any module (server, warm-up, mirror) looks a series up once by name and labels and then
 * updates it with atomic operations; the registry itself is only locked for look-ups and
 * for rendering. Series live until ec_metrics_reset (tests), so pointers may be cached.
 *
 * Labels are given pre-formatted, Prometheus style: `route="GET /healthz",status="200"`
 * (or NULL/"" for none). Values must already be escaped (ec_metrics_label_escape).
 * Threads: every function is safe from any thread.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/util/buf.h"
#include "store/util/err.h"

/* The names other modules share, so /metrics has one spelling of each. */
#define EC_M_HTTP_REQUESTS "envcache_http_requests_total"        /* route, status */
#define EC_M_HTTP_LATENCY "envcache_http_request_duration_seconds" /* route */
#define EC_M_CACHE_REQUESTS "envcache_cache_requests_total"      /* manager, result=hit|miss */
#define EC_M_BYTES_SERVED "envcache_bytes_served_total"          /* manager */
#define EC_M_BYTES_UPSTREAM "envcache_upstream_bytes_total"      /* (all managers) */
#define EC_M_UPSTREAM_REQUESTS "envcache_upstream_requests_total" /* retries included */
#define EC_M_LAYER_BUILDS "envcache_layer_builds_total"          /* manager, result */
#define EC_M_LAYER_BUILD_SECONDS "envcache_layer_build_duration_seconds" /* manager */
#define EC_M_WARM_JOBS "envcache_warm_jobs_total"                /* result */
#define EC_M_STORE_BYTES "envcache_store_bytes"                  /* gauge */

typedef struct ec_metric ec_metric;

typedef enum ec_metric_kind {
    EC_METRIC_COUNTER,
    EC_METRIC_GAUGE,
    EC_METRIC_HISTOGRAM,
} ec_metric_kind;

/** Finds or creates the series @name{@labels}. The pointer is valid until
 *  ec_metrics_reset. A name keeps the kind it was first created with (asserted). */
ec_metric *ec_metrics_get(const char *name, const char *labels, ec_metric_kind kind);
/** Adds @v to a counter or gauge. */
void ec_metric_add(ec_metric *m, uint64_t v);
/** Sets a gauge. */
void ec_metric_set(ec_metric *m, uint64_t v);
/** Records one observation (seconds) into a histogram. */
void ec_metric_observe(ec_metric *m, double seconds);
/** The current value of a counter or gauge, or a histogram's count. */
uint64_t ec_metric_value(const ec_metric *m);

/** Shorthands: look up and update in one call. */
void ec_metrics_inc(const char *name, const char *labels, uint64_t v);
void ec_metrics_observe(const char *name, const char *labels, double seconds);

/** Writes @s into @out with Prometheus label escaping (\\, \", \n), cut to @cap-1 bytes. */
void ec_metrics_label_escape(char *out, size_t cap, const char *s);

/** Appends every series in Prometheus text exposition format 0.0.4 to @out. */
int ec_metrics_render(ec_buf *out, ec_err *err);
/** Forgets every series (tests). Callers must not hold ec_metric pointers across it. */
void ec_metrics_reset(void);
