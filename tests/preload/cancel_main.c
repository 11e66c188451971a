/*
 * Cancelling the main thread (issue 9), as glibc does it: main calls
 * pthread_cancel(pthread_self()) (deferred type) and then a cancellation
 * point (pause); its cleanup handler runs, main ends like pthread_exit, and
 * the process goes on: a worker thread joins main (PTHREAD_CANCELED), keeps
 * working a little, and returns; being the last thread, its return ends the
 * process with exit(0) (atexit handlers run, exit status 0).
 * The program runs itself again as a child (rerun.h) to check that exit
 * status and what the child printed (stderr, unbuffered, in order; lines
 * of gpm's own, "gpm: ...", left out):
 *   main-cleanup, worker-joined-main, atexit.
 * The child has a watchdog of its own (watchdog.h), as has the parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rerun.h"
#include "watchdog.h"

static pthread_t main_thread;

static void say(const char *s)
{
    write(2, s, strlen(s));
    write(2, "\n", 1);
}

static void main_cleanup(void *arg)
{
    (void)arg;
    say("main-cleanup");
}

static void at_exit(void)
{
    say("atexit");
}

static void *worker(void *arg)
{
    (void)arg;
    void *ret;
    int rc = pthread_join(main_thread, &ret);
    if (rc != 0 || ret != PTHREAD_CANCELED) {
        say("worker: joining main did not give PTHREAD_CANCELED");
        _exit(3);
    }
    say("worker-joined-main");
    volatile unsigned long x = 0;
    for (int i = 0; i < 1000000; i++)
        x += i;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    return NULL; /* the last thread: the process exits with status 0 */
}

static int child(void)
{
    wd_start();
    wd_step(20, "child: the main thread's cancellation or the last thread's exit");
    main_thread = pthread_self();
    atexit(at_exit);
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, worker, NULL), 0);
    pthread_cleanup_push(main_cleanup, NULL);
    CHECK_EQ(pthread_cancel(pthread_self()), 0);
    for (;;)
        pause();
    pthread_cleanup_pop(0);
    return 4; /* never */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child();
    wd_start();
    wd_step(30, "parent: waiting for the child");
    const char *env[] = {NULL};
    pid_t pid;
    FILE *f = rerun_child(argv[0], env, &pid);
    /* the child's lines, without gpm's own (GPM_DISABLE=1 says so) */
    char out[1024] = "", line[256];
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "gpm: ", 5) != 0 && strlen(out) + strlen(line) < sizeof out)
            strcat(out, line);
    fclose(f);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x; it printed:\n%s", st, out);
    CHECK(strcmp(out, "main-cleanup\nworker-joined-main\natexit\n") == 0, "the child printed:\n%s", out);
    printf("the main thread cancelled itself; the process went on until its last thread returned, "
           "then exited with 0 (%s)\n",
           test_mode());
    return 0;
}
