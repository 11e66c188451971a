/*
 * C11 <threads.h> threads:
 *  - thrd_create/thrd_join carry an int result, negative ones included;
 *    joining with a NULL result pointer works;
 *  - thrd_exit(7) from a nested call ends the thread, join gets 7, and
 *    the code after it never runs;
 *  - thrd_current/thrd_equal: a thread's own id equals what thrd_create
 *    gave, differs from main's and from another thread's;
 *  - thrd_detach: a detached thread runs to its end; thrd_yield lets
 *    threads take turns (waits are thrd_yield loops);
 *  - tss_create/tss_get/tss_set/tss_delete: a value per thread, NULL in a
 *    new thread, a destructor that runs at thread end with the value;
 *  - thrd_success and thrd_error are what the calls return: thrd_error
 *    for joining self, and for detaching or joining a detached thread
 *    while it runs;
 *  - 1,000 threads created, then joined, each with its own result.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>

#include "check.h"

#define MANY 1000
#define WAIT_BOUND 100000000L

static atomic_int detached_done, after_exit, dtor_runs, go, go_done;
static atomic_long dtor_sum;
static tss_t key;

static void wait_for(atomic_int *f, int n, const char *what)
{
    long spins = 0;
    while (atomic_load(f) < n) {
        thrd_yield();
        CHECK(++spins < WAIT_BOUND, "never: %s", what);
    }
}

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static void exit_deep(int depth);
static void (*volatile deeper)(int) = exit_deep; /* a real call per level */

static void exit_deep(int depth)
{
    if (depth > 0)
        deeper(depth - 1);
    else
        thrd_exit(7);
    atomic_fetch_add(&after_exit, 1);
}

static int exits(void *arg)
{
    exit_deep(5);
    atomic_fetch_add(&after_exit, 1);
    return 99;
}

static int report_self(void *arg)
{
    *(thrd_t *)arg = thrd_current();
    CHECK(thrd_equal(thrd_current(), thrd_current()), "thrd_current differs from itself");
    return 0;
}

static int wait_go(void *arg)
{
    wait_for(&go, 1, "released");
    atomic_store(&go_done, 1);
    return 0;
}

static int detached(void *arg)
{
    for (int i = 0; i < 100; i++)
        thrd_yield();
    atomic_fetch_add(&detached_done, 1);
    return 0;
}

static void dtor(void *v)
{
    atomic_fetch_add(&dtor_runs, 1);
    atomic_fetch_add(&dtor_sum, (long)(intptr_t)v);
}

static int tss_user(void *arg)
{
    intptr_t id = (intptr_t)arg;
    CHECK(tss_get(key) == NULL, "thread %ld: a new thread's tss value is %p", (long)id, tss_get(key));
    CHECK_EQ(tss_set(key, (void *)id), thrd_success);
    for (int i = 0; i < 50; i++) {
        thrd_yield();
        CHECK((intptr_t)tss_get(key) == id, "thread %ld: tss value %p", (long)id, tss_get(key));
    }
    return 0;
}

int main(void)
{
    thrd_t t, seen;
    int res;

    /* Results, including negative ones and none. */
    CHECK_EQ(thrd_create(&t, ret_arg, (void *)(intptr_t)12345), thrd_success);
    CHECK_EQ(thrd_join(t, &res), thrd_success);
    CHECK_EQ(res, 12345);
    CHECK_EQ(thrd_create(&t, ret_arg, (void *)(intptr_t)-3), thrd_success);
    CHECK_EQ(thrd_join(t, &res), thrd_success);
    CHECK_EQ(res, -3);
    CHECK_EQ(thrd_create(&t, ret_arg, (void *)(intptr_t)1), thrd_success);
    CHECK_EQ(thrd_join(t, NULL), thrd_success);

    /* thrd_exit from a nested call. */
    CHECK_EQ(thrd_create(&t, exits, NULL), thrd_success);
    CHECK_EQ(thrd_join(t, &res), thrd_success);
    CHECK_EQ(res, 7);
    CHECK_EQ(atomic_load(&after_exit), 0);

    /* Identity. */
    CHECK_EQ(thrd_create(&t, report_self, &seen), thrd_success);
    CHECK_EQ(thrd_join(t, NULL), thrd_success);
    CHECK(thrd_equal(t, seen), "thrd_current() in a thread differs from what thrd_create gave");
    CHECK(!thrd_equal(t, thrd_current()), "a thread equals main");
    thrd_t t2, seen2;
    CHECK_EQ(thrd_create(&t2, report_self, &seen2), thrd_success);
    CHECK(!thrd_equal(t2, thrd_current()), "a running thread equals main");
    CHECK_EQ(thrd_join(t2, NULL), thrd_success);
    CHECK(thrd_equal(t2, seen2), "second thread's identity");
    CHECK(thrd_equal(thrd_current(), thrd_current()), "main differs from itself");

    /* Detached threads run to their end. */
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(thrd_create(&t, detached, NULL), thrd_success);
        CHECK_EQ(thrd_detach(t), thrd_success);
    }
    wait_for(&detached_done, 8, "detached threads done");

    /* Thread-specific storage. */
    CHECK_EQ(tss_create(&key, dtor), thrd_success);
    CHECK(tss_get(key) == NULL, "main's tss value starts at %p", tss_get(key));
    CHECK_EQ(tss_set(key, (void *)(intptr_t)1000), thrd_success);
    thrd_t ts[16];
    for (intptr_t i = 0; i < 16; i++)
        CHECK_EQ(thrd_create(&ts[i], tss_user, (void *)(i + 1)), thrd_success);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(thrd_join(ts[i], NULL), thrd_success);
    CHECK_EQ(atomic_load(&dtor_runs), 16);
    CHECK_EQ(atomic_load(&dtor_sum), 16 * 17 / 2);
    CHECK_EQ((intptr_t)tss_get(key), 1000);
    tss_delete(key);

    /* Many threads alive at once. */
    static thrd_t many[MANY];
    for (intptr_t i = 0; i < MANY; i++)
        CHECK_EQ(thrd_create(&many[i], ret_arg, (void *)(i * 7 - 500)), thrd_success);
    for (int i = 0; i < MANY; i++) {
        CHECK_EQ(thrd_join(many[i], &res), thrd_success);
        CHECK_EQ(res, i * 7 - 500);
    }

    /* thrd_error: joining self; detaching or joining a detached thread
       while it runs (pthread's EDEADLK and EINVAL, mapped by glibc). */
    CHECK_EQ(thrd_join(thrd_current(), &res), thrd_error);
    CHECK_EQ(thrd_create(&t, wait_go, NULL), thrd_success);
    CHECK_EQ(thrd_detach(t), thrd_success);
    CHECK_EQ(thrd_detach(t), thrd_error);
    CHECK_EQ(thrd_join(t, &res), thrd_error);
    atomic_store(&go, 1);
    wait_for(&go_done, 1, "released thread done");

    printf("C11 threads: results, thrd_exit, identity, detach, tss, %d threads\n", MANY);
    return 0;
}
