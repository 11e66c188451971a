/*
 * A thread that spins waiting for another thread does not keep that other
 * thread from running. Spinners loop on an atomic load of a flag, with no
 * call of any kind in the loop (no yield, no system call: nothing a
 * cooperative scheduler could switch at), until a setter thread sets it:
 *
 *   sleep  the setter sleeps 10 ms (usleep), then sets the flag.
 *   mutex  a holder thread locks a mutex and sleeps 10 ms before unlocking
 *          it; the setter locks that mutex (it blocks until the holder
 *          unlocks), sets the flag, and unlocks.
 *
 * Each runs with one spinner, then with two, three rounds each, and every
 * round must end within 5 s (natively about 10 ms).
 *
 * Why: under gpm with GPM_MAXPROCS=1 a spinner holds the only P and the
 * setter (and the holder) can run only if the spinner is preempted; with
 * two spinners the same holds for GPM_MAXPROCS=2. Without preemption the
 * program livelocks: the spinners wait for a thread that never gets a P.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define BOUND_NS (5000 * MS)
#define ROUNDS 3
#define MAXSPINNERS 2

static atomic_bool flag;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sem_t held;

static void *spinner(void *arg)
{
    /* The flag's store-release in the setters pairs with this load-acquire. */
    while (!atomic_load_explicit(&flag, memory_order_acquire))
        ;
    return arg;
}

static void *sleep_then_set(void *arg)
{
    CHECK_EQ(usleep(10000), 0);
    atomic_store_explicit(&flag, true, memory_order_release);
    return arg;
}

static void *hold_mutex(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    CHECK_EQ(sem_post(&held), 0);
    CHECK_EQ(usleep(10000), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return arg;
}

static void *lock_then_set(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    atomic_store_explicit(&flag, true, memory_order_release);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return arg;
}

/* One round with `nspin` spinners; the mutex variant when `via_mutex`.
   Returns its time in ns. */
static int64_t round_once(bool via_mutex, int nspin)
{
    atomic_store(&flag, false);
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    pthread_t holder, setter, sp[MAXSPINNERS];
    if (via_mutex) {
        /* The holder has the mutex before the setter can try for it. */
        CHECK_EQ(pthread_create(&holder, NULL, hold_mutex, NULL), 0);
        CHECK_EQ(sem_wait(&held), 0);
    }
    for (int i = 0; i < nspin; i++)
        CHECK_EQ(pthread_create(&sp[i], NULL, spinner, NULL), 0);
    CHECK_EQ(pthread_create(&setter, NULL, via_mutex ? lock_then_set : sleep_then_set, NULL), 0);
    for (int i = 0; i < nspin; i++)
        CHECK_EQ(pthread_join(sp[i], NULL), 0);
    CHECK_EQ(pthread_join(setter, NULL), 0);
    if (via_mutex)
        CHECK_EQ(pthread_join(holder, NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
    CHECK(el >= 10 * MS && el < BOUND_NS, "%d spinner(s) waiting for a setter (%s) took %lld ms", nspin,
          via_mutex ? "mutex" : "sleep", (long long)(el / MS));
    return el;
}

int main(void)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(30);
    CHECK_EQ(sem_init(&held, 0, 0), 0);
    int64_t longest[2][MAXSPINNERS] = {{0}};
    for (int m = 0; m < 2; m++)
        for (int nspin = 1; nspin <= MAXSPINNERS; nspin++)
            for (int r = 0; r < ROUNDS; r++) {
                int64_t el = round_once(m == 1, nspin);
                if (el > longest[m][nspin - 1])
                    longest[m][nspin - 1] = el;
            }
    CHECK_EQ(sem_destroy(&held), 0);
    printf("spinners waiting for a flag got it; longest of %d rounds: sleeping setter %lld ms (1 spinner), %lld ms "
           "(2); setter behind a mutex %lld ms (1), %lld ms (2) (%s)\n",
           ROUNDS, (long long)(longest[0][0] / MS), (long long)(longest[0][1] / MS),
           (long long)(longest[1][0] / MS), (long long)(longest[1][1] / MS), test_mode());
    return 0;
}
