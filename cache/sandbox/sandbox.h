/* SPDX-License-Identifier: MIT */
/* The prebuild sandbox: run a command once over a stack of layers, keep what it wrote.
 *
 * Caveats
 * - Needs root (CAP_SYS_ADMIN): it creates mount, PID, IPC, UTS and network namespaces
 *   and mounts overlayfs. Every mount lives in the sandbox's own mount namespace, so
 *   none outlives the sandbox, whatever happens to the command.
 * - The memory limit is a cgroup v2 memory.max where this machine delegates the memory
 *   controller, else RLIMIT_AS on the command (which counts address space, not use);
 *   the log says which.
 * - The sandbox has no network but its own loopback. With a mirror port, 127.0.0.1:PORT
 *   inside reaches 127.0.0.1:PORT outside, and nothing else does.
 * Threads: safe from any thread. Each call forks with a raw clone3, which skips glibc's
 * fork handlers, so the child makes no allocation before exec: the overlay is configured
 * (fsmount) or its options built before the clone, and the child only attaches it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "fetchers/fetcher.h"

/* --- the mechanism (no store) --- */

typedef struct ec_sandbox_opts {
    const char *const *lowers; /* unpacked layer directories, the base first */
    size_t nlowers;
    const char *const *argv;   /* the command; argv[0] is looked up in the sandbox's PATH */
    const char *const *env;    /* extra "NAME=value" on top of the fixed set, or NULL */
    size_t nenv;
    const char *cwd;           /* inside the sandbox; NULL = "/" */
    int64_t timeout_ms;        /* 0 = EC_SANDBOX_DEFAULT_TIMEOUT_MS */
    uint64_t memory;           /* bytes; 0 = no limit */
    int mirror_port;           /* 0 = no mirror */
    const char *workdir;       /* an empty directory for upper/, work/ and root/ */
    const char *upper;         /* an existing directory to be the writable layer instead of
                                  workdir/upper (its contents show through), or NULL */
    int log_fd;                /* the command's stdout and stderr go here (and -1: nowhere) */
    bool skip_sleeps;          /* relative sleeps return at once (build steps; see
                                  sandbox_skip.c for why that is safe there) */
    bool skip_syncs;           /* fsync and the other syncs return at once (build steps;
                                  the store syncs what becomes a layer) */
} ec_sandbox_opts;

#define EC_SANDBOX_DEFAULT_TIMEOUT_MS (3600 * 1000)
#define EC_SANDBOX_TAIL 2048 /* bytes of the log's end kept for error messages */

typedef struct ec_sandbox_result {
    int status;        /* exit status when the command exited, else -1 */
    int signal;        /* the signal that ended it, else 0 */
    bool timed_out;    /* killed at the time limit */
    bool oom;          /* killed by the memory limit (cgroup only) */
    const char *limit; /* "cgroup v2 memory.max", "RLIMIT_AS" or "none" (static string) */
    int64_t elapsed_us;
    char tail[EC_SANDBOX_TAIL]; /* the last bytes of the log, NUL-terminated */
} ec_sandbox_result;

/**
 * Runs @o->argv with its root an overlay of @o->lowers and the fresh directory
 * @o->workdir/upper as the only writable place, in new mount, PID, IPC, UTS and network
 * namespaces, with /proc, a minimal /dev, a tmpfs /tmp, a fixed environment (PATH, HOME,
 * LANG, TMPDIR, DEBIAN_FRONTEND and @o->env), stdin from /dev/null, and the time and
 * memory limits. Returns EC_OK when the sandbox ran, whatever the command did: @out says
 * how it ended. Returns an error (EC_EUNSUPPORTED without the privileges) when the
 * sandbox itself could not be set up; then nothing ran. Either way no mount is left.
 */
int ec_sandbox_exec(ec_sandbox_result *out, const ec_sandbox_opts *o, ec_err *err);

/** False in a chroot ("/" not a mount point), where the sandbox cannot run. */
bool ec_sandbox_root_is_mount(void);

/** True when @r is a command that exited with status 0. */
bool ec_sandbox_ok(const ec_sandbox_result *r);

/* --- noise: what never goes into a layer --- */

/** Removes from @upper (an overlay upper directory) everything the noise lists name: the
 *  generic one (mount points, /tmp, logs) and every manager's (ec_manager.noise and
 *  .noise_names in fetchers/manager.h: its caches and the like). */
int ec_sandbox_prune_noise(const char *upper, ec_err *err);
/** The same, leaving alone whatever lies under the directories of @keep (relative to
 *  @upper, NULL-terminated, may be NULL: ec_install_result.keep). */
int ec_sandbox_prune_noise_keeping(const char *upper, const char *const *keep, ec_err *err);

/** The noise patterns, generic then each manager's, one per call; NULL after the last.
 *  For --help and docs. */
const char *ec_sandbox_noise_pattern(size_t i);

/* --- builds (store) --- */

typedef struct ec_sandbox_build_opts {
    const ec_digest *base;     /* the base layer, or NULL for none */
    const ec_digest *layers;   /* further lower layers, lowest first */
    size_t nlayers;
    const char *const *argv;
    const char *const *env;
    size_t nenv;
    const char *cwd;
    int64_t timeout_ms;
    uint64_t memory;
    int mirror_port;
    bool echo;                 /* copy the command's output to stderr when it ends */
    bool skip_sleeps;          /* as ec_sandbox_opts */
    bool skip_syncs;           /* as ec_sandbox_opts */
    bool discard;              /* keep nothing: no layer, no log (benchmarks, debugging) */
} ec_sandbox_build_opts;

typedef struct ec_sandbox_build {
    ec_layer_info layer;  /* what the command wrote, as a layer */
    ec_digest log;        /* the build log's blob */
    ec_sandbox_result run;
} ec_sandbox_build;

/**
 * Runs a command in the sandbox over the base and layers (unpacked as needed) and turns
 * what it wrote, minus noise, into a layer; stores its log as a blob and records
 * layer digest -> log digest in the build_logs table. On failure (the command failed,
 * was killed or timed out: EC_EBUILD) nothing is stored and the temporary tree is gone;
 * the message names the command, how it ended and the last lines of its log.
 * With @o->discard nothing is kept even on success, and @out->run alone is filled in.
 */
int ec_sandbox_build_layer(ec_sandbox_build *out, ec_cache *c, const ec_sandbox_build_opts *o,
                           ec_err *err);

/**
 * Runs an install's build steps (fetchers/fetcher.h) in order over @lowers (layer
 * digests, the base first) with @staging, the tree the install filled, as the writable
 * layer: what the steps write lands in it, and noise is pruned afterwards. All steps
 * share one log, stored as a blob in *@log_out. A failed step is EC_EBUILD naming the
 * step, how it ended and the log's last lines; @staging is then the caller's to drop.
 * Noise under the directories of @keep (ec_install_result.keep) stays.
 */
int ec_sandbox_run_steps(ec_digest *log_out, ec_cache *c, const ec_digest *lowers,
                         size_t nlowers, const char *staging, const ec_build_step *steps,
                         size_t nsteps, int mirror_port, const char *const *keep,
                         ec_err *err);

/** Runs @argv once in the sandbox over @lowers (no network, no mirror, read-only use, a
 *  two-minute limit) and returns what it printed (stdout and stderr, at most 64 KiB) in
 *  *@out, owned. EC_EBUILD when the command fails, with the end of its output: a probe
 *  that finds nothing to probe (no interpreter beneath) says so itself. */
int ec_sandbox_probe(char **out, ec_cache *c, const ec_digest *lowers, size_t nlowers,
                     const char *const *argv, ec_err *err);

/** What ec_sandbox_query runs and how. */
typedef struct ec_sandbox_query_opts {
    const char *const *argv;
    const char *const *env;  /* extra "NAME=value", NULL-terminated, or NULL */
    int mirror_port;         /* 0 = none; else $ENVCACHE_MIRROR names it */
    size_t max_out;          /* bytes of output kept at most; 0 = 64 KiB */
    int64_t timeout_ms;      /* 0 = two minutes */
} ec_sandbox_query_opts;

/** ec_sandbox_probe with a mirror, more room and more time: a resolver that asks the real
 *  client over the layers beneath (fetchers/fetcher.h, ec_fetch_ctx.sandbox_query). */
int ec_sandbox_query(char **out, ec_cache *c, const ec_digest *lowers, size_t nlowers,
                     const ec_sandbox_query_opts *o, ec_err *err);

/** Records @log as the build log of @layer (build_logs table). */
int ec_sandbox_record_log(ec_cache *c, const ec_digest *layer, const ec_digest *log,
                          ec_err *err);

/** The build log recorded for @layer. EC_ENOTFOUND when it has none. */
int ec_sandbox_log_lookup(ec_digest *out, ec_cache *c, const ec_digest *layer, ec_err *err);
