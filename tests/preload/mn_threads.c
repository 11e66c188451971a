/*
 * M:N: 10,000 threads (64 KiB stacks) alive at once, each yielding in a
 * loop until main releases them, run on a handful of kernel threads. Once
 * every thread has started, main counts the entries of /proc/self/task:
 * under gpm there must be at most GPM_MAXPROCS (default: the CPUs of the
 * affinity mask) + 8 kernel threads (tasks.h); natively the count is only printed
 * (it is 10,001). Then main releases the threads, joins them all, and each
 * must return its own index. Natively the threads put themselves under
 * SCHED_IDLE, only so that main gets the CPU to create them all quickly.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tasks.h"

#define N 10000
#define WAIT_BOUND 100000000L

static atomic_int started;
static atomic_int release;

static void *worker(void *arg)
{
    if (!under_gpm()) {
        /* Native kernel threads only, for speed: 10,000 spinning threads
           would starve main's pthread_create calls (10+ s on 2 CPUs);
           SCHED_IDLE ones give way to it. Under gpm this would change the
           policy of the kernel thread that runs the G, so it is not done. */
        struct sched_param sp = {0};
        (void)sched_setscheduler(0, SCHED_IDLE, &sp);
    }
    atomic_fetch_add(&started, 1);
    long spins = 0;
    while (!atomic_load(&release)) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "thread %lu: never released", (unsigned long)(uintptr_t)arg);
    }
    return arg;
}

int main(void)
{
    static pthread_t ts[N];
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    for (uintptr_t i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&ts[i], &attr, worker, (void *)i), 0);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    long spins = 0;
    while (atomic_load(&started) < N) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "only %d of %d threads started", atomic_load(&started), N);
    }
    int tasks = count_tasks();
    int limit = max_tasks_under_gpm();
    if (under_gpm())
        CHECK(tasks <= limit, "%d kernel threads for %d threads, limit %d", tasks, N, limit);

    atomic_store(&release, 1);
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(ts[i], &r), 0);
        CHECK_EQ((uintptr_t)r, i);
    }
    printf("%d threads alive at once on %d kernel threads (%s%s%d)\n", N, tasks, test_mode(),
           under_gpm() ? ", limit " : ", gpm limit would be ", limit);
    return 0;
}
