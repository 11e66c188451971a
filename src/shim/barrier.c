/*
 * src/shim/barrier.c: pthread_barrier_* and pthread_spin_*.
 *
 * Process-private barriers are gpm's (src/core/barrier.c); shared ones
 * (glibc's `shared` field) stay libc's, waited for with the P handed off.
 * Spinlocks are gpm's in both cases: spinning and yielding work across
 * processes too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "../core/sync.h"
#include "shim.h"

#define PB(b) ((struct gpm_pbarrier *)(b))
#define PS(l) ((_Atomic int *)(l))

static inline bool native(const pthread_barrier_t *b)
{
    return !gpm_active() || PB(b)->shared != 0;
}

GPM_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr, unsigned count)
{
    if (!gpm_active())
        return gpm_real.pthread_barrier_init(b, attr, count);
    int pshared = PTHREAD_PROCESS_PRIVATE;
    if (attr != NULL)
        pthread_barrierattr_getpshared(attr, &pshared);
    if (pshared != PTHREAD_PROCESS_PRIVATE)
        return gpm_real.pthread_barrier_init(b, attr, count);
    return gpm_barrier_init(PB(b), count);
}

GPM_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
    if (native(b))
        return gpm_real.pthread_barrier_destroy(b);
    return gpm_barrier_destroy(PB(b));
}

GPM_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (!gpm_active())
        return gpm_real.pthread_barrier_wait(b);
    if (native(b)) {
        gpm_entersyscallblock();
        int r = gpm_real.pthread_barrier_wait(b);
        gpm_exitsyscall();
        return r;
    }
    return gpm_barrier_wait(PB(b));
}

GPM_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
    if (!gpm_active())
        return gpm_real.pthread_spin_init(l, pshared);
    gpm_spin_init(PS(l));
    return 0;
}

GPM_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
    (void)l;
    return 0;
}

GPM_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
    if (!gpm_active())
        return gpm_real.pthread_spin_lock(l);
    gpm_preemptpoint();
    return gpm_spin_lock(PS(l), false);
}

GPM_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
    if (!gpm_active())
        return gpm_real.pthread_spin_trylock(l);
    gpm_preemptpoint();
    return gpm_spin_lock(PS(l), true);
}

GPM_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
    if (!gpm_active())
        return gpm_real.pthread_spin_unlock(l);
    return gpm_spin_unlock(PS(l));
}
