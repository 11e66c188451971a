/*
 * src/core/cond.c: condition variables, on the semtable.
 *
 * seq counts signals and broadcasts. A waiter reads seq, counts itself in
 * nwait, unlocks the mutex and parks on &seq while seq is unchanged: a
 * signal between its unlock and its park changes seq, so the park does not
 * happen (no lost wake-up), and a thread that starts waiting after a
 * signal reads the new seq, so it cannot take that signal from an earlier
 * waiter (no stolen wake-up). Spurious wake-ups remain possible, as POSIX
 * allows. seq changes only through gpm_sema_bumpwake, under the lock of
 * its semtable queue, where waiters check it: one step, no locked
 * increment of its own.
 *
 * Broadcast wakes one waiter and moves the others from &seq onto the
 * mutex's word (gpm_sema_requeue): they then wake one at a time as the
 * mutex is unlocked, instead of all rushing for it (no thundering herd).
 * That needs the mutex to be one of gpm's; with any other, all are woken.
 *
 * Counting waiters
 * ----------------
 * The waiters not woken yet number nwait - nwoken (modulo 2^32). A waiter
 * adds one to nwait before it unlocks the mutex, with a locked
 * instruction: waiters may race (one that was not woken, by a timeout or
 * a signal, takes its one back the same way, and a program may, against
 * POSIX, wait with two mutexes at once). Wakers count the waiters they
 * wake or move in nwoken, under seq's semtable lock (the tally of
 * gpm_sema_bumpwake and gpm_sema_requeue), where a plain addition is
 * enough: a signal makes one locked instruction fewer than with a single
 * count. Wakers, not the woken, count woken waiters out, so a waiter
 * touches the condition variable's memory no more once it is woken.
 *
 * A signal with nobody to wake returns after two loads (haswaiters):
 * nwoken first (acquire, against the tally's release store), then nwait.
 * Every waiter counted in the nwoken read had counted itself in nwait
 * before it queued, so the nwait read includes it too; a waiter whose wait
 * the signal must end (its increment happened before the signaller's
 * call, through the mutex) is in the nwait read and not in the nwoken
 * read. So the difference read is never 0 while such a waiter waits.
 *
 * Destroying
 * ----------
 * POSIX lets a program destroy a condition variable, and reuse its
 * memory, as soon as no thread is blocked on it: right after a broadcast.
 * A waiter that the broadcast overtook between its unlock of the mutex
 * and its look at seq in the semtable is not blocked, yet still reads seq
 * there and, finding it changed, counts itself out of nwait: both on the
 * memory the program may have reused. (On memory initialised anew it
 * would park on a seq that nobody bumps, or leave nwait one short, so
 * that the next waiter looks counted out and signals skip it.) So
 * gpm_cond_destroy waits until every waiter counted in is counted out
 * (nwait == nwoken), as glibc's destroy waits for its waiters' references
 * (__wrefs). A waiter's count-out is its last touch of the condition
 * variable, and woken waiters are counted out by their wakers, so destroy
 * returns at once unless such a waiter is in that window, a few hundred
 * nanoseconds away from counting itself out. A waiter still blocked
 * (destroying with blocked waiters is undefined) keeps destroy waiting, as
 * under glibc.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "sema.h"
#include "gsig.h"
#include "sys.h"
#include "timer.h"

_Static_assert(sizeof(struct gpm_pcond) == sizeof(pthread_cond_t), "cond overlay size");
_Static_assert(offsetof(struct gpm_pcond, flags) == offsetof(pthread_cond_t, __data.__wrefs),
               "cond flags offset");

enum { WAKE_COND = 3 }; /* distinct from mutex.c's wake values */

void gpm_cond_init(struct gpm_pcond *c, bool monotonic)
{
    atomic_store(&c->seq, 0);
    atomic_store(&c->nwait, 0);
    atomic_store(&c->nwoken, 0);
    c->mutex = NULL;
    c->flags = monotonic ? GPM_COND_MONOTONIC : 0;
}

int gpm_cond_wait(struct gpm_pcond *c, struct gpm_pmutex *m, clockid_t clock, const struct timespec *abstime)
{
    int64_t deadline = 0;
    if (abstime != NULL) {
        if (clock == (clockid_t)-1)
            clock = (c->flags & GPM_COND_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        if (!gpm_deadline_abs(clock, abstime, &deadline))
            return EINVAL;
    }
    gpm_testcancel(); /* a cancellation point: acted on with the mutex held */
    uint32_t seq = atomic_load(&c->seq);
    atomic_fetch_add(&c->nwait, 1);
    c->mutex = m;
    int err = gpm_mutex_unlock(m);
    if (err != 0) {
        atomic_fetch_sub(&c->nwait, 1);
        return err;
    }
    uint32_t wv = 0;
    int r = gpm_sema_waitseq(&c->seq, seq, deadline, &wv, WAIT_COND);
    if (r != 0)
        atomic_fetch_sub(&c->nwait, 1); /* nobody woke us: count ourselves out */
    int lerr = gpm_mutex_relock(m, r == 0, wv);
    if (lerr != 0)
        return lerr;
    if (r == EINTR)
        gpm_testcancel(); /* with the mutex held again, as POSIX says */
    return r == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* Whether some waiter may not be woken yet ("Counting waiters"). */
static bool haswaiters(struct gpm_pcond *c)
{
    uint32_t woken = atomic_load_explicit(&c->nwoken, memory_order_acquire);
    return atomic_load_explicit(&c->nwait, memory_order_acquire) != woken;
}

int gpm_cond_destroy(struct gpm_pcond *c)
{
    /* ("Destroying"): yields while the waiter is moments away, then
       sleeps, for a waiter that will not come out. */
    for (int tries = 0; haswaiters(c); tries++) {
        if (tries < 100)
            gpm_sched_yield(); /* the waiter may be queued behind us */
        else
            gpm_sleepuntil(gpm_nanotime() + 1000000);
    }
    return 0;
}

int gpm_cond_signal(struct gpm_pcond *c)
{
    if (haswaiters(c))
        gpm_sema_bumpwake(&c->seq, 1, WAKE_COND, &c->nwoken);
    return 0;
}

int gpm_cond_broadcast(struct gpm_pcond *c)
{
    if (!haswaiters(c))
        return 0;
    struct gpm_pmutex *m = c->mutex;
    if (m != NULL && m->kind >= 0 && !(m->kind & GPM_MUTEX_PSHARED)) {
        gpm_sema_bumpwake(&c->seq, 1, WAKE_COND, &c->nwoken);
        if (gpm_sema_requeue(&c->seq, 0, 0, &m->word, INT_MAX, &c->nwoken) > 0)
            gpm_mutex_requeued(m);
    } else {
        gpm_sema_bumpwake(&c->seq, INT_MAX, WAKE_COND, &c->nwoken);
    }
    return 0;
}
