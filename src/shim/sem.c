/*
 * src/shim/sem.c: unnamed semaphores (sem_*). Process-private ones are
 * gpm's (src/core/sem.c). Process-shared and named ones (glibc's `private`
 * field is non-zero for both) stay libc's, waited for with the P handed
 * off. These return -1 and set errno, as POSIX says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>

#include "../core/sync.h"
#include "shim.h"

#define PS(s) ((struct gpm_psem *)(s))

static inline bool native(sem_t *s)
{
    return !gpm_active() || PS(s)->private_ != 0;
}

static int ret(int err)
{
    if (err == 0)
        return 0;
    errno = err;
    return -1;
}

GPM_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
    if (!gpm_active() || pshared != 0)
        return gpm_real.sem_init(s, pshared, value);
    return ret(gpm_sem_init(PS(s), value));
}

GPM_EXPORT int sem_destroy(sem_t *s)
{
    if (native(s))
        return gpm_real.sem_destroy(s);
    return 0;
}

GPM_EXPORT int sem_post(sem_t *s)
{
    if (native(s))
        return gpm_real.sem_post(s);
    gpm_preemptpoint();
    return ret(gpm_sem_post(PS(s)));
}

GPM_EXPORT int sem_getvalue(sem_t *s, int *value)
{
    if (native(s))
        return gpm_real.sem_getvalue(s, value);
    return ret(gpm_sem_getvalue(PS(s), value));
}

GPM_EXPORT int sem_trywait(sem_t *s)
{
    if (native(s))
        return gpm_real.sem_trywait(s);
    gpm_preemptpoint();
    return ret(gpm_sem_wait(PS(s), true, CLOCK_REALTIME, NULL));
}

/* A shared semaphore: libc's wait, with the P handed off when it would
   block. */
static int native_wait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
    if (gpm_real.sem_trywait(s) == 0)
        return 0;
    gpm_entersyscallblock();
    int r = abstime == NULL ? gpm_real.sem_wait(s) : gpm_real.sem_clockwait(s, clock, abstime);
    int e = errno;
    gpm_exitsyscall();
    errno = e;
    return r;
}

GPM_EXPORT int sem_wait(sem_t *s)
{
    if (!gpm_active())
        return gpm_real.sem_wait(s);
    if (native(s))
        return native_wait(s, CLOCK_REALTIME, NULL);
    gpm_preemptpoint();
    return ret(gpm_sem_wait(PS(s), false, CLOCK_REALTIME, NULL));
}

GPM_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.sem_clockwait(s, clock, abstime);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return ret(EINVAL);
    if (native(s))
        return native_wait(s, clock, abstime);
    return ret(gpm_sem_wait(PS(s), false, clock, abstime));
}

GPM_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.sem_timedwait(s, abstime);
    return sem_clockwait(s, CLOCK_REALTIME, abstime);
}
