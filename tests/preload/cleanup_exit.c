/*
 * pthread_cleanup_push/pop and pthread_exit:
 *  - pthread_cleanup_pop(1) runs the handler, pop(0) does not, and a
 *    handler popped either way never runs again;
 *  - pthread_exit called three calls deep, under handlers pushed at each
 *    level, runs them innermost first, each once, then the thread's TSD
 *    destructors (after every handler), and join gets pthread_exit's
 *    value; the code after pthread_exit never runs;
 *  - a handler may itself call functions that push and pop handlers;
 *  - 32 threads do this at once, yielding between pushes (under gpm they
 *    may move between kernel threads in the middle).
 * Built plainly (glibc's setjmp-based handlers) and, as a second test, with
 * -fexceptions (handlers run by the unwinder, as in C++).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define NT 32
#define MAXLOG 16

struct log {
    int n;
    char ev[MAXLOG];
};

static struct log logs[NT];
static pthread_key_t key;
static atomic_int after_exit;

static void note(struct log *lg, char ev)
{
    CHECK(lg->n < MAXLOG, "log full");
    lg->ev[lg->n++] = ev;
}

static void handler(void *arg)
{
    struct log *lg = pthread_getspecific(key);
    CHECK(lg != NULL, "handler runs with the TSD value already cleared");
    note(lg, (char)(uintptr_t)arg);
}

/* A handler that runs a push/pop pair of its own. */
static void nesting_handler(void *arg)
{
    struct log *lg = pthread_getspecific(key);
    pthread_cleanup_push(handler, (void *)'n');
    note(lg, 'N');
    sched_yield();
    pthread_cleanup_pop(1);
}

static void dtor(void *v)
{
    note(v, 'D');
}

static void yields(int n)
{
    for (int i = 0; i < n; i++)
        sched_yield();
}

static void level3(uintptr_t id)
{
    pthread_cleanup_push(handler, (void *)'C');
    yields(3);
    pthread_exit((void *)(id * 10 + 1));
    pthread_cleanup_pop(0);
    atomic_fetch_add(&after_exit, 1);
}

static void level2(uintptr_t id)
{
    pthread_cleanup_push(handler, (void *)'B');
    yields(2);
    level3(id);
    pthread_cleanup_pop(0);
    atomic_fetch_add(&after_exit, 1);
}

static void level1(uintptr_t id)
{
    pthread_cleanup_push(nesting_handler, NULL);
    pthread_cleanup_push(handler, (void *)'A');
    yields(1);
    level2(id);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    atomic_fetch_add(&after_exit, 1);
}

static void *thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    struct log *lg = &logs[id];
    CHECK_EQ(pthread_setspecific(key, lg), 0);

    /* pop(1) runs the handler, pop(0) does not. */
    pthread_cleanup_push(handler, (void *)'x');
    sched_yield();
    pthread_cleanup_pop(1);
    pthread_cleanup_push(handler, (void *)'!');
    sched_yield();
    pthread_cleanup_pop(0);
    /* Nested pops, inner executed, outer not. */
    pthread_cleanup_push(handler, (void *)'!');
    pthread_cleanup_push(handler, (void *)'y');
    sched_yield();
    pthread_cleanup_pop(1);
    pthread_cleanup_pop(0);

    level1(id);
    atomic_fetch_add(&after_exit, 1);
    return NULL;
}

int main(void)
{
    CHECK_EQ(pthread_key_create(&key, dtor), 0);
    pthread_t t[NT];
    for (uintptr_t i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, thread, (void *)i), 0);
    for (uintptr_t i = 0; i < NT; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ((uintptr_t)r, i * 10 + 1);
    }
    const char *want = "xyCBANnD";
    for (int i = 0; i < NT; i++) {
        logs[i].ev[logs[i].n] = '\0';
        CHECK(strcmp(logs[i].ev, want) == 0, "thread %d ran '%s', expected '%s'", i, logs[i].ev, want);
    }
    CHECK_EQ(atomic_load(&after_exit), 0);
    printf("%d threads: cleanup handlers in order (%s), TSD destructors after them, exit values joined\n", NT,
           want);
    return 0;
}
