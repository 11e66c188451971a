/*
 * src/shim/clock.c: clock_gettime, clock_getres, pthread_getcpuclockid,
 * getrusage: a thread's CPU clock is its G's.
 *
 * The kernel knows the CPU time of kernel threads, the Ms; gpm keeps each
 * G's ("CPU time of Gs" in src/core/cputime.c, which says when accounting
 * starts and what a clock reads before). Which clock is a G's:
 *   - CLOCK_THREAD_CPUTIME_ID in a G: the caller's own;
 *   - a thread CPU clock id (what pthread_getcpuclockid gives, encoded from
 *     the thread id as glibc does) whose tid is a G's: G1's is the process
 *     id, other Gs' are fake tids (gstack.c), from a range the encoding
 *     keeps whole and no real task id reaches. The clock id of a G that has
 *     exited is refused with EINVAL, as the kernel refuses a gone thread's.
 * Every other clock is the kernel's: CLOCK_PROCESS_CPUTIME_ID, process
 * clocks, foreign threads' and Ms' thread clocks, dynamic clocks.
 *
 * clock_nanosleep on a G's clock is in sleep.c.
 *
 * clock_gettime is on hot paths (CLOCK_MONOTONIC through the vDSO), so the
 * other clocks reach libc's with one compare and a tail call, before and
 * after gpm is up, without gpm_active().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "../../compat/glibc_abi.h"
#include "../core/cputime.h"
#include "shim.h"

enum gpm_clockowner gpm_shim_clockowner(clockid_t clk, struct gpm_g **gpp)
{
    if (!gpm_active())
        return CLOCK_KERNELS;
    if (clk == CLOCK_THREAD_CPUTIME_ID) {
        struct gpm_g *self = gpm_getg();
        if (self == NULL || self->kind == G_KIND_FOREIGN)
            return CLOCK_KERNELS;
        *gpp = self;
        return CLOCK_GS;
    }
    if (clk >= 0 || !(clk & GPM_CPUCLOCK_PERTHREAD) || GPM_CPUCLOCK_WHICH(clk) == 3)
        return CLOCK_KERNELS;
    pid_t tid = GPM_CPUCLOCK_TID(clk);
    struct gpm_g *gp = gpm_tid_to_g(tid);
    if (gp != NULL) {
        *gpp = gp;
        return CLOCK_GS;
    }
    return tid >= GPM_FAKE_TID_BASE && tid < GPM_FAKE_TID_LIMIT ? CLOCK_GONE : CLOCK_KERNELS;
}

/* The user and system split of a CPUCLOCK_VIRT id (user time only,
   which no libc function makes) is not kept: it reads the whole time too. */
int64_t gpm_shim_gcputime(struct gpm_g *gp)
{
    struct gpm_g *self = gpm_getg();
    if (gp == self)
        return gpm_cputime_self(self);
    gpm_cputime_enable(self);
    return gpm_cputime_of(gp);
}

static __attribute__((noinline)) int cpuclock_gettime(clockid_t clk, struct timespec *ts)
{
    struct gpm_g *gp = NULL;
    switch (gpm_shim_clockowner(clk, &gp)) {
    case CLOCK_KERNELS:
        return gpm_real_clock_gettime()(clk, ts);
    case CLOCK_GONE:
        errno = EINVAL;
        return -1;
    case CLOCK_GS:
        break;
    }
    int64_t t = gpm_shim_gcputime(gp);
    ts->tv_sec = t / 1000000000;
    ts->tv_nsec = t % 1000000000;
    return 0;
}

GPM_EXPORT int clock_gettime(clockid_t clk, struct timespec *ts)
{
    /* The one compare on the way of every clock but CPU clocks: clk ^ 3 is
       0 for CLOCK_THREAD_CPUTIME_ID (3) and has the sign bit for every
       negative id (the CPU clocks of threads and processes, dynamic
       clocks); so, less one, it is below INT_MAX exactly for the other
       ids, which go to libc's clock_gettime as a tail call. */
    _Static_assert(CLOCK_THREAD_CPUTIME_ID == 3, "clock_gettime's fast path");
    if (__builtin_expect(((unsigned)clk ^ CLOCK_THREAD_CPUTIME_ID) - 1u < (unsigned)INT_MAX, 1))
        return gpm_real_clock_gettime()(clk, ts);
    return cpuclock_gettime(clk, ts);
}

GPM_EXPORT int clock_getres(clockid_t clk, struct timespec *res)
{
    if (!gpm_active() || clk >= 0)
        return gpm_real.clock_getres(clk, res);
    struct gpm_g *gp;
    switch (gpm_shim_clockowner(clk, &gp)) {
    case CLOCK_KERNELS:
        return gpm_real.clock_getres(clk, res);
    case CLOCK_GONE:
        errno = EINVAL;
        return -1;
    case CLOCK_GS:
        break;
    }
    /* A G's clock is read from its M's: the resolution is that clock's. */
    return gpm_real.clock_getres(CLOCK_THREAD_CPUTIME_ID, res);
}

GPM_EXPORT int pthread_getcpuclockid(pthread_t th, clockid_t *clk)
{
    if (!gpm_active())
        return gpm_real.pthread_getcpuclockid(th, clk);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_getcpuclockid(th, clk);
    /* glibc: ESRCH once the thread has exited (its tid is cleared). */
    if (gpm_readgstatus(gp) == G_DEAD)
        return ESRCH;
    gpm_cputime_enable(gpm_getg());
    *clk = GPM_THREAD_CPUCLOCK(gp->tid);
    return 0;
}

static struct timeval totimeval(int64_t ns)
{
    return (struct timeval){.tv_sec = ns / 1000000000, .tv_usec = ns % 1000000000 / 1000};
}

/*
 * RUSAGE_THREAD of a G: its CPU time, split into user and system time in
 * the proportion the kernel reports for the M running it (gpm reads only
 * the total at switches). The other fields (page faults, context switches,
 * block I/O) are that M's, since it started.
 */
GPM_EXPORT int getrusage(__rusage_who_t who, struct rusage *ru)
{
    if (who != RUSAGE_THREAD || !gpm_active())
        return gpm_real.getrusage(who, ru);
    struct gpm_g *self = gpm_getg();
    if (self == NULL || self->kind == G_KIND_FOREIGN)
        return gpm_real.getrusage(who, ru);
    int r = gpm_real.getrusage(RUSAGE_THREAD, ru);
    if (r != 0)
        return r;
    int64_t total = gpm_cputime_self(self);
    int64_t mu = (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
    int64_t ms = (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
    int64_t user = mu + ms > 0 ? (int64_t)((__int128)total * mu / (mu + ms)) : total;
    ru->ru_utime = totimeval(user);
    ru->ru_stime = totimeval(total - user);
    return 0;
}
