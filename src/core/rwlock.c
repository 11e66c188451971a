/*
 * src/core/rwlock.c: reader-writer locks, on the semtable.
 *
 * state holds the number of readers (RW_READERS bits), RW_WRITER while a
 * writer holds the lock, and RW_WAITERS while someone is parked on &state.
 * A G that cannot get the lock sets RW_WAITERS and parks while state is
 * what it saw; an unlock that clears RW_WAITERS wakes every waiter, and
 * they compete again (waits here are for the whole read side or one
 * writer, so waking all is what lets all the readers in).
 *
 * Kinds (glibc's __flags at offset 48): PTHREAD_RWLOCK_PREFER_READER_NP
 * (the default) lets a reader in whenever no writer holds the lock, even
 * if writers wait, so a thread may take a read lock recursively;
 * PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP keeps new readers out while
 * writers wait (wwaiters). PREFER_WRITER_NP behaves as the default, as in
 * glibc. writer (glibc's __cur_writer) is the tid of the write holder: a
 * thread that write-locks or read-locks what it holds for writing gets
 * EDEADLK, and unlock tells a writer from a reader by it.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "sema.h"
#include "timer.h"

_Static_assert(sizeof(struct gpm_prwlock) == sizeof(pthread_rwlock_t), "rwlock overlay size");
_Static_assert(offsetof(struct gpm_prwlock, flags) == offsetof(pthread_rwlock_t, __data.__flags),
               "rwlock flags offset (static initialisers)");
_Static_assert(offsetof(struct gpm_prwlock, writer) == offsetof(pthread_rwlock_t, __data.__cur_writer),
               "rwlock writer offset");
_Static_assert(offsetof(struct gpm_prwlock, shared) == offsetof(pthread_rwlock_t, __data.__shared),
               "rwlock shared offset");

#define RW_WAITERS 0x80000000u
#define RW_WRITER 0x40000000u
#define RW_READERS 0x3fffffffu

void gpm_rwlock_init(struct gpm_prwlock *l, int kind)
{
    atomic_store(&l->state, 0);
    atomic_store(&l->wwaiters, 0);
    atomic_store(&l->writer, 0);
    l->shared = 0;
    l->flags = (uint32_t)kind;
}

/* Parks until state changes from s (after marking it waited for). */
static int rwwait(struct gpm_prwlock *l, uint32_t s, int64_t deadline)
{
    if (!(s & RW_WAITERS) && !atomic_compare_exchange_strong(&l->state, &s, s | RW_WAITERS))
        return 0; /* it changed: look again */
    int err = gpm_sema_wait(&l->state, s | RW_WAITERS, deadline, 0, NULL, WAIT_RWLOCK);
    return err == ETIMEDOUT ? ETIMEDOUT : 0;
}

static int rwdeadline(clockid_t clock, const struct timespec *abstime, int64_t *deadline)
{
    *deadline = 0;
    if (abstime != NULL && !gpm_deadline_abs(clock, abstime, deadline))
        return EINVAL;
    return 0;
}

int gpm_rwlock_rdlock(struct gpm_prwlock *l, bool trylock, clockid_t clock, const struct timespec *abstime)
{
    bool prefer_writer = l->flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
    int64_t deadline = 0;
    /* As glibc: a bad deadline is refused even when the lock is free. */
    if (rwdeadline(clock, abstime, &deadline) != 0)
        return EINVAL;
    for (;;) {
        uint32_t s = atomic_load(&l->state);
        if (!(s & RW_WRITER) && !(prefer_writer && atomic_load(&l->wwaiters) > 0)) {
            if ((s & RW_READERS) == RW_READERS)
                return EAGAIN;
            if (atomic_compare_exchange_weak(&l->state, &s, s + 1))
                return 0;
            continue;
        }
        if (trylock)
            return EBUSY;
        if ((s & RW_WRITER) && atomic_load(&l->writer) == gpm_selftid())
            return EDEADLK;
        if (rwwait(l, s, deadline) == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

int gpm_rwlock_wrlock(struct gpm_prwlock *l, bool trylock, clockid_t clock, const struct timespec *abstime)
{
    int self = gpm_selftid();
    int64_t deadline = 0;
    if (rwdeadline(clock, abstime, &deadline) != 0)
        return EINVAL;
    bool counted = false;
    int err = 0;
    for (;;) {
        uint32_t s = atomic_load(&l->state);
        if ((s & (RW_WRITER | RW_READERS)) == 0) {
            if (atomic_compare_exchange_weak(&l->state, &s, s | RW_WRITER)) {
                atomic_store(&l->writer, self);
                break;
            }
            continue;
        }
        if (trylock) {
            err = EBUSY;
            break;
        }
        if ((s & RW_WRITER) && atomic_load(&l->writer) == self) {
            err = EDEADLK;
            break;
        }
        if (!counted) {
            atomic_fetch_add(&l->wwaiters, 1);
            counted = true;
        }
        if (rwwait(l, s, deadline) == ETIMEDOUT) {
            err = ETIMEDOUT;
            break;
        }
    }
    if (counted && atomic_fetch_sub(&l->wwaiters, 1) == 1 && err != 0) {
        /* The last waiting writer gave up: readers it kept out may go. */
        uint32_t s = atomic_fetch_and(&l->state, ~RW_WAITERS);
        if (s & RW_WAITERS)
            gpm_sema_wake(&l->state, INT_MAX, 0);
    }
    return err;
}

int gpm_rwlock_unlock(struct gpm_prwlock *l)
{
    uint32_t s = atomic_load(&l->state);
    if (s & RW_WRITER) {
        if (atomic_load(&l->writer) != gpm_selftid())
            return EPERM; /* held for writing by another thread */
        atomic_store(&l->writer, 0);
        s = atomic_exchange(&l->state, 0);
        if (s & RW_WAITERS)
            gpm_sema_wake(&l->state, INT_MAX, 0);
        return 0;
    }
    for (;;) {
        if ((s & RW_READERS) == 0)
            return 0; /* not locked: glibc returns 0 too */
        uint32_t ns = (s & RW_READERS) == 1 ? 0 : s - 1;
        if (atomic_compare_exchange_weak(&l->state, &s, ns)) {
            if (ns == 0 && (s & RW_WAITERS))
                gpm_sema_wake(&l->state, INT_MAX, 0);
            return 0;
        }
    }
}

/* glibc's pthread_rwlock_destroy does nothing and returns 0, held or not
   (POSIX's EBUSY is a "may" error): so does ours. A lock destroyed while
   held is not to be used again; nothing of it lives outside its bytes. */
int gpm_rwlock_destroy(struct gpm_prwlock *l)
{
    (void)l;
    return 0;
}
