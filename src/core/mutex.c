/*
 * src/core/mutex.c: pthread mutexes of every kind, on the semtable.
 *
 * The lock word
 * -------------
 * word is glibc's __lock with glibc's meaning: 0 unlocked, 1 locked, 2
 * locked and perhaps waited for. Locking is one CAS 0 -> 1 and nothing
 * else when uncontended; unlocking is one CAS 1 -> 0. A G that finds the
 * mutex locked swaps in 2 and parks on the word's address in the semtable
 * (sema.h) while it stays 2, so an unlock that finds 2 knows to wake
 * someone, and does so under the semtable's lock (gpm_sema_wake1), where
 * no waiter can queue up unseen.
 *
 * Fairness (Go's sync.Mutex starvation mode)
 * ------------------------------------------
 * Normally the unlocker releases the word and wakes the oldest waiter,
 * which competes again with threads that arrive meanwhile (barging keeps
 * the lock busy and the handoff cheap). But a waiter that has waited more
 * than 1 ms gets the mutex handed to it: the unlocker leaves the word
 * locked, records the waiter as owner, and wakes it with WAKE_HANDOFF, so
 * nobody can take the mutex in between. A woken waiter that lost the race
 * parks again at the front of its age, keeping its original start time.
 *
 * Relocking after a condition variable
 * ------------------------------------
 * A condition variable's broadcast moves its waiters onto the mutex's
 * word (cond.c), where an unlock finds them only if the word says 2. The
 * invariant that keeps them from being forgotten:
 *
 *   Every G queued on the word is covered: either the word is 2, or a G
 *   woken off the word's queue with WAKE_RETRY has yet to make the
 *   exchange in word_lock_slow, which stores 2.
 *
 * Each writer keeps it: a locker that parks stores 2 first; unlock_decide
 * leaves 0 only when it wakes someone with WAKE_RETRY (and 1 or 2 with a
 * handoff, 2 when others wait); gpm_mutex_requeued, after a move, stores
 * 2 or wakes one with WAKE_RETRY. So a thread back from a condition
 * variable that was woken off the word's queue (WAKE_RETRY: a broadcast
 * had moved it there) must lock by exchanging 2, as any woken mutex
 * waiter does. Every other one (signalled or broadcast off the condition
 * variable's own queue, timed out, interrupted: none of these was ever on
 * the word's queue) covers nobody and takes the mutex as a newcomer, with
 * one CAS 0 -> 1 when it is free, so that its unlock is one CAS 1 -> 0
 * too instead of a trip through the semtable's lock.
 *
 * Kinds
 * -----
 * The kind bits at offset 16 are glibc's, so PTHREAD_*_MUTEX_INITIALIZER*
 * work unchanged. owner (glibc's __owner) is the tid in the holder's TCB
 * (a G's own, see docs/TLS.md), recorded for every kind; RECURSIVE counts
 * in `count`; ERRORCHECK, RECURSIVE, robust and priority-protocol mutexes
 * check it on unlock (EPERM) and relock (EDEADLK, or the count), as glibc.
 *
 * Robust mutexes live on a list of their holder (g->robust_head, linked
 * through the mutexes' own __list words, as glibc's robust list is). When
 * a G exits holding some, each is marked OWNERDEAD and released: its next
 * owner gets EOWNERDEAD, and either makes it consistent or, by unlocking
 * it as it is, makes it NOTRECOVERABLE for everyone (ENOTRECOVERABLE).
 *
 * Priority ceilings
 * -----------------
 * gpm changes no thread's priority for PRIO_PROTECT (compat/
 * differences.md), but gives the answers glibc's priority changes give.
 * glibc's lock raises the locker to the ceiling with sched_setscheduler,
 * keeping its policy; for a thread whose policy has no priorities
 * (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE: only 0) that fails, and the lock
 * is EINVAL. glibc has by then recorded the ceiling as the thread's
 * highest and never takes it back (the failed lock does not undo it), so
 * the thread's later locks of ceilings up to it need no change and
 * succeed. g->ppceiling is that record. A locker whose priority is above
 * the ceiling is EINVAL too, before anything is recorded.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>

#include "../../compat/glibc_abi.h"
#include "foreign.h"
#include "sema.h"
#include "sys.h"
#include "timer.h"

_Static_assert(sizeof(struct gpm_pmutex) == sizeof(pthread_mutex_t), "mutex overlay size");
_Static_assert(offsetof(struct gpm_pmutex, kind) == offsetof(pthread_mutex_t, __data.__kind),
               "mutex kind offset (static initialisers)");
_Static_assert(offsetof(struct gpm_pmutex, owner) == offsetof(pthread_mutex_t, __data.__owner),
               "mutex owner offset");

/* What a mutex waiter is woken with. */
enum { WAKE_RETRY = 1, WAKE_HANDOFF = 2 };

/* A waiter this old gets the mutex handed over (see "Fairness"). */
#define STARVATION_NS 1000000

int gpm_selftid(void)
{
    return TCB_FIELD(gpm_rdtp(), TCB_OFF_TID, int);
}

static bool checks_owner(int kind)
{
    int type = kind & GPM_MUTEX_TYPE_MASK;
    return type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK ||
           (kind & (GPM_MUTEX_ROBUST | GPM_MUTEX_PRIO_INHERIT | GPM_MUTEX_PRIO_PROTECT)) != 0;
}

void gpm_mutex_init(struct gpm_pmutex *m, int kind, int ceiling)
{
    atomic_store_explicit(&m->word, 0, memory_order_relaxed);
    m->count = 0;
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    m->nusers = 0;
    m->kind = kind;
    m->ceiling = (int16_t)ceiling;
    atomic_store_explicit(&m->robust, ROBUST_CONSISTENT, memory_order_relaxed);
    m->rprev = m->rnext = NULL;
}

/* ---- Robust list ------------------------------------------------------------ */

static void robust_link(struct gpm_pmutex *m)
{
    struct gpm_g *gp = gpm_getg_adopt();
    if (gp == NULL)
        return; /* no G (out of memory): the mutex simply is not released at exit */
    struct gpm_pmutex *head = gp->robust_head;
    m->rprev = NULL;
    m->rnext = head;
    if (head != NULL)
        head->rprev = m;
    gp->robust_head = m;
}

static void robust_unlink(struct gpm_pmutex *m)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL)
        return;
    struct gpm_pmutex *prev = m->rprev, *next = m->rnext;
    if (prev != NULL)
        prev->rnext = next;
    else if (gp->robust_head == m)
        gp->robust_head = next;
    if (next != NULL)
        next->rprev = prev;
    m->rprev = m->rnext = NULL;
}

/* ---- Lock word ------------------------------------------------------------------- */

/* decide for gpm_sema_wake1 on unlock ("Fairness"). */
static uint32_t unlock_decide(void *arg, const struct gpm_sema_waiter *w, bool more)
{
    struct gpm_pmutex *m = arg;
    if (w != NULL && w->waitsince != 0 && gpm_nanotime() - w->waitsince > STARVATION_NS) {
        atomic_store(&m->owner, (int32_t)w->g->tid);
        atomic_store(&m->word, more ? 2 : 1);
        return WAKE_HANDOFF;
    }
    atomic_store(&m->word, 0);
    return WAKE_RETRY;
}

static void word_unlock(struct gpm_pmutex *m)
{
    uint32_t one = 1;
    if (atomic_compare_exchange_strong_explicit(&m->word, &one, 0, memory_order_release, memory_order_relaxed))
        return;
    gpm_sema_wake1(&m->word, unlock_decide, m);
}

/* Whether the calling G's P has nothing else to run (read without
   pinning it: a hint, as Go's canSpin reads its P's run queue). */
static bool localidle(void)
{
    struct gpm_g *gp = gpm_getg();
    struct gpm_m *mp = gp != NULL ? gp->m : NULL;
    struct gpm_p *pp = mp != NULL ? mp->p : NULL;
    return pp == NULL || gpm_runqempty(pp);
}

/*
 * Takes the word after it was found locked (or right away, for a thread
 * coming back from a condition variable off the word's queue, which must
 * mark it contended: owes2). Returns 0 (locked) or ETIMEDOUT; EINVAL for a
 * bad abstime.
 */
static int word_lock_slow(struct gpm_pmutex *m, bool owes2, clockid_t clock, const struct timespec *abstime)
{
    int64_t deadline = 0;
    if (abstime != NULL && !gpm_deadline_abs(clock, abstime, &deadline))
        return EINVAL;
    /* Spin briefly while other Ps run, as Go's sync.Mutex does (canSpin):
       the holder may be about to release. Not when this P has other Gs to
       run: parking is cheap then, and it gathers the Gs that contend for
       one mutex on the P of the one that wakes them (a wake-up goes to the
       waker's runnext), where they take turns without a cache line
       bouncing between CPUs; spinning would keep two Ps fighting for the
       word (4 threads on one mutex, 2 Ps: 36 ns per critical section
       spinning, 14 ns without). A newcomer takes it here as the fast path
       does, 0 -> 1: it covers nobody ("Relocking after a condition
       variable": a sleeper that the last unlock woke stores 2 again when
       it finds the word taken), so the word stays 1 while nobody sleeps
       and the next unlock needs no semtable. A G woken off the word's
       queue (owes2) stores 2. */
    if (gpm_sched.gomaxprocs > 1 && gpm_sched.gomaxprocs - atomic_load(&gpm_sched.npidle) > 1 && localidle()) {
        for (int i = 0; i < 100; i++) {
            uint32_t zero = 0;
            if (atomic_load_explicit(&m->word, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_weak(&m->word, &zero, owes2 ? 2 : 1))
                return 0;
            gpm_cpu_relax();
        }
    }
    /* When it started to wait, for unlock_decide: read once, when it is
       first about to park (a lock taken at the first exchange needs no
       clock). */
    int64_t since = 0;
    for (;;) {
        if (atomic_exchange(&m->word, 2) == 0)
            return 0;
        if (since == 0)
            since = gpm_nanotime();
        uint32_t wv = 0;
        int err = gpm_sema_wait(&m->word, 2, deadline, since, &wv, WAIT_MUTEX);
        if (err == ETIMEDOUT)
            return ETIMEDOUT;
        if (err == 0 && wv == WAKE_HANDOFF)
            return 0;
    }
}

/* The mutex is ours (word locked): record it, and report its robust state. */
static int acquired(struct gpm_pmutex *m, int self, bool handedoff)
{
    (void)handedoff;
    atomic_store_explicit(&m->owner, self, memory_order_relaxed);
    m->count = 1;
    if (m->kind & GPM_MUTEX_ROBUST) {
        int16_t st = atomic_load(&m->robust);
        if (st == ROBUST_NOTRECOVERABLE) {
            atomic_store(&m->owner, 0);
            word_unlock(m);
            return ENOTRECOVERABLE;
        }
        robust_link(m);
        if (st == ROBUST_OWNERDEAD)
            return EOWNERDEAD;
    }
    return 0;
}

/* What glibc's raising of the locker to m's ceiling would answer (see
   "Priority ceilings"). Runs on the G's stack. */
static int ceiling_check(struct gpm_pmutex *m)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL)
        return 0;
    int ceiling = m->ceiling;
    if (gp->schedprio > ceiling)
        return EINVAL;
    bool realtime = gp->schedpolicy == SCHED_FIFO || gp->schedpolicy == SCHED_RR;
    if (!realtime && ceiling > gp->ppceiling) {
        gp->ppceiling = ceiling;
        return EINVAL;
    }
    return 0;
}

/* raise: whether a PRIO_PROTECT mutex's ceiling applies (all but
   pthread_mutex_setprioceiling's locking). */
static int mutex_lock(struct gpm_pmutex *m, bool trylock, clockid_t clock, const struct timespec *abstime,
                      bool raise)
{
    int kind = m->kind;
    if (kind < 0)
        return EINVAL;
    int self = gpm_selftid();
    if (checks_owner(kind) && atomic_load_explicit(&m->owner, memory_order_relaxed) == self) {
        /* Relocked by its owner: glibc's answers, kind by kind. */
        switch (kind & GPM_MUTEX_TYPE_MASK) {
        case PTHREAD_MUTEX_RECURSIVE:
            if (m->count == UINT_MAX)
                return EAGAIN;
            m->count++;
            return 0;
        case PTHREAD_MUTEX_ERRORCHECK:
            /* glibc's plain error-checking trylock does not look at the
               owner; its robust and priority-protocol ones do first. */
            if (trylock && !(kind & (GPM_MUTEX_ROBUST | GPM_MUTEX_PRIO_INHERIT | GPM_MUTEX_PRIO_PROTECT)))
                return EBUSY;
            return EDEADLK;
        default:
            /* NORMAL (robust or with a priority protocol): a trylock is
               refused, a lock waits for itself (forever, or until its
               deadline), as glibc's does. */
            if (trylock)
                return EBUSY;
            break;
        }
    }
    if ((kind & GPM_MUTEX_ROBUST) && atomic_load(&m->robust) == ROBUST_NOTRECOVERABLE)
        return ENOTRECOVERABLE;
    if (raise && (kind & GPM_MUTEX_PRIO_PROTECT)) {
        int err = ceiling_check(m);
        if (err != 0)
            return err;
    }
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&m->word, &zero, 1, memory_order_acquire, memory_order_relaxed)) {
        if (trylock)
            return EBUSY;
        int err = word_lock_slow(m, false, clock, abstime);
        if (err != 0)
            return err;
    }
    return acquired(m, self, false);
}

int gpm_mutex_lock(struct gpm_pmutex *m, bool trylock, clockid_t clock, const struct timespec *abstime)
{
    return mutex_lock(m, trylock, clock, abstime, true);
}

int gpm_mutex_lock_noraise(struct gpm_pmutex *m)
{
    return mutex_lock(m, false, CLOCK_REALTIME, NULL, false);
}

int gpm_mutex_unlock(struct gpm_pmutex *m)
{
    int kind = m->kind;
    if (kind < 0)
        return EINVAL;
    if (checks_owner(kind)) {
        if (atomic_load_explicit(&m->owner, memory_order_relaxed) != gpm_selftid() ||
            atomic_load_explicit(&m->word, memory_order_relaxed) == 0)
            return EPERM;
        if ((kind & GPM_MUTEX_TYPE_MASK) == PTHREAD_MUTEX_RECURSIVE && --m->count != 0)
            return 0;
    }
    bool unrecoverable = false;
    if (kind & GPM_MUTEX_ROBUST) {
        robust_unlink(m);
        if (atomic_load(&m->robust) == ROBUST_OWNERDEAD) {
            /* Unlocked without pthread_mutex_consistent: nobody can
               trust the protected state again. */
            atomic_store(&m->robust, ROBUST_NOTRECOVERABLE);
            unrecoverable = true;
        }
    }
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    m->count = 0;
    word_unlock(m);
    if (unrecoverable)
        gpm_sema_wake(&m->word, INT_MAX, WAKE_RETRY);
    return 0;
}

int gpm_mutex_destroy(struct gpm_pmutex *m)
{
    if (m->kind < 0)
        return EINVAL;
    if (atomic_load(&m->word) != 0)
        return EBUSY;
    m->kind = GPM_MUTEX_DESTROYED;
    return 0;
}

int gpm_mutex_consistent(struct gpm_pmutex *m)
{
    if (!(m->kind & GPM_MUTEX_ROBUST) || m->kind < 0 || atomic_load(&m->robust) != ROBUST_OWNERDEAD ||
        atomic_load(&m->owner) != gpm_selftid())
        return EINVAL;
    atomic_store(&m->robust, ROBUST_CONSISTENT);
    return 0;
}

void gpm_mutex_robust_exit(struct gpm_g *gp)
{
    struct gpm_pmutex *m;
    while ((m = gp->robust_head) != NULL) {
        gp->robust_head = m->rnext;
        m->rprev = m->rnext = NULL;
        atomic_store(&m->robust, ROBUST_OWNERDEAD);
        atomic_store(&m->owner, 0);
        m->count = 0;
        word_unlock(m);
    }
}

/* ---- For cond.c -------------------------------------------------------------------- */

/* Relocks m for a thread back from a condition variable ("Relocking after
   a condition variable"): woken says the wait returned 0, with the waker's
   wakeval. */
int gpm_mutex_relock(struct gpm_pmutex *m, bool woken, uint32_t wakeval)
{
    if (woken && wakeval == WAKE_HANDOFF)
        return acquired(m, gpm_selftid(), true); /* handed over: ours already */
    /* Woken off the word's own queue: it owes the queue the exchange that
       stores 2. Anything else locks as any newcomer does. */
    bool newcomer = !(woken && wakeval == WAKE_RETRY);
    uint32_t zero = 0;
    if (!newcomer || !atomic_compare_exchange_strong_explicit(&m->word, &zero, 1, memory_order_acquire,
                                                              memory_order_relaxed)) {
        int err = word_lock_slow(m, !newcomer, CLOCK_MONOTONIC, NULL);
        if (err != 0)
            return err;
    }
    return acquired(m, gpm_selftid(), false);
}

/* After a broadcast moved waiters onto m's word: make sure an unlock will
   wake them (the word must say 2), or wake one now if m is free. */
void gpm_mutex_requeued(struct gpm_pmutex *m)
{
    uint32_t w = atomic_load(&m->word);
    for (;;) {
        if (w == 0) {
            gpm_sema_wake(&m->word, 1, WAKE_RETRY);
            return;
        }
        if (w == 2 || atomic_compare_exchange_weak(&m->word, &w, 2))
            return;
    }
}
