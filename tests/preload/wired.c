/*
 * Threads with a policy of their own (SCHED_BATCH: no privilege needed)
 * or an affinity live among ordinary ones. Under gpm these are wired Gs
 * ("Wired Gs" in src/core/sched.c), and this is their adversarial test:
 *   - a wired thread and an ordinary one ping-pong 10,000 times through a
 *     mutex and condition variable (the wired one parks and is woken);
 *   - ordinary threads keep running while the wired one is blocked, in a
 *     condition wait and in a read from a pipe (its kernel thread must not
 *     keep the one P of GPM_MAXPROCS=1);
 *   - a wired thread stays on one kernel thread (its raw kernel tid, read
 *     with an inline system call, never changes), and no other thread ever
 *     runs on that kernel thread;
 *   - 100 wired threads, each parking a few times, exit and are joined.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

/* The kernel thread running the caller, whatever the C library says. */
static long rawtid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return r;
}

static void wire_self(void)
{
    struct sched_param sp = {0};
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp), 0);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ball; /* 0: the wired thread's turn, 1: the ordinary one's */
static int rounds;
#define ROUNDS 10000

static _Atomic long wiredtid; /* the wired thread's kernel thread */
static _Atomic int stop;
static _Atomic long progress;
static _Atomic int trespass; /* another thread ran on the wired one's kernel thread */

static void *pingpong_wired(void *arg)
{
    wire_self();
    long tid = rawtid();
    wiredtid = tid;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ROUNDS; i++) {
        while (ball != 0)
            pthread_cond_wait(&cv, &mu);
        CHECK(rawtid() == tid, "wired thread moved from kernel thread %ld to %ld", tid, rawtid());
        ball = 1;
        rounds++;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *pingpong_plain(void *arg)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ROUNDS; i++) {
        while (ball != 1)
            pthread_cond_wait(&cv, &mu);
        if (wiredtid != 0 && rawtid() == wiredtid)
            trespass = 1;
        ball = 0;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Ordinary threads that count, yield and sleep until told to stop. */
static void *worker(void *arg)
{
    while (!stop) {
        if (wiredtid != 0 && rawtid() == wiredtid)
            trespass = 1;
        progress++;
        if (progress % 64 == 0)
            usleep(50);
        else
            sched_yield();
    }
    return NULL;
}

/* Waits until the workers have made n more steps (a few seconds at most). */
static void expect_progress(long n, const char *while_what)
{
    long start = progress;
    for (int i = 0; i < 5000 && progress - start < n; i++)
        usleep(1000);
    CHECK(progress - start >= n, "ordinary threads made %ld steps in 5 s while %s", progress - start,
          while_what);
}

static int pipefd[2];
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate;
static _Atomic int blocked_stage;

static void *blocker(void *arg)
{
    wire_self();
    long tid = rawtid();
    wiredtid = tid;
    blocked_stage = 1;
    pthread_mutex_lock(&gate_mu);
    while (!gate)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    CHECK(rawtid() == tid, "wired thread moved after a wait");
    blocked_stage = 2;
    char c;
    CHECK_EQ(read(pipefd[0], &c, 1), 1);
    CHECK(rawtid() == tid, "wired thread moved after a read");
    return NULL;
}

static _Atomic int alive;

static void *many(void *arg)
{
    long n = (long)arg;
    if (n % 2 == 0) {
        wire_self();
    } else {
        cpu_set_t set;
        CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
        int last = -1;
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set))
                last = i;
        CPU_ZERO(&set);
        CPU_SET(last, &set);
        CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof set, &set), 0);
    }
    alive++;
    for (int i = 0; i < 5; i++)
        usleep(100);
    pthread_mutex_lock(&gate_mu);
    while (gate < 2)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return (void *)n;
}

int main(void)
{
    pthread_t w[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&w[i], NULL, worker, NULL), 0);

    /* Ping-pong. */
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, pingpong_wired, NULL), 0);
    CHECK_EQ(pthread_create(&b, NULL, pingpong_plain, NULL), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(rounds, ROUNDS);
    printf("ping-pong: %d rounds\n", rounds);

    /* Blocked in a wait, then in the kernel: the others run on. */
    CHECK_EQ(pipe(pipefd), 0);
    CHECK_EQ(pthread_create(&a, NULL, blocker, NULL), 0);
    while (blocked_stage < 1)
        usleep(100);
    expect_progress(200, "a wired thread waits on a condition variable");
    pthread_mutex_lock(&gate_mu);
    gate = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    while (blocked_stage < 2)
        usleep(100);
    expect_progress(200, "a wired thread blocks in read");
    CHECK_EQ(write(pipefd[1], "x", 1), 1);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK(!trespass, "an ordinary thread ran on a wired thread's kernel thread");

    /* Many. */
    enum { N = 100 };
    pthread_t t[N];
    for (long i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, many, (void *)i), 0);
    while (alive < N)
        usleep(1000);
    expect_progress(200, "100 wired threads live");
    pthread_mutex_lock(&gate_mu);
    gate = 2;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    for (long i = 0; i < N; i++) {
        void *res;
        CHECK_EQ(pthread_join(t[i], &res), 0);
        CHECK_EQ((long)res, i);
    }
    stop = 1;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(w[i], NULL), 0);
    puts("ok");
    return 0;
}
