/*
 * A signal for a thread blocked in pthread_join: its handler runs while
 * the join waits (the target is still running, and ends only after the
 * handler has been seen to run), and the join then goes on and returns 0
 * with the target's value, as glibc's join, which the kernel restarts
 * after a handler. 200 rounds, the signal sent at once or after the
 * joiner announced itself, so that it finds the joiner before, while or
 * after it parks; a lost or delayed handler hangs the round, caught by a
 * 10 s bound. Then a joiner with SIGUSR1 blocked: the signal stays
 * pending through the whole join and runs when the joiner unblocks it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define ROUNDS 200

static atomic_int handled;
static sem_t go;           /* lets the target end */
static atomic_int joining; /* the joiner is about to call pthread_join */

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static void *target(void *arg)
{
    while (sem_wait(&go) != 0)
        CHECK_EQ(errno, EINTR);
    return arg;
}

static void *joiner(void *arg)
{
    pthread_t t = *(pthread_t *)arg;
    atomic_store(&joining, 1);
    void *v = NULL;
    CHECK_EQ(pthread_join(t, &v), 0);
    return v;
}

/* Waits (yielding) until *flag reaches want, for at most 10 s. */
static void await(atomic_int *flag, int want, const char *what, int round)
{
    struct timespec bound = add_ms(now(CLOCK_MONOTONIC), 10000);
    while (atomic_load(flag) < want) {
        struct timespec t = now(CLOCK_MONOTONIC);
        CHECK(t.tv_sec < bound.tv_sec || (t.tv_sec == bound.tv_sec && t.tv_nsec < bound.tv_nsec),
              "round %d: %s after 10 s", round, what);
        sched_yield();
    }
}

static void rounds(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        pthread_t t, j;
        atomic_store(&joining, 0);
        int before = atomic_load(&handled);
        CHECK_EQ(pthread_create(&t, NULL, target, (void *)(intptr_t)(i + 1)), 0);
        CHECK_EQ(pthread_create(&j, NULL, joiner, &t), 0);
        if (i % 2 == 1)
            await(&joining, 1, "the joiner did not start", i);
        for (int k = i % 5; k > 0; k--)
            sched_yield();
        CHECK_EQ(pthread_kill(j, SIGUSR1), 0);
        /* The target is still running: the joiner is before or in its
           join, and the handler must run there. */
        await(&handled, before + 1, "no handler ran in the joiner", i);
        CHECK_EQ(sem_post(&go), 0);
        void *v = NULL;
        CHECK_EQ(pthread_join(j, &v), 0);
        CHECK_EQ((intptr_t)v, i + 1);
    }
    CHECK_EQ(atomic_load(&handled), ROUNDS);
}

static void *blocked_joiner(void *arg)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
    atomic_store(&joining, 1);
    void *v = NULL;
    CHECK_EQ(pthread_join(*(pthread_t *)arg, &v), 0);
    int seen = atomic_load(&handled);
    CHECK_EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    /* Delivered at the unblock, before pthread_sigmask returns. */
    CHECK_EQ(atomic_load(&handled), seen + 1);
    return v;
}

static atomic_int sent;

static void *late_target(void *arg)
{
    await(&sent, 1, "the signal was not sent", -1);
    return arg;
}

static void blocked(void)
{
    pthread_t t, j;
    atomic_store(&joining, 0);
    atomic_store(&sent, 0);
    int before = atomic_load(&handled);
    CHECK_EQ(pthread_create(&t, NULL, late_target, (void *)(intptr_t)77), 0);
    CHECK_EQ(pthread_create(&j, NULL, blocked_joiner, &t), 0);
    await(&joining, 1, "the joiner did not start", -1);
    CHECK_EQ(pthread_kill(j, SIGUSR1), 0);
    CHECK_EQ(atomic_load(&handled), before); /* blocked: pending */
    atomic_store(&sent, 1);
    void *v = NULL;
    CHECK_EQ(pthread_join(j, &v), 0);
    CHECK_EQ((intptr_t)v, 77);
    CHECK_EQ(atomic_load(&handled), before + 1);
}

int main(void)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    CHECK_EQ(sem_init(&go, 0, 0), 0);
    rounds();
    blocked();
    printf("sig_join: %d handlers ran in threads blocked in pthread_join, each join then returned its "
           "thread's value; a blocked signal waited through a join and ran at the unblock\n",
           ROUNDS);
    return 0;
}
