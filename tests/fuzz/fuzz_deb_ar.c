/* SPDX-License-Identifier: MIT */
/* .deb files (ar archives holding control.tar and data.tar, compressed or not) through the
 * apt fetcher's unpacker, on tmpfs: control files read, data extracted into a fresh staging
 * directory and nothing outside it. Inputs of even length come as a download's stream (the
 * path apt's install takes while a .deb downloads), claimed through the gate as the install
 * claims it; odd ones are stored as a blob first (an LMDB transaction each, a fifth of the
 * time when every input took that path). The unpacker reads both alike. */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/apt/apt_deb_int.h"
#include "fetchers/apt/apt_int.h"
#include "store/util/fs.h"

static ec_store *st;
static ec_apt_gate gate;
static char work[64];

static void cleanup(void)
{
    ec_apt_gate_fini(&gate);
    ec_store_close(st);
    ec_rm_rf(work, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(work, sizeof work, "/dev/shm/ec-fuzz-deb-%d", (int)getpid());
    char home[96];
    snprintf(home, sizeof home, "%s/store", work);
    if (ec_store_open(&st, home, NULL) < 0)
        abort();
    ec_apt_gate_init(&gate);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        LLVMFuzzerInitialize(NULL, NULL);
    ec_digest d;
    ec_apt_stream *in = NULL;
    if (size % 2 == 0) {
        ec_sha256_buf(&d, data, size);
        ec_apt_stream *prod = ec_apt_gate_stream_new(&gate, &d);
        ec_err werr = {0};
        FUZZ_ASSERT(ec_apt_gate_wait_stream(&gate, st, &d, &in, &werr) == EC_OK && in);
        ec_apt_stream_append(prod, data, size);
        ec_apt_stream_end(prod, true);
    } else {
        ec_blob_writer *w = NULL;
        if (ec_blob_writer_new(&w, st, NULL) < 0 ||
            ec_blob_writer_write(w, data, size, NULL) < 0 ||
            ec_blob_writer_commit(w, NULL, &d, NULL) < 0)
            abort();
    }
    char staging[96], outside[96];
    snprintf(staging, sizeof staging, "%s/staging", work);
    snprintf(outside, sizeof outside, "%s/escaped", work);
    mkdir(staging, 0700);
    ec_apt_deb deb = {.name = "pkg", .version = "1.0", .arch = "amd64", .multi_arch = "no"};
    ec_unpack_limits lim = {.max_bytes = 1 << 20, .max_entries = 256};
    ec_extract_opts x = {.no_sync = true, .in_place = true};
    ec_err err = {0};
    if (ec_apt__deb_unpack(&deb, st, &d, in, staging, &lim, &x, &err) < 0)
        FUZZ_ASSERT(err.msg[0]);
    ec_apt_stream_release(in);
    ec_apt__deb_fini(&deb);
    struct stat sb;
    FUZZ_ASSERT(stat(outside, &sb) < 0);
    ec_rm_rf(staging, NULL);
    return 0;
}
