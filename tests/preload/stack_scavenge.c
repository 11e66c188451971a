/*
 * Stack memory comes back after a burst of threads. 1,000 threads of the
 * default stack size, all alive at once, each touching 128 KiB of its
 * stack, are joined; within
 * 2 s the process's resident memory must be back below its level at the
 * peak by at least half of what the stacks touched (natively glibc gives
 * a finished thread's stack pages back at its exit; under gpm the
 * scavenger gives back those of pooled blocks nobody reused). Then a
 * second burst runs, as the first, on the memory the pool kept: the
 * threads find their stacks usable (each checks its own pattern).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { THREADS = 1000, TOUCH = 128 << 10 };

static pthread_barrier_t all_touched, measured;

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL, "/proc/self/statm");
    long size, res;
    CHECK(fscanf(f, "%ld %ld", &size, &res) == 2, "statm");
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *toucher(void *arg)
{
    volatile unsigned char buf[TOUCH];
    unsigned char v = (unsigned char)(uintptr_t)arg;
    for (size_t i = 0; i < TOUCH; i += 512)
        buf[i] = v;
    pthread_barrier_wait(&all_touched);
    pthread_barrier_wait(&measured); /* hold the pages until main has looked */
    for (size_t i = 0; i < TOUCH; i += 512)
        CHECK(buf[i] == v, "thread %d: its stack changed under it", (int)v);
    return NULL;
}

static long burst(void)
{
    static pthread_t t[THREADS];
    CHECK_EQ(pthread_barrier_init(&all_touched, NULL, THREADS + 1), 0);
    CHECK_EQ(pthread_barrier_init(&measured, NULL, THREADS + 1), 0);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, toucher, (void *)(uintptr_t)i), 0);
    pthread_barrier_wait(&all_touched);
    long peak = rss_kib();
    pthread_barrier_wait(&measured);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(pthread_barrier_destroy(&all_touched), 0);
    CHECK_EQ(pthread_barrier_destroy(&measured), 0);
    return peak;
}

int main(void)
{
    long before = rss_kib();
    for (int round = 0; round < 2; round++) {
        long peak = burst();
        long want = peak - (long)THREADS * (TOUCH / 1024) / 2;
        long now = rss_kib();
        for (int ms = 0; ms < 2000 && now > want; ms += 20) {
            struct timespec ts = {0, 20 * 1000000};
            nanosleep(&ts, NULL);
            now = rss_kib();
        }
        CHECK(now <= want, "round %d: resident %ld KiB before, %ld KiB at the peak, still %ld KiB 2 s after the joins",
              round, before, peak, now);
        printf("round %d: resident %ld KiB before, %ld KiB at the peak, %ld KiB after\n", round, before, peak, now);
    }
    return 0;
}
