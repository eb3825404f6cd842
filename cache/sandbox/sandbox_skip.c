/* SPDX-License-Identifier: MIT */
/* What build steps skip: relative sleeps and syncs return at once (seccomp filters on the
 * command, which answer "done" without the kernel doing it).
 *
 * Sleeps. A build step runs once, offline, into a tree whose mtimes the layer sets to 0,
 * so a sleep there paces nothing: fontconfig's fc-cache, run by the fontconfig trigger of
 * many apt builds, sleeps two seconds "so later changes get later timestamps" and was a
 * fifth of a cold ffmpeg layer. Only relative clock_nanosleep calls (no TIMER_ABSTIME)
 * are cut short: that is what the C library's sleep, usleep and nanosleep make. A wait
 * for an absolute time still waits, and a polling loop still polls, only faster. The raw
 * nanosleep system call is left alone: Go's runtime makes it for its scheduler's short
 * pauses (sysmon's 20 us to 10 ms, spinning workers), and answering those at once turned
 * every Go program into a busy loop (a cold gopls build took twice the CPU).
 *
 * Syncs (as eatmydata does). What a step writes becomes a layer only through the store,
 * which syncs the whole tree (the adopted staging root) or the packed blob before it
 * records anything; a crash before that leaves no layer at all. A sync per file inside
 * the step is then only waiting: update-mime-database alone makes 860 fdatasyncs in an
 * ffmpeg build, dpkg one per status change. fsync, fdatasync, sync, syncfs and
 * sync_file_range return 0; data still reaches the disk when the store syncs.
 */
#include "cache/sandbox/sandbox_int.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define EC_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EC_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef EC_AUDIT_ARCH
#define DATA_OFF(f) ((unsigned)offsetof(struct seccomp_data, f))
/* The low word of args[1]: clock_nanosleep's flags (an int). */
#define ARG1_LO (DATA_OFF(args) + 8 + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0))

static const struct sock_filter sleep_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA_OFF(arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EC_AUDIT_ARCH, 0, 5), /* another ABI: allow */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA_OFF(nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_nanosleep, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1_LO),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), /* flags 0: a relative sleep */
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0), /* "slept", returning 0 */
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
#endif

#ifdef EC_AUDIT_ARCH
static const struct sock_filter sync_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA_OFF(arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EC_AUDIT_ARCH, 0, 6), /* another ABI: allow */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA_OFF(nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsync, 5, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fdatasync, 4, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sync, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_syncfs, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sync_file_range, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0), /* "synced", returning 0 */
};
#endif

#ifdef EC_AUDIT_ARCH
static int install(const struct sock_filter *f, size_t n)
{
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = (struct sock_filter *)f};
    /* Root in the sandbox: no PR_SET_NO_NEW_PRIVS, so setuid programs keep working. When
     * both filters are installed, a call either one answers gets that answer. */
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -errno;
}
#endif

#ifdef EC_AUDIT_ARCH
#define INSTALL(f) install((f), sizeof(f) / sizeof((f)[0]))
#else
#define INSTALL(f) (-ENOSYS) /* no filter for this architecture: only slower */
#endif

int ec_sandbox__skip_sleeps(void)
{
    return INSTALL(sleep_filter);
}

int ec_sandbox__skip_syncs(void)
{
    return INSTALL(sync_filter);
}
