/* SPDX-License-Identifier: MIT */
/* stderr logging; progress redraws on a terminal and is throttled elsewhere. */
#include "store/util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum ec_log_level threshold = EC_LOG_INFO;
static bool progress_open;

void ec_log_set_level(enum ec_log_level level)
{
    threshold = level;
}

bool ec_log_is_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}

static void end_progress_line(void)
{
    if (progress_open) {
        fputc('\n', stderr);
        progress_open = false;
    }
}

void ec_log(enum ec_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"error: ", "warning: ", "", "debug: "};
    va_list ap;
    if (level > threshold)
        return;
    end_progress_line();
    fputs("envcache: ", stderr);
    fputs(tags[level], stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void ec_progress(bool final, const char *fmt, ...)
{
    static struct timespec first, last;
    struct timespec now;
    va_list ap;
    if (threshold < EC_LOG_INFO)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!first.tv_sec && !first.tv_nsec)
        first = now;
    bool tty = ec_log_is_tty();
    long since_first = (now.tv_sec - first.tv_sec) * 1000L + (now.tv_nsec - first.tv_nsec) / 1000000L;
    long since_last = (now.tv_sec - last.tv_sec) * 1000L + (now.tv_nsec - last.tv_nsec) / 1000000L;
    /* Quick work shows no progress at all; long work redraws every 100 ms on a terminal and
     * prints a plain line every second elsewhere. */
    if (!final && (since_first < (tty ? 300 : 1000) || since_last < (tty ? 100 : 1000)))
        return;
    if (final && !progress_open && since_first < (tty ? 300 : 1000))
        return;
    last = now;
    va_start(ap, fmt);
    if (tty) {
        fputs("\r\033[K", stderr);
        vfprintf(stderr, fmt, ap);
        progress_open = !final;
        if (final)
            fputc('\n', stderr);
    } else {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
    fflush(stderr);
}
