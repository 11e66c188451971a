/*
 * Unnamed semaphores, as glibc 2.36 runs them (errors through errno, -1):
 *  - sem_init above SEM_VALUE_MAX: EINVAL; sem_post at SEM_VALUE_MAX:
 *    EOVERFLOW, the value unchanged; sem_getvalue follows posts and waits;
 *  - sem_trywait at 0: EAGAIN;
 *  - sem_timedwait (CLOCK_REALTIME) and sem_clockwait (both clocks) time out
 *    with ETIMEDOUT, never early; a past deadline or negative tv_sec is
 *    ETIMEDOUT at once;
 *  - tv_nsec outside [0, 1e9) is EINVAL even when the semaphore could be
 *    taken (glibc checks it first), and nothing is taken; sem_clockwait with
 *    a clock other than REALTIME/MONOTONIC: EINVAL;
 *  - a thread blocked in sem_wait is woken by sem_post;
 *  - 8 threads x 10000 (post, wait) leave the value at 0; 4 posters and 4
 *    waiters x 10000 likewise; a semaphore of 1 used as a lock by 8 threads
 *    x 10000 gives an exact count;
 *  - sem_destroy returns 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define TIMEOUT_MS 50
#define THREADS 8
#define ITERS 10000

/* rc and errno of a call returning 0 or -1. */
#define CHECK_ERR(call, err)                                                           \
    do {                                                                               \
        errno = 0;                                                                     \
        int rc_ = (call);                                                              \
        int e_ = errno;                                                                \
        CHECK(rc_ == -1 && e_ == (err), "rc %d errno %d, expected -1 errno %d", rc_, e_, (err)); \
    } while (0)

static int value(sem_t *s)
{
    int v = -12345;
    CHECK_EQ(sem_getvalue(s, &v), 0);
    return v;
}

/* api: 0 sem_timedwait, 1 sem_clockwait. */
static void timed_out(sem_t *s, int api, clockid_t clock)
{
    if (api == 0)
        clock = CLOCK_REALTIME;
    struct timespec start = now(CLOCK_MONOTONIC);
    struct timespec d = add_ms(now(clock), TIMEOUT_MS);
    CHECK_ERR(api == 0 ? sem_timedwait(s, &d) : sem_clockwait(s, clock, &d), ETIMEDOUT);
    int64_t late = ns(now(clock)) - ns(d);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(start);
    CHECK(late >= 0, "returned %lld ns before the deadline", (long long)-late);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
}

static void bad_deadlines(sem_t *s)
{
    struct timespec bad = add_ms(now(CLOCK_REALTIME), 1000);
    bad.tv_nsec = 1000000000L;
    struct timespec bad_neg = bad;
    bad_neg.tv_nsec = -1;
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_ERR(sem_timedwait(s, &bad), EINVAL);
    CHECK_ERR(sem_timedwait(s, &bad_neg), EINVAL);
    CHECK_ERR(sem_clockwait(s, CLOCK_MONOTONIC, &bad), EINVAL);
    CHECK_ERR(sem_clockwait(s, CLOCK_REALTIME, &bad_neg), EINVAL);
    CHECK_ERR(sem_clockwait(s, CLOCK_PROCESS_CPUTIME_ID, &fine), EINVAL);
    CHECK_ERR(sem_clockwait(s, 12345, &fine), EINVAL);
}

static void limits_and_errors(void)
{
    sem_t s;
    CHECK_ERR(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1u), EINVAL);
    CHECK_ERR(sem_init(&s, 0, UINT_MAX), EINVAL);

    CHECK_EQ(sem_init(&s, 0, SEM_VALUE_MAX), 0);
    CHECK_EQ(value(&s), SEM_VALUE_MAX);
    CHECK_ERR(sem_post(&s), EOVERFLOW);
    CHECK_EQ(value(&s), SEM_VALUE_MAX);
    CHECK_EQ(sem_trywait(&s), 0);
    CHECK_EQ(value(&s), SEM_VALUE_MAX - 1);
    CHECK_EQ(sem_post(&s), 0);
    CHECK_ERR(sem_post(&s), EOVERFLOW);
    bad_deadlines(&s);          /* could be taken: still EINVAL, nothing taken */
    CHECK_EQ(value(&s), SEM_VALUE_MAX);
    CHECK_EQ(sem_destroy(&s), 0);

    CHECK_EQ(sem_init(&s, 0, 0), 0);
    CHECK_EQ(value(&s), 0);
    CHECK_ERR(sem_trywait(&s), EAGAIN);
    bad_deadlines(&s);
    struct timespec past = {0, 0}, negative = {-1, 0};
    CHECK_ERR(sem_timedwait(&s, &past), ETIMEDOUT);
    CHECK_ERR(sem_timedwait(&s, &negative), ETIMEDOUT);
    CHECK_ERR(sem_clockwait(&s, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    timed_out(&s, 0, CLOCK_REALTIME);
    timed_out(&s, 1, CLOCK_MONOTONIC);
    timed_out(&s, 1, CLOCK_REALTIME);
    CHECK_EQ(value(&s), 0);

    /* With a unit available the timed forms take it at once. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(sem_post(&s), 0);
    CHECK_EQ(value(&s), 3);
    struct timespec d = add_ms(now(CLOCK_REALTIME), 1000);
    CHECK_EQ(sem_timedwait(&s, &d), 0);
    CHECK_EQ(sem_timedwait(&s, &past), 0);
    d = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(sem_clockwait(&s, CLOCK_MONOTONIC, &d), 0);
    CHECK_EQ(value(&s), 0);
    CHECK_ERR(sem_trywait(&s), EAGAIN);
    CHECK_EQ(sem_destroy(&s), 0);

    /* Process-shared is accepted for an unnamed semaphore. */
    CHECK_EQ(sem_init(&s, 1, 2), 0);
    CHECK_EQ(sem_wait(&s), 0);
    CHECK_EQ(value(&s), 1);
    CHECK_EQ(sem_destroy(&s), 0);
}

/* ---- blocking ----------------------------------------------------------------------- */

static sem_t s1;
static atomic_int announced, got;

static void *blocked_waiter(void *arg)
{
    atomic_store(&announced, 1);
    int api = (int)(intptr_t)arg;
    if (api == 0) {
        CHECK_EQ(sem_wait(&s1), 0);
    } else {
        struct timespec d = add_ms(now(CLOCK_MONOTONIC), 30000);
        CHECK_EQ(sem_clockwait(&s1, CLOCK_MONOTONIC, &d), 0);
    }
    atomic_store(&got, 1);
    return NULL;
}

static void wake_blocked(int api)
{
    CHECK_EQ(sem_init(&s1, 0, 0), 0);
    atomic_store(&announced, 0);
    atomic_store(&got, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_waiter, (void *)(intptr_t)api), 0);
    while (!atomic_load(&announced))
        sched_yield();
    for (int i = 0; i < 100; i++)
        sched_yield();
    CHECK_EQ(atomic_load(&got), 0);
    CHECK_EQ(sem_post(&s1), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(atomic_load(&got), 1);
    CHECK_EQ(value(&s1), 0);
    CHECK_EQ(sem_destroy(&s1), 0);
}

/* ---- balance ------------------------------------------------------------------------ */

static sem_t bal;
static long counter;

static void *post_wait(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        CHECK_EQ(sem_post(&bal), 0);
        CHECK_EQ(sem_wait(&bal), 0);
        if ((i & 63) == 0)
            sched_yield();
    }
    return NULL;
}

static void *poster(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        CHECK_EQ(sem_post(&bal), 0);
        if ((i & 15) == 0)
            sched_yield();
    }
    return NULL;
}

static void *waiter(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        if ((i & 3) == 1) {
            struct timespec d = add_ms(now(CLOCK_REALTIME), 60000);
            CHECK_EQ(sem_timedwait(&bal, &d), 0);
        } else {
            CHECK_EQ(sem_wait(&bal), 0);
        }
    }
    return NULL;
}

static void *locker(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        CHECK_EQ(sem_wait(&bal), 0);
        long v = counter;
        if ((i & 127) == 0)
            sched_yield();
        counter = v + 1;
        CHECK_EQ(sem_post(&bal), 0);
    }
    return NULL;
}

static void run(unsigned init, void *(*a)(void *), void *(*b)(void *))
{
    CHECK_EQ(sem_init(&bal, 0, init), 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, i % 2 ? b : a, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(value(&bal), (int)init);
    CHECK_EQ(sem_destroy(&bal), 0);
}

int main(void)
{
    limits_and_errors();
    wake_blocked(0);
    wake_blocked(1);
    run(0, post_wait, post_wait);
    run(0, poster, waiter);
    run(1, locker, locker);
    CHECK_EQ(counter, (long)THREADS * ITERS);
    printf("sem: limits (EINVAL, EOVERFLOW, EAGAIN), timed waits never early, bad deadlines "
           "EINVAL before anything, blocked waiter woken, %d x %d balanced\n", THREADS, ITERS);
    return 0;
}
