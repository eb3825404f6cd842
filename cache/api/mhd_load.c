/* SPDX-License-Identifier: MIT */
/* libmicrohttpd, loaded when a server first starts rather than linked: linked, it brought
 * GnuTLS and its eleven libraries into every envcache start, the sandbox's and mount's
 * included, which never serve. As fetchers/http/curl_load.c does for libcurl: the
 * functions below have libmicrohttpd's names and prototypes and call its own through
 * dlsym; the variadic ones hand on what they were given (MHD_start_daemon through
 * MHD_start_daemon_va, which takes the options as they came). */
#include "cache/api/mhd_load.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdarg.h>

#include "store/util/dl.h"

#define MHD_SONAME "libmicrohttpd.so.12"

#define EC_MHD_FUNCS(X)                                                                      \
    X(MHD_start_daemon_va) X(MHD_stop_daemon) X(MHD_add_connection)                          \
    X(MHD_get_connection_info) X(MHD_set_connection_option)                                  \
    X(MHD_get_connection_values) X(MHD_lookup_connection_value) X(MHD_suspend_connection)    \
    X(MHD_resume_connection) X(MHD_queue_response) X(MHD_create_response_from_buffer)        \
    X(MHD_create_response_from_fd_at_offset64) X(MHD_add_response_header)                    \
    X(MHD_destroy_response) X(MHD_http_unescape) X(MHD_run) X(MHD_get_timeout)              \
    X(MHD_get_daemon_info)

#define DECLARE(f) static __typeof__(f) *p_##f;
EC_MHD_FUNCS(DECLARE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[512];

#define NAME(f) #f,
#define SLOT(f) (void **)&p_##f,

static void load(void)
{
    static const ec_dl_lib lib = {MHD_SONAME, "the HTTP server the API and the mirror run on",
                                  "libmicrohttpd12"};
    static const char *const names[] = {EC_MHD_FUNCS(NAME)};
    static void **const slots[] = {EC_MHD_FUNCS(SLOT)};
    loaded = ec_dl_load(&lib, names, slots, sizeof names / sizeof *names, why, sizeof why);
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

const char *ec_mhd_unavailable(void)
{
    return ready() ? NULL : why;
}

/* Only a daemon starts the library's use: everything else is called on what it made, so
 * needs no check but the daemon's own (NULL when libmicrohttpd could not be loaded). */

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    if (!ready())
        return NULL;
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d = p_MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

struct MHD_Daemon *MHD_start_daemon_va(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, va_list ap)
{
    return ready() ? p_MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap) : NULL;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    if (daemon && ready())
        p_MHD_stop_daemon(daemon);
}

enum MHD_Result MHD_run(struct MHD_Daemon *daemon)
{
    return ready() ? p_MHD_run(daemon) : MHD_NO;
}

enum MHD_Result MHD_get_timeout(struct MHD_Daemon *daemon, MHD_UNSIGNED_LONG_LONG *timeout)
{
    return ready() ? p_MHD_get_timeout(daemon, timeout) : MHD_NO;
}

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
    return ready() ? p_MHD_get_daemon_info(daemon, info_type) : NULL;
}

/* The info and option calls' variadic part: libmicrohttpd 0.9 reads none for the infos
 * and one unsigned int for the one connection option (MHD_CONNECTION_OPTION_TIMEOUT). */
const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *connection,
                                                        enum MHD_ConnectionInfoType info_type,
                                                        ...)
{
    return ready() ? p_MHD_get_connection_info(connection, info_type) : NULL;
}

enum MHD_Result MHD_set_connection_option(struct MHD_Connection *connection,
                                          enum MHD_CONNECTION_OPTION option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned int value = va_arg(ap, unsigned int);
    va_end(ap);
    return ready() ? p_MHD_set_connection_option(connection, option, value) : MHD_NO;
}

enum MHD_Result MHD_add_connection(struct MHD_Daemon *daemon, MHD_socket client_socket,
                                   const struct sockaddr *addr, socklen_t addrlen)
{
    return ready() ? p_MHD_add_connection(daemon, client_socket, addr, addrlen) : MHD_NO;
}

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls)
{
    return ready() ? p_MHD_get_connection_values(connection, kind, iterator, iterator_cls)
                   : -1;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
                                        enum MHD_ValueKind kind, const char *key)
{
    return ready() ? p_MHD_lookup_connection_value(connection, kind, key) : NULL;
}

void MHD_suspend_connection(struct MHD_Connection *connection)
{
    if (ready())
        p_MHD_suspend_connection(connection);
}

void MHD_resume_connection(struct MHD_Connection *connection)
{
    if (ready())
        p_MHD_resume_connection(connection);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return ready() ? p_MHD_queue_response(connection, status_code, response) : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return ready() ? p_MHD_create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_fd_at_offset64(uint64_t size, int fd,
                                                             uint64_t offset)
{
    return ready() ? p_MHD_create_response_from_fd_at_offset64(size, fd, offset) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return ready() ? p_MHD_add_response_header(response, header, content) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response)
{
    if (response && ready())
        p_MHD_destroy_response(response);
}

size_t MHD_http_unescape(char *val)
{
    return ready() ? p_MHD_http_unescape(val) : 0;
}
