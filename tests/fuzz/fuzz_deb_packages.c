/* SPDX-License-Identifier: MIT */
/* Debian Packages indexes: the stanza of a pool file found and its SHA256 and Size read,
 * as the apt mirror does for every .deb it serves. */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fetchers/apt/apt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("Packages", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    static const char *const files[] = {"pool/main/j/jq/jq_1.6-2.1_amd64.deb", "a", ""};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        ec_digest d;
        uint64_t sz = 0;
        ec_err err = {0};
        if (ec_apt_packages_find(&d, &sz, path, files[i], &err) < 0)
            FUZZ_ASSERT(err.msg[0] || err.code == EC_ENOTFOUND);
    }
    close(fd);
    return 0;
}
