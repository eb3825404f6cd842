/* SPDX-License-Identifier: MIT */
/* Object ids: a type prefix and 24 base62 characters that sort by creation time. */
#include "cache/cache.h"
#include "store/util/fs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* In ASCII order, so that string order is numeric order. */
static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#define ID_TIME_CHARS 10 /* microseconds since the epoch: 62^10 lasts past the year 28000 */
#define ID_CHARS 24

static _Atomic uint64_t last_us;

/* Microseconds, strictly increasing within the process so ids made here never tie. */
static uint64_t next_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    uint64_t last = atomic_load(&last_us);
    do {
        if (us <= last)
            us = last + 1;
    } while (!atomic_compare_exchange_weak(&last_us, &last, us));
    return us;
}

/* Random bytes are taken from the kernel a page at a time, not per id: the server makes
 * an id for every request. A forked child starts with an empty pool, so that parent and
 * child never hand out the same bytes. pthread_atfork does not run for a raw clone (the
 * sandbox's clone3): a child made that way must not make ids. */
static _Thread_local struct {
    unsigned char b[4096];
    size_t left;
} pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
    pool.left = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, pool_forget);
}

static void random_bytes(unsigned char *out, size_t n)
{
    pthread_once(&atfork_once, register_atfork);
    if (pool.left < n) {
        size_t got = 0;
        while (got < sizeof pool.b) {
            ssize_t r = getrandom(pool.b + got, sizeof pool.b - got, 0);
            if (r > 0)
                got += (size_t)r;
        }
        pool.left = sizeof pool.b;
    }
    pool.left -= n;
    memcpy(out, pool.b + pool.left, n);
    memset(pool.b + pool.left, 0, n); /* used bytes do not linger */
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
    random_bytes(rnd, sizeof rnd);
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
