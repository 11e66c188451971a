/*
 * Timed waits end on time while other threads spin through system calls
 * that return at once. Two threads loop on poll(NULL, 0, 0) (a wrapped
 * call: it enters and leaves the scheduler's system-call path but never
 * blocks) until told to stop. Meanwhile the main thread waits seven times
 * for 200 ms: usleep three times, nanosleep, clock_nanosleep to an
 * absolute CLOCK_MONOTONIC deadline, and pthread_cond_timedwait timing out
 * on a condition variable of each clock (CLOCK_REALTIME, the default, and
 * CLOCK_MONOTONIC). Each wait lasts at least 200 ms and less than 2 s, and
 * both spinners make progress during the waits.
 *
 * Why: under gpm the spinners are always runnable and each poll passes
 * through entersyscall/exitsyscall, which keeps their P looking busy. A
 * sleeping G whose timer is only run when the P has nothing else to do,
 * or whose P is handed back and forth between the spinners without its
 * timers being checked, wakes many times too late or not at all. With
 * GPM_MAXPROCS=1 there are more runnable threads than Ps; with 2 the
 * spinners can occupy both Ps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define WAIT_MS 200
#define BOUND_NS (2000 * MS) /* "not much more": far above native, far below "many times too long" */
#define SPINNERS 2

static atomic_int stop;
static atomic_long polls[SPINNERS];

static void *spinner(void *arg)
{
    atomic_long *count = arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        CHECK_EQ(poll(NULL, 0, 0), 0);
        atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
    }
    return NULL;
}

static long total_polls(void)
{
    long n = 0;
    for (int i = 0; i < SPINNERS; i++)
        n += atomic_load(&polls[i]);
    return n;
}

enum wait { USLEEP, NANOSLEEP, CLOCK_NANOSLEEP_ABS, COND_REALTIME, COND_MONOTONIC };

static const char *const names[] = {"usleep", "nanosleep", "clock_nanosleep(TIMER_ABSTIME)",
                                    "pthread_cond_timedwait(CLOCK_REALTIME)",
                                    "pthread_cond_timedwait(CLOCK_MONOTONIC)"};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_realtime = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cv_monotonic;

/* One 200 ms wait of kind `w`; returns how long it lasted, in ns. */
static int64_t wait_once(enum wait w)
{
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    switch (w) {
    case USLEEP:
        CHECK_EQ(usleep(WAIT_MS * 1000), 0);
        break;
    case NANOSLEEP: {
        struct timespec req = {0, WAIT_MS * MS};
        CHECK_EQ(nanosleep(&req, NULL), 0);
        break;
    }
    case CLOCK_NANOSLEEP_ABS: {
        struct timespec dl = add_ms(now(CLOCK_MONOTONIC), WAIT_MS);
        CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL), 0);
        break;
    }
    case COND_REALTIME:
    case COND_MONOTONIC: {
        /* Nobody signals: the wait ends only by timing out. */
        clockid_t c = w == COND_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        struct timespec dl = add_ms(now(c), WAIT_MS);
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        int r;
        do
            r = pthread_cond_timedwait(w == COND_REALTIME ? &cv_realtime : &cv_monotonic, &mu, &dl);
        while (r == 0); /* a spurious wake-up: wait again for the same deadline */
        CHECK_EQ(r, ETIMEDOUT);
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
        break;
    }
    }
    return ns(now(CLOCK_MONOTONIC)) - t0;
}

int main(void)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(30);
    pthread_condattr_t ca;
    CHECK_EQ(pthread_condattr_init(&ca), 0);
    CHECK_EQ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    CHECK_EQ(pthread_cond_init(&cv_monotonic, &ca), 0);
    CHECK_EQ(pthread_condattr_destroy(&ca), 0);

    pthread_t t[SPINNERS];
    for (int i = 0; i < SPINNERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, spinner, &polls[i]), 0);

    static const enum wait waits[] = {USLEEP, NANOSLEEP, USLEEP, CLOCK_NANOSLEEP_ABS, COND_REALTIME, USLEEP,
                                      COND_MONOTONIC};
    enum { NWAITS = sizeof waits / sizeof waits[0] };
    int64_t longest = 0;
    long during = 0; /* polls made while main was waiting */
    for (int i = 0; i < NWAITS; i++) {
        long before = total_polls();
        int64_t el = wait_once(waits[i]);
        long made = total_polls() - before;
        CHECK(el >= WAIT_MS * MS && el < BOUND_NS, "%s of %d ms lasted %lld ms", names[waits[i]], WAIT_MS,
              (long long)(el / MS));
        CHECK(made > 0, "the spinners made no poll during %s", names[waits[i]]);
        during += made;
        if (el > longest)
            longest = el;
    }

    atomic_store(&stop, 1);
    for (int i = 0; i < SPINNERS; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK(atomic_load(&polls[i]) > 0, "spinner %d never polled", i);
    }
    CHECK_EQ(pthread_cond_destroy(&cv_monotonic), 0);
    printf("%d waits of %d ms beside %d threads spinning on poll: the longest lasted %lld ms; %ld polls meanwhile "
           "(%ld and %ld) (%s)\n",
           NWAITS, WAIT_MS, SPINNERS, (long long)(longest / MS), during, atomic_load(&polls[0]),
           atomic_load(&polls[1]), test_mode());
    return 0;
}
