/*
 * Process-shared objects between two processes: a mutex and a condition
 * variable (PTHREAD_PROCESS_SHARED) and two semaphores (sem_init(s, 1, 0))
 * in a MAP_SHARED mapping; parent and child pass a turn 10,000 times
 * through each, and meet at a process-shared barrier. Twice: with a forked
 * child (both under gpm in the gpm run), and with a child that execs this
 * program without LD_PRELOAD (native glibc against a parent under gpm).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 10000

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_barrier_t bar;
    sem_t ping, pong;
    int turn;
    long sum;
};

static void play(struct shared *s, int me)
{
    pthread_barrier_wait(&s->bar);
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(pthread_mutex_lock(&s->mu), 0);
        while (s->turn != me)
            CHECK_EQ(pthread_cond_wait(&s->cv, &s->mu), 0);
        s->sum += me + 1;
        s->turn = !me;
        CHECK_EQ(pthread_cond_signal(&s->cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&s->mu), 0);
    }
    for (int i = 0; i < ROUNDS; i++) {
        if (me == 0) {
            CHECK_EQ(sem_post(&s->ping), 0);
            CHECK_EQ(sem_wait(&s->pong), 0);
        } else {
            CHECK_EQ(sem_wait(&s->ping), 0);
            CHECK_EQ(sem_post(&s->pong), 0);
        }
    }
    pthread_barrier_wait(&s->bar);
}

static void setup(struct shared *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_mutex_init(&s->mu, &ma), 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_cond_init(&s->cv, &ca), 0);
    pthread_barrierattr_t ba;
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_barrier_init(&s->bar, &ba, 2), 0);
    CHECK_EQ(sem_init(&s->ping, 1, 0), 0);
    CHECK_EQ(sem_init(&s->pong, 1, 0), 0);
}

static void finish(struct shared *s, pid_t child, const char *how)
{
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s child failed (status %#x)", how, status);
    CHECK_EQ(s->sum, (long)ROUNDS * 3);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        /* The exec'd child: the mapping is the file named by argv[2]. */
        int fd = atoi(argv[2]);
        struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(s != MAP_FAILED, "child mmap");
        play(s, 1);
        return 0;
    }
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED, "mmap");
    setup(s);
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        play(s, 1);
        _exit(0);
    }
    play(s, 0);
    finish(s, child, "forked");

    /* A fresh program without gpm on the other side. */
    int fd = memfd_create("pshared", 0);
    CHECK(fd >= 0 && ftruncate(fd, sizeof *s) == 0, "memfd");
    struct shared *s2 = mmap(NULL, sizeof *s2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s2 != MAP_FAILED, "mmap memfd");
    setup(s2);
    child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        unsetenv("LD_PRELOAD");
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        execl("/proc/self/exe", argv[0], "child", fdarg, (char *)NULL);
        _exit(127);
    }
    play(s2, 0);
    finish(s2, child, "exec'd native");
    printf("parent and child passed %d turns through a shared mutex+cond and %d through shared semaphores, twice\n",
           ROUNDS, ROUNDS);
    return 0;
}
