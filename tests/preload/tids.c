/*
 * Thread ids: each thread's gettid() and syscall(SYS_gettid) agree, differ
 * from every other live thread's and from ids of threads that came before
 * (no quick reuse), stay the same while the thread sleeps, yields and
 * (under gpm) moves between kernel threads; the main thread's is the
 * process id. tgkill to one's own id runs the handler in the calling
 * thread. prctl(PR_GET_TID_ADDRESS) names a word holding the thread's own
 * id, then what set_tid_address set. set_tid_address (through syscall)
 * returns the caller's id, and
 * when the thread exits the word it named is cleared and a waiter
 * (FUTEX_WAIT, shared, as the kernel's wake is) woken; those threads are
 * detached, since natively the call takes the place of the word glibc's
 * pthread_join waits on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define N 16
#define ROUNDS 4

static pid_t ids[ROUNDS][N];
static _Atomic int cleared[N];
static __thread volatile sig_atomic_t got;

static void onusr1(int sig)
{
    (void)sig;
    got = 1;
}

static void *worker(void *arg)
{
    (void)arg;
    pid_t id = gettid();
    CHECK_EQ(syscall(SYS_gettid), id);
    for (int i = 0; i < 20; i++) {
        if (i % 5 == 0)
            usleep(100);
        sched_yield();
        CHECK_EQ(gettid(), id);
    }
    got = 0;
    CHECK_EQ(tgkill(getpid(), id, SIGUSR1), 0);
    CHECK(got == 1, "the handler did not run in the thread that sent the signal to itself");
    return (void *)(long)id;
}

static void *cleartid(void *arg)
{
    _Atomic int *slot = arg;
    pid_t id = gettid();
    /* Before: the word glibc's clone named, the thread's own id in it
       (under gpm the G's, not its kernel thread's). */
    int *addr = NULL;
    CHECK_EQ(prctl(PR_GET_TID_ADDRESS, &addr), 0);
    CHECK(addr != NULL && *addr == id, "PR_GET_TID_ADDRESS names a word holding %d, not this thread's id %d",
          addr != NULL ? *addr : -1, id);
    CHECK_EQ(syscall(SYS_set_tid_address, slot), id);
    CHECK_EQ(prctl(PR_GET_TID_ADDRESS, &addr), 0);
    CHECK(addr == (int *)slot, "PR_GET_TID_ADDRESS after set_tid_address");
    atomic_store(slot, id);
    usleep(1000);
    return NULL;
}

int main(void)
{
    alarm(60);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onusr1;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    CHECK_EQ(gettid(), getpid());
    CHECK_EQ(syscall(SYS_gettid), getpid());
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t t[N];
        for (int i = 0; i < N; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, worker, NULL), 0);
        for (int i = 0; i < N; i++) {
            void *ret;
            CHECK_EQ(pthread_join(t[i], &ret), 0);
            ids[r][i] = (pid_t)(long)ret;
        }
    }
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED), 0);
    for (int i = 0; i < N; i++) {
        atomic_store(&cleared[i], -1);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, &attr, cleartid, (void *)&cleared[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        /* The exit clears the word and wakes us (a shared futex wait). */
        struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 10000);
        int v;
        while ((v = atomic_load(&cleared[i])) != 0) {
            CHECK(ns(now(CLOCK_MONOTONIC)) < ns(dl), "thread %d's set_tid_address word is %d after 10 s", i, v);
            struct timespec slice = {0, 100000000};
            syscall(SYS_futex, &cleared[i], FUTEX_WAIT, v, &slice, NULL, 0);
        }
    }
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    for (int a = 0; a < ROUNDS * N; a++) {
        pid_t x = ids[a / N][a % N];
        CHECK(x > 0 && x != getpid(), "id %d", x);
        for (int b = a + 1; b < ROUNDS * N; b++)
            CHECK(x != ids[b / N][b % N], "two threads had id %d", x);
    }
    printf("%d threads in %d rounds had %d distinct ids, stable across sleeps and yields; set_tid_address "
           "words cleared at exit; tgkill to oneself handled in place (%s)\n",
           ROUNDS * N, ROUNDS, ROUNDS * N, test_mode());
    return 0;
}
