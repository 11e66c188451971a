/*
 * sysmon's revoke against Ms that pin their P all the time ("P ownership"
 * in src/core/sched.c: the light pin, and the membarrier revoke that pairs
 * with it). Four sleepers each sleep 300 times for 1 ms through an inline
 * syscall instruction, which gpm cannot see: under gpm the M blocks in the
 * kernel with its P, and the others run only when sysmon revokes it; a
 * sched_yield after each sleep gets the sleeper a P back. Meanwhile four workers create and join threads and pass a turn
 * through a mutex and condition variable in pairs, so that Ms pin and
 * unpin their P millions of times while revokes come. With one P and two,
 * more sleepers than Ps.
 *
 * Checks: every sleep happened (the sleepers finish), every created thread
 * returned its own argument to its joiner, and each pair's turns strictly
 * alternated, counted on both sides; the whole run within 60 s (natively
 * it takes about 0.4 s). A P used by two Ms at once shows as a crash, a
 * lost wake-up, a hang or a wrong count. This is the scheduler's use of
 * the protocol, at scale (about 1,200 revokes a run); the race the
 * protocol closes is nanoseconds wide and rarely met here: the protocol
 * itself is tested in tests/unit/pstate.c, which fails without sysmon's
 * fence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "watchdog.h"

#define NSLEEP 4
#define SLEEPS 300
#define NPAIR 2

static atomic_int sleepers_left = NSLEEP;

/* nanosleep as an inline syscall instruction: no libc, no gpm wrapper. */
static long inline_nanosleep(const struct timespec *ts)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_nanosleep), "D"(ts), "S"(0L) : "rcx", "r11", "memory");
    return r;
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < SLEEPS; i++) {
        long r = inline_nanosleep(&ts);
        CHECK(r == 0 || r == -EINTR, "inline nanosleep returned %ld", r);
        /* Into gpm: a G whose P was revoked gets one back here, to hold
           it through its next sleep. */
        sched_yield();
    }
    atomic_fetch_sub(&sleepers_left, 1);
    return NULL;
}

static void *echo_arg(void *arg)
{
    return arg;
}

struct pair {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;      /* 0 or 1: whose move */
    long moves[2]; /* made by each side, under mu */
};

static struct pair pairs[NPAIR];
static atomic_bool stop;

struct side {
    struct pair *p;
    int me;
    long created;
};

static void *worker(void *arg)
{
    struct side *s = arg;
    struct pair *p = s->p;
    for (long i = 0;; i++) {
        pthread_t t;
        void *r;
        CHECK_EQ(pthread_create(&t, NULL, echo_arg, (void *)(intptr_t)(i + 1)), 0);
        CHECK_EQ(pthread_join(t, &r), 0);
        CHECK(r == (void *)(intptr_t)(i + 1), "thread %ld returned %p", i + 1, r);
        s->created++;
        CHECK_EQ(pthread_mutex_lock(&p->mu), 0);
        while (p->turn != s->me && !atomic_load(&stop))
            CHECK_EQ(pthread_cond_wait(&p->cv, &p->mu), 0);
        if (atomic_load(&stop) && p->turn != s->me) {
            CHECK_EQ(pthread_mutex_unlock(&p->mu), 0);
            return NULL;
        }
        /* Strict alternation, side 0 first. */
        CHECK_EQ(p->moves[s->me], s->me == 0 ? p->moves[1] : p->moves[0] - 1);
        p->moves[s->me]++;
        p->turn = !s->me;
        CHECK_EQ(pthread_cond_signal(&p->cv), 0);
        bool done = atomic_load(&stop);
        CHECK_EQ(pthread_mutex_unlock(&p->mu), 0);
        if (done)
            return NULL;
    }
}

int main(void)
{
    wd_start();
    wd_step(60, "revoke_churn: sleepers and workers");
    pthread_t sl[NSLEEP], wk[2 * NPAIR];
    struct side sides[2 * NPAIR];
    for (int i = 0; i < NPAIR; i++) {
        CHECK_EQ(pthread_mutex_init(&pairs[i].mu, NULL), 0);
        CHECK_EQ(pthread_cond_init(&pairs[i].cv, NULL), 0);
    }
    for (int i = 0; i < 2 * NPAIR; i++) {
        sides[i] = (struct side){.p = &pairs[i / 2], .me = i % 2};
        CHECK_EQ(pthread_create(&wk[i], NULL, worker, &sides[i]), 0);
    }
    for (int i = 0; i < NSLEEP; i++)
        CHECK_EQ(pthread_create(&sl[i], NULL, sleeper, NULL), 0);
    for (int i = 0; i < NSLEEP; i++)
        CHECK_EQ(pthread_join(sl[i], NULL), 0);
    CHECK_EQ(atomic_load(&sleepers_left), 0);
    /* Stop the workers: each side leaves after its next move, or at once
       when it is not its turn; wake whoever waits. */
    atomic_store(&stop, true);
    for (int i = 0; i < NPAIR; i++) {
        CHECK_EQ(pthread_mutex_lock(&pairs[i].mu), 0);
        CHECK_EQ(pthread_cond_broadcast(&pairs[i].cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&pairs[i].mu), 0);
    }
    long created = 0, moves = 0;
    for (int i = 0; i < 2 * NPAIR; i++) {
        CHECK_EQ(pthread_join(wk[i], NULL), 0);
        created += sides[i].created;
    }
    for (int i = 0; i < NPAIR; i++) {
        long a = pairs[i].moves[0], b = pairs[i].moves[1];
        CHECK(a == b || a == b + 1, "pair %d: side 0 moved %ld times, side 1 %ld", i, a, b);
        moves += a + b;
    }
    printf("%d sleepers slept %d times each outside gpm while workers created %ld threads and passed %ld turns "
           "(%s)\n",
           NSLEEP, SLEEPS, created, moves, test_mode());
    return 0;
}
