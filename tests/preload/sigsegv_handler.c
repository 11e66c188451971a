/*
 * The program's own SIGSEGV handler works as natively (issue 11: gpm's
 * handler sees every SIGSEGV first, to tell stack overflows apart).
 * Several threads, each with a big alternate signal stack of its own,
 * 100 times each:
 *   - a NULL dereference, left with siglongjmp;
 *   - an overflow of the thread's 64 KiB stack into its guard, left with
 *     siglongjmp from the handler running on the alternate stack;
 *   - a write to a PROT_NONE page whose handler makes it writable and
 *     returns (a GC's write barrier): the write then happens.
 * The handler gets the right si_addr, runs on the alternate stack
 * (SA_ONSTACK), and SIGSEGV is unblocked again after each siglongjmp.
 * Then without SA_ONSTACK: the handler runs on the thread's own stack.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "overflow.h"

enum { NTHREADS = 4, ROUNDS = 100, STACK = 64 * 1024, ALTSTACK = 256 * 1024 };
enum { MODE_JUMP = 1, MODE_UNPROTECT };

static __thread sigjmp_buf jb;
static __thread volatile int mode;
static __thread void *volatile faultaddr;
static __thread volatile int onalt; /* the last handler ran on the alternate stack: 1, or on the stack: 0 */
static __thread char *altlo, *althi, *stacklo, *stackhi;
static __thread volatile int nunprotect;
static long pagesize;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char here;
    faultaddr = si->si_addr;
    onalt = &here >= altlo && &here < althi ? 1 : &here >= stacklo && &here < stackhi ? 0 : -1;
    if (mode == MODE_UNPROTECT) {
        void *page = (void *)((uintptr_t)si->si_addr & ~(uintptr_t)(pagesize - 1));
        if (mprotect(page, (size_t)pagesize, PROT_READ | PROT_WRITE) != 0)
            abort();
        nunprotect++;
        return;
    }
    siglongjmp(jb, 1);
}

static void install(int onstack)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction");
}

static void segv_unblocked(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    CHECK(!sigismember(&cur, SIGSEGV), "SIGSEGV still blocked after siglongjmp");
}

static void nullderef(int wantalt)
{
    mode = MODE_JUMP;
    if (sigsetjmp(jb, 1) == 0) {
        *(volatile int *)NULL = 1;
        CHECK(0, "NULL store did not fault");
    }
    CHECK(faultaddr == NULL, "si_addr %p for a NULL store", faultaddr);
    CHECK_EQ(onalt, wantalt);
    segv_unblocked();
}

static void overflow(void)
{
    mode = MODE_JUMP;
    if (sigsetjmp(jb, 1) == 0) {
        overflow_recurse(0, 512, NULL);
        CHECK(0, "recursion returned");
    }
    CHECK((char *)faultaddr < stacklo + pagesize && (char *)faultaddr >= stacklo - (1 << 20),
          "si_addr %p for a stack [%p, %p)", faultaddr, (void *)stacklo, (void *)stackhi);
    CHECK_EQ(onalt, 1);
    segv_unblocked();
}

static void unprotect(char *page, int round, int wantalt)
{
    mode = MODE_UNPROTECT;
    int before = nunprotect;
    CHECK(mprotect(page, (size_t)pagesize, PROT_NONE) == 0, "mprotect");
    ((volatile int *)page)[round % 64] = round;
    CHECK_EQ(nunprotect, before + 1);
    CHECK_EQ(((volatile int *)page)[round % 64], round);
    CHECK(faultaddr == page + (round % 64) * sizeof(int), "si_addr %p, page %p", faultaddr, (void *)page);
    CHECK_EQ(onalt, wantalt);
}

static pthread_barrier_t phase;

static void *worker(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    size_t size;
    void *lo;
    CHECK(pthread_getattr_np(pthread_self(), &attr) == 0, "getattr");
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    stacklo = lo;
    stackhi = stacklo + size;
    stack_t ss = {.ss_sp = malloc(ALTSTACK), .ss_size = ALTSTACK, .ss_flags = 0};
    CHECK(ss.ss_sp != NULL, "malloc");
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
    altlo = ss.ss_sp;
    althi = altlo + ALTSTACK;
    char *page = mmap(NULL, (size_t)pagesize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED, "mmap");

    for (int i = 0; i < ROUNDS; i++) {
        nullderef(1);
        overflow();
        unprotect(page, i, 1);
        if (i % 10 == 0)
            sched_yield();
    }
    pthread_barrier_wait(&phase); /* main reinstalls without SA_ONSTACK */
    pthread_barrier_wait(&phase);
    for (int i = 0; i < ROUNDS; i++) {
        nullderef(0);
        unprotect(page, i, 0);
    }
    munmap(page, (size_t)pagesize);
    return NULL;
}

int main(void)
{
    pagesize = sysconf(_SC_PAGESIZE);
    install(1);
    pthread_barrier_init(&phase, NULL, NTHREADS + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], &attr, worker, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&phase);
    install(0);
    pthread_barrier_wait(&phase);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    printf("ok\n");
    return 0;
}
