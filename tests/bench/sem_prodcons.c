/*
 * A producer and a consumer passing items through a 64-slot ring guarded
 * by two counting semaphores: the time per item.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

#include "bench.h"

enum { SLOTS = 64 };
static sem_t empty, full;
static long ring[SLOTS], n, sum;

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++) {
        sem_wait(&empty);
        ring[i % SLOTS] = i;
        sem_post(&full);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++) {
        sem_wait(&full);
        sum += ring[i % SLOTS];
        sem_post(&empty);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 1000000);
    sem_init(&empty, 0, SLOTS);
    sem_init(&full, 0, 0);
    pthread_t p, c;
    double t0 = bench_now_ns();
    pthread_create(&p, NULL, producer, NULL);
    pthread_create(&c, NULL, consumer, NULL);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    double el = bench_now_ns() - t0;
    if (sum != n * (n - 1) / 2) {
        fprintf(stderr, "sem_prodcons: checksum %ld\n", sum);
        return 1;
    }
    bench_report("sem_prodcons", el, n);
    return 0;
}
