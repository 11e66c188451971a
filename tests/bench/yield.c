/*
 * Two threads calling sched_yield in turn on one CPU: the cost of one
 * switch from a thread to another. scripts/bench runs it natively pinned
 * to one CPU and under gpm with GPM_MAXPROCS=1.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench.h"

static long n;
static atomic_int started;

static void *yielder(void *arg __attribute__((unused)))
{
    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < 2)
        sched_yield();
    for (long i = 0; i < n; i++)
        sched_yield();
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 200000);
    pthread_t t[2];
    double t0 = bench_now_ns();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, yielder, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* Two threads, n yields each: 2n switches. */
    bench_report("yield", bench_now_ns() - t0, 2 * n);
    return 0;
}
