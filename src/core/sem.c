/*
 * src/core/sem.c: unnamed process-private semaphores.
 *
 * value and waiters are the two halves of glibc's 64-bit `data`, with
 * glibc's meaning. sem_wait takes one unit with a CAS when value > 0;
 * otherwise it counts itself in waiters and parks on &value while it is 0.
 * sem_post adds one unit and, when anyone waits, wakes the oldest waiter,
 * which takes the unit or (if a running thread took it first) parks again.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <semaphore.h>
#include <stddef.h>

#include "sema.h"
#include "gsig.h"
#include "timer.h"

_Static_assert(sizeof(struct gpm_psem) == sizeof(sem_t), "sem overlay size");
_Static_assert(offsetof(struct gpm_psem, private_) == 8, "sem private offset (glibc's)");

int gpm_sem_init(struct gpm_psem *s, unsigned value)
{
    if (value > SEM_VALUE_MAX)
        return EINVAL;
    atomic_store(&s->value, value);
    atomic_store(&s->waiters, 0);
    s->private_ = 0;
    return 0;
}

static bool trytake(struct gpm_psem *s)
{
    uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    while (v > 0)
        if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

int gpm_sem_wait(struct gpm_psem *s, bool trywait, clockid_t clock, const struct timespec *abstime)
{
    /* As glibc: a bad deadline is an error even when no wait is needed. */
    int64_t deadline = 0;
    if (abstime != NULL && !gpm_deadline_abs(clock, abstime, &deadline))
        return EINVAL;
    if (trytake(s))
        return 0;
    if (trywait)
        return EAGAIN;
    gpm_testcancel(); /* a cancellation point */
    atomic_fetch_add(&s->waiters, 1);
    int err = 0;
    while (!trytake(s)) {
        err = gpm_sema_wait(&s->value, 0, deadline, 0, NULL, WAIT_SEM);
        if (err == ETIMEDOUT || err == EINTR) {
            if (trytake(s))
                err = 0; /* a post came with the deadline: take it */
            break;
        }
        err = 0;
    }
    atomic_fetch_sub(&s->waiters, 1);
    if (err == EINTR)
        gpm_testcancel();
    return err;
}

int gpm_sem_post(struct gpm_psem *s)
{
    uint32_t v = atomic_load(&s->value);
    do {
        if (v >= SEM_VALUE_MAX)
            return EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&s->value, &v, v + 1));
    if (atomic_load(&s->waiters) > 0)
        gpm_sema_wake(&s->value, 1, 0);
    return 0;
}

int gpm_sem_getvalue(struct gpm_psem *s, int *value)
{
    *value = (int)atomic_load(&s->value);
    return 0;
}
