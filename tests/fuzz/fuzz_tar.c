/* SPDX-License-Identifier: MIT */
/* tar streams (plain or compressed, as packages and layers arrive) through the safe
 * extractor into a fresh directory: whatever the bytes, nothing lands outside it. On tmpfs:
 * on a disk file system deleting each input's files (ext4 discards) was most of the time. */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/util/fs.h"

static char work[64];

static void cleanup(void)
{
    ec_rm_rf(work, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(work, sizeof work, "/dev/shm/ec-fuzz-tar-%d", (int)getpid());
    mkdir(work, 0700);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!work[0])
        LLVMFuzzerInitialize(NULL, NULL);
    int fd = memfd_create("tar", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    char dest[96], outside[96];
    snprintf(dest, sizeof dest, "%s/d", work);
    snprintf(outside, sizeof outside, "%s/escaped", work);
    ec_unpack_limits lim = {.max_bytes = 1 << 20, .max_entries = 256};
    ec_extract_opts x = {.no_sync = true};
    ec_err err = {0};
    if (ec_archive_extract_fd(fd, dest, &lim, &x, &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    close(fd);
    struct stat st;
    FUZZ_ASSERT(stat(outside, &st) < 0); /* the only sibling a "../escaped" could make */
    ec_rm_rf(dest, NULL);
    return 0;
}
