/*
 * Read-write locks, as glibc 2.36 runs them:
 *  - 8 readers hold one at once (each counts itself in while holding it and
 *    waits for all 8); meanwhile trywrlock is EBUSY, tryrdlock succeeds, and
 *    timed/clock write locks time out (ETIMEDOUT, never early);
 *  - a writer excludes: from another thread tryrdlock and trywrlock are
 *    EBUSY and timedrdlock/timedwrlock/clockrdlock/clockwrlock (both clocks)
 *    time out, never early; the writer itself gets EDEADLK from wrlock,
 *    rdlock and the timed forms, EBUSY from the try forms;
 *  - PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: once a writer waits, new
 *    readers are held back (tryrdlock EBUSY, even for a thread that holds a
 *    read lock; a timed read lock times out), and the writer gets the lock
 *    when the reader leaves;
 *  - the default kind (PREFER_READER_NP): a reader that holds the lock can
 *    take it again while a writer waits, and so can another thread;
 *  - past deadlines and a negative tv_sec: ETIMEDOUT; tv_nsec outside
 *    [0, 1e9) is EINVAL even when the lock is free (unlike mutexes); a clock
 *    other than REALTIME/MONOTONIC is EINVAL;
 *  - pthread_rwlock_unlock of an unlocked rwlock returns 0 (glibc does not
 *    check; the lock is then corrupt and is not used again);
 *  - rwlockattr: kind and pshared round-trip, 99 and -1 are EINVAL;
 *  - 4 writers x 20000 updates of two counters (yielding between the two
 *    writes now and then) and 4 readers x 20000 reads: no reader ever sees
 *    them differ, and the totals are exact.
 * Whether the default-kind writer is really waiting when the reader relocks
 * is not checked (it has announced itself and been given many yields); the
 * result required is the same either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define TIMEOUT_MS 50
#define READERS 8

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        sched_yield();
}

/* Yields until *v reaches want; fails after 10 s. */
static void await_count(atomic_int *v, int want, const char *what)
{
    struct timespec bound = add_ms(now(CLOCK_MONOTONIC), 10000);
    while (atomic_load(v) < want) {
        CHECK(ns(now(CLOCK_MONOTONIC)) < ns(bound), "%s: %d of %d after 10 s", what, atomic_load(v), want);
        sched_yield();
    }
}

/* A timed lock (kind: 'r' or 'w'; api: 0 timed (CLOCK_REALTIME), 1 clock)
   that must time out after 50 ms, never early. */
static void timed_out(pthread_rwlock_t *rw, char kind, int api, clockid_t clock)
{
    if (api == 0)
        clock = CLOCK_REALTIME;
    struct timespec start = now(CLOCK_MONOTONIC);
    struct timespec d = add_ms(now(clock), TIMEOUT_MS);
    int rc;
    if (kind == 'r')
        rc = api == 0 ? pthread_rwlock_timedrdlock(rw, &d) : pthread_rwlock_clockrdlock(rw, clock, &d);
    else
        rc = api == 0 ? pthread_rwlock_timedwrlock(rw, &d) : pthread_rwlock_clockwrlock(rw, clock, &d);
    CHECK_EQ(rc, ETIMEDOUT);
    int64_t late = ns(now(clock)) - ns(d);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(start);
    CHECK(late >= 0, "%c lock returned %lld ns before the deadline", kind, (long long)-late);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
}

static void all_timed_out(pthread_rwlock_t *rw, char kind)
{
    timed_out(rw, kind, 0, CLOCK_REALTIME);
    timed_out(rw, kind, 1, CLOCK_MONOTONIC);
    timed_out(rw, kind, 1, CLOCK_REALTIME);
}

static void *in_thread_run(void *arg)
{
    ((void (*)(void))arg)();
    return NULL;
}

static void in_thread(void (*fn)(void))
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, in_thread_run, (void *)fn), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

/* ---- readers share ---------------------------------------------------------------- */

static atomic_int inside, release;

static void *reader(void *arg)
{
    CHECK_EQ(pthread_rwlock_rdlock(&rw), 0);
    atomic_fetch_add(&inside, 1);
    await_count(&inside, READERS, "readers inside together");
    while (!atomic_load(&release))
        sched_yield();
    atomic_fetch_sub(&inside, 1);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static void readers_share(void)
{
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, reader, NULL), 0);
    await_count(&inside, READERS, "readers inside together");
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    CHECK_EQ(pthread_rwlock_tryrdlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    all_timed_out(&rw, 'w');
    CHECK_EQ(atomic_load(&inside), READERS);
    atomic_store(&release, 1);
    for (int i = 0; i < READERS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
}

/* ---- a writer excludes ---------------------------------------------------------------- */

static void others_while_written(void)
{
    CHECK_EQ(pthread_rwlock_tryrdlock(&rw), EBUSY);
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    struct timespec past = {0, 0}, negative = {-1, 0};
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &past), ETIMEDOUT);
    CHECK_EQ(pthread_rwlock_timedwrlock(&rw, &past), ETIMEDOUT);
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &negative), ETIMEDOUT);
    CHECK_EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    all_timed_out(&rw, 'r');
    all_timed_out(&rw, 'w');
}

static void writer_excludes(void)
{
    struct timespec past = {0, 0};
    CHECK_EQ(pthread_rwlock_wrlock(&rw), 0);
    in_thread(others_while_written);
    CHECK_EQ(pthread_rwlock_wrlock(&rw), EDEADLK);
    CHECK_EQ(pthread_rwlock_rdlock(&rw), EDEADLK);
    CHECK_EQ(pthread_rwlock_timedwrlock(&rw, &past), EDEADLK);
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &past), EDEADLK);
    CHECK_EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past), EDEADLK);
    CHECK_EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past), EDEADLK);
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    CHECK_EQ(pthread_rwlock_tryrdlock(&rw), EBUSY);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_rdlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
}

/* ---- bad arguments ------------------------------------------------------------------- */

static void bad_forms(void)
{
    struct timespec bad = add_ms(now(CLOCK_REALTIME), 1000);
    bad.tv_nsec = 1000000000L;
    struct timespec bad_neg = bad;
    bad_neg.tv_nsec = -1;
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &bad), EINVAL);
    CHECK_EQ(pthread_rwlock_timedwrlock(&rw, &bad), EINVAL);
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &bad_neg), EINVAL);
    CHECK_EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &bad), EINVAL);
    CHECK_EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &bad_neg), EINVAL);
    CHECK_EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &fine), EINVAL);
    CHECK_EQ(pthread_rwlock_clockwrlock(&rw, 12345, &fine), EINVAL);
}

static void bad_arguments(void)
{
    /* Free lock: refused, and not taken. */
    bad_forms();
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), 0);
    /* Write-locked by another thread: refused at once. */
    in_thread(bad_forms);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    /* The good forms take it. */
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &fine), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    fine = add_ms(now(CLOCK_REALTIME), 1000);
    CHECK_EQ(pthread_rwlock_timedrdlock(&rw, &fine), 0);
    CHECK_EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_REALTIME, &fine), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);

    /* Unlocking a free rwlock: glibc says 0 (and the lock is spoilt). */
    pthread_rwlock_t spoilt = PTHREAD_RWLOCK_INITIALIZER;
    CHECK_EQ(pthread_rwlock_unlock(&spoilt), 0);
}

/* ---- a waiting writer and new readers -------------------------------------------------- */

static pthread_rwlock_t *wlock;
static atomic_int w_announced, w_got;

static void *waiting_writer(void *arg)
{
    atomic_store(&w_announced, 1);
    CHECK_EQ(pthread_rwlock_wrlock(wlock), 0);
    atomic_store(&w_got, 1);
    CHECK_EQ(pthread_rwlock_unlock(wlock), 0);
    return NULL;
}

static void new_reader_blocked(void)
{
    CHECK_EQ(pthread_rwlock_tryrdlock(wlock), EBUSY);
    timed_out(wlock, 'r', 0, CLOCK_REALTIME);
    timed_out(wlock, 'r', 1, CLOCK_MONOTONIC);
}

static void new_reader_admitted(void)
{
    CHECK_EQ(pthread_rwlock_tryrdlock(wlock), 0);
    CHECK_EQ(pthread_rwlock_unlock(wlock), 0);
    CHECK_EQ(pthread_rwlock_rdlock(wlock), 0);
    CHECK_EQ(pthread_rwlock_unlock(wlock), 0);
}

static void prefer_writer(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlock_t l;
    CHECK_EQ(pthread_rwlockattr_init(&a), 0);
    CHECK_EQ(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
    CHECK_EQ(pthread_rwlock_init(&l, &a), 0);
    CHECK_EQ(pthread_rwlockattr_destroy(&a), 0);
    wlock = &l;
    atomic_store(&w_announced, 0);
    atomic_store(&w_got, 0);

    CHECK_EQ(pthread_rwlock_rdlock(&l), 0);
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, waiting_writer, NULL), 0);
    /* Read locks are granted until the writer waits; then they stop. */
    struct timespec bound = add_ms(now(CLOCK_MONOTONIC), 10000);
    for (;;) {
        int rc = pthread_rwlock_tryrdlock(&l);
        if (rc == EBUSY)
            break;
        CHECK_EQ(rc, 0);
        CHECK_EQ(pthread_rwlock_unlock(&l), 0);
        CHECK(ns(now(CLOCK_MONOTONIC)) < ns(bound), "a waiting writer never held back readers");
        sched_yield();
    }
    in_thread(new_reader_blocked);
    CHECK_EQ(atomic_load(&w_got), 0);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    CHECK_EQ(atomic_load(&w_got), 1);
    CHECK_EQ(pthread_rwlock_destroy(&l), 0);
}

static void prefer_reader(void)
{
    pthread_rwlock_t l;
    CHECK_EQ(pthread_rwlock_init(&l, NULL), 0);
    wlock = &l;
    atomic_store(&w_announced, 0);
    atomic_store(&w_got, 0);

    CHECK_EQ(pthread_rwlock_rdlock(&l), 0);
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, waiting_writer, NULL), 0);
    while (!atomic_load(&w_announced))
        sched_yield();
    for (int i = 0; i < 20; i++) {         /* let it get into wrlock */
        yield_n(10);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    CHECK_EQ(pthread_rwlock_rdlock(&l), 0);
    CHECK_EQ(pthread_rwlock_tryrdlock(&l), 0);
    in_thread(new_reader_admitted);
    CHECK_EQ(atomic_load(&w_got), 0);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(atomic_load(&w_got), 0);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    CHECK_EQ(atomic_load(&w_got), 1);
    CHECK_EQ(pthread_rwlock_destroy(&l), 0);
}

/* ---- attributes ------------------------------------------------------------------------ */

static void attributes(void)
{
    pthread_rwlockattr_t a;
    int v;
    CHECK_EQ(pthread_rwlockattr_init(&a), 0);
    CHECK_EQ(pthread_rwlockattr_getkind_np(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_RWLOCK_PREFER_READER_NP);
    CHECK_EQ(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    static const int kinds[] = {PTHREAD_RWLOCK_PREFER_WRITER_NP,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP,
                                PTHREAD_RWLOCK_PREFER_READER_NP};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pthread_rwlockattr_setkind_np(&a, kinds[i]), 0);
        CHECK_EQ(pthread_rwlockattr_getkind_np(&a, &v), 0);
        CHECK_EQ(v, kinds[i]);
    }
    CHECK_EQ(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
    CHECK_EQ(pthread_rwlockattr_setkind_np(&a, 99), EINVAL);
    CHECK_EQ(pthread_rwlockattr_setkind_np(&a, -1), EINVAL);
    CHECK_EQ(pthread_rwlockattr_getkind_np(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    CHECK_EQ(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_rwlockattr_setpshared(&a, 99), EINVAL);
    CHECK_EQ(pthread_rwlockattr_setpshared(&a, -1), EINVAL);
    CHECK_EQ(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_rwlockattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_rwlockattr_destroy(&a), 0);
}

/* ---- contention ------------------------------------------------------------------------ */

#define WRITERS 4
#define SREADERS 4
#define UPDATES 20000
#define READS 20000

static pthread_rwlock_t *slock;
static volatile long ca, cb;
static atomic_long reads_done;

static void *stress_writer(void *arg)
{
    for (int i = 0; i < UPDATES; i++) {
        if (i % 5 == 1) {
            struct timespec far = add_ms(now(CLOCK_MONOTONIC), 60000);
            CHECK_EQ(pthread_rwlock_clockwrlock(slock, CLOCK_MONOTONIC, &far), 0);
        } else if (i % 5 == 2) {
            struct timespec far = add_ms(now(CLOCK_REALTIME), 60000);
            CHECK_EQ(pthread_rwlock_timedwrlock(slock, &far), 0);
        } else {
            CHECK_EQ(pthread_rwlock_wrlock(slock), 0);
        }
        long v = ca;
        if ((i & 63) == 0)
            sched_yield();
        ca = v + 1;
        cb = cb + 1;
        CHECK_EQ(pthread_rwlock_unlock(slock), 0);
    }
    return NULL;
}

static void *stress_reader(void *arg)
{
    for (int i = 0; i < READS; i++) {
        if (i % 5 == 1) {
            struct timespec far = add_ms(now(CLOCK_REALTIME), 60000);
            CHECK_EQ(pthread_rwlock_timedrdlock(slock, &far), 0);
        } else {
            CHECK_EQ(pthread_rwlock_rdlock(slock), 0);
        }
        long a = ca;
        if ((i & 63) == 0)
            sched_yield();
        long b = cb;
        CHECK(a == b && a == ca, "reader saw a write in progress: %ld %ld", a, b);
        CHECK_EQ(pthread_rwlock_unlock(slock), 0);
        atomic_fetch_add(&reads_done, 1);
        if ((i & 15) == 0)
            sched_yield();
    }
    return NULL;
}

static void stress(int kind)
{
    pthread_rwlockattr_t a;
    pthread_rwlock_t l;
    CHECK_EQ(pthread_rwlockattr_init(&a), 0);
    CHECK_EQ(pthread_rwlockattr_setkind_np(&a, kind), 0);
    CHECK_EQ(pthread_rwlock_init(&l, &a), 0);
    CHECK_EQ(pthread_rwlockattr_destroy(&a), 0);
    slock = &l;
    ca = cb = 0;
    atomic_store(&reads_done, 0);
    pthread_t w[WRITERS], r[SREADERS];
    for (int i = 0; i < SREADERS; i++)
        CHECK_EQ(pthread_create(&r[i], NULL, stress_reader, NULL), 0);
    for (int i = 0; i < WRITERS; i++)
        CHECK_EQ(pthread_create(&w[i], NULL, stress_writer, NULL), 0);
    for (int i = 0; i < WRITERS; i++)
        CHECK_EQ(pthread_join(w[i], NULL), 0);
    for (int i = 0; i < SREADERS; i++)
        CHECK_EQ(pthread_join(r[i], NULL), 0);
    CHECK_EQ(ca, (long)WRITERS * UPDATES);
    CHECK_EQ(cb, (long)WRITERS * UPDATES);
    CHECK_EQ(atomic_load(&reads_done), (long)SREADERS * READS);
    CHECK_EQ(pthread_rwlock_destroy(&l), 0);
}

int main(void)
{
    attributes();
    readers_share();
    writer_excludes();
    bad_arguments();
    prefer_writer();
    prefer_reader();
    stress(PTHREAD_RWLOCK_PREFER_READER_NP);
    stress(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    CHECK_EQ(pthread_rwlock_destroy(&rw), 0);
    printf("rwlock: %d readers at once, writer excludes, EDEADLK/EBUSY/EINVAL/ETIMEDOUT as glibc, "
           "waiting writer holds back readers only when preferred, %d x %d updates exact\n",
           READERS, WRITERS, UPDATES);
    return 0;
}
