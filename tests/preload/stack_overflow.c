/*
 * A thread that overflows its stack (64 KiB, recursion with alloca) kills
 * the process with SIGSEGV, as natively; under gpm the process first says
 * so in exactly one line: "gpm: thread G<n> overflowed its 65536-byte
 * stack". Run in a forked child, once with the overflowing thread alone
 * and once while other threads compute and yield.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "childrun.h"

#define STACK (64 * 1024)

static atomic_int stop;
/* Never reached: it only tells the compiler the recursion may end. */
static volatile uintptr_t limit = UINTPTR_MAX;

/* Each level keeps 512 bytes of its own, written, so that the compiler
   can neither drop nor flatten the recursion. */
static __attribute__((noinline)) uintptr_t recurse(uintptr_t depth)
{
    if (depth == limit)
        return 0;
    volatile char *p = alloca(512);
    for (int i = 0; i < 512; i += 64)
        p[i] = (char)depth;
    return recurse(depth + 1) + p[0];
}

static void *overflow(void *arg)
{
    (void)arg;
    return (void *)recurse(0);
}

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        sched_yield();
    return NULL;
}

static int child(void *arg)
{
    int others = *(int *)arg;
    pthread_t b[4], t;
    for (int i = 0; i < others; i++)
        if (pthread_create(&b[i], NULL, busy, NULL) != 0)
            return 3;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    if (pthread_create(&t, &attr, overflow, NULL) != 0)
        return 3;
    pthread_join(t, NULL);
    return 2; /* the overflow did not kill the process */
}

int main(void)
{
    for (int others = 0; others <= 4; others += 4) {
        struct childrun r;
        childrun(child, &others, &r);
        CHECK(WIFSIGNALED(r.status), "child exited with %d, stderr: %s", WEXITSTATUS(r.status), r.err);
        CHECK(WTERMSIG(r.status) == SIGSEGV, "child died of signal %d, stderr: %s", WTERMSIG(r.status), r.err);
        if (under_gpm()) {
            CHECK(lines_like(r.err, "gpm: thread G", " overflowed its 65536-byte stack") == 1, "stderr: %s", r.err);
            CHECK(count_of(r.err, "gpm:") == 1, "one line only; stderr: %s", r.err);
        } else {
            CHECK(strstr(r.err, "overflowed") == NULL, "stderr: %s", r.err);
        }
    }
    printf("ok\n");
    return 0;
}
