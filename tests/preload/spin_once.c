/*
 * Spinlocks and pthread_once.
 *  - 8 threads x 20000 increments under a pthread_spinlock_t give the exact
 *    total; some critical sections yield (sched_yield), so on one CPU a
 *    spinner must let the holder run. trylock is EBUSY while it is held, from
 *    the holder and from another thread.
 *  - pthread_once: 32 threads released together race on one once_control;
 *    the init routine (which yields 1000 times halfway) runs exactly once,
 *    and every caller returns only after it has finished.
 *  - An init routine that ends its thread (pthread_exit, as cancellation
 *    would) leaves the once not done: a thread already waiting in
 *    pthread_once, or the next caller, runs init again; after that the once
 *    is done for good (glibc resets it from a cleanup handler).
 *  - 16 once_controls statically PTHREAD_ONCE_INIT in an array, each called
 *    by 8 threads: each init runs exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        sched_yield();
}

/* ---- spinlock ------------------------------------------------------------------ */

#define SPIN_THREADS 8
#define SPIN_ITERS 20000

static pthread_spinlock_t spin;
static volatile long spin_counter;

static void *spinner(void *arg)
{
    for (int i = 0; i < SPIN_ITERS; i++) {
        if ((i & 3) == 0) {
            int rc;
            while ((rc = pthread_spin_trylock(&spin)) == EBUSY)
                sched_yield();
            CHECK_EQ(rc, 0);
        } else {
            CHECK_EQ(pthread_spin_lock(&spin), 0);
        }
        long v = spin_counter;
        if ((i & 1023) == 0)
            sched_yield();      /* the others spin meanwhile */
        spin_counter = v + 1;
        CHECK_EQ(pthread_spin_unlock(&spin), 0);
    }
    return NULL;
}

static void *try_spin(void *arg)
{
    int rc = pthread_spin_trylock(&spin);
    if (rc == 0)
        CHECK_EQ(pthread_spin_unlock(&spin), 0);
    return (void *)(intptr_t)rc;
}

static int try_spin_elsewhere(void)
{
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, try_spin, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    return (int)(intptr_t)r;
}

static void spinlocks(void)
{
    CHECK_EQ(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_spin_trylock(&spin), 0);
    CHECK_EQ(pthread_spin_trylock(&spin), EBUSY);
    CHECK_EQ(try_spin_elsewhere(), EBUSY);
    CHECK_EQ(pthread_spin_unlock(&spin), 0);
    CHECK_EQ(try_spin_elsewhere(), 0);
    CHECK_EQ(pthread_spin_lock(&spin), 0);
    CHECK_EQ(try_spin_elsewhere(), EBUSY);
    CHECK_EQ(pthread_spin_unlock(&spin), 0);

    pthread_t t[SPIN_THREADS];
    for (int i = 0; i < SPIN_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, spinner, NULL), 0);
    for (int i = 0; i < SPIN_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(spin_counter, (long)SPIN_THREADS * SPIN_ITERS);
    CHECK_EQ(pthread_spin_destroy(&spin), 0);
}

/* ---- one once, 32 threads -------------------------------------------------------------- */

#define ONCE_THREADS 32

static pthread_once_t race_once = PTHREAD_ONCE_INIT;
static atomic_int race_inits, race_done, race_go, race_ready;

static void race_init(void)
{
    atomic_fetch_add(&race_inits, 1);
    yield_n(1000);
    atomic_store(&race_done, 1);
}

static void *racer(void *arg)
{
    atomic_fetch_add(&race_ready, 1);
    while (!atomic_load(&race_go))
        sched_yield();
    CHECK_EQ(pthread_once(&race_once, race_init), 0);
    CHECK(atomic_load(&race_done) == 1, "pthread_once returned before init finished");
    CHECK_EQ(atomic_load(&race_inits), 1);
    return NULL;
}

static void once_race(void)
{
    pthread_t t[ONCE_THREADS];
    for (int i = 0; i < ONCE_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, racer, NULL), 0);
    while (atomic_load(&race_ready) < ONCE_THREADS)
        sched_yield();
    atomic_store(&race_go, 1);
    for (int i = 0; i < ONCE_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(pthread_once(&race_once, race_init), 0);
    CHECK_EQ(atomic_load(&race_inits), 1);
}

/* ---- init that exits its thread ------------------------------------------------------------ */

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static atomic_int exit_inits, ok_inits, in_init, b_arrived;

static void init_then_exit(void)
{
    atomic_fetch_add(&exit_inits, 1);
    atomic_store(&in_init, 1);
    while (!atomic_load(&b_arrived))
        sched_yield();
    yield_n(200);               /* B is (very likely) waiting in pthread_once */
    pthread_exit((void *)7);
}

static void init_ok(void)
{
    atomic_fetch_add(&ok_inits, 1);
}

static void *thread_a(void *arg)
{
    pthread_once(&exit_once, init_then_exit);
    CHECK(0, "pthread_once returned after its init routine called pthread_exit");
    return NULL;
}

static void *thread_b(void *arg)
{
    while (!atomic_load(&in_init))
        sched_yield();
    atomic_store(&b_arrived, 1);
    CHECK_EQ(pthread_once(&exit_once, init_ok), 0);
    CHECK_EQ(atomic_load(&ok_inits), 1);
    return NULL;
}

static void *exit_in_init_only(void *arg)
{
    pthread_once((pthread_once_t *)arg, init_then_exit);
    return NULL;
}

static void once_exit(void)
{
    pthread_t a, b;
    void *r;
    CHECK_EQ(pthread_create(&b, NULL, thread_b, NULL), 0);
    CHECK_EQ(pthread_create(&a, NULL, thread_a, NULL), 0);
    CHECK_EQ(pthread_join(a, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(atomic_load(&exit_inits), 1);
    CHECK_EQ(atomic_load(&ok_inits), 1);
    CHECK_EQ(pthread_once(&exit_once, init_ok), 0);
    CHECK_EQ(atomic_load(&ok_inits), 1);

    /* Without a waiter: the next caller (here main) runs init. */
    static pthread_once_t o2 = PTHREAD_ONCE_INIT;
    atomic_store(&b_arrived, 1);
    CHECK_EQ(pthread_create(&a, NULL, exit_in_init_only, &o2), 0);
    CHECK_EQ(pthread_join(a, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    CHECK_EQ(atomic_load(&exit_inits), 2);
    CHECK_EQ(pthread_once(&o2, init_ok), 0);
    CHECK_EQ(atomic_load(&ok_inits), 2);
    CHECK_EQ(pthread_once(&o2, init_ok), 0);
    CHECK_EQ(atomic_load(&ok_inits), 2);
}

/* ---- an array of onces ----------------------------------------------------------------------- */

#define ONCES 16
#define ARRAY_THREADS 8

static pthread_once_t onces[ONCES] = {
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
};
static atomic_int array_count[ONCES];

#define INIT_FN(i)                                                                     \
    static void init_##i(void)                                                         \
    {                                                                                  \
        atomic_fetch_add(&array_count[i], 1);                                          \
        sched_yield();                                                                 \
    }
INIT_FN(0) INIT_FN(1) INIT_FN(2) INIT_FN(3) INIT_FN(4) INIT_FN(5) INIT_FN(6) INIT_FN(7)
INIT_FN(8) INIT_FN(9) INIT_FN(10) INIT_FN(11) INIT_FN(12) INIT_FN(13) INIT_FN(14) INIT_FN(15)

static void (*const inits[ONCES])(void) = {
    init_0, init_1, init_2, init_3, init_4, init_5, init_6, init_7,
    init_8, init_9, init_10, init_11, init_12, init_13, init_14, init_15,
};

static void *array_caller(void *arg)
{
    int start = (int)(intptr_t)arg;
    for (int k = 0; k < ONCES; k++) {
        int i = (start + k) % ONCES;
        CHECK_EQ(pthread_once(&onces[i], inits[i]), 0);
        CHECK_EQ(atomic_load(&array_count[i]), 1);
    }
    return NULL;
}

static void once_array(void)
{
    pthread_t t[ARRAY_THREADS];
    for (int i = 0; i < ARRAY_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, array_caller, (void *)(intptr_t)(i * 2)), 0);
    for (int i = 0; i < ARRAY_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < ONCES; i++)
        CHECK_EQ(atomic_load(&array_count[i]), 1);
}

int main(void)
{
    spinlocks();
    once_race();
    once_exit();
    once_array();
    printf("spinlock: %d x %d increments exact; once: 1 init for %d racers, init ending its "
           "thread leaves the once to the next caller, %d onces in an array\n",
           SPIN_THREADS, SPIN_ITERS, ONCE_THREADS, ONCES);
    return 0;
}
