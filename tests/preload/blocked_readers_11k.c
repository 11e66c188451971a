/*
 * 11,000 threads blocked at once in read(2) on one empty pipe. Under gpm
 * they park in the poller (the kernel threads are counted and printed;
 * blocking_calls.c checks the bound, here the creation of 11,000 stacks
 * may leave a few more Ms behind, whose P sysmon revoked while they waited
 * for the kernel's mmap lock). With GPM_NETPOLL=0 every one holds a kernel thread (the call blocks in
 * the kernel), as natively: the old GPM_MAXTHREADS default (10,000)
 * aborted such a program; the limit is now what the kernel allows
 * (kernel.threads-max, kernel.pid_max, RLIMIT_NPROC), and reaching it is
 * said on stderr, never an abort. Once
 * every reader has started (and, under gpm, sysmon has had time to hand
 * their Ps on), main writes 11,000 bytes; each reader takes one and
 * returns it; main joins them all and checks every byte came back once.
 * Stacks are 64 KiB (natively: 11,000 kernel threads, 22,000 mappings).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"
#include "timing.h"

#define N 11000

static int p[2];
static atomic_int started;

static void *reader(void *arg)
{
    (void)arg;
    unsigned char c;
    atomic_fetch_add(&started, 1);
    ssize_t r = read(p[0], &c, 1);
    CHECK(r == 1, "read returned %zd", r);
    return (void *)(uintptr_t)c;
}

int main(void)
{
    alarm(120);
    long limit = sysconf(_SC_CHILD_MAX);
    if (limit > 0 && limit < N + 100) {
        printf("RLIMIT_NPROC %ld is below %d threads: skipped\n", limit, N);
        return 77;
    }
    CHECK_EQ(pipe(p), 0);
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    pthread_t *t = malloc(sizeof *t * N);
    CHECK(t != NULL, "memory");
    struct timespec t0 = now(CLOCK_MONOTONIC);
    for (int i = 0; i < N; i++) {
        int err = pthread_create(&t[i], &attr, reader, NULL);
        if (err == EAGAIN && !under_gpm() && i > 1000) {
            printf("the kernel allows %d threads here: skipped\n", i);
            return 77;
        }
        CHECK(err == 0, "pthread_create %d: %d", i, err);
    }
    while (atomic_load(&started) < N)
        usleep(1000);
    usleep(200000); /* the last readers get into read() */
    int tasks = count_tasks();
    unsigned char buf[256];
    int seen[256] = {0};
    for (int i = 0; i < N; i += (int)sizeof buf) {
        int n = N - i < (int)sizeof buf ? N - i : (int)sizeof buf;
        for (int k = 0; k < n; k++)
            buf[k] = (unsigned char)((i + k) % 251);
        CHECK_EQ(write(p[1], buf, (size_t)n), n);
    }
    for (int i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        seen[(uintptr_t)r]++;
    }
    for (int v = 0; v < 251; v++)
        CHECK(seen[v] == N / 251 + (v < N % 251), "byte %d came back %d times", v, seen[v]);
    double el = (double)(ns(now(CLOCK_MONOTONIC)) - ns(t0)) / 1e9;
    printf("%d threads blocked in read at once on %d kernel threads, all woken, in %.2f s (%s)\n", N, tasks, el,
           test_mode());
    free(t);
    return 0;
}
