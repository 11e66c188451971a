/*
 * 100,000 threads alive at once, all blocked on one condition variable:
 * each increments `waiting` under the mutex and waits while `go == 0`; the
 * last to arrive signals a second condition variable, on which main waits
 * until all are waiting. Main counts the kernel threads (under gpm at most
 * GPM_MAXPROCS + 8 (tasks.h): parked Gs need none), sets go = 1, broadcasts once, and
 * joins them all; every one must have seen go = 1 and returned its own
 * value. Under gpm the whole run must take under 60 s (about 6-12 s on 2
 * CPUs).
 *
 * Stacks are 16 KiB (or PTHREAD_STACK_MIN, if the machine's is larger).
 * Natively (and in pass-through) every thread is a kernel thread, and the
 * kernel's limits stop far short of 100,000: vm.max_map_count (65,530 by
 * default; glibc maps each stack plus a guard: about 32,000 threads),
 * kernel.threads-max and RLIMIT_NPROC (for a non-root user). Those runs use
 * 2,000 threads: they check the test itself, not scale.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tasks.h"
#include "timing.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t allwaiting = PTHREAD_COND_INITIALIZER;
static int n, waiting, go, released;

static void *waiter(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    if (++waiting == n)
        CHECK_EQ(pthread_cond_signal(&allwaiting), 0);
    while (!go)
        CHECK_EQ(pthread_cond_wait(&cv, &mu), 0);
    released++;
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return arg;
}

int main(void)
{
    n = under_gpm() ? 100000 : 2000;
    size_t stack = 16 * 1024;
    long min = sysconf(_SC_THREAD_STACK_MIN);
    if (min > 0 && (size_t)min > stack)
        stack = (size_t)min;
    if ((size_t)PTHREAD_STACK_MIN > stack)
        stack = PTHREAD_STACK_MIN;
    pthread_t *t = malloc(sizeof *t * (size_t)n);
    CHECK(t != NULL, "malloc");
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, stack), 0);

    struct timespec t0 = now(CLOCK_MONOTONIC);
    for (intptr_t i = 0; i < n; i++) {
        int err = pthread_create(&t[i], &attr, waiter, (void *)i);
        CHECK(err == 0, "pthread_create of thread %ld: error %d", (long)i, err);
    }
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    while (waiting < n)
        CHECK_EQ(pthread_cond_wait(&allwaiting, &mu), 0);
    int tasks = count_tasks(); /* all n are blocked on cv */
    CHECK_EQ(released, 0);
    go = 1;
    CHECK_EQ(pthread_cond_broadcast(&cv), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    for (intptr_t i = 0; i < n; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((intptr_t)r, i);
    }
    double el = (double)(ns(now(CLOCK_MONOTONIC)) - ns(t0)) / 1e9;
    CHECK_EQ(released, n);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    if (under_gpm()) {
        CHECK(tasks <= max_tasks_under_gpm(), "%d kernel threads, limit %d", tasks, max_tasks_under_gpm());
        CHECK(el < 60.0, "%d waiters took %.1f s", n, el);
    }
    printf("%d threads (%zu KiB stacks) waited on one condition variable, released by one broadcast, on %d kernel "
           "threads, in %.2f s (%s)\n",
           n, stack / 1024, tasks, el, test_mode());
    free(t);
    return 0;
}
