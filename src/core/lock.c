/*
 * src/core/lock.c: slow paths of the runtime mutex and the note.
 */
#define _GNU_SOURCE
#include "lock.h"

#include <errno.h>

#include "env.h"
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

/*
 * Notes
 * -----
 * A note is a one-shot event: key is 0 while clear, NOTE_WOKEN once
 * notewakeup ran, NOTE_SLEEPING while its sleeper may be in the kernel.
 * Only the sleeper moves 0 -> NOTE_SLEEPING (and back, on a timeout); only
 * the waker stores NOTE_WOKEN, by exchange, and calls futex wake only when
 * it replaced NOTE_SLEEPING.
 *
 * An untimed sleep spins NOTE_SPIN_NS first, when the process has more
 * than one CPU (the waker is running elsewhere). An M that parks is often
 * wanted again within microseconds: a spinning M that found nothing parks,
 * and the next G created wakes it (wakep). A wake-up that lands during
 * the spin costs the waker one exchange instead of a futex call that must
 * interrupt an idle CPU, which is ~6 µs on a VM (measured: the waker's
 * FUTEX_WAKE of a thread asleep on an idle vCPU), and the woken M runs at
 * once. Timed sleeps (sysmon's, the timer M's) do not spin: they are the
 * ones that expect to sleep.
 */
enum { NOTE_WOKEN = 1, NOTE_SLEEPING = 2 };
enum { NOTE_SPIN_NS = 10000 };

void gpm_noteclear(struct gpm_note *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void gpm_notewakeup(struct gpm_note *n)
{
    /* release: everything written before the wakeup is visible to the
       sleeper once it sees NOTE_WOKEN (acquire in notesleep). */
    uint32_t old = atomic_exchange_explicit(&n->key, NOTE_WOKEN, memory_order_release);
    if (old == NOTE_WOKEN)
        /* Invariant: a note is woken once per sleep; a second wakeup
           means two wakers own one sleeper, and one of them is wrong. */
        gpm_throwf("notewakeup: double wakeup (key %u)", old);
    if (old == NOTE_SLEEPING)
        gpm_futexwakeup((uint32_t *)&n->key, 1);
}

/* Sleeps until woken or until deadline (monotonic ns; -1: none) once the
   key is NOTE_SLEEPING. Returns whether it was woken. */
static bool notesleep_kernel(struct gpm_note *n, int64_t deadline)
{
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong_explicit(&n->key, &z, NOTE_SLEEPING, memory_order_acquire,
                                                 memory_order_acquire))
        return true; /* NOTE_WOKEN already */
    for (;;) {
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - gpm_nanotime();
            if (left <= 0) {
                uint32_t s = NOTE_SLEEPING;
                /* Back to clear, unless the wake-up came meanwhile. */
                return !atomic_compare_exchange_strong_explicit(&n->key, &s, 0, memory_order_acquire,
                                                                memory_order_acquire);
            }
        }
        gpm_futexsleep((uint32_t *)&n->key, NOTE_SLEEPING, left);
        if (atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN)
            return true;
    }
}

void gpm_notesleep(struct gpm_note *n)
{
    if (atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN)
        return;
    if (gpm_config.ncpu > 1) {
        int64_t until = gpm_nanotime() + NOTE_SPIN_NS;
        do {
            for (int i = 0; i < 16; i++) {
                if (atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN)
                    return;
                gpm_cpu_relax();
            }
        } while (gpm_nanotime() < until);
    }
    notesleep_kernel(n, -1);
}

int gpm_notetsleep(struct gpm_note *n, int64_t ns)
{
    if (ns < 0) {
        gpm_notesleep(n);
        return 1;
    }
    if (atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN)
        return 1;
    return notesleep_kernel(n, gpm_nanotime() + ns);
}

int gpm_notesleepuntil(struct gpm_note *n, int64_t deadline)
{
    int64_t left = deadline - gpm_nanotime();
    if (left <= 0)
        return atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN;
    return gpm_notetsleep(n, left);
}
