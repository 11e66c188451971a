/*
 * Broadcasts into a contended mutex. Threads meet at a generation counter
 * kept under one mutex: each waits for the generation to change, the last
 * to arrive advances it and broadcasts, many times over. Under gpm a
 * broadcast wakes one waiter and moves the rest onto the mutex's word, so
 * every round mixes threads back from the condition variable (signalled,
 * or moved and then woken by an unlock), threads that time out of a
 * timed wait, and threads locking the mutex afresh, while others hold it.
 * A waiter forgotten on the mutex's word would hang a round: each wait is
 * bounded, and a round that does not end within 10 s fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 3000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long generation;
static int arrived;
static atomic_long timeouts;

static struct timespec after_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += (ms % 1000) * 1000000;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

static void *member(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        long gen = generation;
        if (++arrived == THREADS) {
            arrived = 0;
            generation++;
            CHECK_EQ(pthread_cond_broadcast(&cv), 0);
        } else {
            struct timespec bound = after_ms(10000);
            while (generation == gen) {
                int rc;
                if ((r + me) % 7 == 0) {
                    /* A short timed wait now and then: it may time out
                       with the round still open, and waits again. */
                    struct timespec soon = after_ms(1);
                    rc = pthread_cond_timedwait(&cv, &mu, &soon);
                    if (rc == ETIMEDOUT)
                        atomic_fetch_add(&timeouts, 1);
                } else {
                    rc = pthread_cond_timedwait(&cv, &mu, &bound);
                }
                CHECK(rc == 0 || rc == ETIMEDOUT, "rc %d", rc);
                if (rc == ETIMEDOUT && generation == gen) {
                    struct timespec now;
                    clock_gettime(CLOCK_REALTIME, &now);
                    CHECK(now.tv_sec < bound.tv_sec, "thread %d stuck in round %d (generation %ld)", me, r,
                          gen);
                }
            }
        }
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
        if ((r & 15) == me)
            sched_yield();
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, member, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(generation, ROUNDS);
    printf("%d rounds of %d threads; %ld short waits timed out\n", ROUNDS, THREADS, atomic_load(&timeouts));
    return 0;
}
