/*
 * read on an empty non-blocking pipe (EAGAIN at once): what wrapping a
 * call that does not block costs. A second thread lives, blocked, while
 * the reads are timed, so that both runs are multi-threaded processes to
 * the kernel too: one whose file table is shared pays an atomic reference
 * on the file in every read (fdget_pos, fput), and the threads under gpm
 * (its Ms, sysmon) always share it, so a native run whose thread had
 * exited would be timing a different kernel path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;

/* Blocked until the reads are timed. */
static void *waiter(void *arg)
{
    pthread_mutex_lock(&mu);
    while (!done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 1000000);
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, NULL) != 0)
        return 1;
    char c;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (read(p[0], &c, 1) != -1 || errno != EAGAIN)
            return 1;
    double el = bench_now_ns() - t0;
    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    bench_report("read_nonblock", el, n);
    return 0;
}
