/*
 * Barriers: pthread_barrier_init with count 0 is EINVAL; a barrier of 8
 * threads used for 1000 rounds gives exactly one
 * PTHREAD_BARRIER_SERIAL_THREAD (the others 0) per round, and no thread
 * leaves round r before all 8 have reached it, nor reaches round r + 2
 * before all have left round r (an arrival counter checked on each side of
 * every wait). A barrier of 1 never waits and always returns SERIAL. A
 * barrier is reusable after destroy and init with another count.
 * barrierattr: pshared defaults to PRIVATE, round-trips SHARED, and 99 is
 * EINVAL (glibc 2.36 also refuses counts above INT_MAX: EINVAL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define N 8
#define ROUNDS 1000

static pthread_barrier_t b;
static atomic_long arrived;
static atomic_int serial[ROUNDS];
static int nthreads;

static void *worker(void *arg)
{
    long n = nthreads;
    for (long r = 0; r < ROUNDS; r++) {
        long before = atomic_fetch_add(&arrived, 1);
        /* Nobody can be past this round's barrier yet, so nobody has
           arrived at the next one. */
        CHECK(before < (r + 1) * n, "round %ld: %ld arrivals before mine", r, before);
        if (((uintptr_t)arg + r) % 7 == 0)
            sched_yield();
        int rc = pthread_barrier_wait(&b);
        CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "round %ld: rc %d", r, rc);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&serial[r], 1);
        long after = atomic_load(&arrived);
        /* All n arrived at this round; at most the n - 1 others arrived at
           the next (they cannot pass it without me). */
        CHECK(after >= (r + 1) * n, "round %ld: left with %ld arrivals", r, after);
        CHECK(after < (r + 2) * n, "round %ld: %ld arrivals, someone is two rounds ahead", r, after);
    }
    return NULL;
}

static void run(int n)
{
    nthreads = n;
    atomic_store(&arrived, 0);
    for (int r = 0; r < ROUNDS; r++)
        atomic_store(&serial[r], 0);
    CHECK_EQ(pthread_barrier_init(&b, NULL, (unsigned)n), 0);
    pthread_t t[N];
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int r = 0; r < ROUNDS; r++)
        CHECK(atomic_load(&serial[r]) == 1, "round %d: %d serial threads", r, atomic_load(&serial[r]));
    CHECK_EQ(atomic_load(&arrived), (long)n * ROUNDS);
    CHECK_EQ(pthread_barrier_destroy(&b), 0);
}

int main(void)
{
    pthread_barrierattr_t a;
    int v;
    CHECK_EQ(pthread_barrierattr_init(&a), 0);
    CHECK_EQ(pthread_barrierattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_barrierattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_barrierattr_setpshared(&a, 99), EINVAL);
    CHECK_EQ(pthread_barrierattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_barrierattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);

    CHECK_EQ(pthread_barrier_init(&b, NULL, 0), EINVAL);
    CHECK_EQ(pthread_barrier_init(&b, &a, 0), EINVAL);
    CHECK_EQ(pthread_barrier_init(&b, NULL, (unsigned)INT_MAX + 1u), EINVAL);
    CHECK_EQ(pthread_barrier_init(&b, NULL, UINT_MAX), EINVAL);

    /* A barrier of one. */
    CHECK_EQ(pthread_barrier_init(&b, &a, 1), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK_EQ(pthread_barrier_destroy(&b), 0);
    CHECK_EQ(pthread_barrierattr_destroy(&a), 0);

    run(N);
    run(3);
    run(2);
    printf("barrier: %d rounds with %d, 3 and 2 threads, one serial thread per round, "
           "nobody ahead; count 0 EINVAL\n", ROUNDS, N);
    return 0;
}
