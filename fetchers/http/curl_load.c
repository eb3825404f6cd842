/* SPDX-License-Identifier: MIT */
/* libcurl, loaded on first use rather than linked. Linked, it brought 30 of the program's
 * 50 shared objects (TLS, HTTP/2, IDN, Kerberos, LDAP, SSH, RTMP, …), loaded and relocated
 * at every start of every envcache command, ~2.5 ms of CPU before main() even for those
 * that never touch the network (sandbox, mount, session ls). Only the commands that fetch
 * pay it now, once.
 *
 * Callers are unchanged: the functions below have libcurl's names and prototypes and call
 * libcurl's own, found with dlsym. The first call also runs curl_global_init, once
 * (pthread_once), so no caller has to before starting threads. */
#define CURL_DISABLE_TYPECHECK /* we define curl_easy_setopt & co, not call them */
#include <curl/curl.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "store/util/dl.h"

#define CURL_SONAME "libcurl.so.4"

/* The variadic setters take one long, pointer or curl_off_t after the option: all passed
 * as one integer register or stack slot on the LP64 ABIs we build for, so one void * reads
 * and passes each unchanged. */
_Static_assert(sizeof(long) == sizeof(void *) && sizeof(curl_off_t) == sizeof(void *),
               "forwarding curl's variadic options needs an LP64 ABI");

#define EC_CURL_FUNCS(X)                                                                     \
    X(curl_global_init) X(curl_global_cleanup) X(curl_version_info) X(curl_free)              \
    X(curl_getdate) X(curl_slist_append) X(curl_slist_free_all) X(curl_easy_init)            \
    X(curl_easy_cleanup) X(curl_easy_reset) X(curl_easy_perform) X(curl_easy_setopt)         \
    X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_easy_escape) X(curl_share_init)        \
    X(curl_share_cleanup) X(curl_share_setopt) X(curl_share_strerror) X(curl_multi_init)     \
    X(curl_multi_cleanup) X(curl_multi_setopt) X(curl_multi_add_handle)                      \
    X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll)                     \
    X(curl_multi_wakeup) X(curl_multi_timeout) X(curl_multi_info_read) X(curl_multi_strerror)

#define DECLARE(f) static __typeof__(f) *p_##f;
EC_CURL_FUNCS(DECLARE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static CURLcode init_rc = CURLE_FAILED_INIT;

#define NAME(f) #f,
#define SLOT(f) (void **)&p_##f,

static void load(void)
{
    static const ec_dl_lib lib = {CURL_SONAME, "the HTTP client every download goes through",
                                  "libcurl4"};
    static const char *const names[] = {EC_CURL_FUNCS(NAME)};
    static void **const slots[] = {EC_CURL_FUNCS(SLOT)};
    char why[512];
    if (!ec_dl_load(&lib, names, slots, sizeof names / sizeof *names, why, sizeof why)) {
        fprintf(stderr, "envcache: %s\n", why);
        return;
    }
    loaded = 1;
    init_rc = p_curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

/* Each wrapper: libcurl's answer when it loaded, else the answer libcurl gives when it
 * cannot work (NULL handles, CURLE_FAILED_INIT): callers already report those. */

CURLcode curl_global_init(long flags)
{
    (void)flags; /* done once, in load(), with CURL_GLOBAL_DEFAULT, as every caller asks */
    ready();
    return init_rc;
}

void curl_global_cleanup(void)
{
    /* never: another thread may still use libcurl; the process's exit frees it */
}

curl_version_info_data *curl_version_info(CURLversion v)
{
    return ready() ? p_curl_version_info(v) : NULL;
}

void curl_free(void *p)
{
    if (p && ready())
        p_curl_free(p);
}

time_t curl_getdate(const char *p, const time_t *unused)
{
    return ready() ? p_curl_getdate(p, unused) : -1;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
    return ready() ? p_curl_slist_append(list, data) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list && ready())
        p_curl_slist_free_all(list);
}

CURL *curl_easy_init(void)
{
    return ready() ? p_curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *curl)
{
    if (curl && ready())
        p_curl_easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
    if (ready())
        p_curl_easy_reset(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
    return ready() ? p_curl_easy_perform(curl) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return ready() ? p_curl_easy_setopt(curl, option, arg) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return ready() ? p_curl_easy_getinfo(curl, info, arg) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
    return ready() ? p_curl_easy_strerror(code) : "libcurl could not be loaded";
}

char *curl_easy_escape(CURL *handle, const char *string, int length)
{
    return ready() ? p_curl_easy_escape(handle, string, length) : NULL;
}

CURLSH *curl_share_init(void)
{
    return ready() ? p_curl_share_init() : NULL;
}

CURLSHcode curl_share_cleanup(CURLSH *share)
{
    return share && ready() ? p_curl_share_cleanup(share) : CURLSHE_INVALID;
}

CURLSHcode curl_share_setopt(CURLSH *share, CURLSHoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return ready() ? p_curl_share_setopt(share, option, arg) : CURLSHE_NOT_BUILT_IN;
}

const char *curl_share_strerror(CURLSHcode code)
{
    return ready() ? p_curl_share_strerror(code) : "libcurl could not be loaded";
}

CURLM *curl_multi_init(void)
{
    return ready() ? p_curl_multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
    return multi && ready() ? p_curl_multi_cleanup(multi) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return ready() ? p_curl_multi_setopt(multi, option, arg) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
    return ready() ? p_curl_multi_add_handle(multi, curl) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
    return ready() ? p_curl_multi_remove_handle(multi, curl) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *multi, int *running)
{
    return ready() ? p_curl_multi_perform(multi, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds,
                          int timeout_ms, int *ret)
{
    return ready() ? p_curl_multi_poll(multi, extra_fds, extra_nfds, timeout_ms, ret)
                   : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_wakeup(CURLM *multi)
{
    return ready() ? p_curl_multi_wakeup(multi) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_timeout(CURLM *multi, long *ms)
{
    return ready() ? p_curl_multi_timeout(multi, ms) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *queued)
{
    return ready() ? p_curl_multi_info_read(multi, queued) : NULL;
}

const char *curl_multi_strerror(CURLMcode code)
{
    return ready() ? p_curl_multi_strerror(code) : "libcurl could not be loaded";
}
