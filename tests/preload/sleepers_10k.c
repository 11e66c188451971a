/*
 * 10,000 threads (64 KiB stacks) each sleeping 100 ms in nanosleep at once,
 * all joined; no sleep ends early. Under gpm the sleeps park their Gs, so:
 *  - while they sleep the process has at most GPM_MAXPROCS + 8 kernel
 *    threads (counted in /proc/self/task during creation and after it);
 *  - the sleeps overlap: from the last pthread_create to the last join takes
 *    about 100 ms (checked: under 1 s; one after the other the sleeps would
 *    take 1,000 s), and the whole run under 5 s.
 * The whole-run bound is not 1 s because creating 10,000 Gs alone takes
 * about 0.5 s on an idle 2-CPU machine and over 1 s on a loaded one (all
 * measured with this test); the 1 s bound on the sleeping part is what
 * proves the sleeps run concurrently, independent of creation cost.
 * Natively and in pass-through every thread is a kernel thread: the same
 * 10,000 are created (1.5-5 s; threads finish about as fast as they are
 * made, so under 1,000 exist at once) and only completion is checked.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tasks.h"
#include "timing.h"

#define N 10000
#define SLEEP_MS 100

static atomic_int slept;

static void *sleeper(void *arg)
{
    struct timespec t0 = now(CLOCK_MONOTONIC), req = {0, SLEEP_MS * 1000000L};
    CHECK_EQ(nanosleep(&req, NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - ns(t0);
    CHECK(el >= SLEEP_MS * 1000000LL, "thread %d slept %lld ns of %d ms", (int)(uintptr_t)arg, (long long)el,
          SLEEP_MS);
    atomic_fetch_add(&slept, 1);
    return arg;
}

static double secs(struct timespec a, struct timespec b)
{
    return (double)(ns(b) - ns(a)) / 1e9;
}

int main(void)
{
    static pthread_t t[N];
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    int maxtasks = 0;
    struct timespec t0 = now(CLOCK_MONOTONIC);
    for (uintptr_t i = 0; i < N; i++) {
        CHECK_EQ(pthread_create(&t[i], &attr, sleeper, (void *)i), 0);
        if (i % 500 == 499) {
            int k = count_tasks();
            maxtasks = k > maxtasks ? k : maxtasks;
        }
    }
    struct timespec t1 = now(CLOCK_MONOTONIC);
    /* The last ones created are certainly still asleep. */
    int k = count_tasks();
    maxtasks = k > maxtasks ? k : maxtasks;
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((uintptr_t)r, i);
    }
    struct timespec t2 = now(CLOCK_MONOTONIC);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    CHECK_EQ(atomic_load(&slept), N);
    double create = secs(t0, t1), rest = secs(t1, t2), total = secs(t0, t2);
    if (under_gpm()) {
        CHECK(maxtasks <= max_tasks_under_gpm(), "%d kernel threads, limit %d", maxtasks, max_tasks_under_gpm());
        CHECK(rest < 1.0, "the sleeps did not overlap: %.2f s from the last create to the last join", rest);
        CHECK(total < 5.0, "%d 100 ms sleeps took %.2f s in all", N, total);
    }
    printf("%d threads slept %d ms each: %.2f s of wall time (%.2f s creating, %.2f s after), at most %d kernel "
           "threads (%s)\n",
           N, SLEEP_MS, total, create, rest, maxtasks, test_mode());
    return 0;
}
