/*
 * Joins with a deadline: pthread_timedjoin_np (CLOCK_REALTIME) and
 * pthread_clockjoin_np (CLOCK_REALTIME, CLOCK_MONOTONIC).
 *  - on a thread still running, a 50 ms deadline gives ETIMEDOUT, never
 *    early and within 2 s; a past deadline or negative tv_sec gives ETIMEDOUT
 *    at once; pthread_tryjoin_np gives EBUSY; none of these spoils the thread
 *    for a later join, which returns its value;
 *  - a thread that ends before the deadline (already ended, or ending while
 *    the caller waits) is joined: 0 and its value;
 *  - pthread_clockjoin_np with a clock other than REALTIME/MONOTONIC is
 *    EINVAL at once, even for a thread that has ended, which stays joinable;
 *  - tv_nsec outside [0, 1e9): glibc 2.36 does not return EINVAL: it spins in
 *    the kernel wait (which fails with EINVAL) until the thread ends, then
 *    returns 0 and the value. Accepted here: that, or EINVAL at once with the
 *    thread still joinable. Never ETIMEDOUT, never a lost thread.
 * Running threads wait by yielding on an atomic flag.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define TIMEOUT_MS 50

/* ---- the threads joined ------------------------------------------------------------- */

struct runner {
    pthread_t t;
    atomic_int stop;        /* set: return */
    atomic_int ended;       /* set just before returning */
    atomic_int yields;      /* > 0: also return after this many yields... */
    atomic_int armed;       /* ...counted once this is set */
    intptr_t value;
};

static void *run(void *arg)
{
    struct runner *r = arg;
    int n = atomic_load(&r->yields);
    for (int i = 0; !atomic_load(&r->stop);) {
        sched_yield();
        if (n > 0 && atomic_load(&r->armed) && ++i >= n)
            break;
    }
    atomic_store(&r->ended, 1);
    return (void *)r->value;
}

static void start(struct runner *r, intptr_t value, int yields, int armed)
{
    atomic_store(&r->stop, 0);
    atomic_store(&r->ended, 0);
    atomic_store(&r->yields, yields);
    atomic_store(&r->armed, armed);
    r->value = value;
    CHECK_EQ(pthread_create(&r->t, NULL, run, r), 0);
}

static void finish(struct runner *r)
{
    void *v = NULL;
    atomic_store(&r->stop, 1);
    CHECK_EQ(pthread_join(r->t, &v), 0);
    CHECK_EQ((intptr_t)v, r->value);
}

/* api: 0 timedjoin, 1 clockjoin. */
static int timed_join(struct runner *r, int api, clockid_t clock, const struct timespec *d, void **v)
{
    return api == 0 ? pthread_timedjoin_np(r->t, v, d) : pthread_clockjoin_np(r->t, v, clock, d);
}

static void times_out(struct runner *r, int api, clockid_t clock)
{
    if (api == 0)
        clock = CLOCK_REALTIME;
    void *v = (void *)-1;
    struct timespec s = now(CLOCK_MONOTONIC);
    struct timespec d = add_ms(now(clock), TIMEOUT_MS);
    CHECK_EQ(timed_join(r, api, clock, &d, &v), ETIMEDOUT);
    int64_t late = ns(now(clock)) - ns(d);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(s);
    CHECK(late >= 0, "join returned %lld ns before the deadline", (long long)-late);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
    CHECK(v == (void *)-1, "result written on timeout");
    CHECK_EQ(atomic_load(&r->ended), 0);
}

static void running(void)
{
    struct runner r;
    struct timespec past = {0, 0}, negative = {-1, 0};
    void *v;
    start(&r, 11, 0, 0);
    CHECK_EQ(pthread_tryjoin_np(r.t, &v), EBUSY);
    CHECK_EQ(pthread_timedjoin_np(r.t, &v, &past), ETIMEDOUT);
    CHECK_EQ(pthread_timedjoin_np(r.t, &v, &negative), ETIMEDOUT);
    CHECK_EQ(pthread_clockjoin_np(r.t, &v, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    times_out(&r, 0, CLOCK_REALTIME);
    times_out(&r, 1, CLOCK_MONOTONIC);
    times_out(&r, 1, CLOCK_REALTIME);
    times_out(&r, 0, CLOCK_REALTIME);   /* again: a timeout leaves it joinable */
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(pthread_clockjoin_np(r.t, &v, CLOCK_PROCESS_CPUTIME_ID, &fine), EINVAL);
    CHECK_EQ(pthread_clockjoin_np(r.t, &v, 12345, &fine), EINVAL);
    finish(&r);
}

/* Joined with a 10 s deadline: already ended, or ending while we wait. */
static void ends_in_time(int api, clockid_t clock, int already)
{
    if (api == 0)
        clock = CLOCK_REALTIME;
    struct runner r;
    void *v = NULL;
    start(&r, 22 + api, already ? 0 : 200, 1);
    if (already) {
        atomic_store(&r.stop, 1);
        while (!atomic_load(&r.ended))
            sched_yield();
    }
    struct timespec s = now(CLOCK_MONOTONIC);
    struct timespec d = add_ms(now(clock), 10000);
    CHECK_EQ(timed_join(&r, api, clock, &d, &v), 0);
    CHECK_EQ((intptr_t)v, 22 + api);
    CHECK_EQ(atomic_load(&r.ended), 1);
    CHECK(ns(now(CLOCK_MONOTONIC)) - ns(s) < 5000000000LL, "join of an ending thread took > 5 s");
}

/* A clock that is not allowed, on a thread that has ended. */
static void bad_clock_ended(void)
{
    struct runner r;
    start(&r, 33, 0, 0);
    atomic_store(&r.stop, 1);
    while (!atomic_load(&r.ended))
        sched_yield();
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    void *v = NULL;
    CHECK_EQ(pthread_clockjoin_np(r.t, &v, CLOCK_THREAD_CPUTIME_ID, &fine), EINVAL);
    CHECK(v == NULL, "result written on EINVAL");
    CHECK_EQ(pthread_join(r.t, &v), 0);
    CHECK_EQ((intptr_t)v, 33);
}

/* tv_nsec out of range, on a thread that ends by itself 100 yields after
   the call is made (glibc spins until then). */
static const char *bad_nsec(int api, long nsec)
{
    clockid_t clock = api == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    struct runner r;
    start(&r, 44, 100, 0);
    struct timespec d = add_ms(now(clock), 1000);
    d.tv_nsec = nsec;
    void *v = NULL;
    atomic_store(&r.armed, 1);
    int rc = timed_join(&r, api, clock, &d, &v);
    if (rc == 0) {                              /* glibc 2.36 */
        CHECK_EQ((intptr_t)v, 44);
        CHECK_EQ(atomic_load(&r.ended), 1);
        return "0 after the thread ended";
    }
    CHECK_EQ(rc, EINVAL);
    CHECK(v == NULL, "result written on EINVAL");
    finish(&r);
    return "EINVAL";
}

int main(void)
{
    running();
    for (int already = 0; already < 2; already++) {
        ends_in_time(0, CLOCK_REALTIME, already);
        ends_in_time(1, CLOCK_MONOTONIC, already);
        ends_in_time(1, CLOCK_REALTIME, already);
    }
    bad_clock_ended();
    const char *b1 = bad_nsec(0, 1000000000L);
    const char *b2 = bad_nsec(1, -1);
    printf("timed joins: ETIMEDOUT never early and joinable after, 0 and the value when the "
           "thread ends in time, bad clock EINVAL; bad tv_nsec: %s / %s\n", b1, b2);
    return 0;
}
