/*
 * Thread names, as glibc and Linux give them (the native run is the
 * reference):
 *  - the main thread's name starts as the program's (/proc/self/comm, at
 *    most 15 characters), and so does a new thread's;
 *  - a new thread takes the name of the thread that created it, as the
 *    kernel copies it at clone: a thread created by a renamed thread, or
 *    by main after main renamed itself, starts with that name;
 *  - setname/getname on self and on another running thread; names of 15
 *    characters; the empty name reads back empty; 16 characters or more,
 *    or a buffer under 16 bytes, are ERANGE and change nothing;
 *  - names are per thread: 16 threads set their own and read them back
 *    across many yields (while they move between kernel threads under
 *    gpm), and main reads each one's name while it runs;
 *  - pthread_getconcurrency starts at 0, reads back what
 *    pthread_setconcurrency set, and setconcurrency(-1) is EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define NT 16
#define YIELDS 200
#define WAIT_BOUND 100000000L

static char progname[16];
static atomic_int named, go;

static void wait_count(atomic_int *f, int n, const char *what)
{
    long spins = 0;
    while (atomic_load(f) < n) {
        sched_yield();
        CHECK(++spins < WAIT_BOUND, "never: %s", what);
    }
}

static void name_of(pthread_t t, char *buf)
{
    CHECK_EQ(pthread_getname_np(t, buf, 16), 0);
}

static void expect_name(pthread_t t, const char *want, const char *who)
{
    char buf[16];
    name_of(t, buf);
    CHECK(strcmp(buf, want) == 0, "%s is named '%s', expected '%s'", who, buf, want);
}

/* Writes its name (as it starts) into arg. */
static void *report_name(void *arg)
{
    name_of(pthread_self(), arg);
    return NULL;
}

/* Renames itself, then creates a thread that reports its starting name. */
static void *rename_then_create(void *arg)
{
    CHECK_EQ(pthread_setname_np(pthread_self(), "renamed-parent"), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, report_name, arg), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    return NULL;
}

static void *own_name(void *arg)
{
    int id = (int)(uintptr_t)arg;
    char want[16], buf[16];
    snprintf(want, sizeof want, "worker-%d", id);
    CHECK_EQ(pthread_setname_np(pthread_self(), want), 0);
    atomic_fetch_add(&named, 1);
    for (int i = 0; i < YIELDS; i++) {
        sched_yield();
        name_of(pthread_self(), buf);
        CHECK(strcmp(buf, want) == 0, "worker %d reads '%s'", id, buf);
    }
    wait_count(&go, 1, "released");
    return NULL;
}

static void *wait_go(void *arg)
{
    wait_count(&go, 1, "released");
    return NULL;
}

int main(void)
{
    FILE *f = fopen("/proc/self/comm", "r");
    CHECK(f != NULL, "cannot open /proc/self/comm");
    CHECK(fgets(progname, sizeof progname, f) != NULL, "empty /proc/self/comm");
    fclose(f);
    progname[strcspn(progname, "\n")] = '\0';

    pthread_t self = pthread_self(), t;
    char buf[32], started[16];

    /* Default names. */
    expect_name(self, progname, "main");
    CHECK_EQ(pthread_create(&t, NULL, report_name, started), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(strcmp(started, progname) == 0, "a new thread is named '%s', not '%s'", started, progname);

    /* Inherited from the creator. */
    CHECK_EQ(pthread_create(&t, NULL, rename_then_create, started), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(strcmp(started, "renamed-parent") == 0, "a renamed thread's child is named '%s'", started);
    CHECK_EQ(pthread_setname_np(self, "main-renamed"), 0);
    expect_name(self, "main-renamed", "main");
    CHECK_EQ(pthread_create(&t, NULL, report_name, started), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(strcmp(started, "main-renamed") == 0, "a thread created by renamed main is named '%s'", started);

    /* Limits, on self. */
    CHECK_EQ(pthread_setname_np(self, "fifteen-chars-x"), 0);
    expect_name(self, "fifteen-chars-x", "main");
    CHECK_EQ(pthread_setname_np(self, "sixteen-chars-xy"), ERANGE);
    CHECK_EQ(pthread_setname_np(self, "a much longer name than that"), ERANGE);
    expect_name(self, "fifteen-chars-x", "main after ERANGE");
    CHECK_EQ(pthread_getname_np(self, buf, 15), ERANGE);
    CHECK_EQ(pthread_getname_np(self, buf, 0), ERANGE);
    CHECK_EQ(pthread_getname_np(self, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "fifteen-chars-x") == 0, "main reads '%s' with a large buffer", buf);
    CHECK_EQ(pthread_setname_np(self, ""), 0);
    expect_name(self, "", "main");
    CHECK_EQ(pthread_setname_np(self, "main"), 0);
    expect_name(self, "main", "main");

    /* On another thread, while it runs. */
    atomic_store(&go, 0);
    CHECK_EQ(pthread_create(&t, NULL, wait_go, NULL), 0);
    expect_name(t, "main", "a thread created by main");
    CHECK_EQ(pthread_setname_np(t, "other-thread-15"), 0);
    expect_name(t, "other-thread-15", "the other thread");
    expect_name(self, "main", "main after naming another thread");
    CHECK_EQ(pthread_setname_np(t, "other-thread-16c"), ERANGE);
    CHECK_EQ(pthread_getname_np(t, buf, 15), ERANGE);
    expect_name(t, "other-thread-15", "the other thread after ERANGE");
    CHECK_EQ(pthread_setname_np(t, ""), 0);
    expect_name(t, "", "the other thread");
    atomic_store(&go, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);

    /* Per-thread names across yields. */
    pthread_t ts[NT];
    atomic_store(&go, 0);
    atomic_store(&named, 0);
    for (uintptr_t i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&ts[i], NULL, own_name, (void *)i), 0);
    wait_count(&named, NT, "all workers named");
    for (int i = 0; i < NT; i++) {
        char want[16];
        snprintf(want, sizeof want, "worker-%d", i);
        expect_name(ts[i], want, "a worker");
    }
    expect_name(self, "main", "main among the workers");
    atomic_store(&go, 1);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_join(ts[i], NULL), 0);

    /* Concurrency level. */
    CHECK_EQ(pthread_getconcurrency(), 0);
    CHECK_EQ(pthread_setconcurrency(4), 0);
    CHECK_EQ(pthread_getconcurrency(), 4);
    CHECK_EQ(pthread_setconcurrency(-1), EINVAL);
    CHECK_EQ(pthread_getconcurrency(), 4);
    CHECK_EQ(pthread_setconcurrency(0), 0);
    CHECK_EQ(pthread_getconcurrency(), 0);

    printf("thread names as Linux gives them (program '%s', inherited from the creator, per thread); "
           "concurrency level kept\n",
           progname);
    return 0;
}
