/*
 * A stack without a guard page (meson runs the gpm variant with
 * GPM_STACK_GUARD=0 and GPM_STACK_SIZE=64k: the threads are created
 * without attributes, since GPM_STACK_GUARD governs the default geometry
 * only; natively they get glibc's 8 MiB and a guard) has a canary: a thread that overflows it, one frame
 * at a time with a yield or a sleep between frames, must not return
 * normally and must not corrupt its neighbours. Natively (glibc's guard
 * page) it dies of SIGSEGV; under gpm of SIGABRT after exactly one line,
 * "gpm: thread G<n> overflowed its 65536-byte stack (no guard page;
 * detected by its canary)" (or of SIGSEGV, if it met unmapped memory).
 * The neighbours, created just before and just after it with the same
 * stack size (their blocks are its neighbours in memory), check patterns
 * on their stacks and in their TLS all along, and report corruption.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "overflow.h"
#include "childrun.h"

#define PATTERN 1024

static int sleeping; /* the variant: sleep rather than yield between frames */
static atomic_int ready;
static __thread unsigned char tlspat[PATTERN];

/* Between levels (each 256 bytes): let others run. */
static void pause_a_little(uintptr_t depth)
{
    (void)depth;
    if (sleeping) {
        struct timespec ts = {0, 1000};
        nanosleep(&ts, NULL);
    } else {
        sched_yield();
    }
}

static void *overflow(void *arg)
{
    (void)arg;
    while (atomic_load(&ready) < 2)
        sched_yield();
    return (void *)overflow_recurse(0, 256, pause_a_little);
}

static void corrupt(const char *where)
{
    fprintf(stderr, "CORRUPT: the neighbour's %s changed\n", where);
    fflush(stderr);
    _exit(4);
}

static void *neighbour(void *arg)
{
    unsigned char seed = (unsigned char)(uintptr_t)arg;
    volatile unsigned char stackpat[PATTERN];
    for (int i = 0; i < PATTERN; i++)
        stackpat[i] = tlspat[i] = (unsigned char)(seed + i);
    atomic_fetch_add(&ready, 1);
    for (;;) {
        for (int i = 0; i < PATTERN; i++) {
            if (stackpat[i] != (unsigned char)(seed + i))
                corrupt("stack");
            if (tlspat[i] != (unsigned char)(seed + i))
                corrupt("TLS");
        }
        pause_a_little(0);
    }
    return NULL;
}

static int child(void *arg)
{
    sleeping = *(int *)arg;
    pthread_t a, t, b;
    if (pthread_create(&a, NULL, neighbour, (void *)1) != 0 || pthread_create(&t, NULL, overflow, NULL) != 0 ||
        pthread_create(&b, NULL, neighbour, (void *)2) != 0)
        return 3;
    pthread_join(t, NULL);
    fprintf(stderr, "RETURNED: the overflowing thread returned\n");
    return 2;
}

int main(void)
{
    for (int variant = 0; variant < 2; variant++) {
        struct childrun r;
        childrun(child, &variant, &r);
        const char *how = variant ? "sleep" : "yield";
        CHECK(WIFSIGNALED(r.status), "%s: child exited with %d, stderr: %s", how, WEXITSTATUS(r.status), r.err);
        int sig = WTERMSIG(r.status);
        CHECK(strstr(r.err, "CORRUPT") == NULL, "%s: stderr: %s", how, r.err);
        if (under_gpm()) {
            CHECK(sig == SIGSEGV || sig == SIGABRT, "%s: child died of signal %d, stderr: %s", how, sig, r.err);
            CHECK(count_of(r.err, "gpm:") == 1, "%s: one line; stderr: %s", how, r.err);
            if (sig == SIGABRT)
                CHECK(lines_like(r.err, "gpm: thread G",
                                 " overflowed its 65536-byte stack (no guard page; detected by its canary)") == 1,
                      "%s: stderr: %s", how, r.err);
            printf("%s: died of %s\n", how, sig == SIGABRT ? "SIGABRT (canary)" : "SIGSEGV");
        } else {
            CHECK(sig == SIGSEGV, "%s: child died of signal %d, stderr: %s", how, sig, r.err);
        }
    }
    printf("ok\n");
    return 0;
}
