/*
 * src/core/lock.h: the runtime's own mutex and one-shot notification, on
 * futexes (Go's lock_futex.go).
 *
 * These block the kernel thread, never just the G: they guard short critical
 * sections inside the scheduler, which may run on g0 where there is no G to
 * park. They never touch thread-local state (sys.h).
 *
 * Lock order (outermost first); taking them in any other order is a bug:
 *
 *   sigs.lock            (signal.c: Gs in sigwait, signals pending for the
 *                        process; never held with allglock or gpool.lock)
 *     g->sig.lock        (signal.c: a G's queued signals; an interrupter
 *                        holds it while it takes the G out of its wait,
 *                        which takes the timer, semtable and scheduler
 *                        locks below)
 *       pool.lock        (signal.c: free signal-instance nodes; a leaf)
 *   pollfd.lock          (netpoll.c: one descriptor's waiters and calls;
 *                        taken by Gs and the poller, with nothing below it;
 *                        two at once only when a close moves calls to a
 *                        fresh duplicate, the closed one's first. Timers
 *                        and interrupters end a poll wait by CAS, without it)
 *   np.initlock          (netpoll.c: making the epoll instance; a leaf,
 *                        never slept on: Gs that find it taken yield)
 *   allglock             (gstack.c: list of live Gs, free foreign G
 *                        structs; held across TLS setup)
 *     gpool.lock         (gstack.c: global pool of free G blocks)
 *       p->timerslock    (timer.c: a P's timer heap; timer functions run
 *                        under it and take the two below)
 *         semroot.lock   (sema.c: a semtable bucket; two at once only in
 *                        requeue, in address order; held across a park,
 *                        released by park's unlockf on the next context)
 *           sched.lock   (sched.c: idle Ms and Ps, the timer M, global
 *                        run queue)
 *             persistent.lock (alloc.c: a leaf)
 *   mmaker.lock          (sched.c: Ms waiting to be made; a leaf, taken
 *                        with no other lock held)
 *   wired.lock           (wire.c: the pool of wired Ms and the Gs' wiring
 *                        requests; a leaf, taken with no other lock held,
 *                        held across raw sched_* system calls only)
 *   trace.sharedlock     (exectrace.c: the execution trace's shared track;
 *                        only ever try-locked, under any lock above)
 *     trace.lock         (exectrace.c: the trace's chunk lists; a leaf below
 *                        every lock above: events are recorded with them
 *                        held. fork.c does not take either: a forked child
 *                        stops tracing before it could record)
 *   trace.renderlock     (exectrace.c: one render at a time; taken with no
 *                        other lock held)
 *
 * fork.c takes all of them but the per-G ones, in this order, across
 * fork() (a G's sig.lock is made anew in the child for the one G there).
 *
 * A P's run queue is lock-free; no lock may be held while parking a G.
 * Adding a timer may wake the timer M (gpm_wake_timerm, sched.lock): after
 * the P's timerslock is released. A P is never pinned across a wait for
 * anything but these short locks ("P ownership" in sched.c).
 */
#ifndef GPM_CORE_LOCK_H
#define GPM_CORE_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

struct gpm_mutex {
    /* 0 unlocked, 1 locked, 2 locked with possible sleepers. */
    _Atomic uint32_t key;
};

#define GPM_MUTEX_INIT {0}

void gpm_lock_slow(struct gpm_mutex *l);
void gpm_unlock_slow(struct gpm_mutex *l);

static inline void gpm_lock(struct gpm_mutex *l)
{
    uint32_t v = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(&l->key, &v, 1, memory_order_acquire,
                                                                 memory_order_relaxed),
                         1))
        return;
    gpm_lock_slow(l);
}

static inline void gpm_unlock(struct gpm_mutex *l)
{
    /* release: pairs with the acquire of the next gpm_lock. */
    if (__builtin_expect(atomic_exchange_explicit(&l->key, 0, memory_order_release) == 2, 0))
        gpm_unlock_slow(l);
}

/*
 * One-time notification. notesleep waits until notewakeup has been called;
 * noteclear re-arms it. Exactly one sleeper and one waker per arming: a
 * second notewakeup before noteclear is a bug and throws.
 */
struct gpm_note {
    _Atomic uint32_t key;
};

void gpm_noteclear(struct gpm_note *n);
void gpm_notewakeup(struct gpm_note *n);
void gpm_notesleep(struct gpm_note *n);
/* Returns 1 if woken, 0 if ns elapsed first. */
int gpm_notetsleep(struct gpm_note *n, int64_t ns);
/* Returns 1 if woken, 0 once the monotonic time deadline has passed (at
   once if it already has: unlike a negative ns, never "forever"). */
int gpm_notesleepuntil(struct gpm_note *n, int64_t deadline);

#endif
