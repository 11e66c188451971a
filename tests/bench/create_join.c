/*
 * create+join of one thread, sequentially: the cost of a thread's whole
 * life (create, first run, exit, join, reuse of its stack).
 */
#include <pthread.h>
#include <stdint.h>

#include "bench.h"

static void *body(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 100000);
    /* Warm up: stacks cached, lazy bindings resolved. */
    for (int i = 0; i < 100; i++) {
        pthread_t t;
        pthread_create(&t, NULL, body, NULL);
        pthread_join(t, NULL);
    }
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        void *r;
        if (pthread_create(&t, NULL, body, (void *)(intptr_t)i) != 0 ||
            pthread_join(t, &r) != 0 || r != (void *)(intptr_t)i) {
            fprintf(stderr, "create_join: failed at %ld\n", i);
            return 1;
        }
    }
    bench_report("create_join", bench_now_ns() - t0, n);
    return 0;
}
