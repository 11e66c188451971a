/*
 * C11 <threads.h> synchronisation, with glibc 2.36's return codes:
 *  - mtx_init with mtx_plain, mtx_timed, mtx_recursive (== mtx_plain |
 *    mtx_recursive) and mtx_timed | mtx_recursive: thrd_success;
 *  - plain/timed: mtx_trylock by the holder and by another thread is
 *    thrd_busy; mtx_timedlock from another thread times out with
 *    thrd_timedout after 50 ms (TIME_UTC, never early), or at once for a past
 *    deadline; an invalid tv_nsec there is thrd_error; when the mutex is free
 *    mtx_timedlock takes it;
 *  - recursive: lock, trylock and timedlock by the holder succeed; it stays
 *    held until as many unlocks;
 *  - cnd_signal / cnd_broadcast with predicate loops (a ping-pong, and 8
 *    waiters released by one broadcast); cnd_timedwait returns thrd_timedout
 *    no earlier than the deadline with the mutex held again, at once for a
 *    past deadline, thrd_error for an invalid tv_nsec;
 *  - call_once from 16 threads runs its function exactly once, and every
 *    caller returns after it finished;
 *  - 8 threads x 20000 increments under mtx_lock give the exact total.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define TIMEOUT_MS 50

static struct timespec utc_in(long ms)
{
    struct timespec t;
    CHECK_EQ(timespec_get(&t, TIME_UTC), TIME_UTC);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void check_timed_out(struct timespec deadline, struct timespec start)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    int64_t late = ns(t) - ns(deadline);
    int64_t took = ns(t) - ns(start);
    CHECK(late >= 0, "returned %lld ns before the deadline", (long long)-late);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
}

/* ---- running one call in another thread ------------------------------------------------ */

typedef int (*mtx_op)(mtx_t *m);

struct op_call {
    mtx_op fn;
    mtx_t *m;
};

static int op_thread(void *arg)
{
    struct op_call *c = arg;
    return c->fn(c->m);
}

static int in_other_thread(mtx_op fn, mtx_t *m)
{
    struct op_call c = {fn, m};
    thrd_t t;
    int res = -1;
    CHECK_EQ(thrd_create(&t, op_thread, &c), thrd_success);
    CHECK_EQ(thrd_join(t, &res), thrd_success);
    return res;
}

static int op_trylock(mtx_t *m)
{
    int rc = mtx_trylock(m);
    if (rc == thrd_success)
        CHECK_EQ(mtx_unlock(m), thrd_success);
    return rc;
}

static int op_timedlock_past(mtx_t *m)
{
    struct timespec past = {0, 0};
    return mtx_timedlock(m, &past);
}

static int op_timedlock_50ms(mtx_t *m)
{
    struct timespec start = utc_in(0), d = utc_in(TIMEOUT_MS);
    int rc = mtx_timedlock(m, &d);
    if (rc == thrd_timedout)
        check_timed_out(d, start);
    return rc;
}

static int op_timedlock_bad(mtx_t *m)
{
    struct timespec bad = utc_in(1000);
    bad.tv_nsec = 1000000000L;
    return mtx_timedlock(m, &bad);
}

/* ---- mutexes ------------------------------------------------------------------------ */

static void check_mutex(int type)
{
    int rec = (type & mtx_recursive) != 0;
    mtx_t m;
    struct timespec past = {0, 0};
    CHECK_EQ(mtx_init(&m, type), thrd_success);
    CHECK_EQ(in_other_thread(op_trylock, &m), thrd_success);
    CHECK_EQ(mtx_lock(&m), thrd_success);
    if (rec) {
        CHECK_EQ(mtx_trylock(&m), thrd_success);
        CHECK_EQ(mtx_timedlock(&m, &past), thrd_success);
        CHECK_EQ(mtx_lock(&m), thrd_success);
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(in_other_thread(op_trylock, &m), thrd_busy);
            CHECK_EQ(mtx_unlock(&m), thrd_success);
        }
    } else {
        CHECK_EQ(mtx_trylock(&m), thrd_busy);
    }
    CHECK_EQ(in_other_thread(op_trylock, &m), thrd_busy);
    CHECK_EQ(in_other_thread(op_timedlock_past, &m), thrd_timedout);
    CHECK_EQ(in_other_thread(op_timedlock_50ms, &m), thrd_timedout);
    CHECK_EQ(in_other_thread(op_timedlock_bad, &m), thrd_error);
    CHECK_EQ(mtx_unlock(&m), thrd_success);
    CHECK_EQ(in_other_thread(op_trylock, &m), thrd_success);
    struct timespec d = utc_in(1000);
    CHECK_EQ(mtx_timedlock(&m, &d), thrd_success);
    CHECK_EQ(in_other_thread(op_trylock, &m), thrd_busy);
    CHECK_EQ(mtx_unlock(&m), thrd_success);
    mtx_destroy(&m);
}

#define THREADS 8
#define ITERS 20000
static mtx_t cmu;
static long counter;

static int incrementer(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        CHECK_EQ(mtx_lock(&cmu), thrd_success);
        long v = counter;
        if ((i & 255) == 0)
            thrd_yield();
        counter = v + 1;
        CHECK_EQ(mtx_unlock(&cmu), thrd_success);
    }
    return 0;
}

static void contention(void)
{
    CHECK_EQ(mtx_init(&cmu, mtx_plain), thrd_success);
    thrd_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(thrd_create(&t[i], incrementer, NULL), thrd_success);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(thrd_join(t[i], NULL), thrd_success);
    CHECK_EQ(counter, (long)THREADS * ITERS);
    mtx_destroy(&cmu);
}

/* ---- condition variables ------------------------------------------------------------- */

#define ROUNDS 1000
static mtx_t mu;
static cnd_t cv;
static int turn, pp_count;

static int ping(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(mtx_lock(&mu), thrd_success);
        while (turn != me)
            CHECK_EQ(cnd_wait(&cv, &mu), thrd_success);
        CHECK_EQ(pp_count % 2, me);
        pp_count++;
        turn = 1 - me;
        CHECK_EQ(cnd_signal(&cv), thrd_success);
        CHECK_EQ(mtx_unlock(&mu), thrd_success);
    }
    return 0;
}

#define WAITERS 8
static int waiting, generation, woken;
static cnd_t progress;

static int bc_waiter(void *arg)
{
    CHECK_EQ(mtx_lock(&mu), thrd_success);
    int gen = generation;
    waiting++;
    CHECK_EQ(cnd_signal(&progress), thrd_success);
    while (generation == gen)
        CHECK_EQ(cnd_wait(&cv, &mu), thrd_success);
    woken++;
    CHECK_EQ(mtx_unlock(&mu), thrd_success);
    return 0;
}

static int other_trylock_mu(void *arg)
{
    return mtx_trylock(&mu);
}

static void conditions(void)
{
    CHECK_EQ(mtx_init(&mu, mtx_timed), thrd_success);
    CHECK_EQ(cnd_init(&cv), thrd_success);
    CHECK_EQ(cnd_init(&progress), thrd_success);

    thrd_t a, b;
    CHECK_EQ(thrd_create(&a, ping, (void *)0), thrd_success);
    CHECK_EQ(thrd_create(&b, ping, (void *)1), thrd_success);
    CHECK_EQ(thrd_join(a, NULL), thrd_success);
    CHECK_EQ(thrd_join(b, NULL), thrd_success);
    CHECK_EQ(pp_count, 2 * ROUNDS);

    thrd_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        CHECK_EQ(thrd_create(&t[i], bc_waiter, NULL), thrd_success);
    CHECK_EQ(mtx_lock(&mu), thrd_success);
    while (waiting < WAITERS)
        CHECK_EQ(cnd_wait(&progress, &mu), thrd_success);
    generation++;
    CHECK_EQ(cnd_broadcast(&cv), thrd_success);
    CHECK_EQ(mtx_unlock(&mu), thrd_success);
    for (int i = 0; i < WAITERS; i++)
        CHECK_EQ(thrd_join(t[i], NULL), thrd_success);
    CHECK_EQ(woken, WAITERS);

    /* Timeouts: nobody signals. */
    CHECK_EQ(cnd_signal(&cv), thrd_success);        /* not remembered */
    CHECK_EQ(cnd_broadcast(&cv), thrd_success);
    CHECK_EQ(mtx_lock(&mu), thrd_success);
    struct timespec start = utc_in(0), d = utc_in(TIMEOUT_MS);
    CHECK_EQ(cnd_timedwait(&cv, &mu, &d), thrd_timedout);
    check_timed_out(d, start);
    CHECK_EQ(mtx_trylock(&mu), thrd_busy);
    thrd_t o;
    int res = -1;
    CHECK_EQ(thrd_create(&o, other_trylock_mu, NULL), thrd_success);
    CHECK_EQ(thrd_join(o, &res), thrd_success);
    CHECK_EQ(res, thrd_busy);                       /* held again, by us */
    struct timespec past = {0, 0};
    CHECK_EQ(cnd_timedwait(&cv, &mu, &past), thrd_timedout);
    struct timespec bad = utc_in(1000);
    bad.tv_nsec = 1000000000L;
    CHECK_EQ(cnd_timedwait(&cv, &mu, &bad), thrd_error);
    CHECK_EQ(mtx_trylock(&mu), thrd_busy);
    CHECK_EQ(mtx_unlock(&mu), thrd_success);
    CHECK_EQ(in_other_thread(op_trylock, &mu), thrd_success);

    cnd_destroy(&cv);
    cnd_destroy(&progress);
    mtx_destroy(&mu);
}

/* ---- call_once ------------------------------------------------------------------------- */

#define ONCE_THREADS 16
static once_flag flag = ONCE_FLAG_INIT;
static atomic_int once_runs, once_finished, once_go;

static void once_fn(void)
{
    atomic_fetch_add(&once_runs, 1);
    for (int i = 0; i < 500; i++)
        thrd_yield();
    atomic_store(&once_finished, 1);
}

static int once_caller(void *arg)
{
    while (!atomic_load(&once_go))
        thrd_yield();
    call_once(&flag, once_fn);
    CHECK(atomic_load(&once_finished), "call_once returned before the function finished");
    return 0;
}

static void once(void)
{
    thrd_t t[ONCE_THREADS];
    for (int i = 0; i < ONCE_THREADS; i++)
        CHECK_EQ(thrd_create(&t[i], once_caller, NULL), thrd_success);
    atomic_store(&once_go, 1);
    for (int i = 0; i < ONCE_THREADS; i++)
        CHECK_EQ(thrd_join(t[i], NULL), thrd_success);
    call_once(&flag, once_fn);
    CHECK_EQ(atomic_load(&once_runs), 1);
}

int main(void)
{
    CHECK_EQ(mtx_plain | mtx_recursive, mtx_recursive);
    check_mutex(mtx_plain);
    check_mutex(mtx_timed);
    check_mutex(mtx_recursive);
    check_mutex(mtx_plain | mtx_recursive);
    check_mutex(mtx_timed | mtx_recursive);
    contention();
    conditions();
    once();
    printf("C11: mtx plain/timed/recursive, cnd signal/broadcast/timedwait, call_once x %d, "
           "%d x %d increments; codes as glibc\n", ONCE_THREADS, THREADS, ITERS);
    return 0;
}
