/*
 * pthread_mutex_lock + pthread_mutex_unlock by one thread, nobody else
 * wanting the mutex: the fast path. A thread is created (and joined)
 * first: glibc skips the atomic instructions while a process has only ever
 * had one thread, and programs that care about mutexes have more.
 */
#include <pthread.h>

#include "bench.h"

static void *nothing(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 20000000);
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        __asm__ volatile("" ::: "memory");
        pthread_mutex_unlock(&mu);
    }
    bench_report("mutex_uncontended", bench_now_ns() - t0, n);
    return 0;
}
