/*
 * The error codes glibc defines for thread calls (the native run is the
 * reference), and the attributes that must work:
 *  - pthread_join(pthread_self()) is EDEADLK;
 *  - a thread created detached, while it runs: pthread_join and
 *    pthread_detach are EINVAL, pthread_tryjoin_np EBUSY (glibc tests
 *    "still running" before "detached");
 *  - pthread_tryjoin_np is EBUSY while the thread runs, 0 (with its
 *    result) once it has finished;
 *  - attributes: stack size below PTHREAD_STACK_MIN, detach state 42,
 *    scheduling policy 42, inherit-sched 42, scope 42 and a priority that
 *    SCHED_OTHER does not have are EINVAL, PTHREAD_SCOPE_PROCESS is
 *    ENOTSUP; each leaves the attribute as it was;
 *  - pthread_create with a 128 TiB stack is EAGAIN (no memory), with a
 *    stack whose size plus guard wraps around is EINVAL, and nothing
 *    crashes;
 *  - a caller-supplied stack (pthread_attr_setstack, 256 KiB from
 *    malloc) is the one the thread runs on, and is reusable once joined;
 *  - a guard size is accepted, read back, and a thread created with it
 *    runs;
 *  - pthread_setname_np with 16 characters or more, pthread_getname_np
 *    with a buffer under 16 bytes are ERANGE (also on another thread);
 *  - pthread_equal tells threads apart.
 * Joining a thread twice, or a finished detached thread, is undefined and
 * not tested.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

#define WAIT_BOUND 100000000L

static atomic_int go;        /* releases the running threads */
static atomic_int running;   /* a thread has started */
static atomic_int done;      /* the detached thread is about to return */

static void wait_flag(atomic_int *f, const char *what)
{
    long spins = 0;
    while (!atomic_load(f)) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "never: %s", what);
    }
}

static void *wait_go(void *arg)
{
    atomic_store(&running, 1);
    wait_flag(&go, "released");
    atomic_store(&done, 1);
    return arg;
}

static void *ret_arg(void *arg)
{
    return arg;
}

static void *stack_probe(void *arg)
{
    volatile char local = 1;
    *(uintptr_t *)arg = (uintptr_t)&local;
    return NULL;
}

static void *self_id(void *arg)
{
    *(pthread_t *)arg = pthread_self();
    return NULL;
}

static void start(pthread_attr_t *attr, pthread_t *t, void *arg)
{
    atomic_store(&go, 0);
    atomic_store(&running, 0);
    atomic_store(&done, 0);
    CHECK_EQ(pthread_create(t, attr, wait_go, arg), 0);
    wait_flag(&running, "started");
}

int main(void)
{
    pthread_t t;
    pthread_attr_t attr;
    void *r;

    /* Self-join. */
    CHECK_EQ(pthread_join(pthread_self(), NULL), EDEADLK);

    /* A detached thread, while it runs. */
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED), 0);
    start(&attr, &t, NULL);
    CHECK_EQ(pthread_join(t, &r), EINVAL);
    CHECK_EQ(pthread_detach(t), EINVAL);
    CHECK_EQ(pthread_tryjoin_np(t, &r), EBUSY); /* glibc checks "running" first */
    atomic_store(&go, 1);
    wait_flag(&done, "detached thread done");
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    /* tryjoin: busy while running, then the result. */
    start(NULL, &t, (void *)0x5a);
    CHECK_EQ(pthread_tryjoin_np(t, &r), EBUSY);
    atomic_store(&go, 1);
    long spins = 0;
    int rc;
    while ((rc = pthread_tryjoin_np(t, &r)) == EBUSY) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "tryjoin stays EBUSY");
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ((uintptr_t)r, 0x5a);

    /* Attribute setters reject what glibc rejects, and keep the value. */
    CHECK_EQ(pthread_attr_init(&attr), 0);
    size_t sz;
    CHECK_EQ(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN - 1), EINVAL);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 0), EINVAL);
    CHECK_EQ(pthread_attr_getstacksize(&attr, &sz), 0);
    CHECK_EQ(sz, (size_t)PTHREAD_STACK_MIN);
    int v;
    CHECK_EQ(pthread_attr_setdetachstate(&attr, 42), EINVAL);
    CHECK_EQ(pthread_attr_getdetachstate(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_CREATE_JOINABLE);
    CHECK_EQ(pthread_attr_setschedpolicy(&attr, 42), EINVAL);
    CHECK_EQ(pthread_attr_getschedpolicy(&attr, &v), 0);
    CHECK_EQ(v, SCHED_OTHER);
    CHECK_EQ(pthread_attr_setinheritsched(&attr, 42), EINVAL);
    CHECK_EQ(pthread_attr_getinheritsched(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_INHERIT_SCHED);
    CHECK_EQ(pthread_attr_setscope(&attr, 42), EINVAL);
    CHECK_EQ(pthread_attr_setscope(&attr, PTHREAD_SCOPE_PROCESS), ENOTSUP);
    CHECK_EQ(pthread_attr_getscope(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_SCOPE_SYSTEM);
    struct sched_param sp = {.sched_priority = 5};
    CHECK_EQ(pthread_attr_setschedparam(&attr, &sp), EINVAL);
    CHECK_EQ(pthread_attr_getschedparam(&attr, &sp), 0);
    CHECK_EQ(sp.sched_priority, 0);
    /* The attribute still creates a thread. */
    CHECK_EQ(pthread_create(&t, &attr, ret_arg, (void *)7), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((uintptr_t)r, 7);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    /* Stacks that cannot be had. */
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, (size_t)1 << 47), 0);
    CHECK_EQ(pthread_create(&t, &attr, ret_arg, NULL), EAGAIN);
    /* Page-aligned, plus a one-page guard: wraps around to 0. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    CHECK_EQ(pthread_attr_setguardsize(&attr, page), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, SIZE_MAX & ~(page - 1)), 0);
    CHECK_EQ(pthread_create(&t, &attr, ret_arg, NULL), EINVAL);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    /* A caller-supplied stack, twice. */
    size_t ssize = 256 * 1024;
    char *stack = malloc(ssize); /* 16-byte aligned only */
    CHECK(stack != NULL, "malloc");
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstack(&attr, stack, ssize), 0);
    void *sa;
    CHECK_EQ(pthread_attr_getstack(&attr, &sa, &sz), 0);
    CHECK(sa == stack && sz == ssize, "getstack %p/%zu, set %p/%zu", sa, sz, (void *)stack, ssize);
    for (int k = 0; k < 2; k++) {
        uintptr_t local = 0;
        CHECK_EQ(pthread_create(&t, &attr, stack_probe, &local), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK(local >= (uintptr_t)stack && local < (uintptr_t)stack + ssize,
              "local at %#lx, outside the stack %p..%p", (unsigned long)local,
              (void *)stack, (void *)(stack + ssize));
    }
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    free(stack);

    /* Guard size. */
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_getguardsize(&attr, &sz), 0);
    CHECK(sz > 0, "default guard size is 0");
    CHECK_EQ(pthread_attr_setguardsize(&attr, 64 * 1024), 0);
    CHECK_EQ(pthread_attr_getguardsize(&attr, &sz), 0);
    CHECK_EQ(sz, 64 * 1024);
    CHECK_EQ(pthread_create(&t, &attr, ret_arg, (void *)9), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((uintptr_t)r, 9);
    CHECK_EQ(pthread_attr_setguardsize(&attr, 0), 0);
    CHECK_EQ(pthread_create(&t, &attr, ret_arg, (void *)10), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((uintptr_t)r, 10);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);

    /* Names: ERANGE on self and on a running thread. */
    char buf[32];
    const char *long_name = "0123456789abcdef"; /* 16 characters */
    CHECK_EQ(pthread_setname_np(pthread_self(), long_name), ERANGE);
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, 15), ERANGE);
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, 16), 0);
    start(NULL, &t, NULL);
    CHECK_EQ(pthread_setname_np(t, long_name), ERANGE);
    CHECK_EQ(pthread_getname_np(t, buf, 15), ERANGE);
    CHECK_EQ(pthread_getname_np(t, buf, 1), ERANGE);
    CHECK_EQ(pthread_getname_np(t, buf, 16), 0);

    /* pthread_equal, with that thread still running. */
    CHECK(pthread_equal(pthread_self(), pthread_self()), "self differs from self");
    CHECK(!pthread_equal(t, pthread_self()), "a thread equals main");
    pthread_t copy = t;
    CHECK(pthread_equal(t, copy), "a copy of a pthread_t differs");
    atomic_store(&go, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_t seen;
    CHECK_EQ(pthread_create(&t, NULL, self_id, &seen), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(pthread_equal(t, seen), "pthread_self() in a thread differs from what pthread_create returned");

    printf("thread error codes as glibc's; caller stacks, guard sizes and names checked\n");
    return 0;
}
