/*
 * Detached threads: created detached (attribute), detached by the creator
 * right after pthread_create (running or already finished), detached by
 * another thread, and detaching themselves; ending by return and by
 * pthread_exit; detached threads creating detached threads (a tree). Each
 * one counts itself in an atomic counter and the main thread waits for the
 * count by yielding (bounded by a number of yields, not by time). A thread
 * sees itself as detached in pthread_getattr_np, and the destructors of its
 * thread-specific data run as for a joined thread. Joining a detached
 * thread that is still running fails as in glibc: pthread_join and
 * pthread_timedjoin_np with EINVAL, pthread_tryjoin_np with EBUSY (glibc
 * checks "still running" first); the threads are kept alive by spinning on
 * a flag until then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#define N 1000
#define MAX_YIELDS 100000000L

static atomic_int done, destructed, alive_ok;
static atomic_int release;   /* lets the spinning threads finish */
static atomic_int detached_now; /* main has detached the spinners */
static pthread_key_t key;

static void wait_count(atomic_int *c, int n, const char *what)
{
    for (long i = 0; atomic_load(c) < n; i++) {
        CHECK(i < MAX_YIELDS, "%s: %d of %d after %ld yields", what, atomic_load(c), n, i);
        sched_yield();
    }
    CHECK(atomic_load(c) == n, "%s: %d, expected %d", what, atomic_load(c), n);
}

static int self_detached(void)
{
    pthread_attr_t a;
    int state = -1;
    CHECK_EQ(pthread_getattr_np(pthread_self(), &a), 0);
    CHECK_EQ(pthread_attr_getdetachstate(&a, &state), 0);
    pthread_attr_destroy(&a);
    return state == PTHREAD_CREATE_DETACHED;
}

static void count_destructor(void *v)
{
    CHECK((uintptr_t)v == 0x5eed, "destructor value %p", v);
    atomic_fetch_add(&destructed, 1);
}

/* Created detached: counts itself, half of them through pthread_exit. */
static void *born_detached(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    CHECK(self_detached(), "a thread created detached does not see itself detached");
    CHECK_EQ(pthread_setspecific(key, (void *)0x5eed), 0);
    if (i % 3 == 0)
        sched_yield();
    atomic_fetch_add(&done, 1);
    if (i % 2)
        pthread_exit(NULL);
    return NULL;
}

/* Detached by its creator, before or after it finishes. */
static void *plain(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    CHECK_EQ(pthread_setspecific(key, (void *)0x5eed), 0);
    if (i % 2)
        sched_yield();
    atomic_fetch_add(&done, 1);
    return NULL;
}

static void *self_detaching(void *arg)
{
    CHECK(!self_detached(), "a joinable thread sees itself detached");
    CHECK_EQ(pthread_detach(pthread_self()), 0);
    CHECK(self_detached(), "a thread that detached itself does not see itself detached");
    sched_yield();
    atomic_fetch_add(&done, 1);
    return arg;
}

/* Kept alive until main has tried to join it. */
static void *spinner(void *arg)
{
    long i = 0;
    while (!atomic_load(&detached_now)) {
        CHECK(++i < MAX_YIELDS, "spinner: never detached");
        sched_yield();
    }
    if (self_detached())
        atomic_fetch_add(&alive_ok, 1);
    while (!atomic_load(&release)) {
        CHECK(++i < MAX_YIELDS, "spinner: never released");
        sched_yield();
    }
    atomic_fetch_add(&done, 1);
    return arg;
}

/* Detaches another thread, which is spinning. */
static void *detacher(void *arg)
{
    pthread_t *victim = arg;
    CHECK_EQ(pthread_detach(*victim), 0);
    atomic_fetch_add(&done, 1);
    return NULL;
}

/* A tree of detached threads, depth levels below this one. */
static pthread_attr_t detached_attr;
static void *tree(void *arg)
{
    uintptr_t depth = (uintptr_t)arg;
    if (depth > 0) {
        for (int c = 0; c < 2; c++) {
            pthread_t t;
            CHECK_EQ(pthread_create(&t, &detached_attr, tree, (void *)(depth - 1)), 0);
        }
        sched_yield();
    }
    atomic_fetch_add(&done, 1);
    return NULL;
}

static void try_joins(pthread_t t, const char *what)
{
    void *r = (void *)1;
    CHECK(pthread_join(t, &r) == EINVAL && r == (void *)1, "%s: pthread_join did not fail with EINVAL", what);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1000;
    CHECK(pthread_timedjoin_np(t, &r, &ts) == EINVAL, "%s: pthread_timedjoin_np did not fail with EINVAL", what);
    /* glibc's tryjoin tells "still running" (EBUSY) before "detached". */
    CHECK(pthread_tryjoin_np(t, &r) == EBUSY, "%s: pthread_tryjoin_np did not fail with EBUSY", what);
}

int main(void)
{
    CHECK_EQ(pthread_key_create(&key, count_destructor), 0);
    pthread_attr_init(&detached_attr);
    CHECK_EQ(pthread_attr_setdetachstate(&detached_attr, PTHREAD_CREATE_DETACHED), 0);
    pthread_attr_setstacksize(&detached_attr, 256 * 1024);
    int state;
    CHECK(pthread_attr_getdetachstate(&detached_attr, &state) == 0 && state == PTHREAD_CREATE_DETACHED,
          "attribute");
    int expected = 0;

    /* Created detached. */
    for (uintptr_t i = 0; i < N; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, &detached_attr, born_detached, (void *)i), 0);
        if (i % 100 == 0)
            sched_yield();
    }
    expected += N;
    wait_count(&done, expected, "created detached");
    wait_count(&destructed, N, "destructors of threads created detached");

    /* Detached right after creation: some are running, some finished. */
    for (uintptr_t i = 0; i < N; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, plain, (void *)i), 0);
        if (i % 4 == 0)
            sched_yield();
        CHECK_EQ(pthread_detach(t), 0);
    }
    expected += N;
    wait_count(&done, expected, "detached after creation");
    wait_count(&destructed, 2 * N, "destructors of threads detached after creation");

    /* Detaching themselves. */
    for (uintptr_t i = 0; i < N / 10; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, self_detaching, NULL), 0);
    }
    expected += N / 10;
    wait_count(&done, expected, "detached themselves");

    /* Joins of detached threads that are still running: some created
       detached, some detached by main, some by another thread. */
    enum { NS = 12 };
    pthread_t sp[NS];
    for (int i = 0; i < NS; i++) {
        CHECK_EQ(pthread_create(&sp[i], i % 3 == 0 ? &detached_attr : NULL, spinner, NULL), 0);
        sched_yield();
    }
    for (int i = 0; i < NS; i++) {
        if (i % 3 == 1) {
            CHECK_EQ(pthread_detach(sp[i]), 0);
        } else if (i % 3 == 2) {
            pthread_t d;
            CHECK_EQ(pthread_create(&d, NULL, detacher, &sp[i]), 0);
            CHECK_EQ(pthread_join(d, NULL), 0);
            expected++;
        }
    }
    atomic_store(&detached_now, 1);
    for (int i = 0; i < NS; i++)
        try_joins(sp[i], i % 3 == 0 ? "created detached" : i % 3 == 1 ? "detached by main" : "detached by a thread");
    wait_count(&alive_ok, NS, "spinners that see themselves detached");
    atomic_store(&release, 1);
    expected += NS;
    wait_count(&done, expected, "spinners");

    /* A tree of detached threads: 2^9 - 1 of them. */
    pthread_t root;
    CHECK_EQ(pthread_create(&root, &detached_attr, tree, (void *)8), 0);
    expected += (1 << 9) - 1;
    wait_count(&done, expected, "tree of detached threads");

    pthread_attr_destroy(&detached_attr);
    printf("%d detached threads counted themselves (created detached, detached later, by themselves, by "
           "others, a tree); joins of running detached threads fail as in glibc\n",
           expected);
    return 0;
}
