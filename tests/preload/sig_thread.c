/*
 * The signal-thread pattern (issue 9): main blocks SIGUSR1, SIGTERM and
 * SIGALRM before it creates any thread, so every thread inherits the mask,
 * and one thread takes them in a sigwait loop. Main sends kill(getpid(), sig)
 * 200 times, cycling through the three, each after the previous one was
 * received (standard signals do not queue): sigwait gets every one, the
 * right one, and the process is never killed (the default action of all
 * three ends it, so a thread that failed to block them, or a kernel thread
 * gpm started later with another mask, would end the test). Meanwhile
 * workers keep the scheduler busy: spinning, short sleeps, reads that block
 * in the kernel until a poll times out, and new threads created and joined
 * between sends (so that, under gpm, more kernel threads start after the
 * mask was set).
 * The watchdog (watchdog.h) names the send that was not received.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "watchdog.h"

#define SENDS 200
#define NW 6

static const int sigs[] = {SIGUSR1, SIGTERM, SIGALRM};
static sigset_t set;
static sem_t received;
static _Atomic int last_sig, nreceived, stop;

static void *signal_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < SENDS; i++) {
        int sig = 0;
        CHECK_EQ(sigwait(&set, &sig), 0);
        atomic_store(&last_sig, sig);
        atomic_fetch_add(&nreceived, 1);
        CHECK_EQ(sem_post(&received), 0);
    }
    return NULL;
}

static int pfd[2];

static void *worker(void *arg)
{
    int kind = (int)(long)arg % 3;
    volatile unsigned long x = 0;
    while (!atomic_load(&stop)) {
        if (kind == 0) {
            for (int i = 0; i < 100000; i++)
                x += i;
        } else if (kind == 1) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        } else {
            /* blocks in the kernel until the poll times out (nobody writes) */
            struct pollfd p = {.fd = pfd[0], .events = POLLIN};
            CHECK(poll(&p, 1, 5) >= 0 || errno == EINTR, "poll: errno %d", errno);
        }
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    (void)arg;
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    poll(&p, 1, 1);
    return NULL;
}

int main(void)
{
    wd_start();
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    CHECK_EQ(sem_init(&received, 0, 0), 0);
    CHECK_EQ(pipe(pfd), 0);

    pthread_t w[NW], st;
    for (int i = 0; i < NW; i++)
        CHECK_EQ(pthread_create(&w[i], NULL, worker, (void *)(long)i), 0);
    CHECK_EQ(pthread_create(&st, NULL, signal_thread, NULL), 0);

    for (int i = 0; i < SENDS; i++) {
        int sig = sigs[i % 3];
        wd_step(15, "send %d (signal %d) not received by sigwait", i, sig);
        CHECK_EQ(kill(getpid(), sig), 0);
        while (sem_wait(&received) != 0)
            CHECK_EQ(errno, EINTR);
        CHECK(atomic_load(&last_sig) == sig, "send %d: sigwait got signal %d, not %d", i, atomic_load(&last_sig),
              sig);
        if (i % 20 == 19) {
            pthread_t t;
            CHECK_EQ(pthread_create(&t, NULL, short_lived, NULL), 0);
            CHECK_EQ(pthread_join(t, NULL), 0);
        }
    }
    wd_step(15, "joining the threads");
    CHECK_EQ(pthread_join(st, NULL), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(pthread_join(w[i], NULL), 0);
    CHECK_EQ(atomic_load(&nreceived), SENDS);
    sigset_t pend;
    CHECK_EQ(sigpending(&pend), 0);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        CHECK(!sigismember(&pend, sigs[i]), "signal %d left pending", sigs[i]);
    printf("signal thread: %d process-directed signals, each taken by sigwait (%s)\n", SENDS, test_mode());
    return 0;
}
