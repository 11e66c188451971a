/*
 * fork from a threaded program, from the main thread and from another
 * thread while threads are alive: the child has exactly one thread (the
 * caller), can create and join threads of its own, keeps its TLS and
 * errno, and runs pthread_atfork handlers in POSIX order (prepare in
 * reverse order of registration, parent and child in order).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tasks.h"

static atomic_int stop;
static __thread int tv = 11;
static char order[16];
static int norder;

static void prep1(void) { order[norder++] = 'a'; }
static void prep2(void) { order[norder++] = 'b'; }
static void parent1(void) { order[norder++] = 'c'; }
static void parent2(void) { order[norder++] = 'd'; }
static void child1(void) { order[norder++] = 'e'; }
static void child2(void) { order[norder++] = 'f'; }

static void *spin(void *arg)
{
    while (!atomic_load(&stop))
        sched_yield();
    return arg;
}

static void *add1(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

/* Runs in the child, where the caller is the only thread; it can make
   more. The exit status is the verdict. */
static void in_child(int tvwant)
{
    if (strcmp(order, "baef") != 0)
        _exit(20);
    if (count_tasks() != 1)
        _exit(21);
    if (tv != tvwant)
        _exit(22);
    for (uintptr_t i = 0; i < 100; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, add1, (void *)i) != 0)
            _exit(23);
        void *r;
        if (pthread_join(t, &r) != 0 || (uintptr_t)r != i + 1)
            _exit(24);
    }
    errno = 0;
    if (close(-1) != -1 || errno != EBADF)
        _exit(25);
    exit(0);
}

static void fork_and_wait(int tvwant)
{
    norder = 0;
    memset(order, 0, sizeof order);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        in_child(tvwant);
    CHECK(strcmp(order, "bacd") == 0, "atfork order in the parent: %s", order);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

static void *forker(void *arg)
{
    tv = 22;
    fork_and_wait(22);
    return arg;
}

int main(void)
{
    CHECK_EQ(pthread_atfork(prep1, parent1, child1), 0);
    CHECK_EQ(pthread_atfork(prep2, parent2, child2), 0);
    pthread_t spinners[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&spinners[i], NULL, spin, NULL), 0);
    /* From the main thread. */
    fork_and_wait(11);
    /* From another thread. */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, forker, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(spinners[i], NULL), 0);
    printf("fork from main and from a thread: children made and joined 100 threads each\n");
    return 0;
}
