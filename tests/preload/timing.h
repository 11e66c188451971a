/*
 * tests/preload/timing.h: clock helpers for the tests that check timeouts
 * ("never early, within a generous bound").
 */
#ifndef GPM_TEST_TIMING_H
#define GPM_TEST_TIMING_H

#include <stdint.h>
#include <time.h>

static inline struct timespec now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t;
}

static inline struct timespec add_ms(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static inline int64_t ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

#endif
