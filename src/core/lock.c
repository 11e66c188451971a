/*
 * src/core/lock.c: slow paths of the runtime mutex and the note.
 */
#define _GNU_SOURCE
#include "lock.h"

#include <errno.h>

#include "print.h"
#include "sys.h"

/* Spins this many rounds of `pause` before sleeping. The critical sections
   under these locks are a few dozen instructions, so a short spin usually
   sees the lock released without paying for a futex call (about 1 µs on a
   VM, more than the whole critical section). */
enum { ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, PASSIVE_SPIN = 1 };

void gpm_lock_slow(struct gpm_mutex *l)
{
    /* Once we sleep, we must leave the lock marked 2 ("maybe sleepers") when
       we take it, since we cannot know whether others sleep too. */
    uint32_t wait = atomic_exchange_explicit(&l->key, 1, memory_order_acquire);
    if (wait == 0)
        return;
    for (;;) {
        for (int i = 0; i < ACTIVE_SPIN; i++) {
            while (atomic_load_explicit(&l->key, memory_order_relaxed) == 0) {
                uint32_t z = 0;
                if (atomic_compare_exchange_weak_explicit(&l->key, &z, wait, memory_order_acquire,
                                                          memory_order_relaxed))
                    return;
            }
            for (int j = 0; j < ACTIVE_SPIN_CNT; j++)
                gpm_cpu_relax();
        }
        for (int i = 0; i < PASSIVE_SPIN; i++) {
            while (atomic_load_explicit(&l->key, memory_order_relaxed) == 0) {
                uint32_t z = 0;
                if (atomic_compare_exchange_weak_explicit(&l->key, &z, wait, memory_order_acquire,
                                                          memory_order_relaxed))
                    return;
            }
            gpm_osyield();
        }
        /* Sleep, marking that there is a sleeper. */
        if (atomic_exchange_explicit(&l->key, 2, memory_order_acquire) == 0)
            return;
        wait = 2;
        gpm_futexsleep((uint32_t *)&l->key, 2, -1);
    }
}

void gpm_unlock_slow(struct gpm_mutex *l)
{
    gpm_futexwakeup((uint32_t *)&l->key, 1);
}

void gpm_noteclear(struct gpm_note *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void gpm_notewakeup(struct gpm_note *n)
{
    /* release: everything written before the wakeup is visible to the
       sleeper once it sees key == 1 (acquire in notesleep). */
    uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
    if (old != 0)
        gpm_throwf("notewakeup: double wakeup (key %u)", old);
    gpm_futexwakeup((uint32_t *)&n->key, 1);
}

void gpm_notesleep(struct gpm_note *n)
{
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        gpm_futexsleep((uint32_t *)&n->key, 0, -1);
}

int gpm_notetsleep(struct gpm_note *n, int64_t ns)
{
    if (ns < 0) {
        gpm_notesleep(n);
        return 1;
    }
    int64_t deadline = gpm_nanotime() + ns;
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
        int64_t left = deadline - gpm_nanotime();
        if (left <= 0)
            return 0;
        gpm_futexsleep((uint32_t *)&n->key, 0, left);
    }
    return 1;
}

int gpm_notesleepuntil(struct gpm_note *n, int64_t deadline)
{
    int64_t left = deadline - gpm_nanotime();
    if (left <= 0)
        return atomic_load_explicit(&n->key, memory_order_acquire) != 0;
    return gpm_notetsleep(n, left);
}
