/*
 * Many very short sleeps in a row end. A thread calls usleep(n) 10,000
 * times with n cycling through 1..10 µs, then nanosleep for 1..10 µs as
 * many times (20,000 sleeps); then 4 threads each do 5,000 at once, half
 * of each kind. Every call returns 0 and lasts at least what it asked for.
 *
 * Why: a sleep this short is often already due by the time the scheduler
 * computes how long its M should wait, so the wait comes out zero or
 * negative. An M that turns a negative timeout into "no timeout" sleeps
 * forever (a hang, which the alarm below turns into a failure), and one
 * that waits a whole scheduler tick for each sleep makes the loop take
 * minutes. Natively each call lasts 60-90 µs (the kernel's default
 * 50 µs timer slack, and the system call), so the lone thread's phases
 * take about 0.8 s each; the bound of 20 s per phase is far above that,
 * even on a loaded machine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define PHASE_BOUND_NS (20000 * MS)
#define ALONE 10000   /* sleeps of each kind by the lone thread */
#define THREADS 4
#define EACH 2500     /* sleeps of each kind by each of the THREADS */

enum kind { USLEEP, NANOSLEEP };

/* `count` sleeps of `kind`, of 1..10 µs in turn; each returns 0 and lasts
   at least what it asked (measured on CLOCK_MONOTONIC, which both calls
   are timed on). */
static void sleeps(enum kind kind, int count)
{
    for (int i = 0; i < count; i++) {
        long us = 1 + i % 10;
        int64_t t0 = ns(now(CLOCK_MONOTONIC));
        int r;
        if (kind == USLEEP) {
            r = usleep((useconds_t)us);
        } else {
            struct timespec req = {0, us * 1000};
            r = nanosleep(&req, NULL);
        }
        int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
        CHECK(r == 0, "%s(%ld us) call %d returned %d, errno %d", kind == USLEEP ? "usleep" : "nanosleep", us, i, r,
              errno);
        CHECK(el >= us * 1000, "%s(%ld us) call %d lasted only %lld ns", kind == USLEEP ? "usleep" : "nanosleep", us,
              i, (long long)el);
    }
}

static void *sleeper(void *arg)
{
    sleeps(USLEEP, EACH);
    sleeps(NANOSLEEP, EACH);
    return arg;
}

/* Runs `phase`, checks it took less than PHASE_BOUND_NS, and returns how
   long it took in ms. */
static int64_t timed(const char *name, void (*phase)(void))
{
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    phase();
    int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
    CHECK(el < PHASE_BOUND_NS, "%s took %lld ms", name, (long long)(el / MS));
    return el / MS;
}

static void alone_usleep(void)
{
    sleeps(USLEEP, ALONE);
}

static void alone_nanosleep(void)
{
    sleeps(NANOSLEEP, ALONE);
}

static void together(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, sleeper, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
}

int main(void)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(60);
    int64_t u = timed("10,000 usleeps", alone_usleep);
    int64_t n = timed("10,000 nanosleeps", alone_nanosleep);
    int64_t t = timed("4 threads' 2,500 usleeps and 2,500 nanosleeps each", together);
    printf("%d usleeps of 1-10 us took %lld ms, %d nanosleeps %lld ms; %d threads doing %d of each at once %lld ms "
           "(%s)\n",
           ALONE, (long long)u, ALONE, (long long)n, THREADS, EACH, (long long)t, test_mode());
    return 0;
}
