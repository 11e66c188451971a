/*
 * Mutexes of every kind (NORMAL, DEFAULT, RECURSIVE, ERRORCHECK, ADAPTIVE_NP),
 * made by pthread_mutex_init with an attribute, with a NULL attribute, by the
 * static initialisers and by zero-filling, behave as glibc's: lock, trylock,
 * unlock and relock by the owner, trylock and unlock from another thread,
 * timed and clock locks (past and 50 ms deadlines, never early; invalid
 * tv_nsec and clocks), destroy of a locked mutex, recursion to depth 1000.
 * Attribute getters and setters round-trip and reject bad values; the
 * priority-ceiling calls report what was set. 8 threads x 100000 increments
 * under each mutex, yielding inside the critical section now and then, give
 * the exact total.
 *
 * The error numbers are glibc 2.36's, pinned natively:
 *  - trylock by the owner: 0 for RECURSIVE (one more level), EBUSY otherwise
 *    (ERRORCHECK too; but EDEADLK for an ERRORCHECK PRIO_INHERIT one);
 *  - timedlock by the owner: RECURSIVE 0, ERRORCHECK EDEADLK (even with an
 *    invalid tv_nsec), NORMAL/DEFAULT/ADAPTIVE ETIMEDOUT (past deadline) or
 *    EINVAL (invalid tv_nsec);
 *  - tv_nsec outside [0, 1e9) is EINVAL only when the call would block: on an
 *    unlocked mutex timedlock takes it and returns 0;
 *  - a negative tv_sec is ETIMEDOUT, not EINVAL;
 *  - clocklock with a clock other than CLOCK_REALTIME/CLOCK_MONOTONIC is
 *    EINVAL even on an unlocked mutex (it is not taken);
 *  - destroy of a locked mutex is EBUSY for every non-robust kind;
 *  - unlock by a non-owner, or of an unlocked mutex: EPERM for RECURSIVE and
 *    ERRORCHECK (NORMAL/DEFAULT/ADAPTIVE: undefined, not tested);
 *  - pthread_mutexattr_getprioceiling before any set reports
 *    sched_get_priority_min(SCHED_FIFO); a PRIO_PROTECT mutex made from such
 *    an attribute has that ceiling; ceilings outside the SCHED_FIFO range are
 *    EINVAL; get/setprioceiling on a mutex without PRIO_PROTECT are EINVAL.
 * PRIO_PROTECT mutexes are never locked here: under glibc that changes the
 * thread's scheduling priority.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define THREADS 8
#define ITERS 100000
#define RECURSION 1000
#define TIMEOUT_MS 50

/* A call that timed out at deadline (on clock) and began at start
   (CLOCK_MONOTONIC): never early, and not absurdly late. */
static void check_timed_out(clockid_t clock, struct timespec deadline, struct timespec start)
{
    int64_t late = ns(now(clock)) - ns(deadline);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(start);
    CHECK(late >= 0, "returned %lld ns before the deadline (clock %d)", (long long)-late, (int)clock);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
}

/* ---- running one call in another thread -------------------------------------- */

typedef int (*mutex_op)(pthread_mutex_t *m);

struct op_call {
    mutex_op fn;
    pthread_mutex_t *m;
    int rc;
};

static void *op_thread(void *arg)
{
    struct op_call *c = arg;
    c->rc = c->fn(c->m);
    return NULL;
}

static int in_other_thread(mutex_op fn, pthread_mutex_t *m)
{
    struct op_call c = {fn, m, -1};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, op_thread, &c), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    return c.rc;
}

/* Takes the mutex if it can, and gives it back. */
static int op_trylock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == 0)
        CHECK_EQ(pthread_mutex_unlock(m), 0);
    return rc;
}

static int op_unlock(pthread_mutex_t *m)
{
    return pthread_mutex_unlock(m);
}

static int op_timedlock_past(pthread_mutex_t *m)
{
    struct timespec past = {0, 0};
    int rc = pthread_mutex_timedlock(m, &past);
    if (rc != ETIMEDOUT)
        return rc;
    struct timespec negative = {-1, 0};
    return pthread_mutex_timedlock(m, &negative);
}

static int op_timedlock_bad_nsec(pthread_mutex_t *m)
{
    struct timespec bad = add_ms(now(CLOCK_REALTIME), 1000);
    bad.tv_nsec = 1000000000L;
    int rc = pthread_mutex_timedlock(m, &bad);
    if (rc != EINVAL)
        return rc;
    bad.tv_nsec = -1;
    return pthread_mutex_timedlock(m, &bad);
}

static int op_clocklock_bad_clock(pthread_mutex_t *m)
{
    struct timespec d = add_ms(now(CLOCK_MONOTONIC), 1000);
    int rc = pthread_mutex_clocklock(m, CLOCK_PROCESS_CPUTIME_ID, &d);
    if (rc != EINVAL)
        return rc;
    return pthread_mutex_clocklock(m, 12345, &d);
}

/* A 50 ms wait that must time out: timedlock (CLOCK_REALTIME), clocklock on
   each of the two clocks. */
static int timed_50ms(pthread_mutex_t *m, int which)
{
    clockid_t clock = which == 1 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    struct timespec start = now(CLOCK_MONOTONIC);
    struct timespec deadline = add_ms(now(clock), TIMEOUT_MS);
    int rc = which == 0 ? pthread_mutex_timedlock(m, &deadline)
                        : pthread_mutex_clocklock(m, clock, &deadline);
    if (rc == ETIMEDOUT)
        check_timed_out(clock, deadline, start);
    return rc;
}

static int op_timedlock_50ms(pthread_mutex_t *m) { return timed_50ms(m, 0); }
static int op_clocklock_mono_50ms(pthread_mutex_t *m) { return timed_50ms(m, 1); }
static int op_clocklock_real_50ms(pthread_mutex_t *m) { return timed_50ms(m, 2); }

/* ---- the mutexes --------------------------------------------------------------- */

enum how { BY_ATTR, BY_NULL_ATTR, BY_STATIC, BY_ZERO };

static pthread_mutex_t m_attr[5], m_null, m_zero;
static pthread_mutex_t s_default = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

struct mcase {
    const char *name;
    int type;
    enum how how;
    pthread_mutex_t *m;
};

static const struct mcase cases[] = {
    {"NORMAL (attr)", PTHREAD_MUTEX_NORMAL, BY_ATTR, &m_attr[0]},
    {"DEFAULT (attr)", PTHREAD_MUTEX_DEFAULT, BY_ATTR, &m_attr[1]},
    {"RECURSIVE (attr)", PTHREAD_MUTEX_RECURSIVE, BY_ATTR, &m_attr[2]},
    {"ERRORCHECK (attr)", PTHREAD_MUTEX_ERRORCHECK, BY_ATTR, &m_attr[3]},
    {"ADAPTIVE_NP (attr)", PTHREAD_MUTEX_ADAPTIVE_NP, BY_ATTR, &m_attr[4]},
    {"DEFAULT (NULL attr)", PTHREAD_MUTEX_DEFAULT, BY_NULL_ATTR, &m_null},
    {"PTHREAD_MUTEX_INITIALIZER", PTHREAD_MUTEX_DEFAULT, BY_STATIC, &s_default},
    {"PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP", PTHREAD_MUTEX_RECURSIVE, BY_STATIC, &s_recursive},
    {"PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP", PTHREAD_MUTEX_ERRORCHECK, BY_STATIC, &s_errorcheck},
    {"PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP", PTHREAD_MUTEX_ADAPTIVE_NP, BY_STATIC, &s_adaptive},
    {"zero-filled", PTHREAD_MUTEX_DEFAULT, BY_ZERO, &m_zero},
};

static void make(const struct mcase *c)
{
    pthread_mutexattr_t a;
    switch (c->how) {
    case BY_ATTR:
        CHECK_EQ(pthread_mutexattr_init(&a), 0);
        CHECK_EQ(pthread_mutexattr_settype(&a, c->type), 0);
        memset(c->m, 0xa5, sizeof *c->m);
        CHECK_EQ(pthread_mutex_init(c->m, &a), 0);
        CHECK_EQ(pthread_mutexattr_destroy(&a), 0);
        break;
    case BY_NULL_ATTR:
        memset(c->m, 0xa5, sizeof *c->m);
        CHECK_EQ(pthread_mutex_init(c->m, NULL), 0);
        break;
    case BY_STATIC:
        break;
    case BY_ZERO:
        memset(c->m, 0, sizeof *c->m);
        break;
    }
}

/* ---- semantics of one mutex ----------------------------------------------------- */

static void check_semantics(const struct mcase *c)
{
    pthread_mutex_t *m = c->m;
    int rec = c->type == PTHREAD_MUTEX_RECURSIVE;
    int ec = c->type == PTHREAD_MUTEX_ERRORCHECK;
    struct timespec past = {0, 0};
    struct timespec bad = add_ms(now(CLOCK_REALTIME), 1000);
    bad.tv_nsec = 1000000000L;

    /* Unlocked: another thread can take it. */
    CHECK_EQ(in_other_thread(op_trylock, m), 0);

    CHECK_EQ(pthread_mutex_lock(m), 0);

    /* The owner tries again. */
    if (rec) {
        CHECK_EQ(pthread_mutex_trylock(m), 0);
        CHECK_EQ(pthread_mutex_lock(m), 0);
        CHECK_EQ(pthread_mutex_timedlock(m, &past), 0);
        CHECK_EQ(pthread_mutex_timedlock(m, &bad), 0);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(pthread_mutex_unlock(m), 0);
    } else if (ec) {
        CHECK_EQ(pthread_mutex_trylock(m), EBUSY);
        CHECK_EQ(pthread_mutex_lock(m), EDEADLK);
        CHECK_EQ(pthread_mutex_timedlock(m, &past), EDEADLK);
        CHECK_EQ(pthread_mutex_timedlock(m, &bad), EDEADLK);
    } else {
        CHECK_EQ(pthread_mutex_trylock(m), EBUSY);
        CHECK_EQ(pthread_mutex_timedlock(m, &past), ETIMEDOUT);
        CHECK_EQ(pthread_mutex_timedlock(m, &bad), EINVAL);
    }

    /* Another thread, while it is held. */
    CHECK_EQ(in_other_thread(op_trylock, m), EBUSY);
    CHECK_EQ(in_other_thread(op_timedlock_past, m), ETIMEDOUT);
    CHECK_EQ(in_other_thread(op_timedlock_bad_nsec, m), EINVAL);
    CHECK_EQ(in_other_thread(op_clocklock_bad_clock, m), EINVAL);
    CHECK_EQ(in_other_thread(op_timedlock_50ms, m), ETIMEDOUT);
    CHECK_EQ(in_other_thread(op_clocklock_mono_50ms, m), ETIMEDOUT);
    CHECK_EQ(in_other_thread(op_clocklock_real_50ms, m), ETIMEDOUT);
    if (rec || ec)
        CHECK_EQ(in_other_thread(op_unlock, m), EPERM);
    /* Destroying it while locked is refused and changes nothing. */
    CHECK_EQ(pthread_mutex_destroy(m), EBUSY);
    CHECK_EQ(in_other_thread(op_trylock, m), EBUSY);

    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(in_other_thread(op_trylock, m), 0);
    if (rec || ec)
        CHECK_EQ(pthread_mutex_unlock(m), EPERM);

    /* An invalid clock is refused before anything else and takes nothing;
       an invalid tv_nsec is not looked at when the mutex is free. */
    CHECK_EQ(op_clocklock_bad_clock(m), EINVAL);
    CHECK_EQ(in_other_thread(op_trylock, m), 0);
    CHECK_EQ(pthread_mutex_timedlock(m, &bad), 0);
    CHECK_EQ(in_other_thread(op_trylock, m), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    struct timespec later = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &later), 0);
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    later = add_ms(now(CLOCK_REALTIME), 1000);
    CHECK_EQ(pthread_mutex_clocklock(m, CLOCK_REALTIME, &later), 0);
    CHECK_EQ(pthread_mutex_unlock(m), 0);

    if (rec) {
        for (int i = 0; i < RECURSION; i++) {
            if (i % 3 == 0)
                CHECK_EQ(pthread_mutex_trylock(m), 0);
            else if (i % 3 == 1)
                CHECK_EQ(pthread_mutex_timedlock(m, &past), 0);
            else
                CHECK_EQ(pthread_mutex_lock(m), 0);
        }
        CHECK_EQ(in_other_thread(op_trylock, m), EBUSY);
        CHECK_EQ(in_other_thread(op_unlock, m), EPERM);
        for (int i = 0; i < RECURSION - 1; i++)
            CHECK_EQ(pthread_mutex_unlock(m), 0);
        CHECK_EQ(in_other_thread(op_trylock, m), EBUSY);
        CHECK_EQ(in_other_thread(op_unlock, m), EPERM);
        CHECK_EQ(pthread_mutex_unlock(m), 0);
        CHECK_EQ(in_other_thread(op_trylock, m), 0);
        CHECK_EQ(pthread_mutex_unlock(m), EPERM);
    }
}

/* ---- contention --------------------------------------------------------------------- */

static pthread_mutex_t *stress_m;
static int stress_rec;
static volatile long counter;

static void *stress_thread(void *arg)
{
    for (int i = 0; i < ITERS; i++) {
        CHECK_EQ(pthread_mutex_lock(stress_m), 0);
        if (stress_rec && (i & 7) == 0)
            CHECK_EQ(pthread_mutex_lock(stress_m), 0);
        long v = counter;
        if ((i & 255) == 0)
            sched_yield();          /* others run and find it locked */
        counter = v + 1;
        if (stress_rec && (i & 7) == 0)
            CHECK_EQ(pthread_mutex_unlock(stress_m), 0);
        CHECK_EQ(pthread_mutex_unlock(stress_m), 0);
    }
    return NULL;
}

static void stress(const struct mcase *c)
{
    stress_m = c->m;
    stress_rec = c->type == PTHREAD_MUTEX_RECURSIVE;
    counter = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, stress_thread, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK(counter == (long)THREADS * ITERS, "%s: counter %ld, expected %ld", c->name, counter,
          (long)THREADS * ITERS);
}

/* ---- attributes --------------------------------------------------------------------- */

static void check_attributes(void)
{
    pthread_mutexattr_t a;
    int v;
    int pmin = sched_get_priority_min(SCHED_FIFO), pmax = sched_get_priority_max(SCHED_FIFO);
    CHECK(pmin >= 0 && pmax > pmin, "SCHED_FIFO priorities %d..%d", pmin, pmax);

    CHECK_EQ(pthread_mutexattr_init(&a), 0);
    CHECK_EQ(pthread_mutexattr_gettype(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_DEFAULT);
    CHECK_EQ(pthread_mutexattr_getprotocol(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PRIO_NONE);
    CHECK_EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_STALLED);
    CHECK_EQ(pthread_mutexattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    CHECK_EQ(v, pmin);

    static const int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
                                PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ADAPTIVE_NP,
                                PTHREAD_MUTEX_DEFAULT};
    for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++) {
        CHECK_EQ(pthread_mutexattr_settype(&a, types[i]), 0);
        CHECK_EQ(pthread_mutexattr_gettype(&a, &v), 0);
        CHECK_EQ(v, types[i]);
    }
    CHECK_EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutexattr_settype(&a, 99), EINVAL);
    CHECK_EQ(pthread_mutexattr_settype(&a, -1), EINVAL);
    CHECK_EQ(pthread_mutexattr_gettype(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_ERRORCHECK);

    static const int protocols[] = {PTHREAD_PRIO_INHERIT, PTHREAD_PRIO_PROTECT, PTHREAD_PRIO_NONE};
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(pthread_mutexattr_setprotocol(&a, protocols[i]), 0);
        CHECK_EQ(pthread_mutexattr_getprotocol(&a, &v), 0);
        CHECK_EQ(v, protocols[i]);
    }
    CHECK_EQ(pthread_mutexattr_setprotocol(&a, 99), EINVAL);
    CHECK_EQ(pthread_mutexattr_getprotocol(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PRIO_NONE);

    CHECK_EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
    CHECK_EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_ROBUST);
    CHECK_EQ(pthread_mutexattr_setrobust(&a, 99), EINVAL);
    CHECK_EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_ROBUST);
    CHECK_EQ(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_STALLED), 0);
    CHECK_EQ(pthread_mutexattr_getrobust(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_STALLED);

    CHECK_EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_mutexattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_mutexattr_setpshared(&a, 99), EINVAL);
    CHECK_EQ(pthread_mutexattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_mutexattr_getpshared(&a, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);

    CHECK_EQ(pthread_mutexattr_setprioceiling(&a, pmin - 1), EINVAL);
    CHECK_EQ(pthread_mutexattr_setprioceiling(&a, pmax + 1), EINVAL);
    CHECK_EQ(pthread_mutexattr_setprioceiling(&a, pmax), 0);
    CHECK_EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    CHECK_EQ(v, pmax);
    CHECK_EQ(pthread_mutexattr_setprioceiling(&a, pmin), 0);
    CHECK_EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    CHECK_EQ(v, pmin);
    CHECK_EQ(pthread_mutexattr_destroy(&a), 0);
}

static void check_priority(void)
{
    int pmin = sched_get_priority_min(SCHED_FIFO), pmax = sched_get_priority_max(SCHED_FIFO);
    int c1 = pmin + 9 <= pmax ? pmin + 9 : pmax, c2 = pmin + 19 <= pmax ? pmin + 19 : pmax;
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    int v, old;

    /* PRIO_PROTECT with a ceiling. */
    CHECK_EQ(pthread_mutexattr_init(&a), 0);
    CHECK_EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT), 0);
    CHECK_EQ(pthread_mutexattr_setprioceiling(&a, c1), 0);
    CHECK_EQ(pthread_mutexattr_getprioceiling(&a, &v), 0);
    CHECK_EQ(v, c1);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK_EQ(v, c1);
    old = -1;
    CHECK_EQ(pthread_mutex_setprioceiling(&m, c2, &old), 0);
    CHECK_EQ(old, c1);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK_EQ(v, c2);
    CHECK_EQ(pthread_mutex_setprioceiling(&m, c1, &old), 0);
    CHECK_EQ(old, c2);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK_EQ(v, c1);
    old = -1;
    CHECK_EQ(pthread_mutex_setprioceiling(&m, pmax + 1, &old), EINVAL);
    CHECK_EQ(pthread_mutex_setprioceiling(&m, pmin - 1, &old), EINVAL);
    CHECK_EQ(old, -1);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK_EQ(v, c1);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
    CHECK_EQ(pthread_mutexattr_destroy(&a), 0);

    /* PRIO_PROTECT without a ceiling: the lowest SCHED_FIFO priority. */
    CHECK_EQ(pthread_mutexattr_init(&a), 0);
    CHECK_EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT), 0);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK_EQ(v, pmin);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);

    /* PRIO_INHERIT: a working mutex, without a ceiling. The owner's
       trylock of an ERRORCHECK one is EDEADLK here (EBUSY without the
       protocol); a NORMAL one is EBUSY, its timedlock waits out the
       deadline. */
    struct timespec past = {0, 0};
    CHECK_EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT), 0);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_getprioceiling(&m, &v), EINVAL);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_trylock(&m), EBUSY);
    CHECK_EQ(pthread_mutex_timedlock(&m, &past), ETIMEDOUT);
    CHECK_EQ(in_other_thread(op_trylock, &m), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(in_other_thread(op_trylock, &m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
    CHECK_EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_trylock(&m), EDEADLK);
    CHECK_EQ(pthread_mutex_lock(&m), EDEADLK);
    CHECK_EQ(pthread_mutex_timedlock(&m, &past), EDEADLK);
    CHECK_EQ(in_other_thread(op_unlock, &m), EPERM);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
    CHECK_EQ(pthread_mutexattr_destroy(&a), 0);

    /* No protocol: no ceiling to get or set. */
    pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
    CHECK_EQ(pthread_mutex_getprioceiling(&plain, &v), EINVAL);
    CHECK_EQ(pthread_mutex_setprioceiling(&plain, c1, &old), EINVAL);
    CHECK_EQ(pthread_mutex_lock(&plain), 0);
    CHECK_EQ(pthread_mutex_unlock(&plain), 0);
}

int main(void)
{
    check_attributes();
    check_priority();
    unsigned n = sizeof cases / sizeof cases[0];
    for (unsigned i = 0; i < n; i++) {
        make(&cases[i]);
        check_semantics(&cases[i]);
        stress(&cases[i]);
        CHECK_EQ(pthread_mutex_destroy(cases[i].m), 0);
    }
    printf("%u mutexes (5 kinds; attr, NULL attr, static, zero-filled): glibc's lock/trylock/"
           "timed/clock/destroy semantics, and %d x %d contended increments exact\n",
           n, THREADS, ITERS);
    return 0;
}
