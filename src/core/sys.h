/*
 * src/core/sys.h: raw Linux system calls for the scheduler.
 *
 * The scheduler runs on g0 with whatever %fs the last G left behind
 * ("Thread-local state on g0" in sched.c), so it must never touch errno or
 * any other thread-local variable. libc's syscall wrappers set errno on
 * failure; these do not: they return the kernel's result, -errno on failure.
 *
 * Async-signal-safe. Never allocate.
 */
#ifndef GPM_CORE_SYS_H
#define GPM_CORE_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <time.h>

#include "../../compat/libc_real.h"

static inline long gpm_syscall0(long n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
}

static inline long gpm_syscall1(long n, long a)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
    return r;
}

static inline long gpm_syscall2(long n, long a, long b)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}

static inline long gpm_syscall3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static inline long gpm_syscall4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static inline long gpm_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

static inline int gpm_gettid(void)
{
    return (int)gpm_syscall0(SYS_gettid);
}

static inline int gpm_getpid(void)
{
    return (int)gpm_syscall0(SYS_getpid);
}

/* Sleeps while *addr == val, for at most ns nanoseconds (ns < 0: forever).
   Private futex: gpm's own words are never shared between processes. */
static inline long gpm_futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    return gpm_syscall4(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, (long)tsp);
}

static inline long gpm_futexwakeup(uint32_t *addr, int cnt)
{
    return gpm_syscall3(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, cnt);
}

static inline void gpm_osyield(void)
{
    gpm_syscall0(SYS_sched_yield);
}

static inline void gpm_usleep(long usec)
{
    struct timespec ts = {usec / 1000000, (usec % 1000000) * 1000};
    gpm_syscall2(SYS_nanosleep, (long)&ts, 0);
}

/* CLOCK_MONOTONIC in nanoseconds. libc's clock_gettime goes through the
   vDSO and touches no thread-local state. It is called directly, not
   through the exported name, which binds to gpm's own clock_gettime
   (src/shim/clock.c) and would only pass these clocks on. */
static inline int64_t gpm_nanotime(void)
{
    struct timespec ts;
    gpm_real_clock_gettime()(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last timer tick
   (1-4 ms old), for what people read (how long a G has waited), at a
   fraction of gpm_nanotime's cost. Comparable with gpm_nanotime to within
   a tick. */
static inline int64_t gpm_nanotime_coarse(void)
{
    struct timespec ts;
    gpm_real_clock_gettime()(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void *gpm_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
    return (void *)gpm_syscall6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

static inline int gpm_mmap_failed(void *p)
{
    return (uintptr_t)p > (uintptr_t)-4096;
}

static inline long gpm_munmap(void *addr, size_t len)
{
    return gpm_syscall2(SYS_munmap, (long)addr, (long)len);
}

static inline long gpm_mprotect(void *addr, size_t len, int prot)
{
    return gpm_syscall3(SYS_mprotect, (long)addr, (long)len, prot);
}

static inline long gpm_madvise(void *addr, size_t len, int advice)
{
    return gpm_syscall3(SYS_madvise, (long)addr, (long)len, advice);
}

static inline long gpm_write(int fd, const void *buf, size_t n)
{
    return gpm_syscall3(SYS_write, fd, (long)buf, (long)n);
}

static inline void *gpm_rdtp(void)
{
    void *tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

static inline void gpm_cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

#endif
