/*
 * prctl(PR_SET_NAME) and prctl(PR_GET_NAME) name the calling thread, as
 * Linux has it (the native run is the reference):
 *  - a thread names itself with prctl; another reads the name with
 *    pthread_getname_np, and prctl(PR_GET_NAME) in the thread reads it too,
 *    after many yields (while it moves between kernel threads under gpm);
 *  - another thread names it with pthread_setname_np; prctl(PR_GET_NAME)
 *    in the thread reads that;
 *  - a name of 16 characters or more is cut to 15, without an error;
 *  - main's prctl name is the main kernel thread's comm in /proc;
 *  - other options reach the kernel: PR_SET_DUMPABLE then PR_GET_DUMPABLE
 *    (which returns its answer), PR_SET_PDEATHSIG then PR_GET_PDEATHSIG
 *    (which writes it through the second argument).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "check.h"

#define YIELDS 200

static sem_t named, renamed, checked, leave;

static void expect_prctl_name(const char *want)
{
    char buf[16] = "garbage";
    CHECK_EQ(prctl(PR_GET_NAME, (unsigned long)buf, 0, 0, 0), 0);
    CHECK(strcmp(buf, want) == 0, "prctl(PR_GET_NAME) reads '%s', expected '%s'", buf, want);
}

static void *worker(void *arg)
{
    CHECK_EQ(prctl(PR_SET_NAME, (unsigned long)"by-prctl", 0, 0, 0), 0);
    for (int i = 0; i < YIELDS; i++) {
        sched_yield();
        expect_prctl_name("by-prctl");
    }
    CHECK_EQ(sem_post(&named), 0);
    CHECK_EQ(sem_wait(&renamed), 0);
    expect_prctl_name("by-setname");
    CHECK_EQ(prctl(PR_SET_NAME, (unsigned long)"a-very-long-thread-name", 0, 0, 0), 0);
    expect_prctl_name("a-very-long-thr");
    CHECK_EQ(sem_post(&checked), 0);
    CHECK_EQ(sem_wait(&leave), 0); /* alive while main reads its name */
    return arg;
}

int main(void)
{
    CHECK_EQ(sem_init(&named, 0, 0), 0);
    CHECK_EQ(sem_init(&renamed, 0, 0), 0);
    CHECK_EQ(sem_init(&checked, 0, 0), 0);
    CHECK_EQ(sem_init(&leave, 0, 0), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, worker, NULL), 0);
    CHECK_EQ(sem_wait(&named), 0);
    char buf[16];
    CHECK_EQ(pthread_getname_np(t, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "by-prctl") == 0, "the thread is named '%s' after its prctl", buf);
    CHECK_EQ(pthread_setname_np(t, "by-setname"), 0);
    CHECK_EQ(sem_post(&renamed), 0);
    CHECK_EQ(sem_wait(&checked), 0);
    CHECK_EQ(pthread_getname_np(t, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "a-very-long-thr") == 0, "the thread is named '%s' after a long prctl name", buf);
    CHECK_EQ(sem_post(&leave), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);

    /* Main: prctl names the main kernel thread, as /proc shows it. */
    CHECK_EQ(prctl(PR_SET_NAME, (unsigned long)"main-prctl", 0, 0, 0), 0);
    expect_prctl_name("main-prctl");
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
    CHECK(strcmp(buf, "main-prctl") == 0, "main is named '%s' after its prctl", buf);
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)getpid());
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "cannot open %s", path);
    CHECK(read(fd, comm, sizeof comm - 1) > 0, "cannot read %s", path);
    close(fd);
    CHECK(strcmp(comm, "main-prctl\n") == 0, "%s reads '%s'", path, comm);

    /* Other options are the kernel's, arguments and results included. */
    CHECK_EQ(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    CHECK_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    CHECK_EQ(prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0), 0);
    int sig = 0;
    CHECK_EQ(prctl(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0), 0);
    CHECK_EQ(sig, SIGUSR2);
    CHECK_EQ(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0), 0);
    printf("prctl names threads\n");
    return 0;
}
