/*
 * No lost wake-ups under load. 4 producers and 4 consumers pass 1,000,000
 * items (argv[1] to change) through a 16-slot ring buffer, first guarded by a
 * mutex and two condition variables (not full / not empty, signalled once
 * per item), then with two unnamed semaphores counting the empty and full
 * slots (sem_wait/sem_post per item; a mutex only orders the slot indices).
 * Every item is seen exactly once (a bitmap) and the sum is exact; a lost
 * wake-up would hang the run, which the test harness's timeout catches.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define SLOTS 16

static long total;              /* items per phase, a multiple of 4 */
static long ring[SLOTS];
static unsigned head, tail;     /* next slot to take, next slot to fill */
static _Atomic uint8_t *seen;   /* one byte per item */
static atomic_llong sum;

static void take(long item)
{
    CHECK(item >= 0 && item < total, "item %ld out of range", item);
    uint8_t was = atomic_exchange(&seen[item], 1);
    CHECK(was == 0, "item %ld seen twice", item);
    atomic_fetch_add(&sum, item);
}

static void check_phase(const char *name)
{
    long long want = (long long)total * (total - 1) / 2;
    CHECK(atomic_load(&sum) == want, "%s: sum %lld, expected %lld", name, atomic_load(&sum), want);
    for (long i = 0; i < total; i++)
        CHECK(atomic_load(&seen[i]) == 1, "%s: item %ld never arrived", name, i);
}

static void reset(void)
{
    for (long i = 0; i < total; i++)
        atomic_store(&seen[i], 0);
    atomic_store(&sum, 0);
    head = tail = 0;
}

/* ---- mutex + two condition variables ------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

static void *cv_producer(void *arg)
{
    long p = (long)(intptr_t)arg;
    for (long item = p; item < total; item += PRODUCERS) {
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        while (tail - head == SLOTS)
            CHECK_EQ(pthread_cond_wait(&not_full, &mu), 0);
        ring[tail++ % SLOTS] = item;
        CHECK_EQ(pthread_cond_signal(&not_empty), 0);
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    }
    return NULL;
}

static void *cv_consumer(void *arg)
{
    for (long n = 0; n < total / CONSUMERS; n++) {
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        while (tail == head)
            CHECK_EQ(pthread_cond_wait(&not_empty, &mu), 0);
        long item = ring[head++ % SLOTS];
        CHECK_EQ(pthread_cond_signal(&not_full), 0);
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
        take(item);
    }
    return NULL;
}

/* ---- two semaphores ------------------------------------------------------------------ */

static sem_t empty_slots, full_slots;
static pthread_mutex_t idx_mu = PTHREAD_MUTEX_INITIALIZER;

static void *sem_producer(void *arg)
{
    long p = (long)(intptr_t)arg;
    for (long item = p; item < total; item += PRODUCERS) {
        CHECK_EQ(sem_wait(&empty_slots), 0);
        CHECK_EQ(pthread_mutex_lock(&idx_mu), 0);
        ring[tail++ % SLOTS] = item;
        CHECK_EQ(pthread_mutex_unlock(&idx_mu), 0);
        CHECK_EQ(sem_post(&full_slots), 0);
    }
    return NULL;
}

static void *sem_consumer(void *arg)
{
    for (long n = 0; n < total / CONSUMERS; n++) {
        CHECK_EQ(sem_wait(&full_slots), 0);
        CHECK_EQ(pthread_mutex_lock(&idx_mu), 0);
        long item = ring[head++ % SLOTS];
        CHECK_EQ(pthread_mutex_unlock(&idx_mu), 0);
        CHECK_EQ(sem_post(&empty_slots), 0);
        take(item);
    }
    return NULL;
}

static void run(void *(*prod)(void *), void *(*cons)(void *))
{
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_EQ(pthread_create(&c[i], NULL, cons, NULL), 0);
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_EQ(pthread_create(&p[i], NULL, prod, (void *)(intptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        CHECK_EQ(pthread_join(p[i], NULL), 0);
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_EQ(pthread_join(c[i], NULL), 0);
}

static double secs_since(struct timespec t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    total = argc > 1 ? atol(argv[1]) : 1000000;
    total -= total % (PRODUCERS * CONSUMERS);
    CHECK(total > 0, "bad count %s", argc > 1 ? argv[1] : "");
    seen = calloc((size_t)total, 1);
    CHECK(seen != NULL, "calloc");
    struct timespec t0;

    reset();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(cv_producer, cv_consumer);
    check_phase("mutex+cond");
    CHECK_EQ(tail, head);
    double t_cv = secs_since(t0);

    reset();
    CHECK_EQ(sem_init(&empty_slots, 0, SLOTS), 0);
    CHECK_EQ(sem_init(&full_slots, 0, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(sem_producer, sem_consumer);
    check_phase("semaphores");
    double t_sem = secs_since(t0);
    int v;
    CHECK_EQ(sem_getvalue(&empty_slots, &v), 0);
    CHECK_EQ(v, SLOTS);
    CHECK_EQ(sem_getvalue(&full_slots, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(sem_destroy(&empty_slots), 0);
    CHECK_EQ(sem_destroy(&full_slots), 0);

    printf("%d producers, %d consumers, %d slots: %ld items by mutex+cond (%.2f s) and %ld "
           "by semaphores (%.2f s), each exactly once\n",
           PRODUCERS, CONSUMERS, SLOTS, total, t_cv, total, t_sem);
    free(seen);
    return 0;
}
