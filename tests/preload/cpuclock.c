/*
 * Thread CPU clocks, as Linux gives them (the native run is the
 * reference):
 *  - three threads compute at once, more than there are CPUs (or Ps under
 *    gpm): each computes until its own CLOCK_THREAD_CPUTIME_ID has advanced
 *    50 ms. A thread's CPU time never runs ahead of the wall clock, and
 *    the three together are the process's CPU time over the same period
 *    (CLOCK_PROCESS_CPUTIME_ID, the kernel's, while main mostly waits): not
 *    more, and not 20% less (gpm's own threads use some);
 *  - main reads one of them through pthread_getcpuclockid and clock_gettime
 *    while it computes (never going back) and after it stopped (what the
 *    thread last read itself, or a little more); clock_getres of that id
 *    and of CLOCK_THREAD_CPUTIME_ID are fine resolutions;
 *  - getrusage(RUSAGE_THREAD) in a thread reports (user + system) its CPU
 *    time;
 *  - a thread that sleeps 100 ms uses less than 10 ms, seen from itself and
 *    from main; a new thread's clock starts near 0;
 *  - main's own clock reads the same through CLOCK_THREAD_CPUTIME_ID and
 *    its own clock id;
 *  - clock_nanosleep on another thread's clock id sleeps until that thread
 *    has computed that long; on one's own CPU clock (either way of naming
 *    it) it is EINVAL; once a thread has
 *    exited, pthread_getcpuclockid of it is ESRCH and its clock id EINVAL
 *    in clock_gettime and clock_getres.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define NSPIN 3
#define SPIN_NS 50000000LL
#define MS 1000000LL

static sem_t go, done, release;
static atomic_int started;

struct spinner {
    pthread_t t;
    int64_t cpu0, cpu1;   /* its own clock at the start and the end */
    int64_t wall0, wall1; /* CLOCK_MONOTONIC at the same moments */
    int64_t ru;           /* getrusage(RUSAGE_THREAD) user + system, ns */
    int64_t cpu2;         /* its own clock right after getrusage */
};

static struct spinner spinners[NSPIN];

static int64_t clockns(clockid_t c)
{
    struct timespec t;
    CHECK_EQ(clock_gettime(c, &t), 0);
    return ns(t);
}

static int64_t tvns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void *spin(void *arg)
{
    struct spinner *s = arg;
    int64_t first = clockns(CLOCK_THREAD_CPUTIME_ID);
    CHECK(first < 10 * MS, "a new thread's CPU clock reads %lld ns", (long long)first);
    atomic_fetch_add(&started, 1);
    CHECK_EQ(sem_wait(&go), 0);
    s->wall0 = clockns(CLOCK_MONOTONIC);
    s->cpu0 = clockns(CLOCK_THREAD_CPUTIME_ID);
    int64_t cpu;
    volatile uint64_t sink = 0;
    do {
        for (int i = 0; i < 1000; i++)
            sink += (uint64_t)i * 2654435761u;
        cpu = clockns(CLOCK_THREAD_CPUTIME_ID);
    } while (cpu - s->cpu0 < SPIN_NS);
    s->cpu1 = cpu;
    s->wall1 = clockns(CLOCK_MONOTONIC);
    struct rusage ru;
    CHECK_EQ(getrusage(RUSAGE_THREAD, &ru), 0);
    s->ru = tvns(ru.ru_utime) + tvns(ru.ru_stime);
    s->cpu2 = clockns(CLOCK_THREAD_CPUTIME_ID);
    CHECK_EQ(sem_post(&done), 0);
    /* Stays alive, not computing, until main has read its clock. */
    CHECK_EQ(sem_wait(&release), 0);
    return NULL;
}

static void *sleeper(void *arg)
{
    int64_t *used = arg;
    int64_t c0 = clockns(CLOCK_THREAD_CPUTIME_ID);
    struct timespec d = {0, 100 * MS};
    CHECK_EQ(nanosleep(&d, NULL), 0);
    *used = clockns(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static void *quick(void *arg)
{
    return arg;
}

int main(void)
{
    CHECK_EQ(sem_init(&go, 0, 0), 0);
    CHECK_EQ(sem_init(&done, 0, 0), 0);
    CHECK_EQ(sem_init(&release, 0, 0), 0);

    /* Main's own clock, two ways. */
    clockid_t mainclk;
    CHECK_EQ(pthread_getcpuclockid(pthread_self(), &mainclk), 0);
    int64_t m0 = clockns(CLOCK_THREAD_CPUTIME_ID);
    int64_t m1 = clockns(mainclk);
    int64_t m2 = clockns(CLOCK_THREAD_CPUTIME_ID);
    CHECK(m0 <= m1 && m1 <= m2, "main's clock reads %lld, then %lld by its id, then %lld", (long long)m0,
          (long long)m1, (long long)m2);

    struct timespec res;
    CHECK_EQ(clock_getres(CLOCK_THREAD_CPUTIME_ID, &res), 0);
    CHECK(ns(res) > 0 && ns(res) <= MS, "CLOCK_THREAD_CPUTIME_ID resolution %lld ns", (long long)ns(res));
    struct timespec req = {0, MS};
    CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL), EINVAL);
    CHECK_EQ(clock_nanosleep(mainclk, 0, &req, NULL), EINVAL);

    for (int i = 0; i < NSPIN; i++)
        CHECK_EQ(pthread_create(&spinners[i].t, NULL, spin, &spinners[i]), 0);
    while (atomic_load(&started) < NSPIN)
        sched_yield();
    clockid_t clk0;
    CHECK_EQ(pthread_getcpuclockid(spinners[0].t, &clk0), 0);
    CHECK_EQ(clock_getres(clk0, &res), 0);
    CHECK(ns(res) > 0 && ns(res) <= MS, "a thread's clock id has resolution %lld ns", (long long)ns(res));

    int64_t wall0 = clockns(CLOCK_MONOTONIC);
    int64_t proc0 = clockns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < NSPIN; i++)
        CHECK_EQ(sem_post(&go), 0);
    /* Sleep until spinner 0 has computed 10 ms more. */
    int64_t before = clockns(clk0);
    struct timespec tenms = {0, 10 * MS};
    CHECK_EQ(clock_nanosleep(clk0, 0, &tenms, NULL), 0);
    int64_t after = clockns(clk0);
    CHECK(after >= before + 10 * MS, "slept on spinner 0's clock from %lld to %lld ns", (long long)before,
          (long long)after);
    /* Watch spinner 0's clock while it computes: it never goes back. */
    int64_t last = after;
    int nreads = 0;
    while (sem_trywait(&done) != 0) {
        int64_t c = clockns(clk0);
        CHECK(c >= last, "spinner 0's clock went back from %lld to %lld", (long long)last, (long long)c);
        last = c;
        nreads++;
        struct timespec d = {0, 2 * MS};
        nanosleep(&d, NULL);
    }
    for (int i = 1; i < NSPIN; i++)
        CHECK_EQ(sem_wait(&done), 0);
    int64_t proc1 = clockns(CLOCK_PROCESS_CPUTIME_ID);
    int64_t wall1 = clockns(CLOCK_MONOTONIC);

    int64_t sum = 0;
    for (int i = 0; i < NSPIN; i++) {
        struct spinner *s = &spinners[i];
        int64_t cpu = s->cpu1 - s->cpu0, wall = s->wall1 - s->wall0;
        printf("spinner %d: %lld ms CPU in %lld ms; getrusage %lld ms\n", i, (long long)(cpu / MS),
               (long long)(wall / MS), (long long)(s->ru / MS));
        CHECK(cpu >= SPIN_NS, "spinner %d stopped at %lld ns", i, (long long)cpu);
        CHECK(cpu <= wall + MS, "spinner %d used %lld ns of CPU in %lld ns", i, (long long)cpu, (long long)wall);
        CHECK(s->ru >= s->cpu1 * 8 / 10 && s->ru <= s->cpu2 + MS,
              "spinner %d: getrusage says %lld ns, its clock %lld..%lld ns", i, (long long)s->ru, (long long)s->cpu1,
              (long long)s->cpu2);
        sum += cpu;
    }
    int64_t proc = proc1 - proc0, wall = wall1 - wall0;
    printf("together %lld ms CPU; process %lld ms CPU; %lld ms wall; %d reads of spinner 0\n", (long long)(sum / MS),
           (long long)(proc / MS), (long long)(wall / MS), nreads);
    CHECK(sum <= proc + MS && sum >= proc * 8 / 10,
          "the threads used %lld ns together, the process %lld ns", (long long)sum, (long long)proc);

    /* Spinner 0 has stopped: its clock is where it left it. */
    int64_t c = clockns(clk0);
    CHECK(c >= spinners[0].cpu2 && c <= spinners[0].cpu2 + 5 * MS,
          "spinner 0 read %lld ns last; its clock id reads %lld ns", (long long)spinners[0].cpu2, (long long)c);
    for (int i = 0; i < NSPIN; i++)
        CHECK_EQ(sem_post(&release), 0);
    for (int i = 0; i < NSPIN; i++)
        CHECK_EQ(pthread_join(spinners[i].t, NULL), 0);

    /* A sleeper uses (almost) nothing, seen from itself and from main. */
    pthread_t t;
    int64_t used = -1;
    CHECK_EQ(pthread_create(&t, NULL, sleeper, &used), 0);
    clockid_t sclk;
    CHECK_EQ(pthread_getcpuclockid(t, &sclk), 0);
    struct timespec d = {0, 50 * MS};
    nanosleep(&d, NULL);
    int64_t seen = clockns(sclk);
    CHECK(seen < 10 * MS, "a sleeping thread's clock id reads %lld ns", (long long)seen);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(used >= 0 && used < 10 * MS, "a thread that slept 100 ms used %lld ns", (long long)used);

    /* An exited thread: no clock id, and its old one is gone. */
    CHECK_EQ(pthread_create(&t, NULL, quick, NULL), 0);
    clockid_t qclk;
    CHECK_EQ(pthread_getcpuclockid(t, &qclk), 0);
    int64_t deadline = clockns(CLOCK_MONOTONIC) + 5000 * MS;
    clockid_t ignored;
    while (pthread_getcpuclockid(t, &ignored) != ESRCH) {
        CHECK(clockns(CLOCK_MONOTONIC) < deadline, "pthread_getcpuclockid of an exited thread is not ESRCH");
        sched_yield();
    }
    /* The kernel clears the tid a little before the task is gone. */
    struct timespec ts;
    while (clock_gettime(qclk, &ts) == 0) {
        CHECK(clockns(CLOCK_MONOTONIC) < deadline, "an exited thread's clock id still reads");
        sched_yield();
    }
    CHECK(errno == EINVAL, "an exited thread's clock id: %s", strerror(errno));
    CHECK(clock_getres(qclk, &ts) == -1 && errno == EINVAL, "an exited thread's clock id still has a resolution");
    CHECK_EQ(pthread_join(t, NULL), 0);

    printf("thread CPU clocks are per thread\n");
    return 0;
}
