/*
 * A signal handler that posts a semaphore, at a high rate, while threads
 * park and wake (issue 9: under gpm a handler running on a kernel thread
 * that holds gpm's semaphore-table or run-queue lock must not deadlock).
 * Four ping-pong threads (two pairs) hand a token back and forth through a
 * mutex and a condition variable; two sender threads pthread_kill SIGUSR1 to
 * them round-robin as fast as they can; the handler (SA_RESTART) does
 * sem_post. A consumer thread sem_waits for every post. It goes on until
 * 10^6 signals have been sent and the handler has run TARGET times (2*10^5,
 * or a tenth of that once 20 s have passed;
 * argument: another count; a standard signal sent to a thread where one
 * is already pending merges with it, so runs are fewer than sends: with
 * one P, where the senders and the targets take turns, about one in 250).
 * Then the consumer must see exactly as many posts as handler runs, and
 * the ping-pong pairs must have made progress.
 * The watchdog (watchdog.h) fails a stall (no handler run for 20 s) or a
 * deadlock with the counts so far.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"
#include "watchdog.h"

#define NP 4

#define MIN_SENT 1000000L
/* After 20 s a tenth of the target will do: where standard signals merge
   most (gpm, two Ps), 200,000 handler runs take 10^8 sends and two
   minutes, and 20,000 runs amid the ping-pong already cross every lock. */
#define MAX_NS (20 * 1000000000LL)
static int64_t start_ns;
static long target_count;
static pthread_t pp[NP];
static sem_t posts;
static _Atomic long handled, consumed, sent;
static _Atomic int stop, stop_consumer;
static _Atomic long passes[NP];

struct pair {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;
};
static struct pair pairs[NP / 2];

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    sem_post(&posts);
    atomic_fetch_add(&handled, 1);
    errno = saved;
}

static void *pingpong(void *arg)
{
    int id = (int)(long)arg;
    struct pair *p = &pairs[id / 2];
    int side = id % 2;
    while (!atomic_load(&stop)) {
        CHECK_EQ(pthread_mutex_lock(&p->mu), 0);
        while (p->turn != side && !atomic_load(&stop)) {
            struct timespec dl = add_ms(now(CLOCK_REALTIME), 10);
            int rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
            CHECK(rc == 0 || rc == ETIMEDOUT, "cond_timedwait: %d", rc);
        }
        p->turn = !side;
        CHECK_EQ(pthread_cond_signal(&p->cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&p->mu), 0);
        atomic_fetch_add(&passes[id], 1);
    }
    return NULL;
}

static void *sender(void *arg)
{
    int k = (int)(long)arg;
    while (!atomic_load(&stop)) {
        CHECK_EQ(pthread_kill(pp[k % NP], SIGUSR1), 0);
        k++;
        atomic_fetch_add(&sent, 1);
        long h = atomic_load(&handled);
        if ((h >= target_count && atomic_load(&sent) >= MIN_SENT) ||
            (h >= target_count / 10 && (k & 1023) == 0 && ns(now(CLOCK_MONOTONIC)) - start_ns >= MAX_NS))
            atomic_store(&stop, 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        if (sem_trywait(&posts) == 0) {
            atomic_fetch_add(&consumed, 1);
            continue;
        }
        if (atomic_load(&stop_consumer))
            return NULL;
        struct timespec dl = add_ms(now(CLOCK_REALTIME), 10);
        if (sem_timedwait(&posts, &dl) == 0)
            atomic_fetch_add(&consumed, 1);
        else
            CHECK(errno == ETIMEDOUT || errno == EINTR, "sem_timedwait: errno %d", errno);
    }
}

int main(int argc, char **argv)
{
    wd_start();
    target_count = argc > 1 ? atol(argv[1]) : 200000;
    CHECK_EQ(sem_init(&posts, 0, 0), 0);
    for (int i = 0; i < NP / 2; i++) {
        CHECK_EQ(pthread_mutex_init(&pairs[i].mu, NULL), 0);
        CHECK_EQ(pthread_cond_init(&pairs[i].cv, NULL), 0);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    start_ns = ns(now(CLOCK_MONOTONIC)); /* before any sender starts */
    /* main, the consumer and the senders never take SIGUSR1 */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    for (int i = 0; i < NP; i++)
        CHECK_EQ(pthread_create(&pp[i], NULL, pingpong, (void *)(long)i), 0);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    pthread_t c, s[2];
    CHECK_EQ(pthread_create(&c, NULL, consumer, NULL), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&s[i], NULL, sender, (void *)(long)(i * 2)), 0);

    int64_t t0 = start_ns;
    long last = -1;
    while (!atomic_load(&stop)) {
        long h = atomic_load(&handled);
        if (h != last) {
            wd_step(20, "signal storm: %ld handler runs of %ld (%ld sent, %ld posts consumed), then stuck", h,
                    target_count, atomic_load(&sent), atomic_load(&consumed));
            last = h;
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    wd_step(20, "signal storm: joining after %ld handler runs (%ld posts consumed)", atomic_load(&handled),
            atomic_load(&consumed));
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_join(s[i], NULL), 0);
    for (int i = 0; i < NP; i++)
        CHECK_EQ(pthread_join(pp[i], NULL), 0);
    long h = atomic_load(&handled);
    wd_step(20, "signal storm: consumer waiting for %ld posts (%ld consumed)", h, atomic_load(&consumed));
    while (atomic_load(&consumed) < h) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop_consumer, 1);
    CHECK_EQ(pthread_join(c, NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
    CHECK_EQ(atomic_load(&consumed), h);
    int v;
    CHECK_EQ(sem_getvalue(&posts, &v), 0);
    CHECK_EQ(v, 0);
    CHECK(h >= target_count || (h >= target_count / 10 && el >= MAX_NS), "%ld handler runs in %lld ms", h,
          (long long)(el / 1000000));
    for (int i = 0; i < NP; i++)
        CHECK(atomic_load(&passes[i]) > 0, "ping-pong thread %d never passed the token", i);
    printf("signal storm: %ld sem_post handler runs (%ld signals sent) while %ld ping-pong passes, %lld ms (%s)\n", h,
           atomic_load(&sent), atomic_load(&passes[0]) + atomic_load(&passes[1]) + atomic_load(&passes[2]) +
               atomic_load(&passes[3]),
           (long long)(el / 1000000), test_mode());
    return 0;
}
