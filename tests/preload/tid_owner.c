/*
 * Thread ids as glibc's own code sees them (issue 9): 1,000 threads alive
 * at once (they all wait at a barrier) each have a gettid() of their own,
 * distinct from the others' and from the process id, equal to
 * syscall(SYS_gettid); and it is the id glibc's internals use: the owner
 * glibc records in an error-checking mutex (__data.__owner, from the TCB)
 * and the owner in a priority-inheritance mutex's futex word
 * (__data.__lock & FUTEX_TID_MASK, which the kernel reads) are the locking
 * thread's gettid(). The threads take both mutexes one after another, so
 * each check sees its own id. 64 KiB stacks. The watchdog (watchdog.h)
 * names a hang.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "watchdog.h"

#define N 1000

static pid_t ids[N];
static pthread_barrier_t all_alive;
static pthread_mutex_t ec, pi;
static int bad_ec[N], bad_pi[N];

static int cmp(const void *a, const void *b)
{
    return *(const pid_t *)a - *(const pid_t *)b;
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    pid_t me = gettid();
    ids[i] = me;
    CHECK_EQ(syscall(SYS_gettid), me);
    CHECK_EQ(pthread_mutex_lock(&ec), 0);
    if (ec.__data.__owner != me)
        bad_ec[i] = ec.__data.__owner ? ec.__data.__owner : -1;
    CHECK_EQ(pthread_mutex_unlock(&ec), 0);
    CHECK_EQ(pthread_mutex_lock(&pi), 0);
    if ((pi.__data.__lock & FUTEX_TID_MASK) != (unsigned)me)
        bad_pi[i] = (pi.__data.__lock & FUTEX_TID_MASK) ? (int)(pi.__data.__lock & FUTEX_TID_MASK) : -1;
    CHECK_EQ(pthread_mutex_unlock(&pi), 0);
    int rc = pthread_barrier_wait(&all_alive); /* all N alive with their ids */
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier: %d", rc);
    CHECK_EQ(gettid(), me);
    return NULL;
}

int main(void)
{
    wd_start();
    pthread_mutexattr_t ma;
    CHECK_EQ(pthread_mutexattr_init(&ma), 0);
    CHECK_EQ(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutex_init(&ec, &ma), 0);
    CHECK_EQ(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_NORMAL), 0);
    CHECK_EQ(pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT), 0);
    CHECK_EQ(pthread_mutex_init(&pi, &ma), 0);
    CHECK_EQ(pthread_barrier_init(&all_alive, NULL, N), 0);

    CHECK_EQ(pthread_mutex_lock(&ec), 0);
    CHECK_EQ(ec.__data.__owner, getpid());
    CHECK_EQ(pthread_mutex_unlock(&ec), 0);

    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    pthread_t t[N];
    wd_step(60, "creating %d threads that wait at a barrier", N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], &attr, worker, (void *)(long)i), 0);
    wd_step(60, "joining %d threads", N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < N; i++) {
        CHECK(bad_ec[i] == 0, "thread %d (tid %d): the error-checking mutex's owner is %d", i, ids[i], bad_ec[i]);
        /* gpm's priority-inheritance mutexes keep glibc's size and
           behaviour but not its lock word (docs/COMPAT.md): only glibc's
           word names the owner. */
        if (!under_gpm())
            CHECK(bad_pi[i] == 0, "thread %d (tid %d): the PI mutex's futex word names %d", i, ids[i], bad_pi[i]);
    }
    qsort(ids, N, sizeof ids[0], cmp);
    for (int i = 0; i < N; i++) {
        CHECK(ids[i] > 0 && ids[i] != getpid(), "tid %d", ids[i]);
        CHECK(i == 0 || ids[i] != ids[i - 1], "two live threads had tid %d", ids[i]);
    }
    printf("%d live threads: distinct tids, each the owner glibc writes in error-checking and PI mutexes (%s)\n", N,
           test_mode());
    return 0;
}
