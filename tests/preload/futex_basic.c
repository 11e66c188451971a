/*
 * Private futexes through syscall(SYS_futex), as Rust's std, glib and
 * libstdc++ use them, behave as the kernel's: wait/wake between threads,
 * EAGAIN on a value mismatch, relative and absolute timeouts (never early;
 * a deadline already past returns ETIMEDOUT at once), bitsets, wake counts,
 * requeue and cmp_requeue (counts, EAGAIN, requeued waiters woken on the
 * second word), wake-op (each operation, comparisons, who is woken), the
 * EINVAL cases, a thread gpm did not create (a SIGEV_THREAD notify
 * thread, made by libc itself) waiting, timing out and waking main, and
 * two 10,000-round-trip ping-pongs: one through syscall(), one whose waits
 * are inline syscall instructions (invisible to gpm) woken through
 * syscall().
 *
 * Under gpm (GPM_MAXPROCS=1 and 2) the waits park Gs on the semtable; the
 * native and pass-through runs prove the expectations are the kernel's.
 * "Parked" is observed without sleeping and hoping: a FUTEX_CMP_REQUEUE
 * that moves nobody woken but everyone waiting to a side word returns how
 * many are queued, and a second one moves them back, in order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "futex_test.h"
#include "timing.h"

/* ---- Parked waiters ------------------------------------------------------------ */

/* Returns once n waiters are queued on w (within 10 s), leaving them
   there in their order. */
static void await_parked(_Atomic uint32_t *w, int n)
{
    static _Atomic uint32_t side;
    int64_t limit = ns(now(CLOCK_MONOTONIC)) + 10000000000LL;
    int got = 0;
    while (got < n) {
        long r = fx(w, FUTEX_CMP_REQUEUE_PRIVATE, 0, VAL2(INT_MAX), &side, atomic_load(w));
        if (r > 0)
            got += (int)r;
        CHECK(got <= n, "%d waiters queued, expected %d", got, n);
        if (got < n) {
            CHECK(ns(now(CLOCK_MONOTONIC)) < limit, "only %d of %d waiters ever queued", got, n);
            usleep(1000);
        }
    }
    CHECK_EQ(fx(&side, FUTEX_REQUEUE_PRIVATE, 0, VAL2(INT_MAX), w, 0), n);
}

/* A thread that waits once on word for val (with bitset) and records what
   the wait returned. */
struct waiter {
    pthread_t th;
    _Atomic uint32_t *word;
    uint32_t val, bitset;
    const struct timespec *deadline; /* absolute, CLOCK_MONOTONIC; NULL: none */
    _Atomic int done;
    long ret;
    int err;
};

static _Atomic int nreturned;

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->ret = fx(w->word, FUTEX_WAIT_BITSET_PRIVATE, w->val, w->deadline, NULL, w->bitset);
    w->err = errno;
    atomic_store(&w->done, 1);
    atomic_fetch_add(&nreturned, 1);
    return NULL;
}

static void start_waiter(struct waiter *w, _Atomic uint32_t *word, uint32_t bitset)
{
    w->word = word;
    w->val = atomic_load(word);
    w->bitset = bitset;
    w->deadline = NULL;
    atomic_store(&w->done, 0);
    CHECK_EQ(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

/* Starts n waiters on word, each queued before the next starts: ws[0] is
   the oldest. */
static void start_in_order(struct waiter *ws, int n, _Atomic uint32_t *word)
{
    for (int i = 0; i < n; i++) {
        start_waiter(&ws[i], word, FUTEX_BITSET_MATCH_ANY);
        await_parked(word, i + 1);
    }
}

/* Waits (up to 10 s) until `count` waiters in all have returned. */
static void await_returned(int count)
{
    int64_t limit = ns(now(CLOCK_MONOTONIC)) + 10000000000LL;
    while (atomic_load(&nreturned) < count) {
        CHECK(ns(now(CLOCK_MONOTONIC)) < limit, "%d of %d woken waiters returned", atomic_load(&nreturned), count);
        usleep(1000);
    }
}

static void join_woken(struct waiter *w)
{
    CHECK_EQ(pthread_join(w->th, NULL), 0);
    CHECK(w->ret == 0, "a woken waiter returned %ld errno %d", w->ret, w->err);
}

/* ---- Wait and wake ---------------------------------------------------------------- */

static _Atomic uint32_t flag;

static void *flag_waiter(void *arg)
{
    (void)arg;
    while (atomic_load(&flag) == 0)
        fx(&flag, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void test_wait_wake(void)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, flag_waiter, NULL), 0);
    await_parked(&flag, 1);
    atomic_store(&flag, 1);
    CHECK_EQ(fx(&flag, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* Nobody waits now. */
    CHECK_EQ(fx(&flag, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
    /* A mismatch returns at once. */
    CHECK_ERR(fx(&flag, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
    CHECK_ERR(fx(&flag, FUTEX_WAIT_BITSET_PRIVATE, 7, NULL, NULL, FUTEX_BITSET_MATCH_ANY), EAGAIN);
}

static void test_counts(void)
{
    static _Atomic uint32_t w;
    struct waiter ws[5];
    atomic_store(&nreturned, 0);
    for (int i = 0; i < 5; i++)
        start_waiter(&ws[i], &w, FUTEX_BITSET_MATCH_ANY);
    await_parked(&w, 5);
    CHECK_EQ(fx(&w, FUTEX_WAKE_PRIVATE, 3, NULL, NULL, 0), 3);
    await_returned(3);
    usleep(20000);
    CHECK_EQ(atomic_load(&nreturned), 3);
    CHECK_EQ(fx(&w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
    for (int i = 0; i < 5; i++)
        join_woken(&ws[i]);
    /* A wake of 0 wakes one (the kernel counts after waking). */
    atomic_store(&nreturned, 0);
    for (int i = 0; i < 2; i++)
        start_waiter(&ws[i], &w, FUTEX_BITSET_MATCH_ANY);
    await_parked(&w, 2);
    CHECK_EQ(fx(&w, FUTEX_WAKE_PRIVATE, 0, NULL, NULL, 0), 1);
    CHECK_EQ(fx(&w, FUTEX_WAKE_PRIVATE, 5, NULL, NULL, 0), 1);
    for (int i = 0; i < 2; i++)
        join_woken(&ws[i]);
}

static void test_bitsets(void)
{
    static _Atomic uint32_t w;
    struct waiter two, one;
    atomic_store(&nreturned, 0);
    start_waiter(&two, &w, 2);
    start_waiter(&one, &w, 1 | 4);
    await_parked(&w, 2);
    /* Bitset 8 meets nobody; bitset 1 meets only the second waiter. */
    CHECK_EQ(fx(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 8), 0);
    CHECK_EQ(fx(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 1), 1);
    join_woken(&one);
    CHECK_EQ(atomic_load(&two.done), 0);
    CHECK_EQ(fx(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 2 | 1), 1);
    join_woken(&two);
    CHECK_ERR(fx(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);
}

/* ---- Timeouts ------------------------------------------------------------------------ */

static void test_timeouts(void)
{
    static _Atomic uint32_t w;
    /* Relative FUTEX_WAIT: not before 50 ms, not hugely after. */
    struct timespec rel = {0, 50000000};
    struct timespec t0 = now(CLOCK_MONOTONIC);
    CHECK_ERR(fx(&w, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0), ETIMEDOUT);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(t0);
    CHECK(took >= 50000000 && took < 3000000000LL, "relative 50 ms wait took %lld ns", (long long)took);

    /* Absolute FUTEX_WAIT_BITSET on CLOCK_MONOTONIC. */
    struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 50);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    CHECK(ns(now(CLOCK_MONOTONIC)) >= ns(dl), "monotonic deadline: woke early");
    CHECK(ns(now(CLOCK_MONOTONIC)) - ns(dl) < 3000000000LL, "monotonic deadline: woke very late");

    /* ... and on CLOCK_REALTIME. */
    dl = add_ms(now(CLOCK_REALTIME), 50);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY),
              ETIMEDOUT);
    CHECK(ns(now(CLOCK_REALTIME)) >= ns(dl), "realtime deadline: woke early");

    /* Deadlines already past: ETIMEDOUT at once, never a sleep. */
    struct timespec zero = {0, 0}, past_mono = now(CLOCK_MONOTONIC), past_real = now(CLOCK_REALTIME);
    past_mono.tv_sec -= 1;
    past_real.tv_sec -= 1;
    t0 = now(CLOCK_MONOTONIC);
    CHECK_ERR(fx(&w, FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0), ETIMEDOUT);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &zero, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &past_mono, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &past_real, NULL,
                 FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    took = ns(now(CLOCK_MONOTONIC)) - ns(t0);
    CHECK(took < 1000000000LL, "four expired waits took %lld ns", (long long)took);
    /* The value is checked first: a mismatch is EAGAIN, even when late. */
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, &zero, NULL, FUTEX_BITSET_MATCH_ANY), EAGAIN);

    /* Invalid timespecs. */
    struct timespec bad = {0, 1000000000}, neg = {-1, 0};
    CHECK_ERR(fx(&w, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0), EINVAL);
    CHECK_ERR(fx(&w, FUTEX_WAIT_PRIVATE, 0, &neg, NULL, 0), EINVAL);
    CHECK_ERR(fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &neg, NULL, FUTEX_BITSET_MATCH_ANY), EINVAL);
    /* FUTEX_CLOCK_REALTIME is for the absolute waits only. */
    CHECK_ERR(fx(&w, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rel, NULL, 0), ENOSYS);
}

/* ---- Requeue ----------------------------------------------------------------------------- */

static void test_requeue(void)
{
    static _Atomic uint32_t a, b;
    struct waiter ws[4];
    for (int cmp = 0; cmp < 2; cmp++) {
        atomic_store(&nreturned, 0);
        start_in_order(ws, 4, &a);
        if (cmp) {
            CHECK_ERR(fx(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(2), &b, atomic_load(&a) + 1), EAGAIN);
            CHECK_EQ(atomic_load(&nreturned), 0);
            /* Wake 1, move 2: the count includes the moved ones. */
            CHECK_EQ(fx(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(2), &b, atomic_load(&a)), 3);
        } else {
            CHECK_EQ(fx(&a, FUTEX_REQUEUE_PRIVATE, 1, VAL2(2), &b, 0), 3);
        }
        /* The oldest was woken; the next two now wait on b; one on a. */
        await_returned(1);
        CHECK(ws[0].done == 1, "the woken waiter is not the oldest");
        usleep(20000);
        CHECK_EQ(atomic_load(&nreturned), 1);
        CHECK_EQ(fx(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
        await_returned(3);
        CHECK(ws[1].done && ws[2].done && !ws[3].done, "requeued the wrong waiters");
        CHECK_EQ(fx(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
        for (int i = 0; i < 4; i++)
            join_woken(&ws[i]);
    }
    /* A requeued waiter keeps its deadline. */
    struct waiter timed = {.word = &a, .val = atomic_load(&a), .bitset = FUTEX_BITSET_MATCH_ANY};
    struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 200);
    timed.deadline = &dl;
    CHECK_EQ(pthread_create(&timed.th, NULL, waiter_main, &timed), 0);
    await_parked(&a, 1);
    CHECK_EQ(fx(&a, FUTEX_REQUEUE_PRIVATE, 0, VAL2(1), &b, 0), 1);
    CHECK_EQ(pthread_join(timed.th, NULL), 0);
    CHECK(timed.ret == -1 && timed.err == ETIMEDOUT, "requeued timed waiter: %ld errno %d", timed.ret, timed.err);
    CHECK(ns(now(CLOCK_MONOTONIC)) >= ns(dl), "requeued timed waiter returned early");

    CHECK_ERR(fx(&a, FUTEX_REQUEUE_PRIVATE, (uint32_t)-1, VAL2(1), &b, 0), EINVAL);
    CHECK_ERR(fx(&a, FUTEX_REQUEUE_PRIVATE, 1, VAL2(-1), &b, 0), EINVAL);
    CHECK_EQ(fx(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, VAL2(1), &b, atomic_load(&a)), 0);
}

/* ---- Wake-op -------------------------------------------------------------------------------- */

static void test_wakeop(void)
{
    static _Atomic uint32_t u1, u2;
    static const struct {
        int op, oparg, cmp, cmparg;
        uint32_t before, after;
        int holds;
    } cases[] = {
        {FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 3, 3, 5, 1},
        {FUTEX_OP_ADD, 2, FUTEX_OP_CMP_NE, 3, 3, 5, 0},
        {FUTEX_OP_OR, 0xc, FUTEX_OP_CMP_LT, 4, 3, 0xf, 1},
        {FUTEX_OP_ANDN, 1, FUTEX_OP_CMP_LE, 2, 3, 2, 0},
        {FUTEX_OP_XOR, 0xff, FUTEX_OP_CMP_GT, 2, 3, 0xfc, 1},
        {FUTEX_OP_ADD, -1, FUTEX_OP_CMP_GE, 4, 3, 2, 0},
        {FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_GE, -5, 3, 16, 1},
        {FUTEX_OP_SET, 1, FUTEX_OP_CMP_LT, 0, 0xffffffff, 1, 1}, /* the old value is signed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct waiter w1, w2;
        atomic_store(&nreturned, 0);
        atomic_store(&u2, cases[i].before);
        start_waiter(&w1, &u1, FUTEX_BITSET_MATCH_ANY);
        start_waiter(&w2, &u2, FUTEX_BITSET_MATCH_ANY);
        await_parked(&u1, 1);
        await_parked(&u2, 1);
        uint32_t enc = FUTEX_OP(cases[i].op, cases[i].oparg, cases[i].cmp, cases[i].cmparg);
        long r = fx(&u1, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &u2, enc);
        CHECK(r == 1 + cases[i].holds, "wake-op case %zu returned %ld", i, r);
        CHECK(atomic_load(&u2) == cases[i].after, "wake-op case %zu: word %#x, expected %#x", i,
              atomic_load(&u2), cases[i].after);
        join_woken(&w1);
        if (cases[i].holds) {
            join_woken(&w2);
        } else {
            usleep(10000);
            CHECK(!w2.done, "wake-op case %zu woke the second word", i);
            CHECK_EQ(fx(&u2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
            join_woken(&w2);
        }
    }
    /* Nobody waiting: the operation still happens. */
    atomic_store(&u2, 1);
    CHECK_EQ(fx(&u1, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &u2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 1)), 0);
    CHECK_EQ(atomic_load(&u2), 2);
    /* An unknown operation changes nothing; an unknown comparison is found
       once the operation is done. Both ENOSYS. */
    CHECK_ERR(fx(&u1, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &u2, FUTEX_OP(5, 1, FUTEX_OP_CMP_EQ, 0)), ENOSYS);
    CHECK_EQ(atomic_load(&u2), 2);
    CHECK_ERR(fx(&u1, FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), &u2, FUTEX_OP(FUTEX_OP_ADD, 1, 9, 0)), ENOSYS);
    CHECK_EQ(atomic_load(&u2), 3);
}

/* ---- EINVAL and EFAULT ---------------------------------------------------------------------------- */

static void test_errors(void)
{
    static _Alignas(8) _Atomic uint32_t w[2];
    char *mis = (char *)&w[0] + 1;
    CHECK_ERR(fx(mis, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINVAL);
    CHECK_ERR(fx(mis, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
    CHECK_ERR(fx(&w[0], FUTEX_REQUEUE_PRIVATE, 1, VAL2(1), mis, 0), EINVAL);
    CHECK_ERR(fx(&w[0], FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), mis, 0), EINVAL);
    /* NULL: a wait faults; a wake does not read the word. */
    CHECK_ERR(fx(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
    CHECK_EQ(fx(NULL, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
    CHECK_ERR(fx(&w[0], FUTEX_WAKE_OP_PRIVATE, 1, VAL2(1), NULL, 0), EFAULT);
    /* Unknown operations. */
    CHECK_ERR(fx(&w[0], 14 | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0), ENOSYS);
}

/* ---- A thread gpm did not create ------------------------------------------------------- */

static _Atomic uint32_t fgo, fdone;
static _Atomic long fresult = -100;

/* A SIGEV_THREAD notify function: its thread is libc's (under gpm, adopted
   on this first call). */
static void foreign_notify(union sigval sv)
{
    (void)sv;
    long r = 0;
    while (r == 0 && atomic_load(&fgo) == 0)
        r = fx(&fgo, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    if (r == 0) {
        struct timespec rel = {0, 20000000};
        struct timespec t0 = now(CLOCK_MONOTONIC);
        long t = fx(&fgo, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0);
        if (t != -1 || errno != ETIMEDOUT)
            r = -1;
        else if (ns(now(CLOCK_MONOTONIC)) - ns(t0) < 20000000)
            r = -2;
    }
    atomic_store(&fresult, r);
    atomic_store(&fdone, 1);
    fx(&fdone, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void test_foreign(void)
{
    timer_t timer;
    struct sigevent se = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = foreign_notify};
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &se, &timer), 0);
    struct itimerspec its = {.it_value = {0, 1000000}};
    CHECK_EQ(timer_settime(timer, 0, &its, NULL), 0);
    await_parked(&fgo, 1);
    atomic_store(&fgo, 1);
    CHECK_EQ(fx(&fgo, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
    struct timespec slice = {10, 0};
    while (atomic_load(&fdone) == 0) {
        long r = fx(&fdone, FUTEX_WAIT_PRIVATE, 0, &slice, NULL, 0);
        CHECK(r == 0 || errno == EAGAIN, "waiting for the foreign thread: errno %d", errno);
    }
    CHECK(atomic_load(&fresult) == 0, "the foreign thread's waits: %ld", atomic_load(&fresult));
    CHECK_EQ(timer_delete(timer), 0);
}

/* ---- Ping-pong ------------------------------------------------------------------------------------- */

#define ROUNDS 10000

static _Atomic uint32_t turn;
static int inline_waits;

/* FUTEX_WAIT_PRIVATE with an inline syscall instruction: the kernel's own
   queue, which gpm does not see. */
static long inline_wait(_Atomic uint32_t *w, uint32_t val)
{
    long r;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"((long)SYS_futex), "D"(w), "S"((long)FUTEX_WAIT_PRIVATE), "d"((long)val), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static void *player(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t v;
        while ((v = atomic_load(&turn)) != me) {
            if (inline_waits) {
                long r = inline_wait(&turn, v);
                CHECK(r == 0 || r == -EAGAIN || r == -EINTR, "inline wait returned %ld", r);
            } else {
                long r = fx(&turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
                CHECK(r == 0 || errno == EAGAIN, "wait returned %ld errno %d", r, errno);
            }
        }
        atomic_store(&turn, !me);
        CHECK(fx(&turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) >= 0, "wake: errno %d", errno);
    }
    return NULL;
}

static void pingpong(int inl)
{
    inline_waits = inl;
    atomic_store(&turn, 0);
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, player, (void *)i), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
}

int main(void)
{
    alarm(60);
    test_wait_wake();
    test_counts();
    test_bitsets();
    test_timeouts();
    test_requeue();
    test_wakeop();
    test_errors();
    test_foreign();
    pingpong(0);
    pingpong(1);
    printf("futex_basic: ok (%s)\n", test_mode());
    return 0;
}
