/*
 * Two threads passing a turn back and forth through a mutex and a
 * condition variable: the cost of one round trip (two handoffs).
 */
#include <pthread.h>

#include "bench.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;
static long n;

static void *player(void *arg)
{
    int me = (int)(long)arg;
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        while (turn != me)
            pthread_cond_wait(&cv, &mu);
        turn = !me;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 100000);
    pthread_t t[2];
    double t0 = bench_now_ns();
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, player, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    bench_report("condpingpong", bench_now_ns() - t0, n);
    return 0;
}
