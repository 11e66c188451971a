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

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
