/*
 * PI futexes through syscall(SYS_futex) behave as the kernel's: the word
 * holds its owner's id and FUTEX_WAITERS; trylock and lock take a free
 * word; relocking is EDEADLK, a trylock on a held word EAGAIN (and sets
 * FUTEX_WAITERS), an unlock by another EPERM; a FUTEX_WAKE refuses a word
 * with PI waiters (EINVAL); unlock hands the word to the waiter (the word
 * then names it); timed locks time out (never early, at once when the
 * deadline is past, but a free word is still taken); N threads increment
 * a counter under a PI lock with glibc's user-space fast paths; and
 * FUTEX_WAIT_REQUEUE_PI / FUTEX_CMP_REQUEUE_PI move condition-variable
 * waiters onto a PI lock, which each then returns owning (also when the
 * requeue itself takes the free lock for the first), while a requeued
 * waiter's deadline still holds.
 *
 * "My id" is learned portably: lock a free PI word and read it back
 * (natively that is gettid(); under gpm the G's own id).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "futex_test.h"
#include "timing.h"

/* Polls cond every millisecond for up to 10 s. */
#define AWAIT(cond)                                                              \
    do {                                                                         \
        int64_t limit_ = ns(now(CLOCK_MONOTONIC)) + 10000000000LL;               \
        while (!(cond)) {                                                        \
            CHECK(ns(now(CLOCK_MONOTONIC)) < limit_, "timed out waiting: %s", #cond); \
            usleep(1000);                                                        \
        }                                                                        \
    } while (0)

/* The calling thread's id, as the kernel (or gpm) writes it. */
static uint32_t myid(void)
{
    _Atomic uint32_t w = 0;
    CHECK_EQ(fx(&w, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    uint32_t id = atomic_load(&w) & FUTEX_TID_MASK;
    CHECK(id != 0 && (atomic_load(&w) & ~FUTEX_TID_MASK) == 0, "locked word %#x", atomic_load(&w));
    CHECK_EQ(fx(&w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&w), 0);
    return id;
}

/* glibc's PI mutex: user-space CAS 0 -> id, else the kernel. */
static void pi_lock(_Atomic uint32_t *w, uint32_t id)
{
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(w, &zero, id))
        return;
    long r = fx(w, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    CHECK(r == 0, "FUTEX_LOCK_PI: errno %d", errno);
    CHECK((atomic_load(w) & FUTEX_TID_MASK) == id, "locked, but the word is %#x (id %#x)", atomic_load(w), id);
}

static void pi_unlock(_Atomic uint32_t *w, uint32_t id)
{
    uint32_t mine = id;
    if (atomic_compare_exchange_strong(w, &mine, 0))
        return;
    CHECK(fx(w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0, "FUTEX_UNLOCK_PI: errno %d", errno);
}

static uint32_t mainid;

/* ---- Errors --------------------------------------------------------------------- */

static _Atomic uint32_t lockw;

static void *intruder(void *arg)
{
    (void)arg;
    CHECK_ERR(fx(&lockw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
    CHECK(atomic_load(&lockw) == (mainid | FUTEX_WAITERS), "after a failed trylock: %#x", atomic_load(&lockw));
    CHECK_ERR(fx(&lockw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
    return NULL;
}

static void test_errors(void)
{
    CHECK_EQ(fx(&lockw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&lockw), mainid);
    CHECK_ERR(fx(&lockw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI2_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, intruder, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* FUTEX_WAITERS is set: the owner's CAS fails, the kernel unlocks. */
    uint32_t mine = mainid;
    CHECK(!atomic_compare_exchange_strong(&lockw, &mine, 0), "unlocked a word with FUTEX_WAITERS by CAS");
    CHECK_EQ(fx(&lockw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&lockw), 0);
    CHECK_ERR(fx(&lockw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
    /* FUTEX_OWNER_DIED survives a lock and goes with the unlock. */
    atomic_store(&lockw, FUTEX_OWNER_DIED);
    CHECK_EQ(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&lockw), FUTEX_OWNER_DIED | mainid);
    CHECK_EQ(fx(&lockw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&lockw), 0);
    CHECK_ERR(fx((char *)&lockw + 1, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EINVAL);
}

/* ---- Timeouts --------------------------------------------------------------------- */

static _Atomic int timeouts_done;

static void *timed_locker(void *arg)
{
    (void)arg;
    uint32_t me = myid();
    struct timespec dl = add_ms(now(CLOCK_REALTIME), 50);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, &dl, NULL, 0), ETIMEDOUT);
    CHECK(ns(now(CLOCK_REALTIME)) >= ns(dl), "FUTEX_LOCK_PI timed out early");
    dl = add_ms(now(CLOCK_MONOTONIC), 50);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI2_PRIVATE, 0, &dl, NULL, 0), ETIMEDOUT);
    CHECK(ns(now(CLOCK_MONOTONIC)) >= ns(dl), "FUTEX_LOCK_PI2 timed out early");
    dl = add_ms(now(CLOCK_REALTIME), 50);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI2_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &dl, NULL, 0), ETIMEDOUT);
    CHECK(ns(now(CLOCK_REALTIME)) >= ns(dl), "FUTEX_LOCK_PI2 (realtime) timed out early");
    /* Past deadlines: at once. */
    struct timespec past = now(CLOCK_REALTIME);
    past.tv_sec -= 1;
    struct timespec t0 = now(CLOCK_MONOTONIC);
    CHECK_ERR(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, &past, NULL, 0), ETIMEDOUT);
    CHECK(ns(now(CLOCK_MONOTONIC)) - ns(t0) < 1000000000LL, "an expired FUTEX_LOCK_PI slept");
    CHECK(atomic_load(&lockw) == (mainid | FUTEX_WAITERS), "held word after timeouts: %#x", atomic_load(&lockw));
    atomic_store(&timeouts_done, 1);
    /* Once free, even an expired lock takes it. */
    AWAIT(atomic_load(&lockw) == 0);
    CHECK_EQ(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, &past, NULL, 0), 0);
    CHECK_EQ(atomic_load(&lockw), me);
    pi_unlock(&lockw, me);
    return NULL;
}

static void test_timeouts(void)
{
    pi_lock(&lockw, mainid);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, timed_locker, NULL), 0);
    AWAIT(atomic_load(&timeouts_done));
    pi_unlock(&lockw, mainid);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

/* ---- Handoff ------------------------------------------------------------------------ */

static _Atomic uint32_t waiterid, seen, go;

static void *blocked_locker(void *arg)
{
    (void)arg;
    uint32_t me = myid();
    atomic_store(&waiterid, me);
    CHECK_EQ(fx(&lockw, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
    atomic_store(&seen, atomic_load(&lockw));
    AWAIT(atomic_load(&go));
    pi_unlock(&lockw, me);
    return NULL;
}

static void test_handoff(void)
{
    pi_lock(&lockw, mainid);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_locker, NULL), 0);
    AWAIT(atomic_load(&lockw) & FUTEX_WAITERS);
    /* A plain wake refuses a word with PI waiters. */
    CHECK_ERR(fx(&lockw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
    pi_unlock(&lockw, mainid);
    /* The word names the waiter as soon as the unlock returns. */
    uint32_t w = atomic_load(&lockw);
    CHECK((w & FUTEX_TID_MASK) == atomic_load(&waiterid), "after the handoff the word is %#x, waiter %#x", w,
          atomic_load(&waiterid));
    CHECK(w & FUTEX_WAITERS, "after the handoff the word is %#x (the kernel keeps FUTEX_WAITERS)", w);
    AWAIT(atomic_load(&seen) != 0);
    CHECK_EQ(atomic_load(&seen) & FUTEX_TID_MASK, atomic_load(&waiterid));
    atomic_store(&go, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(atomic_load(&lockw), 0);
}

/* ---- Contention ------------------------------------------------------------------------ */

#define NTHREADS 4
#define NITERS 20000

static long counter;

static void *incrementer(void *arg)
{
    (void)arg;
    uint32_t me = myid();
    for (int i = 0; i < NITERS; i++) {
        pi_lock(&lockw, me);
        long c = counter;
        if (i % 64 == 0)
            sched_yield(); /* let the others queue up */
        counter = c + 1;
        pi_unlock(&lockw, me);
    }
    return NULL;
}

static void test_contention(void)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, incrementer, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(counter, (long)NTHREADS * NITERS);
    CHECK_EQ(atomic_load(&lockw), 0);
}

/* ---- Requeue-PI ----------------------------------------------------------------------- */

static _Atomic uint32_t cond, mtx;
static _Atomic int owned, nfinished;

/* A condition variable waiter (glibc's PI condvar, reduced): waits on
   cond, returns owning mtx. */
static void *cond_waiter(void *arg)
{
    const struct timespec *dl = arg;
    uint32_t me = myid();
    long r = fx(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, atomic_load(&cond), dl, &mtx, 0);
    if (dl != NULL) {
        CHECK(r == -1 && errno == ETIMEDOUT, "timed requeue-PI waiter: %ld errno %d", r, errno);
        CHECK(ns(now(CLOCK_MONOTONIC)) >= ns(*dl), "timed requeue-PI waiter woke early");
        atomic_fetch_add(&nfinished, 1);
        return NULL;
    }
    CHECK(r == 0, "FUTEX_WAIT_REQUEUE_PI: errno %d", errno);
    CHECK((atomic_load(&mtx) & FUTEX_TID_MASK) == me, "returned from requeue-PI, but the lock is %#x (me %#x)",
          atomic_load(&mtx), me);
    int was = atomic_exchange(&owned, 1);
    CHECK(was == 0, "two owners at once");
    atomic_store(&owned, 0);
    atomic_fetch_add(&nfinished, 1);
    pi_unlock(&mtx, me);
    return NULL;
}

/* Requeues from cond to mtx until n waiters in all were requeued or woken. */
static void requeue_all(int n)
{
    int got = 0;
    int64_t limit = ns(now(CLOCK_MONOTONIC)) + 10000000000LL;
    while (got < n) {
        long r = fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, VAL2(INT_MAX), &mtx, atomic_load(&cond));
        CHECK(r >= 0 || errno == EAGAIN, "FUTEX_CMP_REQUEUE_PI: errno %d", errno);
        if (r > 0)
            got += (int)r;
        CHECK(got <= n, "requeued %d of %d", got, n);
        if (got < n) {
            CHECK(ns(now(CLOCK_MONOTONIC)) < limit, "only %d of %d waiters ever requeued", got, n);
            usleep(1000);
        }
    }
}

static void test_requeue_pi(void)
{
    pthread_t t[3];
    /* The lock is held: the waiter is moved, and gets it on unlock. */
    atomic_store(&nfinished, 0);
    pi_lock(&mtx, mainid);
    CHECK_EQ(pthread_create(&t[0], NULL, cond_waiter, NULL), 0);
    requeue_all(1);
    CHECK(atomic_load(&mtx) == (mainid | FUTEX_WAITERS), "lock after requeue: %#x", atomic_load(&mtx));
    CHECK_ERR(fx(&mtx, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
    usleep(10000);
    CHECK_EQ(atomic_load(&nfinished), 0);
    pi_unlock(&mtx, mainid);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(atomic_load(&nfinished), 1);
    CHECK_EQ(atomic_load(&mtx), 0);

    /* The lock is free: the requeue takes it for the waiter and wakes it. */
    atomic_store(&nfinished, 0);
    CHECK_EQ(pthread_create(&t[0], NULL, cond_waiter, NULL), 0);
    requeue_all(1);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(atomic_load(&nfinished), 1);
    CHECK_EQ(atomic_load(&mtx), 0);

    /* Three waiters onto a held lock; each in turn returns owning it. */
    atomic_store(&nfinished, 0);
    pi_lock(&mtx, mainid);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, cond_waiter, NULL), 0);
    requeue_all(3);
    pi_unlock(&mtx, mainid);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(atomic_load(&nfinished), 3);
    CHECK_EQ(atomic_load(&mtx), 0);

    /* A requeued waiter keeps its deadline. */
    atomic_store(&nfinished, 0);
    pi_lock(&mtx, mainid);
    struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 200);
    CHECK_EQ(pthread_create(&t[0], NULL, cond_waiter, &dl), 0);
    requeue_all(1);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(atomic_load(&nfinished), 1);
    pi_unlock(&mtx, mainid);
    CHECK_EQ(atomic_load(&mtx), 0);

    /* Errors. */
    uint32_t c = atomic_load(&cond);
    struct timespec zero = {0, 0};
    CHECK_ERR(fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, VAL2(1), &mtx, c), EINVAL);
    CHECK_ERR(fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, VAL2(1), &cond, c), EINVAL);
    CHECK_ERR(fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, VAL2(1), &mtx, c + 1), EAGAIN);
    CHECK_EQ(fx(&cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, VAL2(1), &mtx, c), 0);
    CHECK_ERR(fx(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, c, NULL, &cond, 0), EINVAL);
    CHECK_ERR(fx(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, c + 1, NULL, &mtx, 0), EAGAIN);
    CHECK_ERR(fx(&cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, c, &zero, &mtx, 0), ETIMEDOUT);
}

int main(void)
{
    alarm(60);
    mainid = myid();
    if (!under_gpm())
        CHECK_EQ(mainid, (uint32_t)gettid());
    test_errors();
    test_timeouts();
    test_handoff();
    test_contention();
    test_requeue_pi();
    printf("futex_pi: ok (%s)\n", test_mode());
    return 0;
}
