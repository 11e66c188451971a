/*
 * read on an empty non-blocking pipe (EAGAIN at once): what wrapping a
 * call that does not block costs. A thread is created first so that both
 * runs are multi-threaded programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

static void *nothing(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 1000000);
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    char c;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (read(p[0], &c, 1) != -1 || errno != EAGAIN)
            return 1;
    bench_report("read_nonblock", bench_now_ns() - t0, n);
    return 0;
}
