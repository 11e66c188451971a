/*
 * tests/preload/watchdog.h: a hang is a failure that names the step that
 * hung. For the signal and cancellation tests, where alarm() cannot be the
 * timeout (the tests install their own handlers, block signals, and a
 * broken delivery is exactly what may hang), and a watchdog pthread cannot
 * either (under gpm it is a G, and a wedged scheduler never runs it).
 *
 * wd_start() starts a raw clone() kernel thread (as foreign_threads.c's):
 * it shares the creator's TCB, so it touches no libc state, makes system
 * calls with the syscall instruction only (gpm interposes libc's), blocks
 * every signal first thing (it must never take a signal the test meant for
 * a thread), and wakes every 50 ms to compare the clock with the deadline
 * of the current step. wd_step(seconds, fmt, ...) names the step and sets
 * its deadline; when a deadline passes the watchdog writes
 *   FAIL watchdog: STEP: not done after N s
 * to stderr and ends the process with exit_group(1). wd_step(0, ...) keeps
 * the name with no deadline. The process's exit ends the watchdog too.
 * x86_64 only; elsewhere wd_start() does nothing and the meson 'timeout'
 * is the only limit.
 */
#ifndef GPM_TEST_WATCHDOG_H
#define GPM_TEST_WATCHDOG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define WD_NO_SSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef WD_NO_SSP
#define WD_NO_SSP
#endif

#define WD_MSG 256

/* Shared with the watchdog through the __atomic builtins (the header is
   also for C++ tests). */
static char wd_msgs[2][WD_MSG];
static int wd_which;        /* the buffer that holds the current message */
static int wd_len;          /* its length */
static int64_t wd_deadline; /* CLOCK_MONOTONIC ns; 0: none */
static int wd_ready;

#define WD_LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define WD_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

#if defined(__x86_64__)
static inline long wd_syscall(long n, long a, long b, long c, long d)
{
    register long r10 __asm__("r10") = d;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}

static WD_NO_SSP int wd_main(void *arg)
{
    (void)arg;
    uint64_t all = ~(uint64_t)0;
    wd_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
    WD_STORE(wd_ready, 1);
    for (;;) {
        struct timespec slice = {0, 50000000};
        wd_syscall(SYS_nanosleep, (long)&slice, 0, 0, 0);
        int64_t dl = WD_LOAD(wd_deadline);
        if (dl == 0)
            continue;
        struct timespec t;
        wd_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&t, 0, 0);
        if ((int64_t)t.tv_sec * 1000000000 + t.tv_nsec < dl)
            continue;
        int w = WD_LOAD(wd_which);
        wd_syscall(SYS_write, 2, (long)wd_msgs[w], WD_LOAD(wd_len), 0);
        wd_syscall(SYS_exit_group, 1, 0, 0, 0);
    }
    return 0;
}

static void wd_start(void)
{
    size_t sz = 64 * 1024;
    char *stack = (char *)mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    CHECK(stack != MAP_FAILED, "watchdog: mmap");
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    CHECK(clone(wd_main, stack + sz, flags, NULL) > 0, "watchdog: clone");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!WD_LOAD(wd_ready)) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        CHECK(t.tv_sec - t0.tv_sec < 10, "watchdog thread did not start");
        sched_yield();
    }
}
#else
static void wd_start(void) {}
#endif

/* Names the current step; it must be done within `seconds` (0: no limit). */
__attribute__((format(printf, 2, 3))) static void wd_step(int seconds, const char *fmt, ...)
{
    int w = !WD_LOAD(wd_which);
    char step[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step, sizeof step, fmt, ap);
    va_end(ap);
    int n = snprintf(wd_msgs[w], WD_MSG, "FAIL watchdog: %s: not done after %d s\n", step, seconds);
    if (n >= WD_MSG)
        n = WD_MSG - 1;
    WD_STORE(wd_deadline, 0);
    WD_STORE(wd_len, n);
    WD_STORE(wd_which, w);
    if (seconds > 0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        WD_STORE(wd_deadline, (int64_t)t.tv_sec * 1000000000 + t.tv_nsec + (int64_t)seconds * 1000000000);
    }
}

/* A program of several cases: each runs under the watchdog with `seconds`
   to finish, all of them or only the one argv[1] names. Returns how many
   ran (0: no case has that name). */
struct wd_case {
    const char *name;
    void (*run)(void);
};

__attribute__((unused)) static int wd_run_cases(const struct wd_case *cases, size_t n, int argc, char **argv, int seconds,
                        const char *what)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (only != NULL && strcmp(only, cases[i].name) != 0)
            continue;
        wd_step(seconds, "%s: case %s", what, cases[i].name);
        cases[i].run();
        ran++;
    }
    return ran;
}

#endif
