/*
 * Boehm GC's stop-the-world protocol (issue 9; what guile, Mono, w3m... do
 * through libgc): a collector thread stops 50 mutator threads with
 * pthread_kill(SIGUSR1); each mutator's SIGUSR1 handler acknowledges with
 * sem_post and waits in sigsuspend with every signal blocked but SIGUSR2;
 * once the collector has counted 50 acknowledgements (the world is stopped:
 * no mutator's progress counter moves), it sends SIGUSR2 to each, whose
 * handler does nothing; sigsuspend returns, the handler sees the world
 * restarted, acknowledges again and returns into the mutator's code. 400
 * rounds (1000 once: under gpm a round costs about 45 ms, as each mutator
 * that computes keeps its P until preempted at GPM_PREEMPT_MS, against 11
 * natively, and the suite's time is bounded). Meanwhile four mutators
 * compute without pause (more than the CPUs: some are runnable, not
 * running, when stopped), the others compute
 * or take a shared mutex and malloc (a mutator can be stopped holding the
 * mutex, with others blocked on it, as with libgc's allocation lock), then
 * sleep 200 us (their nanosleep returns EINTR when stopped, which they
 * ignore). Every ack comes from the right thread in the right
 * round, and errno is kept across the handler.
 * The watchdog (watchdog.h) names the round and phase that hung.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "watchdog.h"

#define NM 50
#define ROUNDS 400

static pthread_t mut[NM];
static __thread int me = -1;
static sem_t ack;
static _Atomic int world_stopped, stop_count, finish;
static _Atomic int suspended_in[NM]; /* the stop_count a mutator last stopped for */
static _Atomic unsigned long progress[NM];
static _Atomic int errors, started;
static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static sigset_t suspend_mask;

static void on_suspend(int sig)
{
    (void)sig;
    int saved = errno;
    if (me < 0 || !pthread_equal(pthread_self(), mut[me])) {
        atomic_fetch_add(&errors, 1);
        errno = saved;
        return;
    }
    int my_count = atomic_load(&stop_count);
    atomic_store(&suspended_in[me], my_count);
    sem_post(&ack);
    do {
        sigsuspend(&suspend_mask);
    } while (atomic_load(&world_stopped) && atomic_load(&stop_count) == my_count);
    sem_post(&ack);
    errno = saved;
}

static void on_restart(int sig)
{
    (void)sig;
}

static void *mutator(void *arg)
{
    me = (int)(long)arg;
    atomic_fetch_add(&started, 1);
    /* a few spin (more than the CPUs), the others work and sleep a little */
    int kind = me < 4 ? 0 : 1 + me % 2;
    volatile unsigned long x = 0;
    while (!atomic_load(&finish)) {
        errno = 1000 + me;
        if (kind == 0) {
            for (int i = 0; i < 2000; i++)
                x += i;
        } else {
            if (kind == 1) {
                for (int i = 0; i < 2000; i++)
                    x += i;
            } else {
                pthread_mutex_lock(&alloc_lock);
                void *p = malloc(64 + me);
                memset(p, me, 64);
                free(p);
                pthread_mutex_unlock(&alloc_lock);
            }
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL); /* EINTR when stopped meanwhile */
            errno = 1000 + me;
        }
        if (errno != 1000 + me)
            atomic_fetch_add(&errors, 1);
        atomic_fetch_add(&progress[me], 1);
    }
    return NULL;
}

static void wait_acks(int round, const char *phase)
{
    for (int i = 0; i < NM; i++) {
        wd_step(20, "round %d: %s: %d of %d acknowledgements", round, phase, i, NM);
        while (sem_wait(&ack) != 0)
            CHECK_EQ(errno, EINTR);
    }
}

static void *collector(void *arg)
{
    (void)arg;
    unsigned long snap[NM];
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&world_stopped, 1);
        int count = atomic_fetch_add(&stop_count, 1) + 1;
        for (int i = 0; i < NM; i++)
            CHECK_EQ(pthread_kill(mut[i], SIGUSR1), 0);
        wait_acks(r, "stopping");
        for (int i = 0; i < NM; i++) {
            CHECK(atomic_load(&suspended_in[i]) == count, "round %d: mutator %d stopped for round %d", r, i,
                  atomic_load(&suspended_in[i]));
            snap[i] = atomic_load(&progress[i]);
        }
        for (int i = 0; i < NM; i++)
            CHECK(atomic_load(&progress[i]) == snap[i], "round %d: mutator %d ran while the world was stopped", r,
                  i);
        atomic_store(&world_stopped, 0);
        for (int i = 0; i < NM; i++)
            CHECK_EQ(pthread_kill(mut[i], SIGUSR2), 0);
        wait_acks(r, "restarting");
    }
    return NULL;
}

int main(void)
{
    wd_start();
    CHECK_EQ(sem_init(&ack, 0, 0), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_suspend;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask); /* as libgc: nothing else while suspending */
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sa.sa_handler = on_restart;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR2, &sa, NULL), 0);
    sigfillset(&suspend_mask);
    sigdelset(&suspend_mask, SIGUSR2);

    wd_step(20, "creating %d mutators", NM);
    for (int i = 0; i < NM; i++)
        CHECK_EQ(pthread_create(&mut[i], NULL, mutator, (void *)(long)i), 0);
    /* a mutator takes the signal only once it knows who it is */
    while (atomic_load(&started) < NM)
        sched_yield();
    pthread_t c;
    CHECK_EQ(pthread_create(&c, NULL, collector, NULL), 0);
    CHECK_EQ(pthread_join(c, NULL), 0);
    wd_step(20, "joining the mutators");
    atomic_store(&finish, 1);
    for (int i = 0; i < NM; i++)
        CHECK_EQ(pthread_join(mut[i], NULL), 0);
    CHECK_EQ(atomic_load(&errors), 0);
    for (int i = 0; i < NM; i++)
        CHECK(atomic_load(&progress[i]) > 0, "mutator %d never ran", i);
    printf("stop-the-world: %d rounds of %d threads suspended in sigsuspend and restarted (%s)\n", ROUNDS, NM,
           test_mode());
    return 0;
}
