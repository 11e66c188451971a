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
 * was not val; ETIMEDOUT. waitsince (0: now) is when the caller started
 * waiting, for the fairness decisions of gpm_sema_wake1.
 * A thread that is not yet a G is adopted first (DESIGN.md section 6).
 */
int gpm_sema_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, int64_t waitsince,
                  uint32_t *wakeval, uint16_t reason);

/* Wakes up to n Gs parked on addr, oldest first, each with wakeval.
   Returns how many. */
int gpm_sema_wake(_Atomic uint32_t *addr, int n, uint32_t wakeval);

/*
 * Wakes at most the oldest G parked on addr, after calling
 * decide(arg, waiter, more) under the queue's lock: waiter is that G (NULL
 * when nobody waits), more tells whether others wait behind it. decide
 * typically publishes the new state of the object (so that no new waiter
 * can queue up between its decision and the wake-up) and returns the
 * wakeval to give. Returns whether a G was woken.
 */
struct gpm_sema_waiter {
    struct gpm_g *g;
    int64_t waitsince;
};
bool gpm_sema_wake1(_Atomic uint32_t *addr,
                    uint32_t (*decide)(void *arg, const struct gpm_sema_waiter *waiter, bool more), void *arg);

/*
 * Wakes up to nwake Gs parked on from and moves up to nrequeue more, in
 * order, to the queue of to, where a later wake of to finds them (a
 * condition variable's broadcast moves its waiters onto the mutex). Moved
 * Gs no longer time out. Returns the number moved.
 */
int gpm_sema_requeue(_Atomic uint32_t *from, int nwake, uint32_t wakeval, _Atomic uint32_t *to, int nrequeue);

/* fork.c: in the child, no G waits any more. */
void gpm_sema_forkchild(void);

#endif
