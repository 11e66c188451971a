/*
 * src/shim/shim.h: what every interposed family needs.
 *
 * The shim is thin: it checks arguments, gives POSIX's error numbers, and
 * translates to core calls. Until gpm is up (gpm_active() false) and in
 * pass-through mode, each symbol calls libc's own (gpm_real). pthread_*
 * functions return error numbers and never touch errno.
 *
 * Exported symbols are exactly the names in compat/symbols.tsv marked
 * "interposed"; libgpm.map keeps everything else hidden and a test checks
 * that the two agree.
 */
#ifndef GPM_SHIM_SHIM_H
#define GPM_SHIM_SHIM_H

#define GPM_EXPORT __attribute__((visibility("default")))

#include "../../compat/libc_real.h"
#include "../core/foreign.h"
#include "../core/glife.h"
#include "../core/init.h"
#include "../core/runtime.h"

/* The G a pthread_t names (see gpm_pthread_to_g). */
static inline struct gpm_g *shim_g(pthread_t th)
{
    return gpm_pthread_to_g((uintptr_t)th);
}

/* Whether p is not NULL, for an argument libc's headers declare nonnull
   but glibc answers for when it is NULL: the declaration would let the
   compiler drop a plain test. */
static inline bool shim_given(const void *p)
{
    __asm__("" : "+r"(p));
    return p != NULL;
}

/* tid.c: the kernel thread a thread id names (the caller's own G's id:
   its current kernel thread). */
pid_t gpm_shim_kerneltid(pid_t tid);
/* tid.c: set_tid_address for the calling thread (its G). */
long gpm_shim_set_tid_address(int *addr);
int *gpm_shim_get_tid_address(struct gpm_g *gp);

/* clock.c: whose CPU clock a clock id is. */
enum gpm_clockowner {
    CLOCK_KERNELS, /* the kernel's: call libc */
    CLOCK_GS,      /* a G's: *gpp */
    CLOCK_GONE,    /* a G's that has exited: EINVAL */
};
enum gpm_clockowner gpm_shim_clockowner(clockid_t clk, struct gpm_g **gpp);
/* clock.c: CPU time of gp (the caller or another G of gpm's) in ns. */
int64_t gpm_shim_gcputime(struct gpm_g *gp);

#endif
