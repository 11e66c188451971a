/*
 * A thread that overflows its stack (64 KiB, recursion with alloca) kills
 * the process with SIGSEGV, as natively; under gpm the process first says
 * so in exactly one line: "gpm: thread G<n> overflowed its 65536-byte
 * stack". Run in a forked child, once with the overflowing thread alone,
 * once while other threads compute and yield, and once after 40,000
 * threads with 64 KiB stacks were made and wait: more than half of a
 * default vm.max_map_count (65,530), past which a kernel without guard
 * regions leaves gpm no mapping for a guard page, and the overflowing
 * thread's stack has a canary instead. Then it dies of SIGABRT with the
 * same line ending "(no guard page; detected by its canary)", which
 * gpm checks at every switch: the recursion yields every 2 KiB, within
 * the 4 KiB below the canary that may be written without harm. Natively
 * the 40,000 are as many as the kernel allows.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "childrun.h"
#include "overflow.h"

#define STACK (64 * 1024)

enum { CROWD = 40000, ALONE = 0, BUSY = 4 };

static atomic_int stop;
static atomic_int yielding; /* the recursion yields every 4 levels */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
/* Between levels: a yield every 2 KiB while `yielding` (the canary's
   check at every switch). */
static void maybe_yield(uintptr_t depth)
{
    if (atomic_load_explicit(&yielding, memory_order_relaxed) && depth % 4 == 0)
        sched_yield();
}

static void *overflow(void *arg)
{
    (void)arg;
    return (void *)overflow_recurse(0, 512, maybe_yield);
}

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        sched_yield();
    return NULL;
}

/* One of the crowd: waits for ever (the process dies first). */
static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;)
        pthread_cond_wait(&cv, &mu);
    return NULL;
}

static int child(void *arg)
{
    int others = *(int *)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    pthread_t b[BUSY], t;
    if (others == CROWD) {
        /* gpm: every one of them; natively, as many as the kernel allows
           (a native thread costs two mappings), less room for the
           overflowing one. */
        int want = CROWD;
        if (!under_gpm() && max_map_count() / 2 - 1000 < want)
            want = (int)(max_map_count() / 2 - 1000);
        for (int made = 0; made < want; made++)
            if (pthread_create(&t, &attr, waiter, NULL) != 0)
                return 4;
        atomic_store(&yielding, 1);
    } else {
        for (int i = 0; i < others; i++)
            if (pthread_create(&b[i], NULL, busy, NULL) != 0)
                return 3;
    }
    if (pthread_create(&t, &attr, overflow, NULL) != 0)
        return 3;
    pthread_join(t, NULL);
    return 2; /* the overflow did not kill the process */
}

int main(void)
{
    static const int runs[] = {ALONE, BUSY, CROWD};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        int others = runs[i];
        struct childrun r;
        childrun(child, &others, &r);
        CHECK(WIFSIGNALED(r.status), "%d others: child exited with %d, stderr: %s", others, WEXITSTATUS(r.status),
              r.err);
        int sig = WTERMSIG(r.status);
        if (under_gpm()) {
            /* A canary only where a stack has no guard: past the map
               budget, on a kernel without guard regions. */
            bool canary = others == CROWD && sig == SIGABRT;
            CHECK(sig == SIGSEGV || canary, "%d others: child died of signal %d, stderr: %s", others, sig, r.err);
            CHECK(lines_like(r.err, "gpm: thread G",
                             canary ? " overflowed its 65536-byte stack (no guard page; detected by its canary)"
                                    : " overflowed its 65536-byte stack") == 1,
                  "%d others: stderr: %s", others, r.err);
            CHECK(count_of(r.err, "overflowed") == 1, "one line only; stderr: %s", r.err);
        } else {
            CHECK(sig == SIGSEGV, "%d others: child died of signal %d, stderr: %s", others, sig, r.err);
            CHECK(strstr(r.err, "overflowed") == NULL, "stderr: %s", r.err);
        }
    }
    printf("ok\n");
    return 0;
}
