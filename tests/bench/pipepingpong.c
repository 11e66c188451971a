/*
 * Two threads passing a byte back and forth through two pipes: the cost of
 * one round trip through blocking reads and writes.
 */
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

static int ab[2], ba[2];
static long n;

static void *echo(void *arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < n; i++) {
        if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
            return (void *)1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 100000);
    if (pipe(ab) != 0 || pipe(ba) != 0)
        return 1;
    pthread_t t;
    double t0 = bench_now_ns();
    pthread_create(&t, NULL, echo, NULL);
    char c = 'x';
    for (long i = 0; i < n; i++) {
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            return 1;
    }
    void *r;
    pthread_join(t, &r);
    bench_report("pipepingpong", bench_now_ns() - t0, n);
    return r != NULL;
}
