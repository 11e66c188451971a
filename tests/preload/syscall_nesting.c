/*
 * Signal handlers that run during a wrapped system call (DESIGN.md
 * section 7; "System calls" in src/core/sched.c):
 *  (a) main blocks in read(2) on an empty pipe; SIGALRM's handler
 *      (installed without SA_RESTART) writes a byte into that pipe with
 *      write(2), itself a wrapped call, nested in the first; the read ends
 *      with EINTR or with the byte, and the byte then arrives. 20 times.
 *  (b) the handler siglongjmps out of a blocked read; main then waits on a
 *      condition variable with a timeout, sleeps, and reads again: the
 *      call it left behind must not confuse what follows. 10 times.
 *  (c) a thread waits in sem_wait while main blocks in read; the handler
 *      posts the semaphore (sem_post is async-signal-safe) and writes the
 *      byte: the waiter wakes and finishes, main gets its byte. 10 times.
 * Main is the only thread when (a) and (b) run, so that the signal lands on
 * the thread that waits (the delivery of a process-directed signal to a G
 * is the signals issue's); in (c) it may land on any kernel thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

static int p[2];
static volatile sig_atomic_t mode, handled;
static sem_t sem;
static sigjmp_buf jb;

static void onalarm(int sig)
{
    (void)sig;
    handled++;
    if (mode == 0 || mode == 2) {
        int e = errno;
        if (mode == 2 && sem_post(&sem) != 0)
            _exit(4);
        ssize_t r = write(p[1], "x", 1);
        errno = e;
        if (r != 1)
            _exit(3);
    } else {
        siglongjmp(jb, 1);
    }
}

static void *semwaiter(void *arg)
{
    while (sem_wait(&sem) != 0)
        CHECK(errno == EINTR, "sem_wait: errno %d", errno);
    return arg;
}

static void arm(long us)
{
    struct itimerval it = {.it_value = {0, us}};
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
}

int main(void)
{
    alarm(60);
    CHECK_EQ(pipe(p), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onalarm;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);

    int eintr = 0;
    for (int i = 0; i < 20; i++) {
        mode = 0;
        arm(5000);
        char c = 0;
        ssize_t r;
        while ((r = read(p[0], &c, 1)) < 0 && errno == EINTR)
            eintr++;
        CHECK(r == 1 && c == 'x', "read: %zd, errno %d", r, errno);
    }
    CHECK_EQ(handled, 20);

    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    for (int i = 0; i < 10; i++) {
        mode = 1;
        if (sigsetjmp(jb, 1) == 0) {
            arm(5000);
            char c;
            read(p[0], &c, 1); /* left by siglongjmp */
            CHECK(0, "read returned");
        }
        /* Waits that park, after the call the handler jumped out of. */
        struct timespec dl = add_ms(now(CLOCK_REALTIME), 5);
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        CHECK_EQ(pthread_cond_timedwait(&cv, &mu, &dl), ETIMEDOUT);
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
        CHECK_EQ(usleep(1000), 0);
        CHECK_EQ(write(p[1], "y", 1), 1);
        char c = 0;
        CHECK_EQ(read(p[0], &c, 1), 1);
        CHECK_EQ(c, 'y');
    }
    CHECK_EQ(handled, 30);

    CHECK_EQ(sem_init(&sem, 0, 0), 0);
    for (int i = 0; i < 10; i++) {
        pthread_t w;
        CHECK_EQ(pthread_create(&w, NULL, semwaiter, NULL), 0);
        mode = 2;
        arm(5000);
        char c = 0;
        ssize_t r;
        while ((r = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        CHECK(r == 1 && c == 'x', "read: %zd, errno %d", r, errno);
        CHECK_EQ(pthread_join(w, NULL), 0);
    }
    CHECK_EQ(handled, 40);
    CHECK_EQ(sem_destroy(&sem), 0);
    printf("a handler's write nested in a blocked read 20 times (%d reads ended with EINTR); 10 siglongjmps out "
           "of a read, each followed by a timed wait, a sleep and a read; a handler's sem_post woke a waiter 10 "
           "times (%s)\n",
           eintr, test_mode());
    return 0;
}
