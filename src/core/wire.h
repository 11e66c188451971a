/*
 * src/core/wire.h: CPU affinity and scheduling policy of Gs, by wiring
 * ("Wired Gs" in sched.c; the policy in wire.c).
 *
 * The setters and getters act on a G of gpm's (not a foreign one, whose
 * kernel thread is its own: the shim gives those to libc). They return 0
 * or -errno, the kernel's own error for the same call on a native thread.
 * They run on a G's stack, unpinned, or on a foreign thread; a setter
 * called on the caller's own G may move it to a wired M or back.
 */
#ifndef GPM_CORE_WIRE_H
#define GPM_CORE_WIRE_H

#include <sched.h>
#include <sys/types.h>

#include "runtime.h"

struct gpm_gattr;

int gpm_g_setaffinity(struct gpm_g *gp, size_t size, const cpu_set_t *set);
int gpm_g_setscheduler(struct gpm_g *gp, int policy, const struct sched_param *param);
int gpm_g_setparam(struct gpm_g *gp, const struct sched_param *param);

/* As sched_getaffinity (glibc's: the bytes the kernel did not fill are
   zeroed), sched_getscheduler (the policy, or -errno), sched_getparam. */
int gpm_g_getaffinity(struct gpm_g *gp, size_t size, cpu_set_t *set);
int gpm_g_getscheduler(struct gpm_g *gp);
int gpm_g_getparam(struct gpm_g *gp, struct sched_param *param);

/* For gpm_newproc: the wired M a new G made by self with attributes a
   must start on, with its affinity and policy applied (*wmp; NULL when it
   needs none). 0 or -errno (pthread_create's error). */
int gpm_wire_prepare(struct gpm_g *self, const struct gpm_gattr *a, struct gpm_m **wmp);
/* Wires the new G gp (G_IDLE) to wm and starts it there. */
void gpm_wire_new(struct gpm_g *gp, struct gpm_m *wm);

/* The live G of gpm's (not foreign) whose thread id is tid, or NULL. */
struct gpm_g *gpm_findg_tid(pid_t tid);

/* fork.c: the child has no wired Ms but the forking thread. */
void gpm_wire_forkchild(void);

#endif
