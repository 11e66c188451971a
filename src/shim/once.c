/*
 * src/shim/once.c: pthread_once, its old name __pthread_once, and C11's
 * call_once (a once_flag is a pthread_once_t, as in glibc).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <threads.h>

#include "../core/sync.h"
#include "shim.h"

GPM_EXPORT int pthread_once(pthread_once_t *once, void (*init)(void))
{
    if (!gpm_active())
        return gpm_real.pthread_once(once, init);
    return gpm_once((_Atomic int *)once, init);
}

GPM_EXPORT int __pthread_once(pthread_once_t *once, void (*init)(void))
{
    return pthread_once(once, init);
}

GPM_EXPORT void call_once(once_flag *flag, void (*func)(void))
{
    _Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");
    if (!gpm_active()) {
        gpm_real.call_once(flag, func);
        return;
    }
    gpm_once((_Atomic int *)flag, func);
}
