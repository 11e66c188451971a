/*
 * tests/gdb/parked.c: 100 threads that park and stay parked, for the gdb
 * extension's test (gdb.sh): 50 in pthread_cond_wait on one condition
 * variable, 50 in a 60 s nanosleep. Each is named ("cond-N", "sleep-N").
 * Once all of them have reached their wait, main prints "ready" and the
 * number of the first cond waiter's name, then sleeps until killed.
 * Exits 1 after 60 s if nobody kills it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { NCOND = 50, NSLEEP = 50 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static int narrived;

/* Not inlined: the backtrace of a cond waiter must name this function. */
__attribute__((noinline)) static void *gdbtest_condwaiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    narrived++;
    pthread_cond_signal(&arrived);
    for (;;) /* nobody ever signals cv */
        pthread_cond_wait(&cv, &mu);
    return NULL;
}

__attribute__((noinline)) static void *gdbtest_sleeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    narrived++;
    pthread_cond_signal(&arrived);
    pthread_mutex_unlock(&mu);
    struct timespec ts = {60, 0};
    nanosleep(&ts, NULL);
    return NULL;
}

int main(void)
{
    pthread_t t;
    char name[16];
    for (int i = 0; i < NCOND + NSLEEP; i++) {
        int cond = i < NCOND;
        if (pthread_create(&t, NULL, cond ? gdbtest_condwaiter : gdbtest_sleeper, NULL) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
        snprintf(name, sizeof name, "%s-%d", cond ? "cond" : "sleep", cond ? i : i - NCOND);
        pthread_setname_np(t, name);
        pthread_detach(t);
    }
    pthread_mutex_lock(&mu);
    while (narrived < NCOND + NSLEEP)
        pthread_cond_wait(&arrived, &mu);
    pthread_mutex_unlock(&mu);
    /* The last arrivals unlocked mu just before their wait: give them the
       moment it takes to get there. */
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    printf("ready\n");
    fflush(stdout);
    struct timespec ts = {60, 0};
    nanosleep(&ts, NULL);
    fprintf(stderr, "parked: not killed within 60 s\n");
    return 1;
}
