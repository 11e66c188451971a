/*
 * What a Rust program's std does with futexes, written in C: std's Mutex
 * (library/std/src/sys/sync/mutex/futex.rs) and Condvar (condvar/futex.rs)
 * as on Linux, std::thread::spawn and join (pthread_create with a 2 MiB
 * stack, pthread_join).
 *
 *   Mutex    a 32-bit word: 0 unlocked, 1 locked, 2 locked and contended.
 *            lock: CAS 0 -> 1; else spin (100 relaxed loads while it is
 *            1), try 0 -> 1 once if it became 0, then loop: swap in 2
 *            (unless it is 2 already: locked if it was 0), FUTEX_WAIT_BITSET
 *            (private, bitset ~0, no timeout) while it is 2, spin again.
 *            unlock: swap 0; FUTEX_WAKE 1 if it was 2.
 *   Condvar  a counter. wait: read it, unlock, FUTEX_WAIT_BITSET on it
 *            for that value, lock. notify_one: increment, FUTEX_WAKE 1.
 *            notify_all: increment, FUTEX_WAKE INT_MAX. (std wakes even
 *            when nobody waits: so do we.)
 *   futex_wait retries EINTR and returns when the word differs.
 *
 * Workload: a bounded queue (64 slots, Mutex + two Condvars) from 4
 * producers to 4 consumers, N items; then N/100 short threads spawned and
 * joined 8 at a time, each pushing one item through a Mutex-guarded
 * counter. Reports the whole time per queue item.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* ---- std::sys::futex (Linux) ---------------------------------------------- */

static void futex_wait(_Atomic uint32_t *w, uint32_t expected)
{
    for (;;) {
        if (atomic_load_explicit(w, memory_order_relaxed) != expected)
            return;
        long r = syscall(SYS_futex, w, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, NULL, NULL,
                         FUTEX_BITSET_MATCH_ANY);
        if (r == 0 || errno != EINTR)
            return;
    }
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX);
}

/* ---- Mutex ------------------------------------------------------------------ */

enum { UNLOCKED = 0, LOCKED = 1, CONTENDED = 2 };

struct mutex {
    _Atomic uint32_t futex;
};

static uint32_t mutex_spin(struct mutex *m)
{
    for (int spin = 100;; spin--) {
        uint32_t s = atomic_load_explicit(&m->futex, memory_order_relaxed);
        if (s != LOCKED || spin == 0)
            return s;
        __builtin_ia32_pause();
    }
}

static __attribute__((noinline)) void mutex_lock_contended(struct mutex *m)
{
    uint32_t s = mutex_spin(m);
    if (s == UNLOCKED) {
        uint32_t u = UNLOCKED;
        if (atomic_compare_exchange_strong_explicit(&m->futex, &u, LOCKED, memory_order_acquire,
                                                    memory_order_relaxed))
            return;
        s = u;
    }
    for (;;) {
        if (s != CONTENDED && atomic_exchange_explicit(&m->futex, CONTENDED, memory_order_acquire) == UNLOCKED)
            return;
        futex_wait(&m->futex, CONTENDED);
        s = mutex_spin(m);
    }
}

static void mutex_lock(struct mutex *m)
{
    uint32_t u = UNLOCKED;
    if (!atomic_compare_exchange_strong_explicit(&m->futex, &u, LOCKED, memory_order_acquire,
                                                 memory_order_relaxed))
        mutex_lock_contended(m);
}

static void mutex_unlock(struct mutex *m)
{
    if (atomic_exchange_explicit(&m->futex, UNLOCKED, memory_order_release) == CONTENDED)
        futex_wake(&m->futex);
}

/* ---- Condvar ------------------------------------------------------------------ */

struct condvar {
    _Atomic uint32_t futex;
};

static void cond_notify_one(struct condvar *c)
{
    atomic_fetch_add_explicit(&c->futex, 1, memory_order_relaxed);
    futex_wake(&c->futex);
}

static void cond_notify_all(struct condvar *c)
{
    atomic_fetch_add_explicit(&c->futex, 1, memory_order_relaxed);
    futex_wake_all(&c->futex);
}

static void cond_wait(struct condvar *c, struct mutex *m)
{
    uint32_t v = atomic_load_explicit(&c->futex, memory_order_relaxed);
    mutex_unlock(m);
    futex_wait(&c->futex, v);
    mutex_lock(m);
}

/* ---- std::thread ---------------------------------------------------------------- */

static pthread_t spawn(void *(*f)(void *), void *arg)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 2 << 20); /* std's default min stack */
    pthread_t t;
    if (pthread_create(&t, &a, f, arg) != 0) {
        fprintf(stderr, "rust_std: spawn failed\n");
        exit(1);
    }
    pthread_attr_destroy(&a);
    return t;
}

/* ---- Workload ----------------------------------------------------------------------- */

enum { SLOTS = 64, PRODUCERS = 4, CONSUMERS = 4 };

static struct mutex qlock;
static struct condvar notempty, notfull;
static long ring[SLOTS];
static unsigned long head, tail;
static long nitems, produced_per, consumed_sum;
static _Atomic int producers_left = PRODUCERS;

static void *producer(void *arg)
{
    long base = (long)(intptr_t)arg * produced_per;
    for (long i = 0; i < produced_per; i++) {
        mutex_lock(&qlock);
        while (tail - head == SLOTS)
            cond_wait(&notfull, &qlock);
        ring[tail++ % SLOTS] = base + i;
        mutex_unlock(&qlock);
        cond_notify_one(&notempty);
    }
    if (atomic_fetch_sub(&producers_left, 1) == 1) {
        mutex_lock(&qlock);
        mutex_unlock(&qlock);
        cond_notify_all(&notempty); /* consumers may be waiting for the end */
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long sum = 0;
    for (;;) {
        mutex_lock(&qlock);
        while (tail == head && atomic_load(&producers_left) > 0)
            cond_wait(&notempty, &qlock);
        if (tail == head) {
            mutex_unlock(&qlock);
            break;
        }
        sum += ring[head++ % SLOTS];
        mutex_unlock(&qlock);
        cond_notify_one(&notfull);
    }
    mutex_lock(&qlock);
    consumed_sum += sum;
    mutex_unlock(&qlock);
    return NULL;
}

static struct mutex countlock;
static long spawned_count;

static void *short_task(void *arg)
{
    (void)arg;
    mutex_lock(&countlock);
    spawned_count++;
    mutex_unlock(&countlock);
    return NULL;
}

int main(int argc, char **argv)
{
    nitems = bench_iterations(argc, argv, 400000);
    produced_per = nitems / PRODUCERS;
    nitems = produced_per * PRODUCERS;
    long nspawn = nitems / 100;
    double t0 = bench_now_ns();

    pthread_t t[PRODUCERS + CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        t[i] = spawn(consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        t[CONSUMERS + i] = spawn(producer, (void *)(intptr_t)i);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        pthread_join(t[i], NULL);

    for (long i = 0; i < nspawn; i += 8) {
        pthread_t batch[8];
        int k = 0;
        for (; k < 8 && i + k < nspawn; k++)
            batch[k] = spawn(short_task, NULL);
        for (int j = 0; j < k; j++)
            pthread_join(batch[j], NULL);
    }
    double elapsed = bench_now_ns() - t0;

    long want = nitems * (nitems - 1) / 2;
    if (consumed_sum != want || spawned_count != nspawn) {
        fprintf(stderr, "rust_std: sum %ld (want %ld), spawned %ld (want %ld)\n", consumed_sum, want,
                spawned_count, nspawn);
        return 1;
    }
    bench_report("rust_std", elapsed, nitems);
    return 0;
}
