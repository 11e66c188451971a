/*
 * src/core/timer.h: timers that ready parked Gs (Go's time.go, reduced to
 * what sleeps and timed waits need).
 */
#ifndef GPM_CORE_TIMER_H
#define GPM_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "runtime.h"

/*
 * A timer: at monotonic time `when`, f(mp, arg) runs on whichever M runs
 * the timers of the P the timer was added to, with that P's timers lock
 * held (so it must not add or delete timers, and must not block). The
 * timer's memory belongs to whoever added it, typically a parked G's stack;
 * see "Timer life" in timer.c for when it may go away.
 */
struct gpm_timer {
    int64_t when;
    void (*f)(struct gpm_m *mp, void *arg);
    void *arg;
    struct gpm_p *pp; /* heap it was added to; set once by addtimer */
    int32_t idx;      /* position in pp's heap, -1 when not on it, -2 spilled */
    struct gpm_timer *spillnext, *spillprev; /* on pp->spill ("Out of memory") */
};

/* Adds t to pp's heap. Usable on g0 (no thread-local state). */
void gpm_addtimer(struct gpm_p *pp, struct gpm_timer *t);

/* Takes t off its heap if it is still there. Returns true if it was (f
   will never run), false if f ran (and has returned) or t was never
   added. After this returns, nothing refers to t. */
bool gpm_deltimer(struct gpm_timer *t);

/* Runs pp's timers that are due at `now` on mp. Returns the earliest
   remaining `when`, or 0 when pp has no timers. No thread-local state. */
int64_t gpm_checktimers(struct gpm_m *mp, struct gpm_p *pp, int64_t now);

/* The earliest `when` over every P's timers, or 0 when there is none. */
int64_t gpm_timers_earliest(void);

/* Throws away every timer (fork.c, in the child: they belong to Gs that
   do not exist there). */
void gpm_timers_forkchild(void);

/*
 * Deadlines. A deadline is a CLOCK_MONOTONIC time in nanoseconds (0: none).
 * gpm_deadline_abs converts an absolute time on `clock` (CLOCK_REALTIME or
 * CLOCK_MONOTONIC) into one; a CLOCK_REALTIME deadline is fixed when the
 * wait starts, so a later change of the system clock does not move it.
 * Returns false when ts is not a valid timespec (EINVAL for the caller).
 */
bool gpm_deadline_abs(clockid_t clock, const struct timespec *ts, int64_t *deadline);
bool gpm_deadline_rel(const struct timespec *ts, int64_t *deadline);

/*
 * Parks the calling G until deadline (a monotonic time) passes. Returns
 * at once when it has. For a G without a P (a foreign thread), sleeps its
 * kernel thread instead. Returns 0, or EINTR when a signal or a
 * cancellation ended the sleep early (the caller runs the handlers).
 */
int gpm_sleepuntil(int64_t deadline);

#endif
