/*
 * pthread_exit from main: the process lives on until its last thread ends.
 *  - main saves its pthread_t, creates workers and calls
 *    pthread_exit((void *)42) without joining them;
 *  - one worker pthread_join()s the main thread (glibc allows it) and gets
 *    42; the others keep running (yield loops) before and after that, and
 *    one of them creates and joins a new thread once main is gone;
 *  - the last worker to finish checks that all the work was done;
 *  - then the process exits with status 0 and the atexit handler runs,
 *    once, after all the work (it calls _exit(1) otherwise).
 * Any failure in a worker calls exit(1) (CHECK).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

#define NW 8              /* workers besides the joiner */
#define ITERS 2000        /* yields each worker does after main is joined */
#define WAIT_BOUND 50000000L

static pthread_t main_thread;
static atomic_int main_joined;   /* set by the joiner once join returned 42 */
static atomic_long work;         /* units of work done by all workers */
static atomic_int finished;      /* workers (and the joiner) that finished */
static atomic_int atexit_runs;
static atomic_int late_ran;      /* the thread created after main exited */

static void at_exit(void)
{
    int runs = atomic_fetch_add(&atexit_runs, 1) + 1;
    long w = atomic_load(&work);
    if (runs != 1 || w != (long)NW * ITERS + 1 || atomic_load(&finished) != NW + 1 ||
        atomic_load(&late_ran) != 1) {
        fprintf(stderr, "FAIL atexit: runs %d, work %ld (expected %ld), finished %d, late %d\n", runs, w,
                (long)NW * ITERS + 1, atomic_load(&finished), atomic_load(&late_ran));
        _exit(1);
    }
    printf("atexit ran\n");
}

static void finish(void)
{
    if (atomic_fetch_add(&finished, 1) + 1 == NW + 1) {
        /* The last one: every worker has finished its share. */
        long w = atomic_load(&work);
        CHECK(w == (long)NW * ITERS + 1, "work %ld, expected %ld", w, (long)NW * ITERS + 1);
        printf("main exited with 42, joined by a worker; %d workers did %ld units after it\n", NW, w);
    }
}

static void *joiner(void *arg)
{
    void *r = NULL;
    CHECK(!pthread_equal(pthread_self(), main_thread), "joiner is the main thread");
    CHECK_EQ(pthread_join(main_thread, &r), 0);
    CHECK((uintptr_t)r == 42, "main thread's result is %p, not 42", r);
    atomic_store(&main_joined, 1);
    finish();
    return NULL;
}

static void *late(void *arg)
{
    atomic_fetch_add(&late_ran, 1);
    atomic_fetch_add(&work, 1);
    return (void *)((uintptr_t)arg + 1);
}

static void *worker(void *arg)
{
    int id = (int)(uintptr_t)arg;
    /* Runs while main exits and is joined. */
    long spins = 0;
    while (!atomic_load(&main_joined)) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "worker %d: the main thread was never joined", id);
    }
    for (int i = 0; i < ITERS; i++) {
        atomic_fetch_add(&work, 1);
        sched_yield();
    }
    if (id == 0) {
        /* Threads can still be created after main is gone. */
        pthread_t t;
        void *r;
        CHECK_EQ(pthread_create(&t, NULL, late, (void *)41), 0);
        CHECK_EQ(pthread_join(t, &r), 0);
        CHECK_EQ((uintptr_t)r, 42);
    }
    finish();
    return NULL;
}

int main(void)
{
    main_thread = pthread_self();
    CHECK_EQ(atexit(at_exit), 0);
    pthread_t t;
    for (uintptr_t i = 0; i < NW; i++)
        CHECK_EQ(pthread_create(&t, NULL, worker, (void *)i), 0);
    CHECK_EQ(pthread_create(&t, NULL, joiner, NULL), 0);
    for (int i = 0; i < 10; i++)
        sched_yield();
    pthread_exit((void *)42);
}
