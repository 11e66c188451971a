/*
 * pthread_getattr_np reports a thread's real stack and attributes:
 *  - in a thread created with a 1 MiB stack and a 64 KiB guard: the stack
 *    reported holds a local variable of the thread (and of a nested call),
 *    is at least 1 MiB, is all readable and writable memory (the guard
 *    pages are not part of it), and the guard size is 64 KiB; a second
 *    thread created with the same attribute gets a different stack;
 *  - the detach state: joinable for a joinable thread, detached for one
 *    created detached and for one that called pthread_detach(self); read
 *    from the creator too, while the thread runs;
 *  - a thread created without attributes: its stack holds a local too,
 *    and is all readable and writable;
 *  - a thread on a caller-supplied stack (256 KiB from malloc) reports
 *    exactly that memory, with a guard size of 0;
 *  - the main thread: getattr works and its stack holds a local;
 *  - pthread_attr_setsigmask_np/getsigmask_np round trip on an attribute
 *    (no mask is PTHREAD_ATTR_NO_SIGMASK_NP; a set mask reads back equal,
 *    NULL clears it), and such an attribute creates a thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define STACK (1024 * 1024)
#define GUARD (64 * 1024)
#define WAIT_BOUND 100000000L

struct report {
    uintptr_t local, nested_local;
    uintptr_t lo, hi;   /* reported stack [lo, hi) */
    size_t guard;
    int detach;
    const char *maps;   /* non-NULL: the thread checks its stack's mapping */
};

static atomic_int go, running, done;

static void wait_flag(atomic_int *f, const char *what)
{
    long spins = 0;
    while (!atomic_load(f)) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "never: %s", what);
    }
}

static void getattr(pthread_t t, struct report *rp)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    CHECK_EQ(pthread_getattr_np(t, &attr), 0);
    CHECK_EQ(pthread_attr_getstack(&attr, &addr, &size), 0);
    CHECK_EQ(pthread_attr_getguardsize(&attr, &rp->guard), 0);
    CHECK_EQ(pthread_attr_getdetachstate(&attr, &rp->detach), 0);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    rp->lo = (uintptr_t)addr;
    rp->hi = (uintptr_t)addr + size;
}

/* [lo, hi) is mapped readable and writable, with no gap: what a program
   scanning a thread's stack (a garbage collector) relies on. Not for the
   main thread, whose stack grows on demand. */
static void check_mapped(const struct report *r, const char *who)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "cannot open /proc/self/maps");
    uintptr_t cover = r->lo;
    char line[512];
    while (cover < r->hi && fgets(line, sizeof line, f) != NULL) {
        unsigned long start, end;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3)
            continue;
        if (end <= cover)
            continue;
        CHECK(start <= cover, "%s: stack %#lx..%#lx: nothing mapped at %#lx", who, (unsigned long)r->lo,
              (unsigned long)r->hi, (unsigned long)cover);
        CHECK(perms[0] == 'r' && perms[1] == 'w', "%s: stack %#lx..%#lx: %#lx..%#lx is %s, not rw", who,
              (unsigned long)r->lo, (unsigned long)r->hi, start, end, perms);
        cover = end;
    }
    fclose(f);
    CHECK(cover >= r->hi, "%s: stack %#lx..%#lx: nothing mapped at %#lx", who, (unsigned long)r->lo,
          (unsigned long)r->hi, (unsigned long)cover);
}

static void __attribute__((noinline)) nested(struct report *rp, int depth)
{
    volatile char buf[4096];
    buf[0] = (char)depth;
    rp->nested_local = (uintptr_t)&buf[0];
    if (depth > 0)
        nested(rp, depth - 1);
    (void)buf[0];
}

static void *probe(void *arg)
{
    struct report *rp = arg;
    volatile int local = 0;
    rp->local = (uintptr_t)&local;
    getattr(pthread_self(), rp);
    nested(rp, 8);
    if (rp->maps != NULL)
        check_mapped(rp, rp->maps);
    return NULL;
}

static void *detach_self(void *arg)
{
    struct report *rp = arg;
    CHECK_EQ(pthread_detach(pthread_self()), 0);
    probe(rp);
    atomic_store(&done, 1);
    return NULL;
}

static void *probe_done(void *arg)
{
    probe(arg);
    atomic_store(&done, 1);
    return NULL;
}

static void *wait_go(void *arg)
{
    atomic_store(&running, 1);
    wait_flag(&go, "released");
    atomic_store(&done, 1);
    return NULL;
}

static void check_holds(const struct report *r, const char *who)
{
    CHECK(r->lo < r->hi, "%s: empty stack %#lx..%#lx", who, (unsigned long)r->lo, (unsigned long)r->hi);
    CHECK(r->local >= r->lo && r->local < r->hi, "%s: local %#lx outside the stack %#lx..%#lx", who,
          (unsigned long)r->local, (unsigned long)r->lo, (unsigned long)r->hi);
    CHECK(r->nested_local >= r->lo && r->nested_local < r->hi,
          "%s: nested local %#lx outside the stack %#lx..%#lx", who, (unsigned long)r->nested_local,
          (unsigned long)r->lo, (unsigned long)r->hi);
}

int main(void)
{
    pthread_attr_t attr;
    pthread_t t, t2;
    struct report r = {.maps = "1 MiB thread"}, r2 = {.maps = "second 1 MiB thread"};

    /* Given stack and guard sizes, joinable. */
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, STACK), 0);
    CHECK_EQ(pthread_attr_setguardsize(&attr, GUARD), 0);
    CHECK_EQ(pthread_create(&t, &attr, probe, &r), 0);
    CHECK_EQ(pthread_create(&t2, &attr, probe, &r2), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(pthread_join(t2, NULL), 0);
    check_holds(&r, "1 MiB thread");
    check_holds(&r2, "second 1 MiB thread");
    CHECK(r.hi - r.lo >= STACK, "stack of %lu bytes, asked for %d", (unsigned long)(r.hi - r.lo), STACK);
    CHECK_EQ(r.guard, GUARD);
    CHECK_EQ(r.detach, PTHREAD_CREATE_JOINABLE);
    CHECK(r2.hi <= r.lo || r.hi <= r2.lo, "two live threads' stacks overlap");

    /* Created detached: the thread's own view, then the creator's. */
    CHECK_EQ(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED), 0);
    atomic_store(&done, 0);
    CHECK_EQ(pthread_create(&t, &attr, probe_done, &r), 0);
    wait_flag(&done, "detached thread done");
    check_holds(&r, "detached thread");
    CHECK_EQ(r.detach, PTHREAD_CREATE_DETACHED);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    /* Detached by pthread_detach(self). */
    atomic_store(&done, 0);
    r = (struct report){0};
    CHECK_EQ(pthread_create(&t, NULL, detach_self, &r), 0);
    wait_flag(&done, "self-detached thread done");
    check_holds(&r, "self-detached thread");
    CHECK_EQ(r.detach, PTHREAD_CREATE_DETACHED);

    /* The creator's view of running threads, joinable and detached. */
    for (int detached = 0; detached < 2; detached++) {
        CHECK_EQ(pthread_attr_init(&attr), 0);
        CHECK_EQ(pthread_attr_setstacksize(&attr, STACK), 0);
        CHECK_EQ(pthread_attr_setguardsize(&attr, GUARD), 0);
        CHECK_EQ(pthread_attr_setdetachstate(&attr, detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE),
                 0);
        atomic_store(&go, 0);
        atomic_store(&running, 0);
        atomic_store(&done, 0);
        CHECK_EQ(pthread_create(&t, &attr, wait_go, NULL), 0);
        wait_flag(&running, "started");
        r = (struct report){0};
        getattr(t, &r);
        CHECK(r.hi - r.lo >= STACK, "creator sees a stack of %lu bytes", (unsigned long)(r.hi - r.lo));
        CHECK_EQ(r.guard, GUARD);
        CHECK_EQ(r.detach, detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
        atomic_store(&go, 1);
        if (detached)
            wait_flag(&done, "detached thread done");
        else
            CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK_EQ(pthread_attr_destroy(&attr), 0);
    }

    /* Default attributes. */
    r = (struct report){.maps = "default thread"};
    CHECK_EQ(pthread_create(&t, NULL, probe, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    check_holds(&r, "default thread");
    CHECK_EQ(r.detach, PTHREAD_CREATE_JOINABLE);

    /* A caller-supplied stack is reported exactly, with no guard. */
    size_t usize = 256 * 1024;
    char *ustack = malloc(usize);
    CHECK(ustack != NULL, "malloc");
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstack(&attr, ustack, usize), 0);
    r = (struct report){0};
    CHECK_EQ(pthread_create(&t, &attr, probe, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    check_holds(&r, "thread on a caller-supplied stack");
    CHECK(r.lo == (uintptr_t)ustack && r.hi == (uintptr_t)ustack + usize,
          "caller-supplied stack %p..%p reported as %#lx..%#lx", (void *)ustack, (void *)(ustack + usize),
          (unsigned long)r.lo, (unsigned long)r.hi);
    CHECK_EQ(r.guard, 0);
    free(ustack);

    /* The main thread. */
    r = (struct report){0};
    probe(&r);
    check_holds(&r, "main thread");
    CHECK_EQ(r.detach, PTHREAD_CREATE_JOINABLE);

    /* Signal mask attribute. */
    sigset_t set, got;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_getsigmask_np(&attr, &got), PTHREAD_ATTR_NO_SIGMASK_NP);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN + 1);
    CHECK_EQ(pthread_attr_setsigmask_np(&attr, &set), 0);
    sigemptyset(&got);
    CHECK_EQ(pthread_attr_getsigmask_np(&attr, &got), 0);
    for (int s = 1; s < NSIG; s++)
        if (s != 32 && s != 33) /* glibc-internal signals, not settable */
            CHECK(sigismember(&got, s) == sigismember(&set, s), "signal %d: set %d, got %d", s,
                  sigismember(&set, s), sigismember(&got, s));
    CHECK_EQ(pthread_create(&t, &attr, probe, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(pthread_attr_setsigmask_np(&attr, NULL), 0);
    CHECK_EQ(pthread_attr_getsigmask_np(&attr, &got), PTHREAD_ATTR_NO_SIGMASK_NP);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    printf("getattr: stacks hold their locals, sizes, guards, detach states and signal masks as set\n");
    return 0;
}
