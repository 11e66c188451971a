/*
 * 10,000 threads created and joined, each returning a distinct value; all
 * alive at once in the second half (created first, joined after).
 */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define N 10000

static void *ret_arg(void *arg)
{
    return (void *)((uintptr_t)arg * 3 + 1);
}

int main(void)
{
    /* Sequential create + join. */
    for (uintptr_t i = 0; i < N; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, ret_arg, (void *)i), 0);
        void *r;
        CHECK_EQ(pthread_join(t, &r), 0);
        CHECK_EQ((uintptr_t)r, i * 3 + 1);
    }
    /* All created, then all joined (small stacks so that native runs
       comfortably too). */
    static pthread_t ts[N];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (uintptr_t i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&ts[i], &attr, ret_arg, (void *)i), 0);
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(pthread_join(ts[i], &r), 0);
        CHECK_EQ((uintptr_t)r, i * 3 + 1);
    }
    pthread_attr_destroy(&attr);
    printf("%d + %d threads created and joined, each with its own result\n", N, N);
    return 0;
}
