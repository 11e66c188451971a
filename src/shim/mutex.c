/*
 * src/shim/mutex.c: pthread_mutex_*, and the old __pthread_mutex_* names.
 *
 * Process-private mutexes are gpm's (src/core/mutex.c). A process-shared
 * one (PTHREAD_PROCESS_SHARED: glibc's kind bit 128, set by libc's own
 * pthread_mutex_init, which gpm calls for it) stays libc's, so a process
 * not under gpm can share it; a G that has to wait for it blocks in the
 * kernel with its P handed off (gpm_entersyscallblock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "../core/sync.h"
#include "shim.h"

#define PM(m) ((struct gpm_pmutex *)(m))

static inline bool native(const pthread_mutex_t *m)
{
    return !gpm_active() || (m->__data.__kind & GPM_MUTEX_PSHARED) != 0;
}

GPM_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    if (!gpm_active())
        return gpm_real.pthread_mutex_init(m, attr);
    int type = PTHREAD_MUTEX_DEFAULT, robust = PTHREAD_MUTEX_STALLED, protocol = PTHREAD_PRIO_NONE;
    int pshared = PTHREAD_PROCESS_PRIVATE, ceiling = 0;
    if (attr != NULL) {
        pthread_mutexattr_getpshared(attr, &pshared);
        if (pshared != PTHREAD_PROCESS_PRIVATE)
            return gpm_real.pthread_mutex_init(m, attr);
        pthread_mutexattr_gettype(attr, &type);
        pthread_mutexattr_getrobust(attr, &robust);
        pthread_mutexattr_getprotocol(attr, &protocol);
        pthread_mutexattr_getprioceiling(attr, &ceiling);
    }
    int kind = type;
    if (robust == PTHREAD_MUTEX_ROBUST)
        kind |= GPM_MUTEX_ROBUST;
    if (protocol == PTHREAD_PRIO_INHERIT)
        kind |= GPM_MUTEX_PRIO_INHERIT;
    else if (protocol == PTHREAD_PRIO_PROTECT)
        kind |= GPM_MUTEX_PRIO_PROTECT;
    gpm_mutex_init(PM(m), kind, ceiling);
    return 0;
}

GPM_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
    if (native(m))
        return gpm_real.pthread_mutex_destroy(m);
    return gpm_mutex_destroy(PM(m));
}

/* The fast paths below call nothing but in tail position, so that they
   need no stack frame (no callee-saved register to save): what may call
   and come back lives in these. An uncontended lock+unlock is two atomics
   and a few loads, as glibc's. */

static int lock_preempted(pthread_mutex_t *m);

/* A process-shared mutex, or gpm not active (or not initialised yet: the
   check initialises it, and a private mutex then goes gpm's way). */
static __attribute__((noinline)) int lock_native(pthread_mutex_t *m)
{
    if (!gpm_active())
        return gpm_real.pthread_mutex_lock(m);
    if (!native(m))
        return lock_preempted(m);
    int err = gpm_real.pthread_mutex_trylock(m);
    if (err != EBUSY)
        return err;
    gpm_entersyscallblock();
    err = gpm_real.pthread_mutex_lock(m);
    gpm_exitsyscall();
    return err;
}

/* The G was asked to yield: it does, then locks. */
static __attribute__((noinline)) int lock_preempted(pthread_mutex_t *m)
{
    gpm_preemptpoint();
    if (gpm_mutex_trylock_plain(PM(m), gpm_selftid_inline()))
        return 0;
    return gpm_mutex_lock(PM(m), false, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (__builtin_expect(atomic_load_explicit(&gpm_state, memory_order_acquire) != GPM_ACTIVE, 0) ||
        (m->__data.__kind & GPM_MUTEX_PSHARED) != 0)
        return lock_native(m);
    if (__builtin_expect(__atomic_load_n(&gpm_tls_preempt, __ATOMIC_RELAXED) != 0, 0))
        return lock_preempted(m);
    if (gpm_mutex_trylock_plain(PM(m), gpm_selftid_inline()))
        return 0;
    return gpm_mutex_lock(PM(m), false, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    if (native(m))
        return gpm_real.pthread_mutex_trylock(m);
    gpm_preemptpoint();
    return gpm_mutex_lock(PM(m), true, CLOCK_REALTIME, NULL);
}

GPM_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
    if (native(m)) {
        if (!gpm_active())
            return gpm_real.pthread_mutex_clocklock(m, clock, abstime);
        int err = gpm_real.pthread_mutex_trylock(m);
        if (err != EBUSY)
            return err;
        gpm_entersyscallblock();
        err = gpm_real.pthread_mutex_clocklock(m, clock, abstime);
        gpm_exitsyscall();
        return err;
    }
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    return gpm_mutex_lock(PM(m), false, clock, abstime);
}

GPM_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
    if (native(m) && !gpm_active())
        return gpm_real.pthread_mutex_timedlock(m, abstime);
    return pthread_mutex_clocklock(m, CLOCK_REALTIME, abstime);
}

static __attribute__((noinline)) int unlock_native(pthread_mutex_t *m)
{
    if (native(m))
        return gpm_real.pthread_mutex_unlock(m);
    return gpm_mutex_unlock(PM(m));
}

GPM_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    /* Anything but an active gpm and a private mutex: the full check. */
    if (__builtin_expect(atomic_load_explicit(&gpm_state, memory_order_acquire) != GPM_ACTIVE, 0) ||
        (m->__data.__kind & GPM_MUTEX_PSHARED) != 0)
        return unlock_native(m);
    if (gpm_mutex_unlock_plain(PM(m)))
        return 0;
    return gpm_mutex_unlock(PM(m));
}

GPM_EXPORT int pthread_mutex_consistent(pthread_mutex_t *m)
{
    if (native(m))
        return gpm_real.pthread_mutex_consistent(m);
    return gpm_mutex_consistent(PM(m));
}

/* <pthread.h> redirects the old name to the new one; binaries built with
   older headers still import it. */
GPM_EXPORT int gpm_mutex_consistent_np(pthread_mutex_t *m) __asm__("pthread_mutex_consistent_np");
GPM_EXPORT int gpm_mutex_consistent_np(pthread_mutex_t *m)
{
    return pthread_mutex_consistent(m);
}

GPM_EXPORT int pthread_mutex_getprioceiling(const pthread_mutex_t *m, int *ceiling)
{
    if (native(m))
        return gpm_real.pthread_mutex_getprioceiling(m, ceiling);
    if (!(m->__data.__kind & GPM_MUTEX_PRIO_PROTECT))
        return EINVAL;
    *ceiling = PM(m)->ceiling;
    return 0;
}

/* As glibc: only for PRIO_PROTECT mutexes, a ceiling in SCHED_FIFO's range;
   the mutex is locked around the change. */
GPM_EXPORT int pthread_mutex_setprioceiling(pthread_mutex_t *m, int ceiling, int *old)
{
    if (native(m))
        return gpm_real.pthread_mutex_setprioceiling(m, ceiling, old);
    if (!(m->__data.__kind & GPM_MUTEX_PRIO_PROTECT) || ceiling < sched_get_priority_min(SCHED_FIFO) ||
        ceiling > sched_get_priority_max(SCHED_FIFO))
        return EINVAL;
    /* Held by the caller: a recursive mutex counts once more (and is
       unlocked once below), an error-checking one is EDEADLK, as glibc's;
       a normal one waits for itself, as glibc's does. */
    int err = gpm_mutex_lock_noraise(PM(m));
    if (err != 0)
        return err;
    *old = PM(m)->ceiling;
    PM(m)->ceiling = (int16_t)ceiling;
    gpm_mutex_unlock(PM(m));
    return 0;
}

/* The names of the old libpthread, which some binaries still import. */
GPM_EXPORT int __pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    return pthread_mutex_init(m, attr);
}

GPM_EXPORT int __pthread_mutex_destroy(pthread_mutex_t *m)
{
    return pthread_mutex_destroy(m);
}

GPM_EXPORT int __pthread_mutex_lock(pthread_mutex_t *m)
{
    return pthread_mutex_lock(m);
}

GPM_EXPORT int __pthread_mutex_trylock(pthread_mutex_t *m)
{
    return pthread_mutex_trylock(m);
}

GPM_EXPORT int __pthread_mutex_unlock(pthread_mutex_t *m)
{
    return pthread_mutex_unlock(m);
}
