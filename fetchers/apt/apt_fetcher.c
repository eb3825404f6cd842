/* SPDX-License-Identifier: MIT */
/* The apt fetcher: its table; resolve (sources → verified indexes → libsolv against the
 * base's dpkg status) and fetch (every .deb in parallel, checked against Packages). */
#include "fetchers/apt/apt_int.h"
#include "fetchers/manager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/util/auto.h"
#include "store/util/fs.h"
#include "store/util/log.h"
#include "store/util/mem.h"

static json_t *sources_json(const ec_apt_index *idx, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s?}", "uri", idx[i].source->uri,
                                           "suite", idx[i].source->suite, "component",
                                           idx[i].component, "date", idx[i].release_date));
    return a;
}

static int apt_resolve(ec_fetch_ctx *ctx, const ec_resolve_req *req, json_t **lock_out,
                       ec_err *err)
{
    ec_apt_sources src = {0};
    ec_apt_index *idx = NULL;
    size_t nidx = 0;
    json_t *pkgs = NULL;
    EC_AUTOFREE char *status = req->lowers_root ? ec_xasprintf("%s/var/lib/dpkg/status",
                                                               req->lowers_root)
                                                : NULL;
    json_t *rec = json_object_get(ctx->config, "recommends");
    int64_t t0 = ec_mono_us();
    EC_AUTO(ec_apt_pool) pool = NULL;
    int r = ec_apt_sources_load(&src, ctx, err);
    /* begun first: the first index is parsed into it while it downloads */
    if (r == EC_OK)
        r = ec_apt_pool_new(&pool, status, err);
    if (r == EC_OK)
        r = ec_apt_indexes_get(&idx, &nidx, ctx, &src, pool, err);
    int64_t t1 = ec_mono_us();
    if (r == EC_OK) {
        ec_debug("apt: %zu indexes verified and ready in %lld ms", nidx,
                 (long long)(t1 - t0) / 1000);
        ec_apt_solve_opts o = {.recommends = json_is_true(rec), .status = status,
                               .arch = src.arch, .pool = pool};
        r = ec_apt_solve(&pkgs, idx, nidx, req->specs, req->nspecs, &o, err);
    }
    if (r == EC_OK)
        ec_debug("apt: %zu packages solved in %lld ms", json_array_size(pkgs),
                 (long long)(ec_mono_us() - t1) / 1000);
    if (r == EC_OK) {
        json_t *list = json_array();
        for (size_t i = 0; i < req->nspecs; i++)
            json_array_append_new(list, json_string(req->texts[i]));
        /* maintainer scripts run on the base: the layer key names the layers beneath */
        *lock_out = json_pack("{s:s, s:i, s:o, s:o, s:o, s:b, s:b}", "manager", "apt",
                              "version", 1, "specs", list, "sources",
                              sources_json(idx, nidx), "packages", pkgs, "recommends",
                              json_is_true(rec), "runs_code", 1);
    }
    ec_apt_indexes_free(idx, nidx);
    ec_apt_sources_fini(&src);
    return r;
}

/* --- fetch --- */

typedef struct deb_job {
    json_t *pkg;
    char what[256];
    ec_digest want;
    ec_http_req req;
    struct deb_run *run;
    ec_apt_stream *stream; /* install may read it while it downloads, or NULL */
} deb_job;

typedef struct deb_run {
    ec_fetch_ctx *ctx;
    ec_apt_gate *gate; /* install is waiting for these downloads, or NULL */
    int rc;
    ec_err err;
    uint64_t done, total, bytes, bytes_total;
    size_t streams, max_streams;
} deb_run;

static void deb_done(ec_http_req *req, void *ud)
{
    deb_job *j = ud;
    deb_run *run = j->run;
    ec_err e = {0};
    int rc = req->rc;
    if (rc < 0)
        e = req->err;
    else if (req->status != 200)
        rc = ec_fail(&e, EC_ENETWORK, "fetching %s: HTTP %ld", j->what, req->status);
    else
        rc = ec_apt_pool_record(run->ctx->store,
                                json_string_value(json_object_get(j->pkg, "source")),
                                json_string_value(json_object_get(j->pkg, "filename")),
                                &req->blob, &e);
    if (j->stream) /* after the record: a reader that did not come finds the blob */
        ec_apt_stream_end(ec_steal(&j->stream), rc == EC_OK);
    if (rc < 0 && run->rc == EC_OK) {
        run->rc = rc;
        run->err = e;
        return;
    }
    run->done++;
    run->bytes += req->size;
    if (run->gate)
        ec_apt_gate_signal(run->gate);
    if (run->ctx->progress) {
        ec_progress_event p = {.manager = "apt", .phase = EC_PHASE_DOWNLOADING,
                               .done = run->done, .total = run->total,
                               .bytes_done = run->bytes, .bytes_total = run->bytes_total,
                               .item = j->what};
        run->ctx->progress(&p, run->ctx->progress_ud);
    }
}

static void deb_tee(const void *p, size_t n, void *ud)
{
    ec_apt_stream_append(ud, p, n);
}

static void deb_tee_reset(void *ud)
{
    ec_apt_stream_restart(ud);
}

/* The biggest .debs are unpacked first, one per unpacking thread (a CPU's worth and one
 * more), and they are the last to arrive: those few are offered as streams, so that their
 * unpacking starts with their first bytes. Each is held in memory until it is unpacked. */
#define DEB_STREAMS_PER_CPU 2
#define DEB_STREAM_MAX ((json_int_t)256 << 20)

static size_t deb_max_streams(const ec_apt_gate *gate)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return gate ? (size_t)(cpus > 0 ? cpus : 1) * DEB_STREAMS_PER_CPU : 0;
}

static bool deb_streamed(const deb_run *run, const json_t *pkg)
{
    json_int_t size = json_integer_value(json_object_get(pkg, "size"));
    return run->streams < run->max_streams && size > 0 && size <= DEB_STREAM_MAX;
}

static int deb_prepare(deb_job *j, deb_run *run, json_t *pkg, ec_err *err)
{
    const char *sha = json_string_value(json_object_get(pkg, "sha256"));
    const char *url = json_string_value(json_object_get(pkg, "url"));
    if (!sha || !url || ec_digest_parse(&j->want, sha, NULL) < 0)
        return ec_fail(err, EC_EFORMAT, "the apt lock has a package without url or sha256");
    snprintf(j->what, sizeof j->what, "%s_%s_%s.deb",
             json_string_value(json_object_get(pkg, "name")),
             json_string_value(json_object_get(pkg, "version")),
             json_string_value(json_object_get(pkg, "arch")));
    j->pkg = pkg;
    j->run = run;
    /* Packages names the .deb by its sha256, which is also its blob's name: the client
     * checks it while streaming and stores nothing that differs. */
    j->req = (ec_http_req){.url = url, .sink = EC_HTTP_SINK_BLOB, .store = run->ctx->store,
                           .want_sha256 = &j->want, .what = j->what, .on_done = deb_done,
                           .ud = j};
    if (deb_streamed(run, pkg)) {
        j->stream = ec_apt_gate_stream_new(run->gate, &j->want);
        j->req.tee = deb_tee;
        j->req.tee_reset = deb_tee_reset;
        j->req.tee_ud = j->stream;
        run->streams++;
    }
    return EC_OK;
}

static int size_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "size"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "size"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Biggest first: install unpacks in that order too, and one large package (an LLVM)
 * is the longest to download and to unpack. */
static json_t *by_size(const json_t *pkgs)
{
    size_t n = json_array_size(pkgs);
    json_t **v = ec_xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(pkgs, i);
    qsort(v, n, sizeof *v, size_desc);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(a, v[i]);
    free(v);
    return a;
}

/* Every .deb of @lock not stored yet, in parallel; with @gate, install waits for them
 * there and reads the biggest as they arrive. */
static int debs_fetch(ec_fetch_ctx *ctx, ec_apt_gate *gate, json_t *lock, ec_err *err)
{
    EC_AUTO(json_t) pkgs = by_size(json_object_get(lock, "packages"));
    json_t *pkg;
    size_t n = json_array_size(pkgs), i;
    deb_job *jobs = ec_xcalloc(n ? n : 1, sizeof *jobs);
    deb_run run = {.ctx = ctx, .gate = gate, .max_streams = deb_max_streams(gate)};
    EC_AUTO(ec_http_batch) b = NULL;
    int r = EC_OK;
    json_array_foreach(pkgs, i, pkg) {
        ec_digest d;
        const char *sha = json_string_value(json_object_get(pkg, "sha256"));
        if (sha && ec_digest_parse(&d, sha, NULL) == EC_OK && ec_store_has_blob(ctx->store, &d))
            continue;
        if (ctx->offline) {
            r = ec_fail(err, EC_ENOTFOUND, "%s is not in the store and the warm-up is offline",
                        json_string_value(json_object_get(pkg, "filename")));
            break;
        }
        if ((!b && (r = ec_http_batch_new(&b, ctx->http, err)) < 0) ||
            (r = deb_prepare(&jobs[run.total], &run, pkg, err)) < 0)
            break;
        run.bytes_total += (uint64_t)json_integer_value(json_object_get(pkg, "size"));
        ec_http_batch_add(b, &jobs[run.total++].req);
    }
    if (r == EC_OK && run.total)
        r = ec_http_batch_run(b, err);
    if (r == EC_OK && run.rc < 0) {
        r = run.rc;
        if (err)
            *err = run.err;
    }
    ec_http_batch_free(ec_steal(&b));
    for (i = 0; i < n; i++) {
        if (jobs[i].stream) /* never ran to its end (the batch failed first) */
            ec_apt_stream_end(ec_steal(&jobs[i].stream), false);
        ec_http_req_reset(&jobs[i].req);
    }
    free(jobs);
    return r;
}

static int apt_fetch(ec_fetch_ctx *ctx, json_t *lock, ec_err *err)
{
    return debs_fetch(ctx, NULL, lock, err);
}

/* --- install, with the downloads overlapping the unpacking --- */

typedef struct fetch_thread {
    ec_fetch_ctx *ctx; /* the caller's: install reads it too; neither writes it */
    ec_apt_gate *gate;
    json_t *lock;
} fetch_thread;

static void *fetch_main(void *arg)
{
    fetch_thread *t = arg;
    ec_err e = {0};
    int rc = debs_fetch(t->ctx, t->gate, t->lock, &e);
    ec_apt_gate_finish(t->gate, rc, &e);
    return NULL;
}

/* Unpacking is CPU (xz) and downloading is network: done one after the other, each waits
 * on the other's resource. Here the downloads run on their own thread and each unpack
 * worker waits only for its own .deb. */
static int apt_install(ec_fetch_ctx *ctx, const json_t *lock, const char *staging,
                       ec_install_result *out, ec_err *err)
{
    ec_apt_gate gate;
    ec_apt_gate_init(&gate);
    fetch_thread t = {.ctx = ctx, .gate = &gate, .lock = json_deep_copy(lock)};
    pthread_t th;
    if (pthread_create(&th, NULL, fetch_main, &t) != 0) {
        ec_apt_gate_fini(&gate);
        json_decref(t.lock);
        int r = apt_fetch(ctx, (json_t *)lock, err); /* no thread: one after the other */
        return r < 0 ? r : ec_apt_install(ctx, NULL, lock, staging, out, err);
    }
    int rc = ec_apt_install(ctx, &gate, lock, staging, out, err);
    if (rc < 0) /* stop waiting downloads early: nothing more will be unpacked */
        ec_apt_gate_signal(&gate);
    pthread_join(th, NULL);
    if (gate.rc < 0) { /* the download's error says more than "not downloaded" */
        if (err)
            *err = gate.err;
        rc = gate.rc;
    }
    ec_apt_gate_fini(&gate);
    json_decref(t.lock);
    return rc;
}

static const ec_fetcher apt_ops = {
    .builder_version = 2, /* 2: Python bytecode kept, compiled against time 0 */
    .fetch_in_install = true,
    .resolve = apt_resolve,
    .fetch = apt_fetch,
    .install = apt_install,
    .serve = ec_apt_serve,
};

/* Regenerated by apt and dpkg, never read by an installed program: the archives and
 * lists apt downloads, and the backups dpkg and debconf keep of their databases. */
static const char *const apt_noise[] = {
    "var/cache/apt", "var/lib/apt/lists", "var/cache/debconf/*-old", "var/lib/dpkg/*-old",
    NULL,
};

const ec_manager ec_apt_manager = {
    .name = "apt",
    .spec_what = "apt package",
    .flags = EC_MANAGER_NEEDS_BASE | EC_MANAGER_RESOLVES_ON_LOWERS | EC_MANAGER_RUNS_CODE,
    .base_needs = "a Debian root file system with dpkg",
    .parse = ec_apt_spec_parse,
    .ops = &apt_ops,
    /* the sources: the fetcher config's, else the base's sources.list, else the host's */
    .upstream = {.self_configured = "apt-sources"},
    .noise = apt_noise,
    .bases = &ec_apt_bases,
    .session_render = ec_apt_session_render,
};
