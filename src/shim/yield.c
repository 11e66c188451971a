/*
 * src/shim/yield.c: sched_yield, pthread_yield.
 *
 * A G yields to the other runnable Gs of its P (and the global queue).
 * With no other G to run, its kernel thread yields the CPU instead, as a
 * native thread does: another process's thread (a SCHED_FIFO one sharing
 * the CPU, say) may be waiting for it. Only that path pays the system call.
 * A wired G yields its own kernel thread. pthread_yield exists in glibc
 * only as a compat symbol (GLIBC_2.2.5), so gpm implements it rather than
 * forward it.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "shim.h"

GPM_EXPORT int sched_yield(void)
{
    if (!gpm_active())
        return gpm_real.sched_yield();
    gpm_sched_yield();
    return 0;
}

/* <pthread.h> redirects the name pthread_yield to sched_yield; the
   symbol itself must still be defined for binaries that import it. */
GPM_EXPORT int gpm_pthread_yield(void) __asm__("pthread_yield");
GPM_EXPORT int gpm_pthread_yield(void)
{
    sched_yield();
    return 0;
}
