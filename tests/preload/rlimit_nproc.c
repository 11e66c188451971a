/*
 * Out of kernel threads (RLIMIT_NPROC) while threads block in the kernel:
 * the program slows down, and never aborts. A child running as an
 * unprivileged user (root's limits are not enforced), limited to 3 tasks
 * more than its user has, starts THREADS threads that each block in a
 * read from a pipe (GPM_NETPOLL=0 in the gpm run: a read that holds its
 * kernel thread); a helper process made before the limit writes to the
 * pipes one by one. Natively pthread_create fails with EAGAIN after a few
 * threads; under gpm every thread is made (they are Gs), the Ms a blocked
 * read would hand its P to cannot all be made, and each thread finishes
 * as the ones before it come back from the kernel. Every thread made must
 * finish, and the child must exit normally.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { THREADS = 8, UID = 65534 };

static int pipes[THREADS][2];

static void *reader(void *arg)
{
    long i = (long)arg;
    char c;
    CHECK_EQ(read(pipes[i][0], &c, 1), 1);
    return (void *)(long)(c == 'a' + i);
}

/* Tasks (threads) the user uid has, from /proc. */
static long usertasks(uid_t uid)
{
    DIR *d = opendir("/proc");
    CHECK(d != NULL, "/proc");
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        long ruid = -1, threads = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "Uid:", 4) == 0)
                ruid = strtol(line + 4, NULL, 10);
            else if (strncmp(line, "Threads:", 8) == 0)
                threads = strtol(line + 8, NULL, 10);
        }
        fclose(f);
        if (ruid == (long)uid)
            n += threads;
    }
    closedir(d);
    return n;
}

static void child(void)
{
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pipe(pipes[i]), 0);
    pid_t helper = fork();
    CHECK(helper >= 0, "fork");
    if (helper == 0) {
        /* Root's, not limited: writes once every thread had time to block. */
        for (int i = 0; i < THREADS; i++) {
            struct timespec d = {0, 50 * 1000 * 1000};
            nanosleep(&d, NULL);
            char c = (char)('a' + i);
            if (write(pipes[i][1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    if (getuid() == 0)
        CHECK_EQ(setuid(UID), 0);
    struct rlimit rl = {(rlim_t)usertasks(getuid()) + 3, (rlim_t)usertasks(getuid()) + 3};
    CHECK_EQ(setrlimit(RLIMIT_NPROC, &rl), 0);
    pthread_t ths[THREADS];
    int n = 0, err = 0;
    for (; n < THREADS; n++) {
        err = pthread_create(&ths[n], NULL, reader, (void *)(long)n);
        if (err != 0)
            break;
    }
    CHECK(n == THREADS || err == EAGAIN, "pthread_create: %s", strerror(err));
    CHECK(n >= 1, "no thread at all");
    if (under_gpm())
        CHECK(n == THREADS, "only %d threads under gpm", n);
    for (int i = 0; i < n; i++) {
        void *ok;
        CHECK_EQ(pthread_join(ths[i], &ok), 0);
        CHECK(ok != NULL, "thread %d read the wrong byte", i);
    }
    /* The pipes the helper still writes to, natively, for the threads
       that were never made. */
    for (int i = n; i < THREADS; i++) {
        char c;
        CHECK_EQ(read(pipes[i][0], &c, 1), 1);
    }
    int st;
    CHECK_EQ(waitpid(helper, &st, 0), helper);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "helper status %#x", st);
    printf("%d of %d threads made under a limit of %ld tasks, every one finished\n", n, THREADS, (long)rl.rlim_cur);
    exit(0);
}

int main(void)
{
    if (getuid() != 0 && geteuid() != 0) {
        /* An unprivileged user's own task count moves with whatever else
           it runs; the test needs a user of its own. */
        printf("not root: cannot run as a user of the test's own\n");
        return 77;
    }
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        child();
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    return 0;
}
