/*
 * src/shim/rwlock.c: pthread_rwlock_*. Process-private rwlocks are gpm's
 * (src/core/rwlock.c); process-shared ones (glibc's __shared) stay libc's,
 * waited for with the P handed off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "../core/sync.h"
#include "shim.h"

#define PL(l) ((struct gpm_prwlock *)(l))

static inline bool native(const pthread_rwlock_t *l)
{
    return !gpm_active() || l->__data.__shared != 0;
}

GPM_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_init(l, attr);
    int pshared = PTHREAD_PROCESS_PRIVATE, kind = PTHREAD_RWLOCK_DEFAULT_NP;
    if (attr != NULL) {
        pthread_rwlockattr_getpshared(attr, &pshared);
        if (pshared != PTHREAD_PROCESS_PRIVATE)
            return gpm_real.pthread_rwlock_init(l, attr);
        pthread_rwlockattr_getkind_np(attr, &kind);
    }
    gpm_rwlock_init(PL(l), kind);
    return 0;
}

GPM_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
    if (native(l))
        return gpm_real.pthread_rwlock_destroy(l);
    return gpm_rwlock_destroy(PL(l));
}

/* A shared rwlock: try without blocking, then block in libc with the P
   handed off. */
#define NATIVE_BLOCKING(trycall, call)       \
    do {                                     \
        int err_ = (trycall);                \
        if (err_ != EBUSY)                   \
            return err_;                     \
        gpm_entersyscallblock();             \
        err_ = (call);                       \
        gpm_exitsyscall();                   \
        return err_;                         \
    } while (0)

GPM_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_rdlock(l);
    if (native(l))
        NATIVE_BLOCKING(gpm_real.pthread_rwlock_tryrdlock(l), gpm_real.pthread_rwlock_rdlock(l));
    gpm_preemptpoint();
    return gpm_rwlock_rdlock(PL(l), false, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    if (native(l))
        return gpm_real.pthread_rwlock_tryrdlock(l);
    gpm_preemptpoint();
    return gpm_rwlock_rdlock(PL(l), true, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_clockrdlock(l, clock, abstime);
    /* glibc checks the clock only with a timeout: without one, the
       untimed lock (it is the same function given NULL). */
    if (shim_given(abstime) && clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    if (native(l))
        NATIVE_BLOCKING(gpm_real.pthread_rwlock_tryrdlock(l), gpm_real.pthread_rwlock_clockrdlock(l, clock, abstime));
    return gpm_rwlock_rdlock(PL(l), false, clock, abstime);
}

GPM_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_timedrdlock(l, abstime);
    return pthread_rwlock_clockrdlock(l, CLOCK_REALTIME, abstime);
}

GPM_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_wrlock(l);
    if (native(l))
        NATIVE_BLOCKING(gpm_real.pthread_rwlock_trywrlock(l), gpm_real.pthread_rwlock_wrlock(l));
    gpm_preemptpoint();
    return gpm_rwlock_wrlock(PL(l), false, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    if (native(l))
        return gpm_real.pthread_rwlock_trywrlock(l);
    gpm_preemptpoint();
    return gpm_rwlock_wrlock(PL(l), true, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_clockwrlock(l, clock, abstime);
    /* glibc checks the clock only with a timeout: without one, the
       untimed lock (it is the same function given NULL). */
    if (shim_given(abstime) && clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    if (native(l))
        NATIVE_BLOCKING(gpm_real.pthread_rwlock_trywrlock(l), gpm_real.pthread_rwlock_clockwrlock(l, clock, abstime));
    return gpm_rwlock_wrlock(PL(l), false, clock, abstime);
}

GPM_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_rwlock_timedwrlock(l, abstime);
    return pthread_rwlock_clockwrlock(l, CLOCK_REALTIME, abstime);
}

GPM_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    if (native(l))
        return gpm_real.pthread_rwlock_unlock(l);
    return gpm_rwlock_unlock(PL(l));
}

/* The names of the old libpthread, which some binaries still import. */
GPM_EXPORT int __pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
    return pthread_rwlock_init(l, attr);
}

GPM_EXPORT int __pthread_rwlock_destroy(pthread_rwlock_t *l)
{
    return pthread_rwlock_destroy(l);
}

GPM_EXPORT int __pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    return pthread_rwlock_rdlock(l);
}

GPM_EXPORT int __pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    return pthread_rwlock_tryrdlock(l);
}

GPM_EXPORT int __pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    return pthread_rwlock_wrlock(l);
}

GPM_EXPORT int __pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    return pthread_rwlock_trywrlock(l);
}

GPM_EXPORT int __pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    return pthread_rwlock_unlock(l);
}
