/*
 * Four threads incrementing one counter under one mutex: the time per
 * critical section under contention (lower is more throughput).
 */
#include <pthread.h>
#include <stdio.h>

#include "bench.h"

enum { THREADS = 4 };
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter, n;

static void *hammer(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 1000000);
    pthread_t t[THREADS];
    double t0 = bench_now_ns();
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double el = bench_now_ns() - t0;
    if (counter != n * THREADS) {
        fprintf(stderr, "mutex_hammer: counter %ld, expected %ld\n", counter, n * THREADS);
        return 1;
    }
    bench_report("mutex_hammer", el, n * THREADS);
    return 0;
}
