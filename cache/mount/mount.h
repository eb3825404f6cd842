/* SPDX-License-Identifier: MIT */
/* Mounting a stack of unpacked layer directories at a target: overlayfs, or a copy. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "store/util/err.h"

/*
 * Caveats
 * - This is the mechanism only: no LMDB, no session records. The caller decides
 *   the directories, records the mode it got back and logs it.
 * - overlayfs stacks at most EC_MOUNT_MAX_LOWERS lower directories (the kernel's
 *   OVL_MAX_STACK); a deeper stack is refused unless it is copied.
 * - Overlay mounts need CAP_SYS_ADMIN in the mount namespace. Copies done without
 *   root keep modes and times but not owners or file capabilities.
 * - In COPY mode the target is a plain directory: writes land in it directly and
 *   @upper / @work are not used.
 */

enum ec_mount_mode { EC_MOUNT_OVERLAY = 1, EC_MOUNT_COPY = 2 };

enum {
    EC_MOUNT_ALLOW_COPY = 1u << 0, /* copy the layers when overlayfs is refused here */
    EC_MOUNT_FORCE_COPY = 1u << 1, /* copy without trying overlayfs (tests, benchmarks) */
    EC_MOUNT_VOLATILE = 1u << 2,   /* the upper is thrown away at umount: skip its syncs */
    EC_MOUNT__LEGACY = 1u << 8,    /* tests: skip the new mount API and use mount(2) */
};

#define EC_MOUNT_MAX_LOWERS 500

/** "overlay" or "copy"; "unknown" for anything else. */
const char *ec_mount_mode_name(enum ec_mount_mode m);

/**
 * Makes @target show the layers @lowers[0..@n) stacked in that order, the base
 * first and each later layer over the ones before it, with overlay whiteouts
 * (char device 0:0) and opaque directories (trusted.overlay.opaque=y) applied.
 *
 * OVERLAY mode mounts overlayfs with @upper and @work (created when missing; on
 * one file system) so that writes land in @upper and never in a lower. It uses the
 * new mount API with one "lowerdir+" per layer, so a stack's depth is not bounded
 * by the one page of mount(2) options; kernels without it get mount(2) when the
 * options fit in a page. With @n == 0 the only lower is an empty directory named
 * "empty" next to @work, created on demand; it lives as long as @work's parent.
 *
 * COPY mode (with EC_MOUNT_FORCE_COPY, or with EC_MOUNT_ALLOW_COPY when overlayfs
 * is refused or cannot take a stack this deep; the reason is logged at info level)
 * copies each layer into @target: data by reflink where the file system can, else
 * copy_file_range, else read/write; never a hard link to a lower, though files
 * hard-linked within one layer stay linked to each other in the copy. Modes,
 * owners, symlinks, times and security.capability are kept. A failed copy leaves
 * @target empty.
 *
 * @target must be an existing, empty directory that is not a mount point.
 * *@mode_out is set on success only.
 *
 * Returns EC_EUNSUPPORTED when overlayfs is refused, and EC_ELIMIT when the stack
 * is deeper than overlayfs allows (or than one page of mount(2) options, on kernels
 * without lowerdir+), both only when copying is not allowed; EC_ENOTFOUND when a
 * directory is missing, EC_ECONFLICT when @target is not empty, EC_EBUSY when it is
 * already a mount point.
 */
int ec_mount_stack(enum ec_mount_mode *mode_out, const char *const *lowers, size_t n,
                   const char *upper, const char *work, const char *target, unsigned flags,
                   ec_err *err);

/* An overlay made ready in one process and attached in another: the sandbox's first
 * process, forked from a threaded one by a raw clone3, must not allocate (another thread
 * may have held malloc's lock at the fork), so everything that allocates happens before. */
typedef struct ec_mount_prepared {
    int fd;      /* a detached overlay (the new mount API), or -1 */
    char *opts;  /* else the options for mount(2) */
    char *empty; /* the empty lower when there are no layers */
} ec_mount_prepared;

/** ec_mount_stack's OVERLAY mode up to, not including, the attach at @target (which
 *  must exist and be empty then). Returns its errors; on success free with
 *  ec_mount_prepared_fini. */
int ec_mount_overlay_prepare(ec_mount_prepared *out, const char *const *lowers, size_t n,
                             const char *upper, const char *work, const char *target,
                             unsigned flags, ec_err *err);
/** Attaches a prepared overlay at @target in the caller's mount namespace. Makes no
 *  allocation. */
int ec_mount_overlay_attach(const ec_mount_prepared *p, const char *target, ec_err *err);
void ec_mount_prepared_fini(ec_mount_prepared *p);

/**
 * Undoes ec_mount_stack on @target, which was mounted in @mode. OVERLAY: unmounts
 * it (refusing anything that is not an overlay mount); when it is busy, detaches
 * it lazily with a warning, so it goes away when its last user leaves. COPY:
 * removes the contents and keeps the empty directory. The caller removes @upper
 * and @work.
 *
 * Returns EC_ENOTFOUND when @target is not mounted (OVERLAY) or missing, EC_EBUSY
 * when something else is mounted at or below @target.
 */
int ec_umount_target(const char *target, enum ec_mount_mode mode, ec_err *err);

/** True when @path is the root of a mount (statx, else /proc/self/mountinfo). */
bool ec_mount_is_mountpoint(const char *path);

/**
 * Inside a container's mount namespace, while its runtime runs its createRuntime or
 * prestart hooks: moves each mount the runtime made under @root (/proc, /dev, binds)
 * into the stack mounted at @stack, then moves the stack over @root, so that the
 * container starts on the stack with everything its runtime prepared.
 */
int ec_mount_adopt_root(const char *stack, const char *root, ec_err *err);
