/*
 * A kernel thread gpm did not create: glibc's own helper for a timer with
 * SIGEV_THREAD runs the notify function on a thread libc makes internally
 * (its internal pthread_create, which no interposer sees). That function
 * locks a mutex a G holds for a while, waits on a condition variable a G
 * signals, sleeps, and times out on a timed wait: each works, the thread
 * getting a G wired to its own kernel thread on first use (DESIGN.md
 * section 6). (A raw clone() thread shares its creator's TCB and cannot call
 * libc safely even natively, so it is not tested.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go, holding;
static atomic_int stage;
static pthread_t mainth;

static void notify(union sigval v)
{
    (void)v;
    CHECK(!pthread_equal(pthread_self(), mainth), "notify ran on the main thread");
    /* The mutex is held by `holder` until it sets go. */
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    while (!go)
        CHECK_EQ(pthread_cond_wait(&cv, &mu), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    atomic_store(&stage, 1);

    struct timespec t0, t1, ts = {0, 10000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(nanosleep(&ts, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long el = (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec;
    CHECK(el >= 10000000, "slept %ld ns of 10 ms", el);

    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 20000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    CHECK_EQ(pthread_cond_timedwait(&cv, &mu, &dl), ETIMEDOUT);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    atomic_store(&stage, 2);
}

static void *holder(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    holding = 1;
    usleep(50000); /* the notify thread blocks on mu meanwhile */
    go = 1;
    CHECK_EQ(pthread_cond_broadcast(&cv), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return arg;
}

int main(void)
{
    mainth = pthread_self();
    pthread_t h;
    CHECK_EQ(pthread_create(&h, NULL, holder, NULL), 0);
    while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
        sched_yield();
    timer_t timer;
    struct sigevent se = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = notify};
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &se, &timer), 0);
    struct itimerspec its = {.it_value = {0, 1000000}};
    CHECK_EQ(timer_settime(timer, 0, &its, NULL), 0);
    for (long i = 0; atomic_load(&stage) < 2; i++) {
        CHECK(i < 5000, "the notify thread did not finish (stage %d)", atomic_load(&stage));
        usleep(1000);
    }
    CHECK_EQ(pthread_join(h, NULL), 0);
    timer_delete(timer);
    printf("a thread made inside libc locked, waited, slept and timed out on gpm's objects\n");
    return 0;
}
