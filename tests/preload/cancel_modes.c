/*
 * Cancellation state and type (issue 9):
 *   async     a thread with PTHREAD_CANCEL_ASYNCHRONOUS spinning in a loop
 *             that makes no call at all is cancelled: its cleanup handler
 *             runs, the join returns PTHREAD_CANCELED, and the loop never
 *             reaches its (unreachable in 10 minutes) end;
 *   disabled  a thread with PTHREAD_CANCEL_DISABLE is cancelled (0) and
 *             goes through cancellation points (usleep, read of a pipe with
 *             data, pthread_testcancel) untouched; after it enables
 *             cancellation again (deferred type: setcancelstate itself does
 *             not act), the next pthread_testcancel acts on the pending
 *             cancel;
 *   disabled_async  the same with the asynchronous type: re-enabling acts
 *             on the pending cancel in pthread_setcancelstate itself;
 *   self      pthread_cancel(pthread_self()) then a cancellation point.
 * No timing: each step is a handshake; the watchdog (watchdog.h) names a
 * step that hangs. Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"
#include "watchdog.h"

static _Atomic int ready, cancelled_sent, reached, cleaned;
static volatile unsigned long spins;

static void cleanup(void *arg)
{
    (void)arg;
    atomic_store(&cleaned, 1);
}

static void reset(void)
{
    atomic_store(&ready, 0);
    atomic_store(&cancelled_sent, 0);
    atomic_store(&reached, 0);
    atomic_store(&cleaned, 0);
}

static void join_cancelled(pthread_t t, const char *what)
{
    void *ret;
    CHECK_EQ(pthread_join(t, &ret), 0);
    CHECK(ret == PTHREAD_CANCELED, "%s: join returned %p, not PTHREAD_CANCELED", what, ret);
    CHECK(atomic_load(&cleaned), "%s: the cleanup handler did not run", what);
}

/* ---- async ---- */

static void *spin_async(void *arg)
{
    (void)arg;
    int old;
    CHECK_EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_DEFERRED);
    pthread_cleanup_push(cleanup, NULL);
    atomic_store(&ready, 1);
    /* no calls: only asynchronous cancellation can stop this */
    for (unsigned long i = 0; i < 1000000000000UL; i++)
        spins = spins + 1;
    atomic_store(&reached, 1);
    pthread_cleanup_pop(0);
    return NULL;
}

static void case_async(void)
{
    reset();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, spin_async, NULL), 0);
    while (!atomic_load(&ready))
        sched_yield();
    CHECK_EQ(pthread_cancel(t), 0);
    join_cancelled(t, "async");
    CHECK(!atomic_load(&reached), "async: the loop ran to its end");
}

/* ---- disabled ---- */

static int async_type;

static void *disabled(void *arg)
{
    (void)arg;
    int old;
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_ENABLE);
    if (async_type)
        CHECK_EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
    pthread_cleanup_push(cleanup, NULL);
    atomic_store(&ready, 1);
    while (!atomic_load(&cancelled_sent))
        sched_yield();
    /* cancellation points, with the cancel pending and disabled */
    usleep(1000);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    close(p[1]);
    pthread_testcancel();
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    atomic_store(&reached, 1);
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0); /* async: acts here */
    CHECK_EQ(old, PTHREAD_CANCEL_DISABLE);
    CHECK(!async_type, "async type: pthread_setcancelstate(ENABLE) returned with a cancel pending");
    atomic_store(&reached, 2);
    pthread_testcancel(); /* deferred: acts here */
    atomic_store(&reached, 3);
    pthread_cleanup_pop(0);
    return NULL;
}

static void run_disabled(int async)
{
    reset();
    async_type = async;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, disabled, NULL), 0);
    while (!atomic_load(&ready))
        sched_yield();
    CHECK_EQ(pthread_cancel(t), 0);
    atomic_store(&cancelled_sent, 1);
    join_cancelled(t, async ? "disabled_async" : "disabled");
    CHECK_EQ(atomic_load(&reached), async ? 1 : 2);
}

static void case_disabled(void)
{
    run_disabled(0);
}

static void case_disabled_async(void)
{
    run_disabled(1);
}

/* ---- self ---- */

static void *self_cancel(void *arg)
{
    (void)arg;
    pthread_cleanup_push(cleanup, NULL);
    CHECK_EQ(pthread_cancel(pthread_self()), 0);
    atomic_store(&reached, 1); /* not a cancellation point: runs */
    struct timespec ts = {10, 0};
    nanosleep(&ts, NULL);
    atomic_store(&reached, 2);
    pthread_cleanup_pop(0);
    return NULL;
}

static void case_self(void)
{
    reset();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, self_cancel, NULL), 0);
    join_cancelled(t, "self");
    CHECK_EQ(atomic_load(&reached), 1);
}

static const struct wd_case cases[] = {
    {"async", case_async},
    {"disabled", case_disabled},
    {"disabled_async", case_disabled_async},
    {"self", case_self},
};

int main(int argc, char **argv)
{
    wd_start();
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 15, "cancellation");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("cancellation state and type: %d case(s) (%s)\n", ran, test_mode());
    return 0;
}
