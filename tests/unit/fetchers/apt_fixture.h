/* SPDX-License-Identifier: MIT */
/* The apt tests' fixture: a signed archive made by tests/fixtures/apt/make-archive.sh,
 * served from disk on loopback by libmicrohttpd (ETag + If-None-Match, per-path hit
 * counts), a store and an HTTP client. Included by test_apt_index.c and test_apt_mirror.c. */
#pragma once

#include "tests/unit/helpers/ec_test.h"

#include <fcntl.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchers/apt/apt_int.h"
#include "store/util/fs.h"
#include "store/util/mem.h"

#define AFX_MAX_PATHS 128

static struct afx_server {
    struct MHD_Daemon *d;
    int port;
    char root[512]; /* served under /debian/ */
    pthread_mutex_t mu;
    struct {
        char path[256];
        int hits;
    } paths[AFX_MAX_PATHS];
} afx_srv;

static inline void afx_hit(const char *path)
{
    pthread_mutex_lock(&afx_srv.mu);
    for (int i = 0; i < AFX_MAX_PATHS; i++) {
        if (!afx_srv.paths[i].path[0])
            snprintf(afx_srv.paths[i].path, sizeof afx_srv.paths[i].path, "%s", path);
        if (strcmp(afx_srv.paths[i].path, path) == 0) {
            afx_srv.paths[i].hits++;
            break;
        }
    }
    pthread_mutex_unlock(&afx_srv.mu);
}

/* Hits on @path since the server started. */
static inline int afx_hits(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&afx_srv.mu);
    for (int i = 0; i < AFX_MAX_PATHS && afx_srv.paths[i].path[0]; i++)
        if (strcmp(afx_srv.paths[i].path, path) == 0)
            n = afx_srv.paths[i].hits;
    pthread_mutex_unlock(&afx_srv.mu);
    return n;
}

static inline enum MHD_Result afx_text(struct MHD_Connection *c, unsigned status,
                                       const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static inline enum MHD_Result afx_handler(void *cls, struct MHD_Connection *c, const char *url,
                                          const char *method, const char *version,
                                          const char *upload, size_t *upload_size,
                                          void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    afx_hit(url);
    if (strncmp(url, "/debian/", 8) != 0 || strstr(url, ".."))
        return afx_text(c, 404, "not found");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", afx_srv.root, url + 8);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return afx_text(c, 404, "not found");
    }
    char etag[96];
    snprintf(etag, sizeof etag, "\"%lld-%lld\"", (long long)sb.st_size,
             (long long)sb.st_mtim.tv_nsec + (long long)sb.st_mtim.tv_sec * 1000000000LL);
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
        close(fd);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", etag);
        enum MHD_Result ret = MHD_queue_response(c, 304, r);
        MHD_destroy_response(r);
        return ret;
    }
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)sb.st_size, fd);
    MHD_add_response_header(r, "ETag", etag);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

struct afx {
    struct ect_store_fixture *sf;
    char *dir;       /* the generated fixture (keyrings, archive/) */
    ec_http *h;
    json_t *config;
    char uri[128];   /* http://127.0.0.1:PORT/debian */
    ec_fetch_ctx ctx;
};

static inline bool afx_have_tools(void)
{
    return access("/usr/bin/gpg", X_OK) == 0 && access("/usr/bin/gpgv", X_OK) == 0 &&
           access("/usr/bin/dpkg-deb", X_OK) == 0 && access("/usr/bin/xz", X_OK) == 0;
}

/* A fixture archive generated once per test program. */
static char *afx_archive_dir;

static inline int afx_group_setup(void **state)
{
    (void)state;
    if (!afx_have_tools())
        return 0;
    const char *src = getenv("EC_SOURCE_DIR");
    afx_archive_dir = ect_tmpdir();
    ect_sh("sh %s/tests/fixtures/apt/make-archive.sh %s/fx", src ? src : ".",
           afx_archive_dir);
    pthread_mutex_init(&afx_srv.mu, NULL);
    snprintf(afx_srv.root, sizeof afx_srv.root, "%s/fx/archive", afx_archive_dir);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    afx_srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                 0, NULL, NULL, afx_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                 MHD_OPTION_END);
    assert_non_null(afx_srv.d);
    afx_srv.port = MHD_get_daemon_info(afx_srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static inline int afx_group_teardown(void **state)
{
    (void)state;
    if (afx_srv.d)
        MHD_stop_daemon(afx_srv.d);
    afx_srv.d = NULL;
    if (afx_archive_dir)
        ect_rmdir(afx_archive_dir);
    afx_archive_dir = NULL;
    return 0;
}

/* A fresh store, client and config for suite @suite signed by keyring @keyring
 * ("keyring.gpg" or "other.gpg"). */
static inline struct afx *afx_new(const char *suite, const char *keyring)
{
    struct afx *f = ec_xcalloc(1, sizeof *f);
    void *sf = NULL;
    assert_int_equal(ect_store_setup(&sf), 0);
    f->sf = sf;
    f->dir = ec_xasprintf("%s/fx", afx_archive_dir);
    ec_http_opts o = {.max_retries = 1, .backoff_ms = 10, .connect_timeout_ms = 2000};
    ec_err err = {0};
    assert_int_equal(ec_http_new(&f->h, &o, &err), EC_OK);
    snprintf(f->uri, sizeof f->uri, "http://127.0.0.1:%d/debian", afx_srv.port);
    char kr[1024];
    snprintf(kr, sizeof kr, "%s/%s", f->dir, keyring);
    f->config = json_pack("{s:[{s:s, s:s, s:[s]}], s:s, s:s}", "sources", "uri", f->uri,
                          "suite", suite, "components", "main", "keyring", kr, "arch", "amd64");
    assert_non_null(f->config);
    f->ctx = (ec_fetch_ctx){.store = f->sf->st, .http = f->h, .config = f->config};
    return f;
}

static inline void afx_free(struct afx *f)
{
    ec_http_free(f->h);
    json_decref(f->config);
    void *sf = f->sf;
    ect_store_teardown(&sf);
    free(f->dir);
    free(f);
}

static inline uint64_t afx_requests(struct afx *f)
{
    ec_http_stats st;
    ec_http_stats_get(f->h, &st);
    return st.requests;
}

static int afx_nfiles;
static inline int afx_count_file(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)p, (void)ftw;
    afx_nfiles += type == FTW_F && S_ISREG(sb->st_mode);
    return 0;
}

/* Regular files under the store's blobs/. */
static inline int afx_blobs(struct afx *f)
{
    char *p = ec_xasprintf("%s/blobs", f->sf->home);
    afx_nfiles = 0;
    nftw(p, afx_count_file, 16, FTW_PHYS);
    free(p);
    return afx_nfiles;
}

/* sha256 of a file of the archive. */
static inline void afx_file_digest(ec_digest *out, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fx/archive/%s", afx_archive_dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ec_err err = {0};
    assert_int_equal(ec_sha256_fd(out, NULL, fd, &err), EC_OK);
    close(fd);
}

#define AFX_SKIP_WITHOUT_TOOLS()                                                          \
    do {                                                                                  \
        if (!afx_archive_dir) {                                                           \
            skip();                                                                       \
        }                                                                                 \
    } while (0)
