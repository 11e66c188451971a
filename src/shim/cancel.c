/*
 * src/shim/cancel.c: __pthread_unwind_next.
 *
 * pthread_cleanup_push/pop compile to __pthread_register_cancel and
 * friends, which keep their buffers in the calling thread's TCB: glibc's own
 * code is right for a G. When pthread_exit unwinds into a buffer, the
 * handler runs and the macro calls __pthread_unwind_next to go on. glibc's
 * would finish with its own stop function, which on G1 ends the kernel
 * thread; gpm's continues its own unwinding (src/core/glife.c).
 */
#define _GNU_SOURCE
#include <errno.h>

#include "../core/gsig.h"
#include "shim.h"

GPM_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
    struct gpm_g *gp = gpm_active() ? gpm_getg() : NULL;
    if (gp == NULL || gp->kind == G_KIND_FOREIGN) {
        gpm_real.__pthread_unwind_next(buf);
        __builtin_unreachable();
    }
    gpm_unwind_next(buf);
}

/*
 * pthread_cancel and pthread_testcancel: gpm's, for Gs ("Cancellation" in
 * src/core/signal.c). pthread_setcancelstate and pthread_setcanceltype
 * stay glibc's: they only change bits in the G's own TCB, which gpm
 * reads.
 */
GPM_EXPORT int pthread_cancel(pthread_t th)
{
    if (!gpm_active())
        return gpm_real.pthread_cancel(th);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_cancel(th);
    /* glibc returns at once, 0, only for tid 0 (exited, not joined); a
       joined thread (tid -1) gets its cancel bits set, to no effect, and
       0 too. */
    uintptr_t w = atomic_load(&gp->joinword);
    if (w == JOIN_FREED)
        return 0;
    return gpm_cancel(gp);
}

GPM_EXPORT void pthread_testcancel(void)
{
    struct gpm_g *gp = gpm_active() ? gpm_getg() : NULL;
    if (gp == NULL || gp->kind == G_KIND_FOREIGN) {
        gpm_real.pthread_testcancel();
        return;
    }
    gpm_testcancel();
}
