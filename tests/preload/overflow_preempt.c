/*
 * A thread overflows its stack slowly, while another thread computes: the
 * program's SIGSEGV handler (on an alternate stack) must see the fault an
 * overflow makes natively, si_addr just below the stack and si_code a
 * fault's, in every round.
 *
 * Why: under gpm the overflowing thread is preempted by a signal now and
 * then (the other thread waits for its P; meson runs this with
 * GPM_PREEMPT_MS=1 and one P, so that happens often). When that signal
 * comes with less room left on the stack than its frame takes, the kernel
 * cannot push the frame and raises SIGSEGV instead, with si_code SI_KERNEL
 * and no address: a signal the program never sent, reported as a fault it
 * did not make. gpm gives the handler the fault the overflow would have
 * made a moment later. Each level of the recursion takes 64 bytes and
 * 20 µs, so the last few KiB of the stack take about a millisecond each
 * round, 30 rounds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "overflow.h"

enum { STACK = 64 * 1024, ALTSTACK = 256 * 1024, ROUNDS = 30, FRAME = 64, LEVEL_NS = 20000 };

static __thread sigjmp_buf jb;
static __thread void *volatile faultaddr;
static __thread volatile int faultcode;
static atomic_int stop;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    faultaddr = si->si_addr;
    faultcode = si->si_code;
    siglongjmp(jb, 1);
}

static int64_t nanonow(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void slowly(uintptr_t depth)
{
    (void)depth;
    int64_t end = nanonow() + LEVEL_NS;
    while (nanonow() < end)
        ;
}

static void *computer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        ;
    return NULL;
}

static void *overflower(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    void *lo;
    size_t size;
    CHECK_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
    CHECK_EQ(pthread_attr_getstack(&attr, &lo, &size), 0);
    pthread_attr_destroy(&attr);
    stack_t ss = {.ss_sp = malloc(ALTSTACK), .ss_size = ALTSTACK};
    CHECK(ss.ss_sp != NULL, "malloc");
    CHECK_EQ(sigaltstack(&ss, NULL), 0);
    for (int r = 0; r < ROUNDS; r++) {
        faultaddr = NULL;
        faultcode = 0;
        if (sigsetjmp(jb, 1) == 0) {
            overflow_recurse(0, FRAME, slowly);
            CHECK(0, "the recursion returned");
        }
        CHECK(faultcode == SEGV_MAPERR || faultcode == SEGV_ACCERR,
              "round %d: si_code %d, si_addr %p: not the fault of an overflow", r, faultcode, faultaddr);
        CHECK((char *)faultaddr < (char *)lo && (char *)faultaddr >= (char *)lo - (1 << 20),
              "round %d: si_addr %p for a stack from %p", r, faultaddr, lo);
    }
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    pthread_t c, o;
    CHECK_EQ(pthread_create(&c, NULL, computer, NULL), 0);
    CHECK_EQ(pthread_create(&o, &attr, overflower, NULL), 0);
    CHECK_EQ(pthread_join(o, NULL), 0);
    atomic_store(&stop, 1);
    CHECK_EQ(pthread_join(c, NULL), 0);
    printf("%d slow overflows beside a computing thread: each a fault just below the stack (%s)\n", ROUNDS,
           test_mode());
    return 0;
}
