/*
 * Running out of address space is an error, never the end of the program.
 * In a child limited by RLIMIT_AS to its current size plus LIMIT MiB,
 * threads with 64 KiB stacks are created until pthread_create fails; they
 * wait in three ways that each need memory of their own under gpm (a
 * condition variable; a timed wait, which arms a timer; a read on a pipe,
 * which parks on the poller). The failure must be EAGAIN, as glibc gives.
 * Then every thread is released and joined, and at once a 1 MiB malloc
 * must succeed and be usable, and one more thread must run: what the
 * threads took has been given back. Three rounds per limit, at three
 * limits.
 *
 * Then the other side: 2,000 threads already made sleep 30 ms each at
 * once while the address space is full to the last page (sleeps have no
 * error to give: under gpm their timers must find room without memory),
 * and each must sleep its time, no less, and come back.
 *
 * Last, threads that block in the kernel while no kernel thread can be
 * made: with the address space full, four threads made before sleep 1,000
 * times each in raw nanosleep system calls (which gpm runs between
 * entersyscall and exitsyscall). Under gpm every long call has its P
 * taken and handed to a new M that cannot be made; the P must still reach
 * an M when one comes back from the kernel, however the two cross.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { MAXTHREADS = 200000, ROUNDS = 3 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released;
static int pipefd[2];
static pthread_t ths[MAXTHREADS];

static void *waiter(void *arg)
{
    long kind = (long)arg % 3;
    if (kind == 2) {
        char c;
        CHECK_EQ(read(pipefd[0], &c, 1), 1);
        return NULL;
    }
    struct timespec far;
    clock_gettime(CLOCK_REALTIME, &far);
    far.tv_sec += 3600;
    pthread_mutex_lock(&mu);
    while (!released) {
        if (kind == 0)
            pthread_cond_wait(&cv, &mu);
        else
            CHECK_EQ(pthread_cond_timedwait(&cv, &mu, &far), 0);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void *touch(void *arg)
{
    return arg;
}

/* The size of this process's address space, from /proc/self/statm. */
static size_t vmsize(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL, "statm");
    unsigned long pages;
    CHECK_EQ(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int round_(pthread_attr_t *attr)
{
    released = 0;
    int n = 0, err = 0;
    while (n < MAXTHREADS) {
        err = pthread_create(&ths[n], attr, waiter, (void *)(long)n);
        if (err != 0)
            break;
        n++;
    }
    CHECK(n < MAXTHREADS, "no failure after %d threads", n);
    CHECK(err == EAGAIN, "pthread_create after %d threads: %s", n, strerror(err));
    CHECK(n > 100, "only %d threads", n);
    pthread_mutex_lock(&mu);
    released = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    int readers = n / 3; /* i % 3 == 2 for i < n */
    for (int i = 0; i < readers; i++)
        CHECK_EQ(write(pipefd[1], "x", 1), 1);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_join(ths[i], NULL), 0);

    char *p = malloc(1 << 20);
    CHECK(p != NULL, "malloc of 1 MiB after %d threads were joined", n);
    memset(p, 1, 1 << 20);
    free(p);
    pthread_t t;
    err = pthread_create(&t, attr, touch, NULL);
    CHECK(err == 0, "one more thread after %d were joined: %s", n, strerror(err));
    CHECK_EQ(pthread_join(t, NULL), 0);
    return n;
}

static size_t limit_mib; /* the child's limit above its size (main) */

static void child_limit(void)
{
    size_t mib = limit_mib;
    CHECK_EQ(pipe(pipefd), 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    /* One thread before the limit, so that whatever a first thread sets up
       is there (natively and under gpm alike). */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, &attr, touch, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    struct rlimit rl = {vmsize() + (mib << 20), RLIM_INFINITY};
    CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);
    for (int r = 0; r < ROUNDS; r++) {
        int n = round_(&attr);
        printf("limit +%zu MiB, round %d: %d threads, then EAGAIN; all joined, malloc and a thread ok\n", mib, r, n);
        fflush(stdout);
    }
    exit(0);
}

/* Fills the address space under a limit of its size now plus 16 MiB:
   1 MiB pieces, then pages. */
static void fill_address_space(void)
{
    struct rlimit rl = {vmsize() + (16 << 20), RLIM_INFINITY};
    CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);
    static void *held[1 << 16];
    size_t nheld = 0;
    for (size_t sz = 1 << 20; sz >= 4096; sz /= 16) {
        void *p;
        while (nheld < sizeof held / sizeof held[0] &&
               (p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED)
            held[nheld++] = p;
    }
}

enum { SLEEPERS = 2000 };
static pthread_barrier_t start;

static int64_t nanonow(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *sleeper(void *arg)
{
    pthread_barrier_wait(&start);
    int64_t t0 = nanonow();
    struct timespec d = {0, 30 * 1000 * 1000};
    while (nanosleep(&d, &d) != 0)
        CHECK_EQ(errno, EINTR);
    return (void *)(intptr_t)(nanonow() - t0 >= 30 * 1000 * 1000);
}

/* Makes n threads of fn (argument i + 1 for ths[i]) that wait at the
   start barrier, fills the address space, and lets them go. */
static void start_on_full_address_space(int n, void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    CHECK_EQ(pthread_barrier_init(&start, NULL, (unsigned)n + 1), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_create(&ths[i], &attr, fn, (void *)(intptr_t)(i + 1)), 0);
    fill_address_space();
    pthread_barrier_wait(&start);
}

static void child_full(void)
{
    start_on_full_address_space(SLEEPERS, sleeper);
    int ok = 0;
    for (int i = 0; i < SLEEPERS; i++) {
        void *r;
        CHECK_EQ(pthread_join(ths[i], &r), 0);
        ok += r != NULL;
    }
    CHECK(ok == SLEEPERS, "%d of %d sleepers slept less than 30 ms", SLEEPERS - ok, SLEEPERS);
    printf("address space full: %d sleepers slept their 30 ms and returned\n", ok);
    exit(0);
}

enum { KSLEEPERS = 4, KSLEEPS = 1000 };

static void *ksleeper(void *arg)
{
    pthread_barrier_wait(&start);
    for (int i = 0; i < KSLEEPS; i++) {
        struct timespec d = {0, 30000 + (i % 7) * 5000};
        CHECK_EQ(syscall(SYS_nanosleep, &d, NULL), 0);
    }
    return arg;
}

static void child_kernel(void)
{
    start_on_full_address_space(KSLEEPERS, ksleeper);
    for (int i = 0; i < KSLEEPERS; i++) {
        void *r;
        CHECK_EQ(pthread_join(ths[i], &r), 0);
        CHECK_EQ((intptr_t)r, i + 1);
    }
    printf("address space full: %d threads made %d kernel sleeps each and returned\n", KSLEEPERS, KSLEEPS);
    exit(0);
}

static void run_child(void (*fn)(void), const char *what)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        fn();
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x", what, st);
}

int main(void)
{
    static const size_t limits[] = {64, 128, 256};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "limit +%zu MiB", limits[i]);
        limit_mib = limits[i];
        run_child(child_limit, what);
    }
    run_child(child_full, "full address space");
    run_child(child_kernel, "kernel sleeps in a full address space");
    return 0;
}
