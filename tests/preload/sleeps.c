/*
 * Sleeps: nanosleep, clock_nanosleep (relative and TIMER_ABSTIME, on
 * CLOCK_REALTIME and CLOCK_MONOTONIC, and a CPU-time clock, which gpm hands
 * to libc), usleep, sleep(0) and thrd_sleep each last at least what was
 * asked and not absurdly longer; bad arguments give glibc's errors; and 100
 * threads sleeping 20 ms at once take about 20 ms, not 100 x 20 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MS 1000000L
#define BOUND (2000 * MS) /* "not absurdly longer": generous for a loaded CI machine */

static long now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static struct timespec ts_of(long ns)
{
    return (struct timespec){ns / 1000000000L, ns % 1000000000L};
}

#define CHECK_LASTED(t0, clock, want)                                                       \
    do {                                                                                    \
        long el_ = now(clock) - (t0);                                                       \
        CHECK(el_ >= (want) && el_ < (want) + BOUND, "slept %ld ns, asked %ld", el_, (long)(want)); \
    } while (0)

static void *sleeper(void *arg)
{
    struct timespec ts = ts_of(20 * MS);
    CHECK_EQ(nanosleep(&ts, NULL), 0);
    return arg;
}

int main(void)
{
    long t0 = now(CLOCK_MONOTONIC);
    struct timespec ts = ts_of(30 * MS), rem = {77, 77};
    CHECK_EQ(nanosleep(&ts, &rem), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 30 * MS);
    CHECK(rem.tv_sec == 77 && rem.tv_nsec == 77, "rem written on a completed sleep");

    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};
    for (int i = 0; i < 2; i++) {
        t0 = now(clocks[i]);
        ts = ts_of(20 * MS);
        CHECK_EQ(clock_nanosleep(clocks[i], 0, &ts, NULL), 0);
        CHECK_LASTED(t0, clocks[i], 20 * MS);
        t0 = now(clocks[i]);
        ts = ts_of(t0 + 25 * MS);
        CHECK_EQ(clock_nanosleep(clocks[i], TIMER_ABSTIME, &ts, NULL), 0);
        CHECK_LASTED(t0, clocks[i], 25 * MS);
        /* A deadline in the past returns at once. */
        ts = ts_of(t0 - 1000 * MS);
        CHECK_EQ(clock_nanosleep(clocks[i], TIMER_ABSTIME, &ts, NULL), 0);
    }
    /* A CPU-time clock: a relative sleep on the process CPU clock is
       refused by the kernel, as natively (glibc passes the error on). */
    ts = ts_of(1 * MS);
    int cpu = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL);
    CHECK(cpu == EINVAL, "CLOCK_THREAD_CPUTIME_ID sleep: %d", cpu);

    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(usleep(15000), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 15 * MS);
    CHECK_EQ(sleep(0), 0u);
    t0 = now(CLOCK_REALTIME);
    ts = ts_of(10 * MS);
    CHECK_EQ(thrd_sleep(&ts, NULL), 0);
    CHECK_LASTED(t0, CLOCK_REALTIME, 10 * MS);

    /* Errors. */
    struct timespec bad = {0, 1000000000L};
    errno = 0;
    CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL, "nanosleep tv_nsec 1e9: errno %d", errno);
    bad = (struct timespec){-1, 0};
    errno = 0;
    CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL, "nanosleep tv_sec -1: errno %d", errno);
    bad = (struct timespec){0, -1};
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    CHECK(thrd_sleep(&bad, NULL) < -1, "thrd_sleep of a bad duration must return a negative other than -1");

    /* Sleeps overlap. */
    enum { N = 100 };
    pthread_t t[N];
    t0 = now(CLOCK_MONOTONIC);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, sleeper, NULL), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    long el = now(CLOCK_MONOTONIC) - t0;
    CHECK(el >= 20 * MS && el < N * 20 * MS / 4, "%d concurrent 20 ms sleeps took %ld ms", N, el / MS);
    printf("sleeps last what they should; %d concurrent 20 ms sleeps took %ld ms\n", N, el / MS);
    return 0;
}
