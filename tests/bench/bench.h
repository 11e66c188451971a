/*
 * tests/bench/bench.h: the shared frame of every benchmark program. A
 * benchmark measures one operation, repeats it, and prints one line:
 *
 *   <name> <ns per operation> <operations>
 *
 * scripts/bench runs each program natively and under gpm and computes the
 * ratios; the programs themselves know nothing about gpm.
 */
#ifndef GPM_BENCH_H
#define GPM_BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Writes all n bytes of p to fd (a short write goes on, EINTR retries):
   0, or -1 when the file refuses them. */
static inline int bench_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The number of operations: argv[1] when given, else dflt. */
static inline long bench_iterations(int argc, char **argv, long dflt)
{
    return argc > 1 ? atol(argv[1]) : dflt;
}

static inline void bench_report(const char *name, double elapsed_ns, long ops)
{
    printf("%s %.1f %ld\n", name, elapsed_ns / (double)ops, ops);
}

#endif
