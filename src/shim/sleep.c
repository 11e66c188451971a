/*
 * src/shim/sleep.c: nanosleep, clock_nanosleep, usleep, sleep, thrd_sleep.
 *
 * A sleep on CLOCK_REALTIME or CLOCK_MONOTONIC parks the G on a timer of
 * its P (src/core/timer.c). Other clocks (CPU-time clocks, BOOTTIME, ...)
 * go to libc, with the P handed off, but for another G's CPU clock, which
 * only gpm knows (sleep_on_gclock). A handled signal or a cancellation
 * ends a parked sleep with EINTR and the time left, as the kernel's
 * (src/core/signal.c). Difference from a kernel sleep: an absolute
 * CLOCK_REALTIME sleep does not
 * follow a change of the system clock made while it sleeps; see
 * docs/COMPAT.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "../core/gsig.h"
#include "../core/sys.h"
#include "../core/timer.h"
#include "shim.h"

static int sleep_on_gclock(struct gpm_g *gp, int flags, const struct timespec *req);

/* 0, or the error number of clock_nanosleep. */
static int sleep_on(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
    if (clock < 0) {
        struct gpm_g *owner;
        switch (gpm_shim_clockowner(clock, &owner)) {
        case CLOCK_GONE:
            return EINVAL;
        case CLOCK_GS:
            return sleep_on_gclock(owner, flags, req);
        case CLOCK_KERNELS:
            break;
        }
    }
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) {
        gpm_entersyscallblock();
        int err = gpm_real.clock_nanosleep(clock, flags, req, rem);
        gpm_exitsyscall();
        return err;
    }
    int64_t deadline;
    /* Unlike a timed wait's deadline, a sleep's time may not be negative
       (the kernel's EINVAL), absolute or not. */
    bool ok = req->tv_sec >= 0 &&
              ((flags & TIMER_ABSTIME) ? gpm_deadline_abs(clock, req, &deadline) : gpm_deadline_rel(req, &deadline));
    if (!ok)
        return EINVAL;
    struct gpm_g *gp = gpm_getg_adopt();
    if (gp == NULL)
        return gpm_real.clock_nanosleep(clock, flags, req, rem);
    gpm_testcancel(); /* a cancellation point */
    if (gpm_sleepuntil(deadline) == 0)
        return 0;
    /* Interrupted: the time left (for a relative sleep), the handlers,
       or the cancellation. */
    if (rem != NULL && !(flags & TIMER_ABSTIME)) {
        int64_t left = deadline - gpm_nanotime();
        if (left < 0)
            left = 0;
        rem->tv_sec = left / 1000000000;
        rem->tv_nsec = left % 1000000000;
    }
    gpm_sigcheck(gp);
    gpm_testcancel();
    return EINTR;
}

/*
 * A sleep on another G's CPU clock (a clock id from pthread_getcpuclockid),
 * which the kernel does not know: the caller sleeps on the monotonic clock
 * for as long as the G's CPU time still has to go, which the G cannot use
 * up any sooner, then looks again. The G's exit ends the sleep. Sleeping on
 * one's own CPU clock is EINVAL, as the kernel has it.
 */
static int sleep_on_gclock(struct gpm_g *gp, int flags, const struct timespec *req)
{
    if (gp == gpm_getg() || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
        return EINVAL;
    uint32_t tid = gp->tid;
    int64_t want = req->tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX
                                                             : (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
    int64_t now = gpm_shim_gcputime(gp);
    int64_t until = (flags & TIMER_ABSTIME) ? want : (want > INT64_MAX - now ? INT64_MAX : now + want);
    while (now < until && gp->tid == tid && gpm_readgstatus(gp) != G_DEAD) {
        int64_t left = until - now;
        struct timespec d = {left / 1000000000, left % 1000000000};
        int err = sleep_on(CLOCK_MONOTONIC, 0, &d, NULL);
        if (err != 0)
            return err;
        now = gpm_shim_gcputime(gp);
    }
    return 0;
}

GPM_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
    if (!gpm_active())
        return gpm_real.clock_nanosleep(clock, flags, req, rem);
    return sleep_on(clock, flags, req, rem);
}

GPM_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!gpm_active())
        return gpm_real.nanosleep(req, rem);
    int err = sleep_on(CLOCK_MONOTONIC, 0, req, rem);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

GPM_EXPORT int usleep(useconds_t usec)
{
    if (!gpm_active())
        return gpm_real.usleep(usec);
    struct timespec ts = {usec / 1000000, (long)(usec % 1000000) * 1000};
    return nanosleep(&ts, NULL);
}

GPM_EXPORT unsigned sleep(unsigned seconds)
{
    if (!gpm_active())
        return gpm_real.sleep(seconds);
    struct timespec ts = {seconds, 0}, rem = {0, 0};
    if (nanosleep(&ts, &rem) == 0)
        return 0;
    /* Interrupted: the seconds left, rounded up as glibc does. */
    return (unsigned)rem.tv_sec + (rem.tv_nsec != 0);
}

GPM_EXPORT int thrd_sleep(const struct timespec *duration, struct timespec *remaining)
{
    if (!gpm_active())
        return gpm_real.thrd_sleep(duration, remaining);
    int err = sleep_on(CLOCK_REALTIME, 0, duration, remaining);
    return err == 0 ? 0 : err == EINTR ? -1 : -2;
}
