/* SPDX-License-Identifier: MIT */
/* Object ids: a type prefix and 24 base62 characters that sort by creation time. */
#include "cache/cache.h"
#include "store/util/fs.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* In ASCII order, so that string order is numeric order. */
static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define ID_TIME_CHARS 10 /* microseconds since the epoch: 62^10 lasts past the year 28000 */
#define ID_CHARS 24

static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_us;

/* Microseconds, strictly increasing within the process so ids made here never tie. */
static uint64_t next_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    pthread_mutex_lock(&last_lock);
    if (us <= last_us)
        us = last_us + 1;
    last_us = us;
    pthread_mutex_unlock(&last_lock);
    return us;
}

void ec_id_new(char out[64], const char *prefix)
{
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    out[p++] = '_';
    uint64_t us = next_us();
    for (int i = ID_TIME_CHARS - 1; i >= 0; i--) {
        out[p + (size_t)i] = b62[us % 62];
        us /= 62;
    }
    unsigned char rnd[ID_CHARS - ID_TIME_CHARS];
    while (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        ;
    for (size_t i = 0; i < sizeof rnd; i++)
        out[p + ID_TIME_CHARS + i] = b62[rnd[i] % 62];
    out[p + ID_CHARS] = '\0';
}

bool ec_id_valid(const char *id, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(id, prefix, p) != 0 || id[p] != '_')
        return false;
    const char *rest = id + p + 1;
    return strlen(rest) == ID_CHARS && strspn(rest, b62) == ID_CHARS;
}
