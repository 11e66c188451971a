/*
 * 10,000 threads each sleeping 100 ms at once: under gpm the sleeps
 * overlap (about 0.5 s of wall time on an idle 2-CPU machine, creation
 * included), while at most GPM_MAXPROCS + 4 kernel threads exist. The
 * check allows 5 s, so that a loaded CI machine cannot fail it; one after
 * the other the sleeps would take 1,000 s. Natively all must simply finish.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "tasks.h"

#define N 10000

static atomic_int asleep;

static void *sleeper(void *arg)
{
    atomic_fetch_add(&asleep, 1);
    struct timespec ts = {0, 100000000};
    CHECK_EQ(nanosleep(&ts, NULL), 0);
    return arg;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    static pthread_t t[N];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    double t0 = now();
    int maxtasks = 0;
    for (uintptr_t i = 0; i < N; i++) {
        CHECK_EQ(pthread_create(&t[i], &attr, sleeper, (void *)i), 0);
        if (i % 1000 == 999) {
            int k = count_tasks();
            maxtasks = k > maxtasks ? k : maxtasks;
        }
    }
    int k = count_tasks();
    maxtasks = k > maxtasks ? k : maxtasks;
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((uintptr_t)r, i);
    }
    double el = now() - t0;
    if (under_gpm()) {
        CHECK(maxtasks <= max_tasks_under_gpm(), "%d kernel threads, limit %d", maxtasks, max_tasks_under_gpm());
        CHECK(el < 5.0, "%d 100 ms sleeps took %.2f s", N, el);
    }
    printf("%d threads slept 100 ms each in %.2f s of wall time, on at most %d kernel threads (%s)\n", N, el,
           maxtasks, test_mode());
    return 0;
}
