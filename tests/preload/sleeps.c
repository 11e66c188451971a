/*
 * Sleeps: nanosleep, clock_nanosleep, usleep, sleep and thrd_sleep last at
 * least what was asked (never early; "not absurdly longer" is a generous
 * bound) and keep glibc's conventions:
 *  - clock_nanosleep returns the error number and leaves errno alone;
 *    nanosleep and usleep return -1 and set errno; thrd_sleep returns 0,
 *    -1 (interrupted) or -2 (any other error); sleep returns the seconds
 *    left, so sleep(0) returns 0 at once.
 *  - relative and TIMER_ABSTIME sleeps on CLOCK_REALTIME, CLOCK_MONOTONIC,
 *    CLOCK_BOOTTIME and CLOCK_TAI; an absolute deadline in the past returns
 *    0 at once.
 *  - CPU-time clocks: a sleep on CLOCK_PROCESS_CPUTIME_ID (or the clock of
 *    clock_getcpuclockid(getpid())), relative or absolute, lasts until the
 *    process has used that much CPU (a thread spins meanwhile, yielding so
 *    that one P is enough under gpm). CLOCK_THREAD_CPUTIME_ID is EINVAL
 *    (glibc refuses it before the kernel); CLOCK_MONOTONIC_RAW and the
 *    COARSE clocks are EOPNOTSUPP (the kernel has no sleep on them); an
 *    unknown clock id is EINVAL.
 *  - tv_nsec outside [0, 1e9) or tv_sec < 0 is EINVAL, relative or absolute
 *    (the kernel refuses a negative absolute time in clock_nanosleep, where
 *    glibc's futex-based timed waits take it as already past: ETIMEDOUT).
 *  - the remaining-time argument is untouched when a sleep completes (and on
 *    errors, and for absolute sleeps); only an interrupted relative sleep
 *    writes it. The interruption part (a signal ends each kind of sleep
 *    early with EINTR) runs natively and in pass-through only: under gpm a
 *    parked sleep is not interrupted by signals (docs/COMPAT.md).
 *  - 100 threads sleeping 20 ms at once take about 20 ms, not 100 x 20 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define BOUND_NS (3000 * MS) /* "not absurdly longer": generous for a loaded CI machine */
#define UNTOUCHED 77

/* The time from t0 on `clock` is at least `want` ns, and not absurdly more. */
#define CHECK_LASTED(t0, clock, want)                                                                  \
    do {                                                                                               \
        int64_t el_ = ns(now(clock)) - ns(t0);                                                         \
        CHECK(el_ >= (int64_t)(want) && el_ < (int64_t)(want) + BOUND_NS, "slept %lld ns, asked %lld", \
              (long long)el_, (long long)(want));                                                      \
    } while (0)

#define CHECK_UNTOUCHED(rem) \
    CHECK((rem).tv_sec == UNTOUCHED && (rem).tv_nsec == UNTOUCHED, "remaining time written: %lld.%09ld", \
          (long long)(rem).tv_sec, (long)(rem).tv_nsec)

static const struct timespec untouched = {UNTOUCHED, UNTOUCHED};

static struct timespec ts_ns(int64_t t)
{
    return (struct timespec){t / 1000000000, t % 1000000000};
}

/* Relative sleeps on each clock that sleeps, measured on CLOCK_MONOTONIC (a
   relative CLOCK_REALTIME sleep is timed by the kernel on the monotonic
   clock), then absolute ones measured on their own clock. */
static void clocks_that_sleep(void)
{
    static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI};
    static const char *const names[] = {"CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME", "CLOCK_TAI"};
    for (int i = 0; i < 4; i++) {
        clockid_t c = clocks[i];
        struct timespec t0 = now(CLOCK_MONOTONIC), req = ts_ns(20 * MS), rem = untouched;
        errno = 0;
        int r = clock_nanosleep(c, 0, &req, &rem);
        CHECK(r == 0, "%s relative: %d", names[i], r);
        CHECK_EQ(errno, 0);
        CHECK_LASTED(t0, CLOCK_MONOTONIC, 20 * MS);
        CHECK_UNTOUCHED(rem);

        t0 = now(c);
        struct timespec dl = add_ms(t0, 25);
        rem = untouched;
        r = clock_nanosleep(c, TIMER_ABSTIME, &dl, &rem);
        CHECK(r == 0, "%s absolute: %d", names[i], r);
        CHECK(ns(now(c)) >= ns(dl), "%s absolute sleep returned before its deadline", names[i]);
        CHECK_LASTED(t0, c, 25 * MS);
        CHECK_UNTOUCHED(rem);

        /* A deadline in the past (and the zero time) returns at once. */
        dl = add_ms(t0, -1000);
        CHECK_EQ(clock_nanosleep(c, TIMER_ABSTIME, &dl, NULL), 0);
        dl = (struct timespec){0, 0};
        CHECK_EQ(clock_nanosleep(c, TIMER_ABSTIME, &dl, NULL), 0);
        req = (struct timespec){0, 0};
        CHECK_EQ(clock_nanosleep(c, 0, &req, NULL), 0);
    }
}

static atomic_int spin_stop;

static void *spinner(void *arg)
{
    while (!atomic_load(&spin_stop))
        sched_yield(); /* uses CPU, and lets a sleeper back onto the only P */
    return arg;
}

static void cpu_clocks(void)
{
    pthread_t sp;
    CHECK_EQ(pthread_create(&sp, NULL, spinner, NULL), 0);
    struct timespec c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    struct timespec req = ts_ns(30 * MS), rem = untouched;
    CHECK_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, &rem), 0);
    CHECK_LASTED(c0, CLOCK_PROCESS_CPUTIME_ID, 30 * MS);
    CHECK_LASTED(w0, CLOCK_MONOTONIC, 0);
    CHECK_UNTOUCHED(rem);

    c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    struct timespec dl = add_ms(c0, 30);
    CHECK_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &dl, NULL), 0);
    CHECK(ns(now(CLOCK_PROCESS_CPUTIME_ID)) >= ns(dl), "absolute CPU-time sleep returned early");

    clockid_t pc;
    CHECK_EQ(clock_getcpuclockid(getpid(), &pc), 0);
    c0 = now(pc);
    req = ts_ns(20 * MS);
    CHECK_EQ(clock_nanosleep(pc, 0, &req, NULL), 0);
    CHECK_LASTED(c0, pc, 20 * MS);
    atomic_store(&spin_stop, 1);
    CHECK_EQ(pthread_join(sp, NULL), 0);

    /* The calling thread's own CPU clock: glibc refuses it. */
    req = ts_ns(1 * MS);
    errno = 0;
    CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL), EINVAL);
    CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, TIMER_ABSTIME, &req, NULL), EINVAL);
    CHECK_EQ(errno, 0);
}

static void errors(void)
{
    /* Clocks without a sleep, and no clock at all. */
    static const clockid_t nosleep[] = {CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE};
    struct timespec req = ts_ns(1 * MS), rem = untouched;
    errno = 0;
    for (int i = 0; i < 3; i++)
        CHECK(clock_nanosleep(nosleep[i], 0, &req, &rem) == EOPNOTSUPP, "clock %d", (int)nosleep[i]);
    CHECK_EQ(clock_nanosleep((clockid_t)12345, 0, &req, &rem), EINVAL);
    CHECK_EQ(errno, 0);
    CHECK_UNTOUCHED(rem);

    /* Bad durations and deadlines. */
    static const struct timespec bad[] = {{0, 1000000000L}, {0, -1}, {-1, 0}, {-1, 999999999L}};
    for (int i = 0; i < 4; i++) {
        struct timespec b = bad[i];
        rem = untouched;
        errno = 0;
        CHECK(nanosleep(&b, &rem) == -1 && errno == EINVAL, "nanosleep {%lld, %ld}: errno %d", (long long)b.tv_sec,
              b.tv_nsec, errno);
        CHECK_UNTOUCHED(rem);
        errno = 0;
        for (int c = 0; c < 2; c++)
            for (int abs = 0; abs < 2; abs++) {
                int r = clock_nanosleep(c ? CLOCK_REALTIME : CLOCK_MONOTONIC, abs ? TIMER_ABSTIME : 0, &b, &rem);
                CHECK(r == EINVAL, "clock_nanosleep(%s, %s, {%lld, %ld}) returned %d", c ? "REALTIME" : "MONOTONIC",
                      abs ? "TIMER_ABSTIME" : "0", (long long)b.tv_sec, b.tv_nsec, r);
            }
        CHECK_EQ(errno, 0); /* clock_nanosleep returns the error, errno is not set */
        CHECK_UNTOUCHED(rem);
        CHECK_EQ(thrd_sleep(&b, &rem), -2);
        CHECK_UNTOUCHED(rem);
    }
}

static void other_calls(void)
{
    struct timespec t0 = now(CLOCK_MONOTONIC), req = ts_ns(30 * MS), rem = untouched;
    CHECK_EQ(nanosleep(&req, &rem), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 30 * MS);
    CHECK_UNTOUCHED(rem);
    req = (struct timespec){0, 0};
    CHECK_EQ(nanosleep(&req, NULL), 0);

    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(usleep(15000), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 15 * MS);
    CHECK_EQ(usleep(0), 0);

    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(sleep(0), 0u);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 0);
    CHECK_EQ(sleep(1), 0u);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 1000 * MS);

    t0 = now(CLOCK_MONOTONIC); /* thrd_sleep is relative on CLOCK_REALTIME */
    req = ts_ns(10 * MS);
    rem = untouched;
    CHECK_EQ(thrd_sleep(&req, &rem), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 10 * MS);
    CHECK_UNTOUCHED(rem);
}

/* Interrupted sleeps (native and pass-through only): a helper sends SIGUSR1
   to the main thread every 2 ms until told to stop, so each 3 s sleep below
   is ended by a signal within a few ms, whenever it starts. */
static atomic_int signals_stop, handled;
static pthread_t mainth;

static void on_usr1(int sig)
{
    atomic_fetch_add(&handled, 1);
}

static void *signaller(void *arg)
{
    struct timespec gap = ts_ns(2 * MS);
    while (!atomic_load(&signals_stop)) {
        pthread_kill(mainth, SIGUSR1);
        nanosleep(&gap, NULL);
    }
    return arg;
}

/* The remaining time is written: more than 0 and at most what was asked,
   plus the kernel's timer slack (50 us by default: the kernel reports the
   time to the timer's latest expiry, so an early interruption can leave a
   little more than was asked; 100 ms covers any slack a test runner sets). */
#define CHECK_REM(rem, max)                                                                            \
    CHECK(ns(rem) > 0 && ns(rem) <= (int64_t)(max) + 100 * MS, "remaining time %lld.%09ld of %lld ns", \
          (long long)(rem).tv_sec, (long)(rem).tv_nsec, (long long)(max))

static void interrupted(void)
{
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    mainth = pthread_self();
    pthread_t sg;
    CHECK_EQ(pthread_create(&sg, NULL, signaller, NULL), 0);
    const int64_t three = 3000 * MS;

    struct timespec req = ts_ns(three), rem = untouched;
    errno = 0;
    CHECK(nanosleep(&req, &rem) == -1 && errno == EINTR, "nanosleep not interrupted: errno %d", errno);
    CHECK_REM(rem, three);

    rem = untouched;
    errno = 0;
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
    CHECK_EQ(errno, 0);
    CHECK_REM(rem, three);

    rem = untouched;
    struct timespec dl = add_ms(now(CLOCK_REALTIME), 3000);
    CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &dl, &rem), EINTR);
    CHECK_UNTOUCHED(rem); /* an absolute sleep has nothing to report */

    errno = 0;
    CHECK(usleep(3000000) == -1 && errno == EINTR, "usleep not interrupted: errno %d", errno);

    unsigned left = sleep(3); /* the seconds left, rounded to the nearest */
    CHECK(left >= 1 && left <= 3, "sleep(3) returned %u", left);

    rem = untouched;
    CHECK_EQ(thrd_sleep(&req, &rem), -1);
    CHECK_REM(rem, three);

    atomic_store(&signals_stop, 1);
    CHECK_EQ(pthread_join(sg, NULL), 0);
    CHECK(atomic_load(&handled) >= 6, "%d signals handled", atomic_load(&handled));
    signal(SIGUSR1, SIG_IGN);
}

static void *sleeper(void *arg)
{
    struct timespec t0 = now(CLOCK_MONOTONIC), req = ts_ns(20 * MS);
    CHECK_EQ(nanosleep(&req, NULL), 0);
    CHECK_LASTED(t0, CLOCK_MONOTONIC, 20 * MS);
    return arg;
}

int main(void)
{
    clocks_that_sleep();
    cpu_clocks();
    errors();
    other_calls();
    if (!under_gpm())
        interrupted();

    /* Sleeps overlap. */
    enum { N = 100 };
    pthread_t t[N];
    struct timespec t0 = now(CLOCK_MONOTONIC);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, sleeper, NULL), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - ns(t0);
    CHECK(el >= 20 * MS && el < N * 20 * MS / 2, "%d concurrent 20 ms sleeps took %lld ms", N,
          (long long)(el / MS));
    printf("every sleep lasted what it should and failed as glibc's; %s; %d concurrent 20 ms sleeps took %lld ms "
           "(%s)\n",
           under_gpm() ? "interruption not tested (gpm's sleeps ignore signals)" : "signals interrupt each kind",
           N, (long long)(el / MS), test_mode());
    return 0;
}
