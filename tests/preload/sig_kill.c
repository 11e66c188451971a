/*
 * pthread_kill to another thread, whatever it is doing (issue 9): the
 * handler runs in that thread (pthread_self() is the target, errno is the
 * target's own TLS variable) and the thread's errno is the same after the
 * handler as before. One case per state of the target:
 *   running    it spins on an atomic until the handler has run;
 *   runnable   it spins among 2 x CPUs + 1 other spinners;
 *   parked     it waits in pthread_cond_wait on a predicate; the handler
 *              runs, the wait may return early (a spurious wake-up, allowed)
 *              and the thread re-checks the predicate and waits on until
 *              main sets it;
 *   sleeping   nanosleep(30 s) with the handler installed without
 *              SA_RESTART returns -1/EINTR with the time that remained;
 *   read       read on an empty pipe: without SA_RESTART -1/EINTR; with
 *              SA_RESTART the read goes on and returns the bytes main writes
 *              after the handler has run several times;
 *   kill0      pthread_kill(t, 0) is 0 for a live thread, and (glibc 2.34+)
 *              also for one that has returned but is not joined yet, as is
 *              pthread_kill(t, SIGUSR1) (which sends nothing).
 * No timing luck: main cannot know that the target is already inside the
 * sleep or the read, so it sends the signal again every 20 ms until the
 * target reports the call's result; every wait is bounded by the watchdog
 * (watchdog.h), which names the case that hung. Argument: one case name, or
 * none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"
#include "watchdog.h"

#define MS 1000000L

static pthread_t target;
static int *volatile target_errno;
static _Atomic int hits, wrong_thread, wrong_errno;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    if (!pthread_equal(pthread_self(), target))
        atomic_fetch_add(&wrong_thread, 1);
    else if (&errno != target_errno)
        atomic_fetch_add(&wrong_errno, 1);
    errno = ENOTTY; /* a handler's own calls change errno; it restores it */
    atomic_fetch_add(&hits, 1);
    errno = saved;
}

static void install(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

/* The target: a thread of ours whose id is in `target` before it runs. */
static _Atomic int ready;
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

static void become_target(void)
{
    /* main wrote `target` while holding start_mu, before we got here */
    pthread_mutex_lock(&start_mu);
    pthread_mutex_unlock(&start_mu);
    target_errno = &errno;
}

static void start_target(void *(*fn)(void *), void *arg)
{
    atomic_store(&hits, 0);
    atomic_store(&ready, 0);
    pthread_mutex_lock(&start_mu);
    CHECK_EQ(pthread_create(&target, NULL, fn, arg), 0);
    pthread_mutex_unlock(&start_mu);
}

static void wait_ready(void)
{
    while (!atomic_load(&ready))
        sched_yield();
}

static void check_handler_ran_in_target(const char *what)
{
    CHECK(atomic_load(&hits) > 0, "%s: the handler never ran", what);
    CHECK_EQ(atomic_load(&wrong_thread), 0);
    CHECK_EQ(atomic_load(&wrong_errno), 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- running, runnable ---- */

static _Atomic int stop_spinners, spinners_up;

static void *spin_until_hit(void *arg)
{
    (void)arg;
    become_target();
    errno = 4242;
    atomic_store(&ready, 1);
    while (atomic_load(&hits) == 0)
        ;
    return (void *)(long)errno;
}

static void *spinner(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spinners_up, 1);
    while (!atomic_load(&stop_spinners))
        ;
    return NULL;
}

static void case_running(void)
{
    install(SA_RESTART);
    start_target(spin_until_hit, NULL);
    wait_ready();
    CHECK_EQ(pthread_kill(target, SIGUSR1), 0);
    void *ret;
    CHECK_EQ(pthread_join(target, &ret), 0);
    check_handler_ran_in_target("running");
    CHECK_EQ((long)ret, 4242);
}

static void case_runnable(void)
{
    install(SA_RESTART);
    int n = 2 * (int)sysconf(_SC_NPROCESSORS_ONLN) + 1;
    if (n > 64)
        n = 64;
    pthread_t sp[64];
    atomic_store(&stop_spinners, 0);
    atomic_store(&spinners_up, 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_create(&sp[i], NULL, spinner, NULL), 0);
    while (atomic_load(&spinners_up) < n)
        sched_yield();
    start_target(spin_until_hit, NULL);
    wait_ready();
    CHECK_EQ(pthread_kill(target, SIGUSR1), 0);
    void *ret;
    CHECK_EQ(pthread_join(target, &ret), 0);
    atomic_store(&stop_spinners, 1);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_join(sp[i], NULL), 0);
    check_handler_ran_in_target("runnable");
    CHECK_EQ((long)ret, 4242);
}

/* ---- parked in pthread_cond_wait ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pred, waiting;
static _Atomic int cond_returns;

static void *cond_waiter(void *arg)
{
    (void)arg;
    become_target();
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    waiting = 1;
    errno = 4242;
    while (!pred) {
        CHECK_EQ(pthread_cond_wait(&cv, &mu), 0);
        atomic_fetch_add(&cond_returns, 1);
    }
    long e = errno;
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return (void *)e;
}

static void case_parked(void)
{
    install(SA_RESTART);
    pred = waiting = 0;
    start_target(cond_waiter, NULL);
    /* Once we hold the mutex after the waiter set `waiting`, it is in
       pthread_cond_wait (which released the mutex). */
    for (;;) {
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        int w = waiting;
        if (w) {
            CHECK_EQ(pthread_kill(target, SIGUSR1), 0);
            CHECK_EQ(pthread_mutex_unlock(&mu), 0);
            break;
        }
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
        sched_yield();
    }
    while (atomic_load(&hits) == 0)
        sleep_ms(1);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    pred = 1;
    CHECK_EQ(pthread_cond_signal(&cv), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    void *ret;
    CHECK_EQ(pthread_join(target, &ret), 0);
    check_handler_ran_in_target("parked");
    CHECK_EQ((long)ret, 4242);
}

/* ---- sleeping, blocked in read: interrupted calls ---- */

struct call_result {
    long ret;
    int err;
    int64_t rem_ns;     /* nanosleep: the time that remained */
    int64_t elapsed_ns; /* from just before the call to its return */
    char buf[8];
};
static _Atomic int call_done;
static int pfd[2];

static void *sleeper(void *arg)
{
    struct call_result *r = arg;
    become_target();
    struct timespec req = {30, 0}, rem = {-1, -1};
    atomic_store(&ready, 1);
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    r->ret = nanosleep(&req, &rem);
    r->err = errno;
    r->elapsed_ns = ns(now(CLOCK_MONOTONIC)) - t0;
    r->rem_ns = ns(rem);
    atomic_store(&call_done, 1);
    return NULL;
}

static void *reader(void *arg)
{
    struct call_result *r = arg;
    become_target();
    memset(r->buf, 0, sizeof r->buf);
    atomic_store(&ready, 1);
    r->ret = read(pfd[0], r->buf, sizeof r->buf);
    r->err = errno;
    atomic_store(&call_done, 1);
    return NULL;
}

/* Sends SIGUSR1 to the target every 20 ms until it reports its call done,
   or (min_hits > 0) until the handler has run min_hits times. */
static void pester(int min_hits)
{
    while (!atomic_load(&call_done) && (min_hits == 0 || atomic_load(&hits) < min_hits)) {
        CHECK_EQ(pthread_kill(target, SIGUSR1), 0);
        sleep_ms(20);
    }
}

static void case_sleeping(void)
{
    install(0);
    struct call_result r;
    atomic_store(&call_done, 0);
    start_target(sleeper, &r);
    wait_ready();
    pester(0);
    CHECK_EQ(pthread_join(target, NULL), 0);
    check_handler_ran_in_target("sleeping");
    CHECK_EQ(r.ret, -1);
    CHECK_EQ(r.err, EINTR);
    /* the time left: what was asked minus what went by, give or take the
       timer slack (natively the remainder can exceed the request by it) */
    CHECK(r.rem_ns > 0 && r.rem_ns <= 30 * 1000 * MS + 10 * MS, "remaining %lld ns", (long long)r.rem_ns);
    CHECK(r.rem_ns >= 30 * 1000 * MS - r.elapsed_ns - 50 * MS, "remaining %lld ns after %lld ns asleep",
          (long long)r.rem_ns, (long long)r.elapsed_ns);
}

static void case_read_eintr(void)
{
    install(0);
    CHECK_EQ(pipe(pfd), 0);
    struct call_result r;
    atomic_store(&call_done, 0);
    start_target(reader, &r);
    wait_ready();
    pester(0);
    CHECK_EQ(pthread_join(target, NULL), 0);
    check_handler_ran_in_target("read");
    CHECK_EQ(r.ret, -1);
    CHECK_EQ(r.err, EINTR);
    close(pfd[0]);
    close(pfd[1]);
}

static void case_read_restart(void)
{
    install(SA_RESTART);
    CHECK_EQ(pipe(pfd), 0);
    struct call_result r;
    atomic_store(&call_done, 0);
    start_target(reader, &r);
    wait_ready();
    sleep_ms(50); /* most likely in read by now; the checks hold either way */
    pester(5);
    CHECK(!atomic_load(&call_done), "read returned %ld (errno %d) before any data, with SA_RESTART", r.ret, r.err);
    CHECK_EQ(write(pfd[1], "restart", 7), 7);
    CHECK_EQ(pthread_join(target, NULL), 0);
    check_handler_ran_in_target("read restart");
    CHECK_EQ(r.ret, 7);
    CHECK(memcmp(r.buf, "restart", 7) == 0, "read %.7s", r.buf);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- pthread_kill(t, 0) ---- */

static _Atomic int may_return;

static void *idle_then_return(void *arg)
{
    (void)arg;
    become_target();
    atomic_store(&ready, 1);
    while (!atomic_load(&may_return))
        sleep_ms(1);
    return NULL;
}

static void case_kill0(void)
{
    install(SA_RESTART);
    atomic_store(&may_return, 0);
    start_target(idle_then_return, NULL);
    wait_ready();
    CHECK_EQ(pthread_kill(target, 0), 0);
    CHECK_EQ(pthread_kill(pthread_self(), 0), 0);
    atomic_store(&may_return, 1);
    /* Whether it is still exiting or gone, glibc 2.34+ answers 0 until the
       join (and sends nothing once the thread has exited). */
    sleep_ms(100);
    CHECK_EQ(pthread_kill(target, 0), 0);
    CHECK_EQ(pthread_kill(target, SIGUSR1), 0);
    CHECK_EQ(pthread_join(target, NULL), 0);
    CHECK_EQ(atomic_load(&wrong_thread), 0);
}

static const struct wd_case cases[] = {
    {"running", case_running}, {"runnable", case_runnable}, {"parked", case_parked},
    {"sleeping", case_sleeping}, {"read", case_read_eintr}, {"read_restart", case_read_restart},
    {"kill0", case_kill0},
};

int main(int argc, char **argv)
{
    wd_start();
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 15, "pthread_kill to a thread");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("pthread_kill: the handler ran in the target thread with its errno kept, in %d case(s) (%s)\n", ran,
           test_mode());
    return 0;
}
