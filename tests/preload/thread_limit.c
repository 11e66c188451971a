/*
 * The kernel-thread limit is never fatal. Run under gpm with
 * GPM_MAXTHREADS=6 (meson's gpm_env): 24 threads each block in poll(2) for
 * 100 ms on a pipe nobody writes, a call gpm wraps, so each holds a kernel
 * thread while it blocks; with at most 6 kernel threads, gpm says once on
 * stderr that it reached the limit and the others wait for a kernel thread
 * to come back, instead of aborting (the old behaviour). Every thread must
 * finish and return its own index, main included in the waiting. Natively
 * and in pass-through the limit does not apply.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define N 24

static int p[2];

static void *waiter(void *arg)
{
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK_EQ(poll(&pf, 1, 100), 0);
    return arg;
}

int main(void)
{
    alarm(60);
    CHECK_EQ(pipe(p), 0);
    struct timespec t0 = now(CLOCK_MONOTONIC);
    pthread_t t[N];
    for (intptr_t i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, waiter, (void *)i), 0);
    for (intptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((intptr_t)r, i);
    }
    double el = (double)(ns(now(CLOCK_MONOTONIC)) - ns(t0)) / 1e9;
    CHECK(el < 30, "%.1f s", el);
    printf("%d threads each blocked 100 ms in poll, all done in %.2f s (%s)\n", N, el, test_mode());
    return 0;
}
