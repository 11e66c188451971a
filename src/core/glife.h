/*
 * src/core/glife.h: the life of a G: creation, exit, join, detach.
 */
#ifndef GPM_CORE_GLIFE_H
#define GPM_CORE_GLIFE_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>

#include "gstack.h"
#include "runtime.h"

/* What pthread_create's attributes ask for, decoded by the shim. */
struct gpm_gattr {
    struct gpm_geometry geo;
    bool detached;
    bool c11; /* thrd_create: the result is an int */
    int schedpolicy;
    int schedprio;
    int inheritsched;
    int scope;
    const cpu_set_t *cpuset; /* copied by gpm_newproc */
    size_t cpusetsize;
    const sigset_t *sigmask; /* NULL: none given */
};

/*
 * newproc makes a G that runs fn(arg), stores its pthread_t in *th before
 * anything can run it, and makes it runnable: into runnext of the caller's
 * P, so it runs as soon as the caller blocks or yields, or earlier on
 * another P. Returns 0, -EAGAIN (out of memory or mappings) or -EINVAL (a
 * stack too small for the TLS). Runs on the creating thread's stack.
 */
int gpm_newproc(const struct gpm_gattr *attr, void *(*fn)(void *), void *arg, pthread_t *th);

/* pthread_exit for the calling G: unwinds its stack running cleanup
   handlers and C++ destructors, then finishes it as if its start routine
   had returned result. Never returns. */
void gpm_gexit(void *result) __attribute__((noreturn));

/* __pthread_unwind_next for the calling G: a cleanup handler ran during
   pthread_exit's unwinding; unwind on to the buffer before buf. */
void gpm_unwind_next(void *buf) __attribute__((noreturn));

/* Joins gp: 0 with *result set, or EDEADLK, EINVAL (detached, or someone
   else is joining), ESRCH (already joined), EBUSY (!block and still
   running), ETIMEDOUT (deadline, a monotonic time, passed first; 0: no
   deadline). Runs on the joining G's stack; may park. */
int gpm_join(struct gpm_g *gp, void **result, bool block, int64_t deadline);

/* Detaches gp: 0, EINVAL (already detached), ESRCH (already joined). */
int gpm_detach(struct gpm_g *gp);

/* Finishes gp after it switched away for the last time (AFTER_EXIT in
   sched.c): marks it dead, then wakes its joiner or frees its block.
   Runs on the next context of mp, which may be g0: no TLS. */
void gpm_goexit0(struct gpm_m *mp, struct gpm_g *gp);

/* gp has finished and is about to leave its stack for good: its parked
   joiner, claimed for a direct switch (joinword -> JOIN_EXITING), or NULL
   ("Exit handoff" in glife.c). Runs on gp's stack. */
struct gpm_g *gpm_join_claim(struct gpm_g *gp);

/* Gives the calling thread's G's name (pthread_getname_np). */
void gpm_getname(struct gpm_g *gp, char *buf, size_t len);

/* The name G1 starts with (the process's comm). */
extern char gpm_initial_name[16];

#endif
