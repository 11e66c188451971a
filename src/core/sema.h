/*
 * src/core/sema.h: the semtable, a futex for Gs (Go's sema.go).
 *
 * Every synchronisation object of the program (mutex, condition variable,
 * rwlock, barrier, once, semaphore) keeps its state in 32-bit words inside
 * its own memory, and parks Gs on the address of one of those words. The
 * queues of parked Gs live here, in a hash table keyed by address, so an
 * object holds no pointers: it works zero-initialised, statically
 * initialised, or copied before first use, and fits glibc's sizes.
 */
#ifndef GPM_CORE_SEMA_H
#define GPM_CORE_SEMA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

/*
 * Parks the calling G on addr if *addr == val (checked under the queue's
 * lock, so a waker that changes *addr and then calls gpm_sema_wake cannot
 * be missed), until a wake or the deadline (a monotonic time; 0: none).
 * Returns 0 when woken, with *wakeval the waker's value; EAGAIN when *addr
 * was not val; ETIMEDOUT. waitsince is when the caller started waiting,
 * for the fairness decisions of gpm_sema_wake1 (0: not known, for
 * waiters on words that nobody wakes with gpm_sema_wake1).
 * A thread that is not yet a G is adopted first (DESIGN.md section 6).
 */
int gpm_sema_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, int64_t waitsince,
                  uint32_t *wakeval, uint16_t reason);

/* Wakes up to n Gs parked on addr, oldest first, each with wakeval.
   Returns how many. */
int gpm_sema_wake(_Atomic uint32_t *addr, int n, uint32_t wakeval);

/* Adds one to *addr and wakes up to n Gs parked on it, as one step under
   the queue's lock (no waiter can check *addr in between). For a word
   that only ever changes this way: every writer of *addr must write it
   through gpm_sema_bumpwake. Returns how many were woken. When tally is
   not NULL, adds that number to *tally under the same lock (release): a
   count that all its writers keep this way needs no locked instruction. */
int gpm_sema_bumpwake(_Atomic uint32_t *addr, int n, uint32_t wakeval, _Atomic uint32_t *tally);

/* gpm_sema_wait for a word that only gpm_sema_bumpwake changes, whose
   every waker therefore takes the queue's lock: one locked instruction
   fewer per wait (see "nwait" in sema.c). No waitsince (nobody wakes such
   a word with gpm_sema_wake1). */
int gpm_sema_waitseq(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, uint32_t *wakeval,
                     uint16_t reason);

/*
 * A parked G as the layers above see it. g and waitsince (when it
 * started waiting; 0 for gpm_sema_waitx's waiters, which need no clock
 * read) are the semtable's; tag, kind and aux belong to whoever parked
 * the G with gpm_sema_waitx (0, 0 and NULL for gpm_sema_wait), and the
 * holder of the queue's lock may change them (futex.c turns a requeued
 * waiter into a waiter of another kind).
 */
struct gpm_sema_waiter {
    struct gpm_g *g;
    int64_t waitsince;
    uint32_t tag;
    uint8_t kind;
    void *aux;
};

/*
 * Wakes at most the oldest G parked on addr, after calling
 * decide(arg, waiter, more) under the queue's lock: waiter is that G (NULL
 * when nobody waits), more tells whether others wait behind it. decide
 * typically publishes the new state of the object (so that no new waiter
 * can queue up between its decision and the wake-up) and returns the
 * wakeval to give. Returns whether a G was woken.
 */
bool gpm_sema_wake1(_Atomic uint32_t *addr,
                    uint32_t (*decide)(void *arg, const struct gpm_sema_waiter *waiter, bool more), void *arg);

/*
 * Wakes up to nwake Gs parked on from and moves up to nrequeue more, in
 * order, to the queue of to, where a later wake of to finds them (a
 * condition variable's broadcast moves its waiters onto the mutex). Moved
 * Gs no longer time out. Returns the number moved. tally as for
 * gpm_sema_bumpwake, counting the woken and the moved.
 */
int gpm_sema_requeue(_Atomic uint32_t *from, int nwake, uint32_t wakeval, _Atomic uint32_t *to, int nrequeue,
                     _Atomic uint32_t *tally);

/* ---- Building blocks for protocols of the caller's own (futex.c) ------------- */

/*
 * How gpm_sema_waitx parks: check(arg) runs under the queue's lock, after
 * the G has announced itself to wakers (see "nwait" in sema.c); it
 * returns 0 to park, or anything else, which gpm_sema_waitx then returns
 * as it is without parking (a positive error number, or a negative value
 * with the caller's own meaning). The parked waiter carries tag, kind and
 * aux (struct gpm_sema_waiter).
 */
struct gpm_sema_waitspec {
    int (*check)(void *arg);
    void *arg;
    uint32_t tag;
    uint8_t kind;
    void *aux;
    uint16_t reason;
};

/*
 * Parks the calling G on addr as ws says, until a waker takes it (0, with
 * *wakeval) or the deadline (a monotonic time; 0: none) passes
 * (ETIMEDOUT). Unlike gpm_sema_wait, a deadline that has already passed
 * does not skip the check: check still runs and its answer wins, and only
 * a "park" becomes ETIMEDOUT, at once. ENOMEM when the calling thread is
 * not a G and none can be made for it.
 * Runs on the G's stack; may park.
 */
int gpm_sema_waitx(_Atomic uint32_t *addr, const struct gpm_sema_waitspec *ws, int64_t deadline,
                   uint32_t *wakeval);

/*
 * Whether a G may be parked on addr: one load, no lock. Only a caller that
 * has changed what the waiters check, and then issued a seq_cst fence (or
 * a seq_cst atomic operation), can trust a false (see "nwait" in sema.c).
 */
bool gpm_sema_maybewaiters(_Atomic uint32_t *addr);

/*
 * The queues of one or two addresses, locked (in the lock order of
 * lock.h), for a caller that inspects waiters and decides, one by one,
 * whom to wake and whom to move: a futex requeue. While locked, no G can
 * park on, leave, or be woken from either queue by anyone else, and
 * nothing may park. gpm_sema_unlock then readies the Gs taken.
 */
struct sudog;
struct semroot;
struct gpm_sema_locked {
    struct semroot *r1, *r2;
    struct sudog *taken, **tail;
};
void gpm_sema_lock(struct gpm_sema_locked *l, _Atomic uint32_t *a, _Atomic uint32_t *b);
void gpm_sema_unlock(struct gpm_sema_locked *l);

/* The oldest G parked on addr (one of the locked addresses), or NULL. */
struct gpm_sema_waiter *gpm_sema_first(_Atomic uint32_t *addr);
/* The next G parked on the same address as w, or NULL. */
struct gpm_sema_waiter *gpm_sema_next(struct gpm_sema_waiter *w);
/* Takes w off its queue: its gpm_sema_wait(x) returns 0 with wakeval. */
void gpm_sema_take(struct gpm_sema_locked *l, struct gpm_sema_waiter *w, uint32_t wakeval);
/* Moves w to the tail of the queue of `to` (a locked address). With
   keeptimeout, w's deadline still applies there; without, it no longer
   times out (as gpm_sema_requeue). */
void gpm_sema_move(struct gpm_sema_waiter *w, _Atomic uint32_t *to, bool keeptimeout);

/* fork.c: in the child, no G waits any more. */
void gpm_sema_forkchild(void);

#endif
