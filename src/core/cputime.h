/*
 * src/core/cputime.h: the CPU time of Gs ("CPU time of Gs" in cputime.c).
 */
#ifndef GPM_CORE_CPUTIME_H
#define GPM_CORE_CPUTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

/* Whether Gs' CPU time is kept: false until the program first asks for a
   thread's CPU clock, then true for good. Read on every switch. */
extern _Atomic bool gpm_cputime_on;

/* prev (or NULL) leaves the calling M, next (or NULL) starts on it: one
   read of the M's CPU clock ends prev's span and starts next's. Runs on
   the M's g0 or on a G's stack; touches no thread-local state. */
void gpm_cputime_switch(struct gpm_g *prev, struct gpm_g *next);

/* The switch path's hook: one predictable branch while accounting is off. */
static inline void gpm_cputime_atswitch(struct gpm_g *prev, struct gpm_g *next)
{
    if (__builtin_expect(atomic_load_explicit(&gpm_cputime_on, memory_order_relaxed), 0))
        gpm_cputime_switch(prev, next);
}

/* Turns accounting on, if it is not yet; self is the calling G, or NULL
   on a thread that is not one. Runs on the caller's own stack. */
void gpm_cputime_enable(struct gpm_g *self);

/* CPU time of the calling G self, in ns; turns accounting on. Runs on the
   G's stack. */
int64_t gpm_cputime_self(struct gpm_g *self);

/* CPU time of gp, any G of gpm's but the caller, in ns, as of the call.
   Any thread. */
int64_t gpm_cputime_of(struct gpm_g *gp);

/* In a fork child, on the forking G: its clock starts again at zero, as
   the child's only thread's does. */
void gpm_cputime_forkchild(struct gpm_g *self);

#endif
