/*
 * A thread dies of a fault the program does not handle: a store through a
 * null pointer in crash_here, which tests/meta/faults.py looks for in the
 * stack GPM_DEBUG=faults=1 prints.
 */
#include <pthread.h>
#include <stdio.h>

__attribute__((noinline)) void crash_here(volatile int *p)
{
    *p = 1;
}

static void *thread(void *arg)
{
    crash_here(arg);
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    puts("not reached");
    return 0;
}
