/*
 * A thread blocked in fgets on a pipe gets its line, whatever kind of wait
 * the thread that writes the line is in. fgets reads through libc's own
 * internal read, which no interposer sees: under gpm the reader's M blocks
 * in the kernel still holding its P, and the writer can run only if the
 * scheduler notices that and hands the P (and its timers) on. The cases:
 *
 *   sleep     the writer thread sleeps 50 ms, then writes the line; once
 *             with usleep, once with nanosleep. The writer is on a timer,
 *             not on a run queue, while the reader holds the P.
 *   condwait  the writer waits in pthread_cond_timedwait until it times
 *             out after 50 ms, then writes.
 *   runnable  the writer is created after the reader and is runnable all
 *             along: it yields until the reader says it is about to call
 *             fgets, then writes at once.
 *   main      the main thread itself sleeps 50 ms, then writes.
 *   many      two readers, then five, each in fgets on a pipe of its own
 *             (more blocked threads than CPUs), and one writer thread that
 *             sleeps 20 ms before writing each pipe's line in turn.
 *
 * Each reader must get exactly its line, and each case must end within
 * 5 s (natively it takes 50-150 ms). The program runs the case named by
 * argv[1], or every case without an argument; meson registers one test
 * per case (fgets_pipe_sleep, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define BOUND_NS (5000 * MS)
#define MAXREADERS 5

/* One pipe and the thread reading a line from it. */
struct line {
    int fd[2];
    char want[64];
    char got[64];
    atomic_int entering; /* set just before the reader calls fgets */
    pthread_t reader;
};

static void *reader(void *arg)
{
    struct line *l = arg;
    FILE *f = fdopen(l->fd[0], "r");
    CHECK(f != NULL, "fdopen: errno %d", errno);
    atomic_store(&l->entering, 1);
    char *r = fgets(l->got, sizeof l->got, f);
    CHECK(r == l->got, "fgets returned %p (%s)", (void *)r, ferror(f) ? "error" : "end of file");
    int closed = fclose(f); /* closes fd[0] */
    CHECK_EQ(closed, 0);
    return NULL;
}

static void start_reader(struct line *l, const char *casename, int i)
{
    CHECK_EQ(pipe(l->fd), 0);
    snprintf(l->want, sizeof l->want, "line %d of case %s\n", i, casename);
    l->got[0] = '\0';
    atomic_store(&l->entering, 0);
    CHECK_EQ(pthread_create(&l->reader, NULL, reader, l), 0);
}

static void write_line(struct line *l)
{
    ssize_t len = (ssize_t)strlen(l->want);
    ssize_t n = write(l->fd[1], l->want, (size_t)len);
    CHECK(n == len, "write returned %zd, errno %d", n, errno);
}

static void finish_reader(struct line *l)
{
    CHECK_EQ(pthread_join(l->reader, NULL), 0);
    CHECK(strcmp(l->got, l->want) == 0, "read \"%s\", expected \"%s\"", l->got, l->want);
    CHECK_EQ(close(l->fd[1]), 0);
}

/* ---- The writers ---------------------------------------------------------------------- */

static void *write_after_usleep(void *arg)
{
    CHECK_EQ(usleep(50000), 0);
    write_line(arg);
    return NULL;
}

static void *write_after_nanosleep(void *arg)
{
    struct timespec req = {0, 50 * MS};
    CHECK_EQ(nanosleep(&req, NULL), 0);
    write_line(arg);
    return NULL;
}

static void *write_after_condwait(void *arg)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct timespec dl = add_ms(now(CLOCK_REALTIME), 50);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    int r;
    do
        r = pthread_cond_timedwait(&cv, &mu, &dl); /* nobody signals */
    while (r == 0);
    CHECK_EQ(r, ETIMEDOUT);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    write_line(arg);
    return NULL;
}

static void *write_when_reader_enters(void *arg)
{
    struct line *l = arg;
    while (!atomic_load(&l->entering))
        sched_yield();
    write_line(l);
    return NULL;
}

/* The "many" case's writer: `arg` points at the count, then the lines. */
struct lines {
    int n;
    struct line l[MAXREADERS];
};

static void *write_each_after_sleep(void *arg)
{
    struct lines *ls = arg;
    for (int i = 0; i < ls->n; i++) {
        CHECK_EQ(usleep(20000), 0);
        write_line(&ls->l[i]);
    }
    return NULL;
}

/* ---- The cases ------------------------------------------------------------------------ */

/* One reader; `writer` (a thread) provides its line. */
static void one_reader(const char *casename, void *(*writer)(void *))
{
    struct line l;
    start_reader(&l, casename, 0);
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, writer, &l), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    finish_reader(&l);
}

static void case_sleep(void)
{
    one_reader("sleep (usleep)", write_after_usleep);
    one_reader("sleep (nanosleep)", write_after_nanosleep);
}

static void case_condwait(void)
{
    one_reader("condwait", write_after_condwait);
}

static void case_runnable(void)
{
    one_reader("runnable", write_when_reader_enters);
}

static void case_main(void)
{
    struct line l;
    start_reader(&l, "main", 0);
    CHECK_EQ(usleep(50000), 0);
    write_line(&l);
    finish_reader(&l);
}

static void case_many(void)
{
    static const int counts[] = {2, MAXREADERS};
    for (int c = 0; c < 2; c++) {
        struct lines ls = {.n = counts[c]};
        char casename[32];
        snprintf(casename, sizeof casename, "many (%d readers)", ls.n);
        for (int i = 0; i < ls.n; i++)
            start_reader(&ls.l[i], casename, i);
        pthread_t w;
        CHECK_EQ(pthread_create(&w, NULL, write_each_after_sleep, &ls), 0);
        CHECK_EQ(pthread_join(w, NULL), 0);
        for (int i = 0; i < ls.n; i++)
            finish_reader(&ls.l[i]);
    }
}

static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    {"sleep", case_sleep}, {"condwait", case_condwait}, {"runnable", case_runnable},
    {"main", case_main},   {"many", case_many},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

int main(int argc, char **argv)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(30);
    const char *only = argc > 1 ? argv[1] : NULL;
    char report[256] = "";
    int ran = 0;
    for (int i = 0; i < NCASES; i++) {
        if (only != NULL && strcmp(only, cases[i].name) != 0)
            continue;
        int64_t t0 = ns(now(CLOCK_MONOTONIC));
        cases[i].run();
        int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
        CHECK(el < BOUND_NS, "case %s took %lld ms", cases[i].name, (long long)(el / MS));
        size_t len = strlen(report);
        snprintf(report + len, sizeof report - len, "%s%s %lld ms", ran ? ", " : "", cases[i].name,
                 (long long)(el / MS));
        ran++;
    }
    CHECK(ran > 0, "no case named %s", only);
    printf("every reader blocked in fgets got its line: %s (%s)\n", report, test_mode());
    return 0;
}
