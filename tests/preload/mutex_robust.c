/*
 * Robust mutexes (PTHREAD_MUTEX_ROBUST) of the NORMAL, ERRORCHECK and
 * RECURSIVE types, as glibc 2.36 runs them:
 *  - a thread that ends (returning, or by pthread_exit) holding one leaves it
 *    to the next locker with EOWNERDEAD, through lock, trylock or timedlock,
 *    and that locker holds it (another thread gets EBUSY); a RECURSIVE one
 *    held three levels deep comes back one level deep;
 *  - pthread_mutex_consistent then unlock: it works normally again;
 *    without consistent, the unlock makes it ENOTRECOVERABLE for every later
 *    lock and trylock, in any thread, and for a thread already waiting
 *    (trylock is tried last: glibc's leaves the lock word taken);
 *  - of two threads already blocked in pthread_mutex_lock when the owner
 *    ends, one gets EOWNERDEAD and, once it unlocks without consistent, the
 *    other ENOTRECOVERABLE;
 *  - a thread ending with several robust mutexes held leaves all of them
 *    (and not the ones it had unlocked);
 *  - unlock by a non-owner, and of an unlocked mutex, is EPERM;
 *    consistent on a consistent mutex (free or held) is EINVAL;
 *  - the owner relocking: ERRORCHECK EDEADLK for lock, trylock and timedlock
 *    (trylock is EBUSY for a non-robust ERRORCHECK mutex); RECURSIVE 0;
 *    NORMAL trylock EBUSY and timedlock (past deadline) ETIMEDOUT (its
 *    pthread_mutex_lock would hang under glibc: not tested);
 *  - pthread_mutex_consistent is not called by a non-owner here: glibc
 *    lets it succeed.
 * Whether the waiters of the "already blocked" cases are really blocked when
 * the owner ends is not checked (the owner yields many times first); the
 * results required are the same either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static pthread_mutex_t m;

static void init_robust(pthread_mutex_t *mx, int type)
{
    pthread_mutexattr_t a;
    CHECK_EQ(pthread_mutexattr_init(&a), 0);
    CHECK_EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    CHECK_EQ(pthread_mutexattr_settype(&a, type), 0);
    CHECK_EQ(pthread_mutex_init(mx, &a), 0);
    CHECK_EQ(pthread_mutexattr_destroy(&a), 0);
}

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        sched_yield();
}

/* Spin-wait (yielding) for *flag to become nonzero. */
static void await(atomic_int *flag)
{
    while (atomic_load(flag) == 0)
        sched_yield();
}

/* ---- threads ------------------------------------------------------------------ */

static int cur_type;

/* Locks m (three times if RECURSIVE) and ends without unlocking. */
static void *lock_and_return(void *arg)
{
    int n = cur_type == PTHREAD_MUTEX_RECURSIVE ? 3 : 1;
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_mutex_lock(&m), 0);
    return NULL;
}

static void *lock_and_exit(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    pthread_exit(NULL);
}

static void *op_trylock(void *arg)
{
    pthread_mutex_t *mx = arg;
    int rc = pthread_mutex_trylock(mx);
    if (rc == 0)
        CHECK_EQ(pthread_mutex_unlock(mx), 0);
    return (void *)(intptr_t)rc;
}

static void *op_lock(void *arg)
{
    pthread_mutex_t *mx = arg;
    int rc = pthread_mutex_lock(mx);
    if (rc == 0)
        CHECK_EQ(pthread_mutex_unlock(mx), 0);
    return (void *)(intptr_t)rc;
}

static void *op_unlock(void *arg)
{
    return (void *)(intptr_t)pthread_mutex_unlock(arg);
}

static int in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    return (int)(intptr_t)r;
}

/* ---- the cases --------------------------------------------------------------------- */

/* How the next locker finds out: 0 lock, 1 trylock, 2 timedlock. */
static int lock_after_death(int how)
{
    if (how == 0)
        return pthread_mutex_lock(&m);
    if (how == 1)
        return pthread_mutex_trylock(&m);
    struct timespec d;
    clock_gettime(CLOCK_REALTIME, &d);
    d.tv_sec += 10;
    return pthread_mutex_timedlock(&m, &d);
}

/* Owner dies; the next locker makes it consistent; all is normal after. */
static void recovered(int type, int how, void *(*owner)(void *))
{
    cur_type = type;
    init_robust(&m, type);
    CHECK_EQ(in_thread(owner, NULL), 0);
    CHECK_EQ(lock_after_death(how), EOWNERDEAD);
    CHECK_EQ(in_thread(op_trylock, &m), EBUSY);
    CHECK_EQ(pthread_mutex_consistent(&m), 0);
    CHECK_EQ(pthread_mutex_consistent(&m), EINVAL);
    CHECK_EQ(in_thread(op_trylock, &m), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);            /* one level, even for RECURSIVE */
    CHECK_EQ(in_thread(op_trylock, &m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(in_thread(op_lock, &m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
}

/* Owner dies; the next locker unlocks without consistent. */
static void unrecoverable(int type, int how)
{
    cur_type = type;
    init_robust(&m, type);
    CHECK_EQ(in_thread(lock_and_return, NULL), 0);
    CHECK_EQ(lock_after_death(how), EOWNERDEAD);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_lock(&m), ENOTRECOVERABLE);
    CHECK_EQ(in_thread(op_lock, &m), ENOTRECOVERABLE);
    CHECK_EQ(pthread_mutex_lock(&m), ENOTRECOVERABLE);
    CHECK_EQ(pthread_mutex_consistent(&m), EINVAL);
    /* Last: glibc 2.36's trylock of a not-recoverable mutex leaves its lock
       word taken, so that later lock calls block for ever. */
    CHECK_EQ(in_thread(op_trylock, &m), ENOTRECOVERABLE);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
}

/* Waiters blocked in lock when the owner ends: one gets EOWNERDEAD; the
   other, still blocked when that one unlocks without consistent, gets
   ENOTRECOVERABLE. Which waiter is which is not fixed. */
static atomic_int owner_locked, n_waiting, n_ownerdead;

static void *owner_then_die(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    atomic_store(&owner_locked, 1);
    while (atomic_load(&n_waiting) < 2)
        sched_yield();
    yield_n(200);               /* both are (very likely) in pthread_mutex_lock */
    return NULL;
}

static void *waiter(void *arg)
{
    await(&owner_locked);
    atomic_fetch_add(&n_waiting, 1);
    int rc = pthread_mutex_lock(&m);
    if (rc == EOWNERDEAD) {
        CHECK_EQ(atomic_fetch_add(&n_ownerdead, 1), 0);
        yield_n(200);           /* the other is (very likely) blocked by now */
        CHECK_EQ(pthread_mutex_unlock(&m), 0);
    }
    return (void *)(intptr_t)rc;
}

static void blocked_waiters(int type)
{
    cur_type = type;
    init_robust(&m, type);
    atomic_store(&owner_locked, 0);
    atomic_store(&n_waiting, 0);
    atomic_store(&n_ownerdead, 0);
    pthread_t o, w1, w2;
    void *r1, *r2;
    CHECK_EQ(pthread_create(&w1, NULL, waiter, NULL), 0);
    CHECK_EQ(pthread_create(&w2, NULL, waiter, NULL), 0);
    CHECK_EQ(pthread_create(&o, NULL, owner_then_die, NULL), 0);
    CHECK_EQ(pthread_join(o, NULL), 0);
    CHECK_EQ(pthread_join(w1, &r1), 0);
    CHECK_EQ(pthread_join(w2, &r2), 0);
    int a = (int)(intptr_t)r1, b = (int)(intptr_t)r2;
    CHECK((a == EOWNERDEAD && b == ENOTRECOVERABLE) || (a == ENOTRECOVERABLE && b == EOWNERDEAD),
          "waiters got %d and %d", a, b);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
}

/* A thread ends holding two of three robust mutexes. */
static pthread_mutex_t three[3];

static void *lock_three_unlock_middle(void *arg)
{
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_mutex_lock(&three[i]), 0);
    CHECK_EQ(pthread_mutex_unlock(&three[1]), 0);
    return NULL;
}

static void several(int type)
{
    for (int i = 0; i < 3; i++)
        init_robust(&three[i], type);
    CHECK_EQ(in_thread(lock_three_unlock_middle, NULL), 0);
    CHECK_EQ(pthread_mutex_lock(&three[2]), EOWNERDEAD);
    CHECK_EQ(pthread_mutex_lock(&three[1]), 0);
    CHECK_EQ(pthread_mutex_trylock(&three[0]), EOWNERDEAD);
    for (int i = 0; i < 3; i++) {
        if (i != 1)
            CHECK_EQ(pthread_mutex_consistent(&three[i]), 0);
        CHECK_EQ(pthread_mutex_unlock(&three[i]), 0);
        CHECK_EQ(in_thread(op_lock, &three[i]), 0);
        CHECK_EQ(pthread_mutex_destroy(&three[i]), 0);
    }
}

/* Ownership checks of a live robust mutex. */
static void ownership(int type)
{
    init_robust(&m, type);
    CHECK_EQ(pthread_mutex_consistent(&m), EINVAL);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_consistent(&m), EINVAL);
    CHECK_EQ(in_thread(op_unlock, &m), EPERM);
    CHECK_EQ(in_thread(op_trylock, &m), EBUSY);
    struct timespec past = {0, 0};
    switch (type) {
    case PTHREAD_MUTEX_ERRORCHECK:
        CHECK_EQ(pthread_mutex_lock(&m), EDEADLK);
        CHECK_EQ(pthread_mutex_trylock(&m), EDEADLK);
        CHECK_EQ(pthread_mutex_timedlock(&m, &past), EDEADLK);
        break;
    case PTHREAD_MUTEX_RECURSIVE:
        CHECK_EQ(pthread_mutex_lock(&m), 0);
        CHECK_EQ(pthread_mutex_trylock(&m), 0);
        CHECK_EQ(pthread_mutex_timedlock(&m, &past), 0);
        CHECK_EQ(pthread_mutex_unlock(&m), 0);
        CHECK_EQ(pthread_mutex_unlock(&m), 0);
        CHECK_EQ(pthread_mutex_unlock(&m), 0);
        CHECK_EQ(in_thread(op_trylock, &m), EBUSY);
        break;
    default:
        CHECK_EQ(pthread_mutex_trylock(&m), EBUSY);
        CHECK_EQ(pthread_mutex_timedlock(&m, &past), ETIMEDOUT);
        break;
    }
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    CHECK_EQ(in_thread(op_trylock, &m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
}

int main(void)
{
    static const int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ERRORCHECK,
                                PTHREAD_MUTEX_RECURSIVE};
    for (int i = 0; i < 3; i++) {
        int type = types[i];
        ownership(type);
        for (int how = 0; how < 3; how++) {
            recovered(type, how, lock_and_return);
            unrecoverable(type, how);
        }
        recovered(type, 0, lock_and_exit);
        blocked_waiters(type);
        several(type);
    }
    printf("robust NORMAL/ERRORCHECK/RECURSIVE mutexes: EOWNERDEAD (lock, trylock, timedlock, "
           "blocked waiter), consistent, ENOTRECOVERABLE, EPERM, EINVAL as glibc\n");
    return 0;
}
