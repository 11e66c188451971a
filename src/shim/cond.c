/*
 * src/shim/cond.c: pthread_cond_*.
 *
 * Process-private condition variables are gpm's (src/core/cond.c);
 * process-shared ones (glibc's __wrefs bit 0, set by libc's own
 * pthread_cond_init) stay libc's, waited for with the P handed off. A
 * condition variable and its mutex must agree on that (gpm reports EINVAL
 * for a private one used with a process-shared mutex or the reverse; see
 * docs/COMPAT.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "../core/sync.h"
#include "shim.h"

#define PC(c) ((struct gpm_pcond *)(c))
#define PM(m) ((struct gpm_pmutex *)(m))

static inline bool native(const pthread_cond_t *c)
{
    return !gpm_active() || (c->__data.__wrefs & GPM_COND_SHARED) != 0;
}

static bool mutex_shared(const pthread_mutex_t *m)
{
    return (m->__data.__kind & GPM_MUTEX_PSHARED) != 0;
}

GPM_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
    if (!gpm_active())
        return gpm_real.pthread_cond_init(c, attr);
    int pshared = PTHREAD_PROCESS_PRIVATE;
    clockid_t clock = CLOCK_REALTIME;
    if (attr != NULL) {
        pthread_condattr_getpshared(attr, &pshared);
        if (pshared != PTHREAD_PROCESS_PRIVATE)
            return gpm_real.pthread_cond_init(c, attr);
        pthread_condattr_getclock(attr, &clock);
    }
    gpm_cond_init(PC(c), clock == CLOCK_MONOTONIC);
    return 0;
}

GPM_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
    if (native(c))
        return gpm_real.pthread_cond_destroy(c);
    return gpm_cond_destroy(PC(c));
}

/* A shared condition variable: libc's wait, in the kernel. */
static int native_wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
    if (!mutex_shared(m))
        return EINVAL;
    gpm_entersyscallblock();
    int err = abstime == NULL ? gpm_real.pthread_cond_wait(c, m)
              : clock == (clockid_t)-1 ? gpm_real.pthread_cond_timedwait(c, m, abstime)
                                       : gpm_real.pthread_cond_clockwait(c, m, clock, abstime);
    gpm_exitsyscall();
    return err;
}

static int condwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
    if (gpm_active() && (c->__data.__wrefs & GPM_COND_SHARED))
        return native_wait(c, m, clock, abstime);
    if (mutex_shared(m))
        return EINVAL;
    return gpm_cond_wait(PC(c), PM(m), clock, abstime);
}

GPM_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (!gpm_active())
        return gpm_real.pthread_cond_wait(c, m);
    return condwait(c, m, (clockid_t)-1, NULL);
}

GPM_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_cond_timedwait(c, m, abstime);
    return condwait(c, m, (clockid_t)-1, abstime);
}

GPM_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
                                      const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_cond_clockwait(c, m, clock, abstime);
    if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000 ||
        (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC))
        return EINVAL;
    return condwait(c, m, clock, abstime);
}

GPM_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
    if (native(c))
        return gpm_real.pthread_cond_signal(c);
    gpm_preemptpoint();
    return gpm_cond_signal(PC(c));
}

GPM_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
    if (native(c))
        return gpm_real.pthread_cond_broadcast(c);
    gpm_preemptpoint();
    return gpm_cond_broadcast(PC(c));
}
