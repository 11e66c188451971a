/*
 * tests/meta/trace_prog.c: a program for tests/meta/exectrace.py to trace.
 * Prints its pid, then runs NWORKERS named threads that wait in every way
 * the trace names (mutex, condition variable, sleep, a pipe, join) and
 * make a system call gpm wraps as blocking; forks a child that exits
 * through exit() (its atexit handlers: a forked child must not write the
 * parent's trace). With the argument "yield", 4 threads instead yield to
 * each other 100,000 times each, which fills a small GPM_TRACE_MB.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 40

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn; /* workers take the condition variable in order */
static int pipefd[2];

static void check(int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "trace_prog: %s: %s\n", what, strerror(err));
        exit(1);
    }
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", id);
    check(pthread_setname_np(pthread_self(), name), "pthread_setname_np");

    /* A pipe: worker 0 waits for a byte main writes 5 ms after it made
       the workers. First thing, so that it is in the read long before (in
       the mutex's queue it could be behind 25 others' 200 µs sleeps), and
       the others wait for its turn on the condition variable meanwhile. */
    if (id == 0) {
        char c;
        if (read(pipefd[0], &c, 1) != 1)
            exit(1);
    }
    /* The mutex, held across a sleep: the others park on it. */
    pthread_mutex_lock(&mu);
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    /* The condition variable: wait for this worker's turn. */
    while (turn != id)
        pthread_cond_wait(&cv, &mu);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);

    /* A system call on a file that cannot be polled: entersyscall. */
    FILE *f = fopen("/proc/self/stat", "r");
    if (f != NULL) {
        char buf[256];
        if (fgets(buf, sizeof buf, f) == NULL)
            exit(1);
        fclose(f);
    }
    return NULL;
}

static void *yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        sched_yield();
    return NULL;
}

int main(int argc, char **argv)
{
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    int yieldmode = argc > 1 && strcmp(argv[1], "yield") == 0;
    int n = yieldmode ? 4 : NWORKERS;
    pthread_t th[NWORKERS];
    if (pipe(pipefd) != 0)
        return 1;
    for (int i = 0; i < n; i++)
        check(pthread_create(&th[i], NULL, yieldmode ? yielder : worker, (void *)(long)i), "pthread_create");
    if (!yieldmode) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        if (write(pipefd[1], "x", 1) != 1)
            return 1;
    }
    for (int i = 0; i < n; i++)
        check(pthread_join(th[i], NULL), "pthread_join");

    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        exit(0);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    printf("ok\n");
    return 0;
}
