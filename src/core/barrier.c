/*
 * src/core/barrier.c: barriers and spinlocks.
 *
 * A barrier counts arrivals under its lock word (a mutex word, handled by
 * mutex.c's functions through a private gpm_pmutex view), and the last
 * arrival of a round bumps `round` and wakes everyone parked on it. A
 * waiter parks while `round` is the one it arrived in, so a wake-up that
 * comes before it parks is not lost, and a thread of the next round can
 * never be confused with one of this round.
 *
 * A spinlock spins briefly, then yields its P to other Gs (the holder may
 * be one of them, waiting to run on this very P), then spins again.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "sema.h"
#include "sys.h"

_Static_assert(sizeof(struct gpm_pbarrier) == sizeof(pthread_barrier_t), "barrier overlay size");
_Static_assert(offsetof(struct gpm_pbarrier, shared) == 12, "barrier shared offset (glibc's)");

/* The barrier's lock as a NORMAL mutex: only its word is used. */
static void block(struct gpm_pbarrier *b)
{
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&b->lock, &zero, 1))
        return;
    while (atomic_exchange(&b->lock, 2) != 0)
        gpm_sema_wait(&b->lock, 2, 0, 0, NULL, WAIT_BARRIER);
}

static void bunlock(struct gpm_pbarrier *b)
{
    if (atomic_exchange(&b->lock, 0) == 2)
        gpm_sema_wake(&b->lock, 1, 0);
}

int gpm_barrier_init(struct gpm_pbarrier *b, unsigned count)
{
    if (count == 0 || count > INT_MAX)
        return EINVAL;
    atomic_store(&b->lock, 0);
    b->count = count;
    b->arrived = 0;
    b->shared = 0;
    atomic_store(&b->round, 0);
    return 0;
}

int gpm_barrier_wait(struct gpm_pbarrier *b)
{
    block(b);
    uint32_t round = atomic_load(&b->round);
    if (++b->arrived == b->count) {
        b->arrived = 0;
        atomic_store(&b->round, round + 1);
        bunlock(b);
        gpm_sema_wake(&b->round, INT_MAX, 0);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    bunlock(b);
    while (atomic_load(&b->round) == round)
        gpm_sema_wait(&b->round, round, 0, 0, NULL, WAIT_BARRIER);
    return 0;
}

int gpm_barrier_destroy(struct gpm_pbarrier *b)
{
    block(b);
    bool busy = b->arrived != 0;
    if (!busy)
        b->count = 0;
    bunlock(b);
    return busy ? EBUSY : 0;
}

/* glibc's x86-64 encoding, so that an object initialised by either side
   works with the other: 1 unlocked, 0 (or less) locked. */
enum { SPIN_UNLOCKED = 1, SPIN_LOCKED = 0 };

void gpm_spin_init(_Atomic int *l)
{
    atomic_store(l, SPIN_UNLOCKED);
}

int gpm_spin_lock(_Atomic int *l, bool trylock)
{
    for (;;) {
        if (atomic_exchange_explicit(l, SPIN_LOCKED, memory_order_acquire) == SPIN_UNLOCKED)
            return 0;
        if (trylock)
            return EBUSY;
        for (int i = 0; i < 200 && atomic_load_explicit(l, memory_order_relaxed) != SPIN_UNLOCKED; i++)
            gpm_cpu_relax();
        if (atomic_load_explicit(l, memory_order_relaxed) != SPIN_UNLOCKED && !gpm_yield())
            gpm_osyield();
    }
}

int gpm_spin_unlock(_Atomic int *l)
{
    atomic_store_explicit(l, SPIN_UNLOCKED, memory_order_release);
    return 0;
}
