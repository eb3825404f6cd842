/* SPDX-License-Identifier: MIT */
/* .gem files (the gem mirror's and installer's input): the specification's YAML read,
 * data.tar scanned, then, when it can be laid out natively, unpacked as the installer
 * unpacks it, on tmpfs: nothing may land outside the gem's directory.
 * The first byte picks the form: even, the rest is a whole .gem; odd, the rest is
 * "YAML\n===\nLIST" and the harness packs the .gem (tar checksums would hide the YAML
 * and the paths from the fuzzer otherwise): LIST has one data.tar entry a line, "f MODE
 * PATH" (a file), "l PATH TARGET" (a symlink) or "d PATH" (a directory). */
#include "tests/fuzz/fuzz.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/gem/gem_int.h"
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
    snprintf(work, sizeof work, "/dev/shm/ec-fuzz-gem-%d", (int)getpid());
    mkdir(work, 0700);
    atexit(cleanup);
    return 0;
}

static void add(struct archive *a, const char *path, unsigned type, unsigned mode,
                const char *data, size_t n, const char *link)
{
    struct archive_entry *x = archive_entry_new();
    archive_entry_set_pathname(x, path);
    archive_entry_set_filetype(x, type);
    archive_entry_set_perm(x, mode);
    archive_entry_set_size(x, (la_int64_t)n);
    if (link)
        archive_entry_set_symlink(x, link);
    if (archive_write_header(a, x) == ARCHIVE_OK && n)
        archive_write_data(a, data, n);
    archive_entry_free(x);
}

/* data.tar from LIST (lines the writer refuses are left out); its size. */
static size_t data_tar(char *out, size_t cap, char *list)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    archive_write_set_format_ustar(a);
    if (archive_write_open_memory(a, out, cap, &used) != ARCHIVE_OK)
        abort();
    for (char *save = NULL, *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char kind = l[0], *f1 = l[0] && l[1] == ' ' ? l + 2 : NULL;
        char *sp = f1 ? strchr(f1, ' ') : NULL;
        if (sp)
            *sp++ = '\0';
        if (kind == 'f' && sp)
            add(a, sp, AE_IFREG, (unsigned)strtoul(f1, NULL, 8) & 07777, "x\n", 2, NULL);
        else if (kind == 'l' && sp)
            add(a, f1, AE_IFLNK, 0777, NULL, 0, sp);
        else if (kind == 'd' && f1)
            add(a, f1, AE_IFDIR, 0755, NULL, 0, NULL);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

/* The .gem from "YAML\n===\nLIST" into @fd. */
static void pack(int fd, char *text)
{
    char *sep = strstr(text, "\n===\n");
    char *list = sep ? sep + 5 : text + strlen(text);
    if (sep)
        sep[1] = '\0';
    size_t cap = 1 << 20;
    char *data = malloc(cap);
    if (!data)
        abort();
    size_t nd = data_tar(data, cap, list);
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
        abort();
    add(a, "metadata", AE_IFREG, 0444, text, strlen(text), NULL);
    add(a, "data.tar.gz", AE_IFREG, 0444, data, nd, NULL);
    archive_write_close(a);
    archive_write_free(a);
    free(data);
}

/* Only "gem" in @base: nothing of the gem's left it. */
static void only_gem(const char *base)
{
    DIR *d = opendir(base);
    FUZZ_ASSERT(d);
    for (struct dirent *de; (de = readdir(d));)
        FUZZ_ASSERT(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                    !strcmp(de->d_name, "gem"));
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!work[0])
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    int fd = memfd_create("gem", MFD_CLOEXEC);
    FUZZ_ASSERT(fd >= 0);
    if (data[0] & 1) {
        char *text = fuzz_cstr(data + 1, size - 1);
        pack(fd, text);
        free(text);
    } else if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        abort();
    }
    char path[64], base[96], dir[128];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    snprintf(base, sizeof base, "%s/g", work);
    snprintf(dir, sizeof dir, "%s/gem", base);
    gem_pkg p;
    ec_err err = {0};
    if (gem_pkg_read(&p, path, "fuzz-1.0", &err) < 0) {
        FUZZ_ASSERT(err.msg[0]);
    } else {
        FUZZ_ASSERT(p.name && p.bindir && p.exec);
        if (!p.not_plain) {
            mkdir(base, 0700);
            mkdir(dir, 0755);
            ec_err e2 = {0};
            if (gem_pkg_unpack(&p, dir, "fuzz-1.0", &e2) < 0)
                FUZZ_ASSERT(e2.msg[0]);
            only_gem(base);
            ec_rm_rf(base, NULL);
        }
        gem_pkg_fini(&p);
    }
    close(fd);
    return 0;
}
