/*
 * Kernel threads that gpm did not create.
 *
 * (a) glibc's timers with SIGEV_THREAD: timer_create starts a helper
 *     thread, and each expiry runs the notify function on a new thread; libc
 *     makes both with its internal pthread_create (libc.so.6 has no
 *     relocation against pthread_create), which no interposer sees. Under gpm
 *     such a thread is adopted on its first call into gpm (a G of its own,
 *     wired to its kernel thread, freed when the thread exits). The first
 *     notify function, while a normal thread holds a process-private mutex:
 *     finds it busy (trylock: EBUSY), blocks in pthread_mutex_lock until the
 *     holder lets go, waits on a condition variable that main signals (main
 *     learns it is waiting through a second condition variable), sleeps
 *     10 ms in nanosleep, times out in pthread_cond_timedwait (never early),
 *     and posts a semaphore main waits on. Then a periodic timer: 20 more
 *     notify threads, each one locking the mutex and signalling main.
 * (b) a raw clone() thread (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND
 *     | CLONE_THREAD | CLONE_SYSVSEM, no CLONE_SETTLS), alive during (a). It
 *     shares its creator's thread pointer, so it shares its TCB: errno,
 *     glibc's cancellation state, the owner tid glibc writes into mutexes,
 *     and under gpm the current G and M, are the creator's. Calling
 *     pthread_mutex_lock or sem_wait from it is therefore unsafe even
 *     natively (it would corrupt its creator's state and, under gpm, park the
 *     creator's G from the wrong kernel thread), and giving it a TLS of its
 *     own is what pthread_create does. So it makes system calls only, with
 *     the syscall instruction (not libc's syscall(), which gpm interposes):
 *     it waits on a futex until main releases it, sleeps 10 ms, checks the
 *     time, and exits; main joins it through CLONE_CHILD_CLEARTID with a
 *     futex wait, as glibc's pthread_join does. x86_64 only (elsewhere (b)
 *     is skipped).
 * Main checks the results through atomics; every wait is bounded (10 s), so
 * a lost wake-up fails with a message instead of hanging.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L

/* ---- (a) SIGEV_THREAD notify functions -------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;      /* main -> notify */
static pthread_cond_t cv_main = PTHREAD_COND_INITIALIZER; /* notify -> main */
static int go, notify_waiting, periodic_count;            /* under mu */
static sem_t done;
static atomic_int tried, stage;
static pthread_t mainth;
static pid_t main_tid;

static void notify(union sigval v)
{
    CHECK(!pthread_equal(pthread_self(), mainth), "notify ran on the main thread");
    CHECK(gettid() != main_tid, "notify ran on main's kernel thread");

    /* The holder has the mutex until we have tried it. */
    CHECK_EQ(pthread_mutex_trylock(&mu), EBUSY);
    atomic_store(&tried, 1);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    notify_waiting = 1;
    CHECK_EQ(pthread_cond_signal(&cv_main), 0);
    while (!go)
        CHECK_EQ(pthread_cond_wait(&cv, &mu), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    atomic_store(&stage, 1);

    struct timespec t0 = now(CLOCK_MONOTONIC), req = {0, 10 * MS};
    CHECK_EQ(nanosleep(&req, NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - ns(t0);
    CHECK(el >= 10 * MS, "slept %lld ns of 10 ms", (long long)el);
    atomic_store(&stage, 2);

    struct timespec rt0 = now(CLOCK_REALTIME), dl = add_ms(rt0, 20);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    CHECK_EQ(pthread_cond_timedwait(&cv, &mu, &dl), ETIMEDOUT);
    CHECK(ns(now(CLOCK_REALTIME)) >= ns(dl), "pthread_cond_timedwait timed out early");
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    atomic_store(&stage, 3);
    CHECK_EQ(sem_post(&done), 0);
}

static void *holder(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    atomic_store((atomic_int *)arg, 1);
    for (int i = 0; !atomic_load(&tried); i++) {
        CHECK(i < 10000, "the notify function never tried the mutex");
        usleep(1000);
    }
    usleep(20000); /* the notify thread is (most likely) blocked in pthread_mutex_lock meanwhile */
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    return NULL;
}

#define PERIODIC 20

static void periodic(union sigval v)
{
    CHECK(gettid() != main_tid, "notify ran on main's kernel thread");
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    if (++periodic_count == PERIODIC)
        CHECK_EQ(pthread_cond_signal(&cv_main), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
}

static void timers(void)
{
    CHECK_EQ(sem_init(&done, 0, 0), 0);
    atomic_int holding = 0;
    pthread_t h;
    CHECK_EQ(pthread_create(&h, NULL, holder, &holding), 0);
    while (!atomic_load(&holding))
        sched_yield();

    timer_t timer;
    struct sigevent se = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = notify};
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &se, &timer), 0);
    struct itimerspec its = {.it_value = {0, 1 * MS}};
    CHECK_EQ(timer_settime(timer, 0, &its, NULL), 0);

    /* Main signals the notify thread once it waits. */
    struct timespec dl = add_ms(now(CLOCK_REALTIME), 10000);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    while (!notify_waiting) {
        int err = pthread_cond_timedwait(&cv_main, &mu, &dl);
        CHECK(err == 0, "the notify function never waited (error %d, tried %d)", err, atomic_load(&tried));
    }
    go = 1;
    CHECK_EQ(pthread_cond_signal(&cv), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    dl = add_ms(now(CLOCK_REALTIME), 10000);
    int r;
    while ((r = sem_timedwait(&done, &dl)) == -1 && errno == EINTR)
        ;
    CHECK(r == 0, "the notify function did not finish (stage %d, errno %d)", atomic_load(&stage), errno);
    CHECK_EQ(atomic_load(&stage), 3);
    CHECK_EQ(pthread_join(h, NULL), 0);
    CHECK_EQ(timer_delete(timer), 0);

    /* Many notify threads, one after another. */
    se.sigev_notify_function = periodic;
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &se, &timer), 0);
    its = (struct itimerspec){.it_value = {0, 5 * MS}, .it_interval = {0, 5 * MS}};
    CHECK_EQ(timer_settime(timer, 0, &its, NULL), 0);
    dl = add_ms(now(CLOCK_REALTIME), 10000);
    CHECK_EQ(pthread_mutex_lock(&mu), 0);
    while (periodic_count < PERIODIC) {
        int err = pthread_cond_timedwait(&cv_main, &mu, &dl);
        CHECK(err == 0, "%d of %d periodic notifications (error %d)", periodic_count, PERIODIC, err);
    }
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    CHECK_EQ(timer_delete(timer), 0);
    sem_destroy(&done);
}

/* ---- (b) a raw clone() thread ----------------------------------------- */

#if defined(__x86_64__)
#define RAW_CLONE 1

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NO_SSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef NO_SSP
#define NO_SSP
#endif

static inline long raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static atomic_int raw_go, raw_done;
static _Atomic long raw_tid, raw_slept, raw_sum, raw_errors;
static volatile pid_t raw_ctid; /* the kernel sets it (PARENT_SETTID) and clears it (CHILD_CLEARTID) */

static NO_SSP int64_t raw_now(void)
{
    struct timespec t;
    if (raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&t, 0, 0, 0, 0) != 0)
        atomic_fetch_add(&raw_errors, 1);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Runs on the raw thread: system calls and atomics, nothing else. */
static NO_SSP int raw_main(void *arg)
{
    atomic_store(&raw_tid, raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0));
    while (atomic_load(&raw_go) == 0) {
        long r = raw_syscall(SYS_futex, (long)&raw_go, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
        if (r != 0 && r != -EAGAIN && r != -EINTR)
            atomic_fetch_add(&raw_errors, 1);
    }
    long sum = 0;
    for (long i = 1; i <= 1000; i++)
        sum += i;
    atomic_store(&raw_sum, sum);
    int64_t t0 = raw_now();
    struct timespec req = {0, 10 * MS};
    while (raw_syscall(SYS_nanosleep, (long)&req, (long)&req, 0, 0, 0, 0) == -EINTR)
        ;
    atomic_store(&raw_slept, raw_now() - t0);
    atomic_store(&raw_done, 1);
    raw_syscall(SYS_futex, (long)&raw_done, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    return 0; /* glibc's clone() then makes the exit system call */
}

static char *raw_stack;
#define RAW_STACK (64 * 1024)

static void raw_start(void)
{
    raw_stack = mmap(NULL, RAW_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    CHECK(raw_stack != MAP_FAILED, "mmap");
    /* The raw thread takes no signal: a handler would run on its shared TCB. */
    sigset_t all, old;
    sigfillset(&all);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &all, &old), 0);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    int tid = clone(raw_main, raw_stack + RAW_STACK, flags, NULL, &raw_ctid, NULL, &raw_ctid);
    int err = errno;
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    CHECK(tid > 0, "clone: errno %d", err);
    CHECK_EQ(raw_ctid, tid);
}

/* Releases the raw thread, waits for it to exit, checks what it did. */
static void raw_finish(void)
{
    atomic_store(&raw_go, 1);
    CHECK(syscall(SYS_futex, &raw_go, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) >= 0, "futex wake");
    struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 10000);
    pid_t t;
    while ((t = raw_ctid) != 0) {
        CHECK(ns(now(CLOCK_MONOTONIC)) < ns(dl), "the raw thread did not exit");
        struct timespec slice = {0, 100 * MS};
        /* Not FUTEX_PRIVATE: the kernel's CLONE_CHILD_CLEARTID wake is a shared one. */
        long r = syscall(SYS_futex, &raw_ctid, FUTEX_WAIT, t, &slice, NULL, 0);
        CHECK(r == 0 || errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR, "futex wait: errno %d", errno);
    }
    CHECK_EQ(atomic_load(&raw_done), 1);
    CHECK_EQ(atomic_load(&raw_errors), 0);
    CHECK(atomic_load(&raw_tid) > 0 && atomic_load(&raw_tid) != main_tid, "raw thread tid %ld",
          (long)atomic_load(&raw_tid));
    CHECK_EQ(atomic_load(&raw_sum), 500500);
    CHECK(atomic_load(&raw_slept) >= 10 * MS, "the raw thread slept %ld ns of 10 ms", (long)atomic_load(&raw_slept));
    munmap(raw_stack, RAW_STACK);
}
#else
#define RAW_CLONE 0
#endif

int main(void)
{
    mainth = pthread_self();
    main_tid = gettid();
#if RAW_CLONE
    raw_start(); /* alive, blocked on a futex, during (a) */
#endif
    timers();
#if RAW_CLONE
    raw_finish();
#endif
    printf("threads made inside libc locked, waited, slept and timed out on the program's objects (%d + %d "
           "notifications)%s (%s)\n",
           1, PERIODIC, RAW_CLONE ? "; a raw clone thread made system calls beside them and was joined" : "",
           test_mode());
    return 0;
}
