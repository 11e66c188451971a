/*
 * A thread's CPU affinity is its own: set on a thread (on itself, on
 * another thread, through pthread_attr_setaffinity_np, through
 * sched_setaffinity on its id), it shows in that thread's
 * sched_getaffinity and pthread_getaffinity_np only, the thread runs only
 * on those CPUs (sched_getcpu), also after it sleeps and waits on a
 * condition variable, and a thread it creates inherits it. All CPUs again
 * is the process's affinity. Bad sets give EINVAL. Under gpm this is a
 * wired G ("Wired Gs" in src/core/sched.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "check.h"

static cpu_set_t all; /* the process's CPUs */
static cpu_set_t one; /* the last of them */
static int cpu;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;

static void check_mask(const cpu_set_t *want, pid_t pid, const char *who)
{
    cpu_set_t got;
    CHECK_EQ(sched_getaffinity(pid, sizeof got, &got), 0);
    CHECK(CPU_EQUAL(&got, want), "%s: sched_getaffinity(%d) has %d CPUs, want %d", who, (int)pid, CPU_COUNT(&got),
          CPU_COUNT(want));
}

static void check_thread_mask(pthread_t th, const cpu_set_t *want, const char *who)
{
    cpu_set_t got;
    CHECK_EQ(pthread_getaffinity_np(th, sizeof got, &got), 0);
    CHECK(CPU_EQUAL(&got, want), "%s: pthread_getaffinity_np has %d CPUs, want %d", who, CPU_COUNT(&got),
          CPU_COUNT(want));
}

/* Runs on `cpu` only, also across sleeps and waits. */
static void check_runs_there(const char *who)
{
    for (int i = 0; i < 20; i++) {
        for (int k = 0; k < 200; k++)
            CHECK(sched_getcpu() == cpu, "%s: on CPU %d, pinned to %d", who, sched_getcpu(), cpu);
        usleep(200);
        CHECK(sched_getcpu() == cpu, "%s: after a sleep on CPU %d, pinned to %d", who, sched_getcpu(), cpu);
    }
}

/* Waits for turn == n (main moves it on). */
static void waitturn(int n)
{
    pthread_mutex_lock(&mu);
    while (turn != n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void setturn(int n)
{
    pthread_mutex_lock(&mu);
    turn = n;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *self_pinned(void *arg)
{
    CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    check_mask(&one, 0, "self_pinned");
    check_mask(&one, gettid(), "self_pinned");
    check_thread_mask(pthread_self(), &one, "self_pinned");
    check_runs_there("self_pinned");
    setturn(1);
    /* Park and wake several times: still there. */
    for (int i = 0; i < 10; i++) {
        waitturn(2 + 2 * i);
        CHECK(sched_getcpu() == cpu, "self_pinned: woken on CPU %d, pinned to %d", sched_getcpu(), cpu);
        setturn(3 + 2 * i);
    }
    /* A thread it creates inherits its affinity. */
    pthread_t child;
    CHECK_EQ(pthread_create(&child, NULL, (void *(*)(void *))arg, NULL), 0);
    CHECK_EQ(pthread_join(child, NULL), 0);
    /* All CPUs again: the process's affinity. */
    CHECK_EQ(sched_setaffinity(0, sizeof all, &all), 0);
    check_mask(&all, 0, "self_pinned, unpinned");
    check_thread_mask(pthread_self(), &all, "self_pinned, unpinned");
    return NULL;
}

static void *inherits(void *arg)
{
    check_mask(&one, 0, "child of a pinned thread");
    check_runs_there("child of a pinned thread");
    return NULL;
}

static void *attr_pinned(void *arg)
{
    check_mask(&one, 0, "attr_pinned");
    check_runs_there("attr_pinned");
    return NULL;
}

static _Atomic pid_t waiter_tid;

static void *pinned_by_other(void *arg)
{
    waiter_tid = gettid();
    waitturn(100);
    check_mask(&one, 0, "pinned_by_other");
    check_runs_there("pinned_by_other");
    return NULL;
}

static void *unpinned(void *arg)
{
    check_mask(&all, 0, "unpinned");
    waitturn(200);
    check_mask(&all, 0, "unpinned");
    return NULL;
}

int main(void)
{
    CHECK_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &all))
            cpu = i;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    printf("%d CPUs, pinning to CPU %d\n", CPU_COUNT(&all), cpu);

    /* Bad sets: nothing, or only a CPU that does not exist. */
    cpu_set_t none;
    CPU_ZERO(&none);
    CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof none, &none), EINVAL);
    CHECK_EQ(sched_setaffinity(0, sizeof none, &none), -1);
    CHECK_EQ(errno, EINVAL);
    cpu_set_t far;
    CPU_ZERO(&far);
    CPU_SET(CPU_SETSIZE - 1, &far);
    if (!CPU_ISSET(CPU_SETSIZE - 1, &all)) {
        CHECK_EQ(pthread_setaffinity_np(pthread_self(), sizeof far, &far), EINVAL);
        pthread_attr_t fa;
        pthread_attr_init(&fa);
        CHECK_EQ(pthread_attr_setaffinity_np(&fa, sizeof far, &far), 0);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, &fa, attr_pinned, NULL), EINVAL);
        pthread_attr_destroy(&fa);
    }
    check_mask(&all, 0, "main after bad sets");

    /* On itself; others keep every CPU. */
    pthread_t a, other;
    CHECK_EQ(pthread_create(&other, NULL, unpinned, NULL), 0);
    CHECK_EQ(pthread_create(&a, NULL, self_pinned, inherits), 0);
    waitturn(1);
    check_thread_mask(a, &one, "main asks self_pinned");
    check_thread_mask(other, &all, "main asks unpinned");
    check_thread_mask(pthread_self(), &all, "main");
    check_mask(&all, 0, "main");
    for (int i = 0; i < 10; i++) {
        usleep(500);
        setturn(2 + 2 * i);
        waitturn(3 + 2 * i);
    }
    CHECK_EQ(pthread_join(a, NULL), 0);

    /* Through the attributes. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    CHECK_EQ(pthread_attr_setaffinity_np(&attr, sizeof one, &one), 0);
    CHECK_EQ(pthread_create(&a, &attr, attr_pinned, NULL), 0);
    check_thread_mask(a, &one, "main asks attr_pinned");
    pthread_attr_t got;
    CHECK_EQ(pthread_getattr_np(a, &got), 0);
    cpu_set_t gotset;
    CHECK_EQ(pthread_attr_getaffinity_np(&got, sizeof gotset, &gotset), 0);
    CHECK(CPU_EQUAL(&gotset, &one), "pthread_getattr_np: %d CPUs", CPU_COUNT(&gotset));
    pthread_attr_destroy(&got);
    CHECK_EQ(pthread_join(a, NULL), 0);
    pthread_attr_destroy(&attr);

    /* By another thread, on a thread that waits: by pthread_t, then by
       its id. */
    CHECK_EQ(pthread_create(&a, NULL, pinned_by_other, NULL), 0);
    while (waiter_tid == 0)
        usleep(100);
    CHECK_EQ(pthread_setaffinity_np(a, sizeof one, &one), 0);
    check_thread_mask(a, &one, "main asks pinned_by_other");
    check_mask(&one, waiter_tid, "main asks pinned_by_other");
    CHECK_EQ(sched_setaffinity(waiter_tid, sizeof one, &one), 0);
    check_mask(&all, 0, "main");
    setturn(100);
    CHECK_EQ(pthread_join(a, NULL), 0);

    /* The main thread itself, by the process id: only it. */
    CHECK_EQ(sched_setaffinity(getpid(), sizeof one, &one), 0);
    check_mask(&one, 0, "main pinned");
    check_thread_mask(other, &all, "unpinned while main is pinned");
    check_runs_there("main");
    CHECK_EQ(sched_setaffinity(0, sizeof all, &all), 0);
    check_mask(&all, 0, "main unpinned");
    setturn(200);
    CHECK_EQ(pthread_join(other, NULL), 0);
    puts("ok");
    return 0;
}
