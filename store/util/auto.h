/* SPDX-License-Identifier: MIT */
/* Scope-bound cleanup for plain C (GCC/Clang only, which is all we target). */
#pragma once

#include <stdio.h>
#include <stdlib.h>

static inline void ec__freep(void *p)
{
    free(*(void **)p);
}
/** Closes *fd if it is >= 0, keeps errno, and sets *fd = -1. */
void ec__closep(int *fd);
static inline void ec__fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

#define EC_AUTOFREE __attribute__((cleanup(ec__freep)))
#define EC_AUTOFD __attribute__((cleanup(ec__closep)))
#define EC_AUTOFILE __attribute__((cleanup(ec__fclosep)))
#define EC_DEFINE_AUTO(T, fn)                   \
    static inline void ec__auto_##T(T **p)      \
    {                                           \
        if (*p)                                 \
            fn(*p);                             \
    }
#define EC_AUTO(T) __attribute__((cleanup(ec__auto_##T))) T *
#define ec_steal(pp)                               \
    ({                                             \
        __typeof__(*(pp)) ec__v = *(pp);           \
        *(pp) = NULL;                              \
        ec__v;                                     \
    })
#define ec_steal_fd(pfd)        \
    ({                          \
        int ec__fd = *(pfd);    \
        *(pfd) = -1;            \
        ec__fd;                 \
    })
#define EC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
