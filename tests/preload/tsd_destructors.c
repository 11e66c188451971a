/*
 * Thread-specific data and its destructors, as glibc runs them (the native
 * run is the reference). Every value is a record saying which thread set it
 * and what its destructor should do; destructors log (key, tag) per thread
 * and check they run on the exiting thread with the key already cleared.
 *  - a value's destructor runs once, with that value, when the thread
 *    returns, calls pthread_exit from a nested call, or sets the value from
 *    a cleanup handler during pthread_exit; one round runs in key order;
 *    main's run when main calls pthread_exit (in a child process, with
 *    another thread living on);
 *  - NULL values (never set, or set back to NULL) and keys without a
 *    destructor run nothing;
 *  - a destructor that sets its key again runs again in the next round,
 *    and one that always does stops after exactly
 *    PTHREAD_DESTRUCTOR_ITERATIONS rounds; a destructor that sets a higher
 *    key has it run in the same round (a chain of 6 ascending keys across
 *    the 32-key boundary runs whole), a lower key in the next round only
 *    (a descending chain stops after PTHREAD_DESTRUCTOR_ITERATIONS);
 *  - a key deleted while a thread has a value runs no destructor, and the
 *    key created next (which reuses the slot) reads NULL in every thread
 *    that had a value under the old one;
 *  - values are per thread: 16 threads (and main) set the same keys,
 *    yield, and read their own; a key created while they run reads NULL in
 *    them although main has set it; a new thread reads NULL everywhere;
 *  - C11 tss_create/tss_get/tss_set/tss_delete with a destructor, from
 *    thrd_create threads ending in thrd_exit, TSS_DTOR_ITERATIONS rounds
 *    for one that always sets again, nothing after tss_delete;
 *  - errors: a deleted key is EINVAL to delete or set; creating more than
 *    PTHREAD_KEYS_MAX keys in all is EAGAIN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <threads.h>
#include <unistd.h>

#include "check.h"

#define NPOOL 40    /* keys made first, sorted: pool[0] < pool[1] < ... */
#define NSC 64      /* scenarios: one log each */
#define MAXLOG 32

enum action { NONE, RESET, SET_OTHER };

struct val {
    int sc, tag;
    enum action action;
    pthread_key_t key;   /* the key it is stored under */
    int count, limit;    /* RESET: times set again so far, and at most */
    pthread_key_t other; /* SET_OTHER: set other to next */
    struct val *next;
};

struct ev {
    pthread_key_t key;
    int tag;
};

static struct {
    int n;
    struct ev ev[MAXLOG];
    pthread_t self;
} logs[NSC];

static pthread_key_t pool[NPOOL];
static pthread_key_t knull; /* no destructor */
static struct val vals[NSC][40];

static void destr(void *p)
{
    struct val *v = p;
    CHECK(v->sc >= 0 && v->sc < NSC, "destructor called with %p", p);
    CHECK(logs[v->sc].n < MAXLOG, "scenario %d: too many destructor calls", v->sc);
    logs[v->sc].ev[logs[v->sc].n++] = (struct ev){v->key, v->tag};
    CHECK(pthread_equal(pthread_self(), logs[v->sc].self), "scenario %d: destructor not on the exiting thread",
          v->sc);
    CHECK(pthread_getspecific(v->key) == NULL, "scenario %d: key %u not cleared before its destructor", v->sc,
          v->key);
    switch (v->action) {
    case RESET:
        if (v->count < v->limit) {
            v->count++;
            CHECK_EQ(pthread_setspecific(v->key, v), 0);
        }
        break;
    case SET_OTHER:
        CHECK_EQ(pthread_setspecific(v->other, v->next), 0);
        break;
    case NONE:
        break;
    }
}

static struct val *mkval(int sc, int tag, pthread_key_t key)
{
    struct val *v = &vals[sc][tag];
    *v = (struct val){.sc = sc, .tag = tag, .action = NONE, .key = key};
    return v;
}

static void set(struct val *v)
{
    CHECK_EQ(pthread_setspecific(v->key, v), 0);
    CHECK(pthread_getspecific(v->key) == v, "getspecific right after setspecific");
}

/* The log of scenario sc is exactly the n (key, tag) pairs given. */
static void expect(int sc, int n, const struct ev *want)
{
    for (int i = 0; i < n && i < logs[sc].n; i++)
        CHECK(logs[sc].ev[i].key == want[i].key && logs[sc].ev[i].tag == want[i].tag,
              "scenario %d: destructor call %d was key %u tag %d, expected key %u tag %d", sc, i,
              logs[sc].ev[i].key, logs[sc].ev[i].tag, want[i].key, want[i].tag);
    CHECK(logs[sc].n == n, "scenario %d: %d destructor calls, expected %d", sc, logs[sc].n, n);
}
#define EXPECT(sc, ...)                                                                                          \
    do {                                                                                                         \
        const struct ev want_[] = {__VA_ARGS__};                                                                 \
        expect(sc, sizeof want_ / sizeof want_[0], want_);                                                       \
    } while (0)
#define EXPECT_NONE(sc) expect(sc, 0, NULL)

/* Runs fn(sc) as a thread; its result must be ret. */
static void run(int sc, void *(*fn)(void *), void *ret)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fn, (void *)(intptr_t)sc), 0);
    void *r;
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == ret, "scenario %d: thread returned %p, expected %p", sc, r, ret);
}

static void start(int sc)
{
    logs[sc].self = pthread_self();
    sched_yield();
}

/* 1: two values, the thread returns. */
static void *sc_return(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    set(mkval(sc, 1, pool[7]));
    set(mkval(sc, 2, pool[2]));
    sched_yield();
    return (void *)0x11;
}

/* 2: pthread_exit from a nested call. */
static __attribute__((noinline)) void exit_from_nested(int depth)
{
    if (depth == 0)
        pthread_exit((void *)0x22);
    sched_yield();
    /* Through a volatile pointer: gcc takes a recursion that only ends in
       a noreturn call for an infinite one. */
    void (*volatile again)(int) = exit_from_nested;
    again(depth - 1);
}

static void *sc_exit(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    set(mkval(sc, 1, pool[1]));
    set(mkval(sc, 2, pool[36])); /* past the first 32 keys in glibc */
    exit_from_nested(3);
    return NULL;
}

/* 3: a cleanup handler sets a value during pthread_exit. */
static void cleanup_sets(void *arg)
{
    struct val *v = arg;
    logs[v->sc].ev[logs[v->sc].n++] = (struct ev){(pthread_key_t)-1, -1}; /* the handler itself */
    set(v);
}

static void *sc_cleanup(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    set(mkval(sc, 1, pool[9]));
    pthread_cleanup_push(cleanup_sets, mkval(sc, 2, pool[3]));
    sched_yield();
    pthread_exit((void *)0x33);
    pthread_cleanup_pop(0);
    return NULL;
}

/* 4: NULL values and a key without a destructor. */
static void *sc_null(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    set(mkval(sc, 1, pool[4]));
    CHECK_EQ(pthread_setspecific(pool[4], NULL), 0);
    CHECK(pthread_getspecific(pool[4]) == NULL, "set back to NULL");
    CHECK(pthread_getspecific(pool[5]) == NULL, "never set");
    set(mkval(sc, 2, knull));
    sched_yield();
    CHECK(pthread_getspecific(knull) == &vals[sc][2], "value without destructor");
    return NULL;
}

/* 5: a destructor sets its own key again twice; 6: every time. */
static void *sc_reset(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    struct val *v = mkval(sc, 1, pool[6]);
    v->action = RESET;
    v->limit = sc == 5 ? 2 : INT_MAX;
    set(v);
    sched_yield();
    return NULL;
}

/* 7: a chain of destructors, each setting the next key, ascending through
   pool[28..33]; 8: the same descending from pool[33]. */
static void *sc_chain(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    int up = sc == 7;
    struct val *first = NULL, *prev = NULL;
    for (int i = 0; i < 6; i++) {
        int k = up ? 28 + i : 33 - i;
        struct val *v = mkval(sc, k, pool[k]);
        if (prev != NULL) {
            prev->action = SET_OTHER;
            prev->other = v->key;
            prev->next = v;
        } else {
            first = v;
        }
        prev = v;
    }
    set(first);
    sched_yield();
    return NULL;
}

/* 9: three keys deleted while the thread holds values; two slots reused,
   one of which the thread then sets. */
static pthread_key_t kdel[3], knew[2];
static atomic_int phase9;

static void *sc_deleted(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    for (int i = 0; i < 3; i++)
        set(mkval(sc, 1 + i, kdel[i]));
    atomic_store(&phase9, 1);
    while (atomic_load(&phase9) != 2)
        sched_yield();
    CHECK(pthread_getspecific(knew[0]) == NULL && pthread_getspecific(knew[1]) == NULL,
          "a re-created key reads the old key's value");
    sched_yield();
    set(mkval(sc, 4, knew[1]));
    return NULL;
}

/* 10..25: per-thread values, and a key made while the threads run. */
#define NPER 16
static pthread_key_t kfresh;
static atomic_int set_count, fresh_made;

static void *sc_perthread(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    struct val *a = mkval(sc, 1, pool[0]), *b = mkval(sc, 2, pool[35]);
    set(a);
    set(b);
    atomic_fetch_add(&set_count, 1);
    for (int i = 0; i < 100 || !atomic_load(&fresh_made); i++) {
        sched_yield();
        CHECK(pthread_getspecific(pool[0]) == a && pthread_getspecific(pool[35]) == b,
              "scenario %d: sees another thread's value", sc);
    }
    CHECK(pthread_getspecific(kfresh) == NULL, "scenario %d: a key made by main reads main's value", sc);
    struct val *c = mkval(sc, 3, kfresh);
    set(c);
    for (int i = 0; i < 20; i++) {
        sched_yield();
        CHECK(pthread_getspecific(kfresh) == c, "scenario %d: sees another thread's value on the new key", sc);
    }
    return NULL;
}

/* 26: a new thread reads NULL on keys main has set. */
static void *sc_new(void *arg)
{
    int sc = (int)(intptr_t)arg;
    start(sc);
    for (int i = 0; i < NPOOL; i++)
        CHECK(pthread_getspecific(pool[i]) == NULL, "a new thread reads a value on key %u", pool[i]);
    CHECK(pthread_getspecific(kfresh) == NULL && pthread_getspecific(knull) == NULL, "a new thread reads a value");
    /* NULL into a key past the first 32 the thread has never used. */
    CHECK_EQ(pthread_setspecific(pool[39], NULL), 0);
    CHECK(pthread_getspecific(pool[39]) == NULL, "set to NULL");
    return NULL;
}

/* C11. */
static tss_t ts, ts_again;
static atomic_int tss_calls[3], c11_ready, c11_go;
static int tss_vals[4]; /* 0..2: the threads', 3: main's */

static void tss_destr(void *p)
{
    int i = (int)((int *)p - tss_vals);
    CHECK(i >= 0 && i < 3, "tss destructor called with %p", p);
    atomic_fetch_add(&tss_calls[i], 1);
    CHECK(tss_get(i == 1 ? ts_again : ts) == NULL, "tss value not cleared before its destructor");
    if (i == 1)
        CHECK_EQ(tss_set(ts_again, p), thrd_success); /* always again */
}

static int c11_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    tss_t k = i == 1 ? ts_again : ts;
    CHECK(tss_get(k) == NULL, "C11 thread %d: tss_get on a fresh thread", i);
    CHECK_EQ(tss_set(k, &tss_vals[i]), thrd_success);
    thrd_yield();
    CHECK(tss_get(k) == &tss_vals[i], "C11 thread %d: tss_get after yield", i);
    if (i == 2) {
        /* Main deletes the key meanwhile. */
        atomic_store(&c11_ready, 1);
        while (!atomic_load(&c11_go))
            thrd_yield();
    }
    thrd_exit(40 + i);
}

static void c11_tests(void)
{
    CHECK_EQ(tss_create(&ts, tss_destr), thrd_success);
    CHECK_EQ(tss_create(&ts_again, tss_destr), thrd_success);
    CHECK(tss_get(ts) == NULL, "main: fresh tss key");
    CHECK_EQ(tss_set(ts, &tss_vals[3]), thrd_success); /* main's own: never destroyed here */
    for (int i = 0; i < 3; i++) {
        thrd_t t;
        int res;
        CHECK_EQ(thrd_create(&t, c11_thread, (void *)(intptr_t)i), thrd_success);
        if (i == 2) {
            /* tss_delete while the thread holds a value: no destructor. */
            while (!atomic_load(&c11_ready))
                thrd_yield();
            tss_delete(ts);
            atomic_store(&c11_go, 1);
        }
        CHECK_EQ(thrd_join(t, &res), thrd_success);
        CHECK_EQ(res, 40 + i);
    }
    CHECK_EQ(atomic_load(&tss_calls[0]), 1);
    CHECK(TSS_DTOR_ITERATIONS == 4, "TSS_DTOR_ITERATIONS is %d", TSS_DTOR_ITERATIONS);
    CHECK_EQ(atomic_load(&tss_calls[1]), TSS_DTOR_ITERATIONS);
    CHECK_EQ(atomic_load(&tss_calls[2]), 0);
    tss_delete(ts_again);
}

/* In a child process: main sets a value and calls pthread_exit; its
   destructor runs (on main) while another thread lives on, which then
   reports and ends the process with status 0. */
static atomic_int main_destructed;
static int report_fd;

static void main_destr(void *p)
{
    CHECK(p == &main_destructed, "main's destructor value");
    CHECK(write(report_fd, "D", 1) == 1, "write");
    atomic_store(&main_destructed, 1);
}

static void *survivor(void *arg)
{
    for (long i = 0; !atomic_load(&main_destructed); i++) {
        if (i > 100000000L)
            _exit(5);
        sched_yield();
    }
    CHECK(write(report_fd, "T", 1) == 1, "write");
    return arg;
}

static void main_pthread_exit(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    fflush(stdout); /* the child must not print it again */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        logs[0].self = pthread_self(); /* main's other values: destructors run too */
        pthread_key_t k;
        CHECK_EQ(pthread_key_create(&k, main_destr), 0);
        CHECK_EQ(pthread_setspecific(k, &main_destructed), 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, survivor, NULL), 0);
        pthread_exit(NULL);
    }
    close(fds[1]);
    char buf[8] = {0};
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    CHECK(strcmp(buf, "DT") == 0, "main's destructor and the other thread reported \"%s\", expected \"DT\"", buf);
}

int main(void)
{
    /* The pool, sorted by key number. */
    for (int i = 0; i < NPOOL; i++)
        CHECK_EQ(pthread_key_create(&pool[i], destr), 0);
    for (int i = 1; i < NPOOL; i++)
        for (int j = i; j > 0 && pool[j - 1] > pool[j]; j--) {
            pthread_key_t t = pool[j];
            pool[j] = pool[j - 1];
            pool[j - 1] = t;
        }
    CHECK_EQ(pthread_key_create(&knull, NULL), 0);

    run(1, sc_return, (void *)0x11);
    EXPECT(1, {pool[2], 2}, {pool[7], 1});
    run(2, sc_exit, (void *)0x22);
    EXPECT(2, {pool[1], 1}, {pool[36], 2});
    run(3, sc_cleanup, (void *)0x33);
    EXPECT(3, {(pthread_key_t)-1, -1}, {pool[3], 2}, {pool[9], 1});
    run(4, sc_null, NULL);
    EXPECT_NONE(4);
    run(5, sc_reset, NULL);
    EXPECT(5, {pool[6], 1}, {pool[6], 1}, {pool[6], 1});
    CHECK_EQ(vals[5][1].count, 2);
    run(6, sc_reset, NULL);
    CHECK(PTHREAD_DESTRUCTOR_ITERATIONS == 4, "PTHREAD_DESTRUCTOR_ITERATIONS is %d", PTHREAD_DESTRUCTOR_ITERATIONS);
    EXPECT(6, {pool[6], 1}, {pool[6], 1}, {pool[6], 1}, {pool[6], 1});
    run(7, sc_chain, NULL);
    EXPECT(7, {pool[28], 28}, {pool[29], 29}, {pool[30], 30}, {pool[31], 31}, {pool[32], 32}, {pool[33], 33});
    run(8, sc_chain, NULL);
    EXPECT(8, {pool[33], 33}, {pool[32], 32}, {pool[31], 31}, {pool[30], 30});

    /* 9: delete three keys under a thread (and main), re-create two. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_key_create(&kdel[i], destr), 0);
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (kdel[j] < kdel[i]) {
                pthread_key_t k = kdel[i];
                kdel[i] = kdel[j];
                kdel[j] = k;
            }
    CHECK_EQ(pthread_setspecific(kdel[0], &vals[0][0]), 0);
    pthread_t t9;
    CHECK_EQ(pthread_create(&t9, NULL, sc_deleted, (void *)(intptr_t)9), 0);
    while (atomic_load(&phase9) != 1)
        sched_yield();
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_key_delete(kdel[i]), 0);
    CHECK_EQ(pthread_key_create(&knew[0], destr), 0);
    CHECK_EQ(pthread_key_create(&knew[1], destr), 0);
    CHECK(knew[0] == kdel[0] && knew[1] == kdel[1], "the new keys are %u and %u, not the lowest free %u and %u",
          knew[0], knew[1], kdel[0], kdel[1]);
    CHECK(pthread_getspecific(knew[0]) == NULL, "main: a re-created key reads the old key's value");
    atomic_store(&phase9, 2);
    CHECK_EQ(pthread_join(t9, NULL), 0);
    EXPECT(9, {knew[1], 4});
    CHECK_EQ(pthread_key_delete(knew[0]), 0);
    CHECK_EQ(pthread_key_delete(knew[1]), 0);
    CHECK_EQ(pthread_key_delete(knew[1]), EINVAL);
    CHECK_EQ(pthread_setspecific(knew[1], &vals[0][0]), EINVAL);

    /* 10..25: per-thread values. main has its own. */
    struct val *ma = mkval(0, 1, pool[0]);
    set(ma);
    pthread_t per[NPER];
    for (int i = 0; i < NPER; i++)
        CHECK_EQ(pthread_create(&per[i], NULL, sc_perthread, (void *)(intptr_t)(10 + i)), 0);
    while (atomic_load(&set_count) != NPER)
        sched_yield();
    CHECK_EQ(pthread_key_create(&kfresh, destr), 0);
    set(mkval(0, 3, kfresh));
    atomic_store(&fresh_made, 1);
    for (int i = 0; i < NPER; i++)
        CHECK_EQ(pthread_join(per[i], NULL), 0);
    for (int i = 0; i < NPER; i++) {
        struct ev want[3] = {{pool[0], 1}, {pool[35], 2}, {kfresh, 3}};
        /* One round, in key order. */
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (want[b].key < want[a].key) {
                    struct ev e = want[a];
                    want[a] = want[b];
                    want[b] = e;
                }
        expect(10 + i, 3, want);
    }
    CHECK(pthread_getspecific(pool[0]) == ma && pthread_getspecific(kfresh) == &vals[0][3], "main's values");
    run(26, sc_new, NULL);
    EXPECT_NONE(26);
    EXPECT_NONE(0); /* main's values: no destructor while it lives */

    c11_tests();
    main_pthread_exit();

    /* PTHREAD_KEYS_MAX keys at most, counting the NPOOL + 2 still live. */
    static pthread_key_t extra[PTHREAD_KEYS_MAX];
    int nextra = 0, err;
    while ((err = pthread_key_create(&extra[nextra], destr)) == 0) {
        CHECK(nextra < PTHREAD_KEYS_MAX, "more than PTHREAD_KEYS_MAX keys");
        nextra++;
    }
    CHECK(err == EAGAIN, "pthread_key_create failed with %d, not EAGAIN", err);
    CHECK(nextra + NPOOL + 2 == PTHREAD_KEYS_MAX, "%d + %d keys, PTHREAD_KEYS_MAX is %d", nextra, NPOOL + 2,
          PTHREAD_KEYS_MAX);
    for (int i = 0; i < nextra; i++)
        CHECK_EQ(pthread_key_delete(extra[i]), 0);
    CHECK_EQ(pthread_key_create(&extra[0], destr), 0);
    CHECK_EQ(pthread_key_delete(extra[0]), 0);
    printf("TSD destructors: return, pthread_exit, cleanup handlers, NULL values, %d rounds at most, same-round "
           "higher keys, deleted and re-created keys, per-thread values (%d threads), C11 tss, main's pthread_exit\n",
           PTHREAD_DESTRUCTOR_ITERATIONS, NPER);
    return 0;
}
