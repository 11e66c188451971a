/*
 * A thread's scheduling policy is its own: pthread_setschedparam,
 * pthread_setschedprio, sched_setscheduler on its id and the attributes
 * (PTHREAD_EXPLICIT_SCHED) set it for that thread only, the getters
 * report it, and the errors are the kernel's: EINVAL for a bad policy or
 * priority, EPERM for a real-time policy without the privilege (checked in
 * a child that gives up root; skipped where that cannot be arranged).
 * SCHED_BATCH needs no privilege; SCHED_FIFO is checked both ways, since
 * whether it is allowed depends on where the test runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void check_policy(pthread_t th, pid_t tid, int policy, int prio, const char *who)
{
    int pol;
    struct sched_param sp;
    CHECK_EQ(pthread_getschedparam(th, &pol, &sp), 0);
    CHECK(pol == policy && sp.sched_priority == prio, "%s: pthread_getschedparam %d/%d, want %d/%d", who, pol,
          sp.sched_priority, policy, prio);
    CHECK(sched_getscheduler(tid) == policy, "%s: sched_getscheduler(%d) %d, want %d", who, (int)tid,
          sched_getscheduler(tid), policy);
    CHECK_EQ(sched_getparam(tid, &sp), 0);
    CHECK_EQ(sp.sched_priority, prio);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;
static _Atomic pid_t worker_tid;

static void waitstage(int n)
{
    pthread_mutex_lock(&mu);
    while (stage < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void setstage(int n)
{
    pthread_mutex_lock(&mu);
    stage = n;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
    worker_tid = gettid();
    struct sched_param sp = {0};
    /* Bad policies and priorities. */
    CHECK_EQ(pthread_setschedparam(pthread_self(), 12345, &sp), EINVAL);
    sp.sched_priority = 5;
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), EINVAL);
    CHECK_EQ(pthread_setschedprio(pthread_self(), 5), EINVAL);
    check_policy(pthread_self(), 0, SCHED_OTHER, 0, "worker after bad requests");
    /* SCHED_BATCH: this thread only. */
    sp.sched_priority = 0;
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp), 0);
    check_policy(pthread_self(), gettid(), SCHED_BATCH, 0, "worker in SCHED_BATCH");
    setstage(1);
    waitstage(2);
    check_policy(pthread_self(), 0, SCHED_BATCH, 0, "worker in SCHED_BATCH, woken");
    /* Back to SCHED_OTHER (through pthread_setschedparam: glibc's
       pthread_getschedparam reports what that set last, not what
       sched_setscheduler set). */
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
    check_policy(pthread_self(), 0, SCHED_OTHER, 0, "worker back in SCHED_OTHER");
    /* SCHED_FIFO: allowed or not, as natively. */
    sp.sched_priority = 1;
    int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    CHECK(r == 0 || r == EPERM, "SCHED_FIFO: %d", r);
    printf("SCHED_FIFO here: %s\n", r == 0 ? "allowed" : "EPERM");
    if (r == 0) {
        check_policy(pthread_self(), 0, SCHED_FIFO, 1, "worker in SCHED_FIFO");
        CHECK_EQ(pthread_setschedprio(pthread_self(), 2), 0);
        check_policy(pthread_self(), 0, SCHED_FIFO, 2, "worker in SCHED_FIFO after setschedprio");
        usleep(1000); /* sleeps and wakes as a real-time thread */
        check_policy(pthread_self(), 0, SCHED_FIFO, 2, "worker in SCHED_FIFO after a sleep");
        sp.sched_priority = 0;
        CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
    } else {
        check_policy(pthread_self(), 0, SCHED_OTHER, 0, "worker refused SCHED_FIFO");
    }
    return NULL;
}

static void *idle(void *arg)
{
    waitstage(3);
    return NULL;
}

static void *report(void *arg)
{
    return (void *)(long)sched_getscheduler(0);
}

/* In a child without the privilege: EPERM for a real-time policy. */
static int unprivileged(void)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_RTPRIO, &rl) != 0)
        return 77;
    if (getuid() == 0 && setuid(65534) != 0)
        return 77;
    struct sched_param sp = {.sched_priority = 1};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0)
        return 77; /* still allowed (CAP_SYS_NICE kept?): nothing to check */
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_RR, &sp), EPERM);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &sp);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, &attr, report, NULL), EPERM);
    CHECK_EQ(sched_getscheduler(0), SCHED_OTHER);
    return 0;
}

int main(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    CHECK_EQ(pthread_attr_setschedpolicy(&attr, 12345), EINVAL);

    pthread_t w, other;
    CHECK_EQ(pthread_create(&other, NULL, idle, NULL), 0);
    CHECK_EQ(pthread_create(&w, NULL, worker, NULL), 0);
    waitstage(1);
    check_policy(w, worker_tid, SCHED_BATCH, 0, "main asks worker");
    check_policy(other, 0, SCHED_OTHER, 0, "idle thread");
    check_policy(pthread_self(), getpid(), SCHED_OTHER, 0, "main itself");
    setstage(2);
    CHECK_EQ(pthread_join(w, NULL), 0);

    /* On another thread, while it waits. */
    struct sched_param sp = {0};
    CHECK_EQ(pthread_setschedparam(other, 12345, &sp), EINVAL);
    CHECK_EQ(pthread_setschedparam(other, SCHED_BATCH, &sp), 0);
    check_policy(pthread_self(), 0, SCHED_OTHER, 0, "main itself");
    int pol;
    CHECK_EQ(pthread_getschedparam(other, &pol, &sp), 0);
    CHECK_EQ(pol, SCHED_BATCH);

    /* Inherited from the creator, unless the attributes are explicit. */
    pthread_t th;
    void *res;
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp), 0);
    CHECK_EQ(pthread_create(&th, NULL, report, NULL), 0);
    CHECK_EQ(pthread_join(th, &res), 0);
    CHECK_EQ((long)res, SCHED_BATCH);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    CHECK_EQ(pthread_attr_setschedpolicy(&attr, SCHED_OTHER), 0);
    CHECK_EQ(pthread_create(&th, &attr, report, NULL), 0);
    CHECK_EQ(pthread_join(th, &res), 0);
    CHECK_EQ((long)res, SCHED_OTHER);
    CHECK_EQ(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp), 0);
    CHECK_EQ(sched_getscheduler(0), SCHED_OTHER);
    /* A real-time policy through the attributes, where it is allowed. */
    sp.sched_priority = 1;
    CHECK_EQ(pthread_attr_setschedpolicy(&attr, SCHED_FIFO), 0);
    CHECK_EQ(pthread_attr_setschedparam(&attr, &sp), 0);
    int r = pthread_create(&th, &attr, report, NULL);
    CHECK(r == 0 || r == EPERM, "pthread_create with SCHED_FIFO: %d", r);
    if (r == 0) {
        CHECK_EQ(pthread_join(th, &res), 0);
        CHECK_EQ((long)res, SCHED_FIFO);
    }
    sp.sched_priority = 0;
    setstage(3);
    CHECK_EQ(pthread_join(other, NULL), 0);

    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        _exit(unprivileged());
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status), "child status %x", status);
    if (WEXITSTATUS(status) == 77)
        printf("EPERM check skipped: the privilege could not be given up\n");
    else
        CHECK_EQ(WEXITSTATUS(status), 0);
    puts("ok");
    return 0;
}
