/*
 * src/core/once.c: pthread_once and call_once.
 *
 * The once word: 0 never run, ONCE_RUNNING while one thread runs init
 * (ONCE_WAITERS when others park on the word meanwhile), ONCE_DONE after.
 * A caller that finds it running parks until it changes. If init does not
 * return (the thread exits or is cancelled inside it; POSIX: "as if
 * pthread_once() was never called"), a cleanup handler puts the word back
 * to 0 and wakes the waiters, one of which then runs init itself.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <limits.h>
#include <pthread.h>

#include "sema.h"

enum { ONCE_RUNNING = 1, ONCE_DONE = 2, ONCE_WAITERS = 4 };

static void once_reset(void *arg)
{
    _Atomic int *once = arg;
    if (atomic_exchange(once, 0) & ONCE_WAITERS)
        gpm_sema_wake((_Atomic uint32_t *)once, INT_MAX, 0);
}

int gpm_once(_Atomic int *once, void (*init)(void))
{
    for (;;) {
        int v = atomic_load_explicit(once, memory_order_acquire);
        if (v == ONCE_DONE)
            return 0;
        if (v == 0) {
            if (!atomic_compare_exchange_strong(once, &v, ONCE_RUNNING))
                continue;
            pthread_cleanup_push(once_reset, (void *)once);
            init();
            pthread_cleanup_pop(0);
            if (atomic_exchange_explicit(once, ONCE_DONE, memory_order_release) & ONCE_WAITERS)
                gpm_sema_wake((_Atomic uint32_t *)once, INT_MAX, 0);
            return 0;
        }
        if (!(v & ONCE_WAITERS) && !atomic_compare_exchange_strong(once, &v, v | ONCE_WAITERS))
            continue;
        gpm_sema_wait((_Atomic uint32_t *)once, (uint32_t)(v | ONCE_WAITERS), 0, 0, NULL, WAIT_ONCE);
    }
}
