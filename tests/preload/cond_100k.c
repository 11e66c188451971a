/*
 * 100,000 threads alive at once, all blocked on one condition variable,
 * released by one broadcast and joined; meanwhile at most GPM_MAXPROCS + 4
 * kernel threads exist. Natively (and in pass-through) the kernel's limits
 * (vm.max_map_count: two mappings per thread) allow about 32,000 threads, so
 * those runs use 2,000: they check the test itself.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "tasks.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t allwaiting = PTHREAD_COND_INITIALIZER;
static int n, waiting, go;

static void *waiter(void *arg)
{
    pthread_mutex_lock(&mu);
    if (++waiting == n)
        pthread_cond_signal(&allwaiting);
    while (!go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return arg;
}

int main(void)
{
    n = under_gpm() ? 100000 : 2000;
    pthread_t *t = malloc(sizeof *t * (size_t)n);
    CHECK(t != NULL, "malloc");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 16 * 1024);
    for (intptr_t i = 0; i < n; i++)
        CHECK_EQ(pthread_create(&t[i], &attr, waiter, (void *)i), 0);
    pthread_mutex_lock(&mu);
    while (waiting < n)
        pthread_cond_wait(&allwaiting, &mu);
    int tasks = count_tasks();
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (intptr_t i = 0; i < n; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((intptr_t)r, i);
    }
    if (under_gpm())
        CHECK(tasks <= max_tasks_under_gpm(), "%d kernel threads, limit %d", tasks, max_tasks_under_gpm());
    printf("%d threads waited on one condition variable, released by one broadcast, on %d kernel threads (%s)\n",
           n, tasks, test_mode());
    free(t);
    return 0;
}
