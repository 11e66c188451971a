/*
 * src/shim/tid.c: gettid, tgkill: a thread's id is its G's.
 *
 * Every G has a tid of its own, the one in its TCB (glibc's locks record
 * it as the owner): G1 keeps the process's, a foreign thread its kernel
 * thread's, a G of gpm's a number above every real tid (gstack.c, "Fake
 * tids"). gettid returns it, so that ids are distinct per thread and stay
 * the same when a G moves between kernel threads, as the program expects
 * (Python's threading.get_native_id, the owner word of PI futexes).
 *
 * tgkill (and tkill, through syscall()) with a G's id in this process
 * sends the signal to that G, as pthread_kill does (src/core/signal.c);
 * any other id is the kernel's. syscall(SYS_gettid, SYS_tgkill, SYS_tkill)
 * goes through the same functions (src/shim/syscall.c).
 *
 * set_tid_address(2), made through syscall(), is a thread's too: it
 * returns the caller's id, and the address it sets is cleared (and a
 * waiter woken) when the G exits, as the kernel does at a thread's exit;
 * the kernel thread running the G keeps its own (glibc's), and
 * prctl(PR_GET_TID_ADDRESS) answers the G's (name.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../core/gstack.h"
#include "../core/gsig.h"
#include "../core/sys.h"
#include "shim.h"

GPM_EXPORT pid_t gettid(void)
{
    if (!gpm_active())
        return gpm_real.gettid();
    struct gpm_g *gp = gpm_getg();
    return gp != NULL ? (pid_t)gp->tid : gpm_gettid();
}

/* The kernel thread a tid names: the caller's own kernel thread for its
   own G's id, else tid itself. */
pid_t gpm_shim_kerneltid(pid_t tid)
{
    struct gpm_g *gp = gpm_active() ? gpm_getg() : NULL;
    if (gp != NULL && tid == (pid_t)gp->tid)
        return gpm_gettid();
    return tid;
}

long gpm_shim_set_tid_address(int *addr)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return gpm_syscall1(SYS_set_tid_address, (long)addr);
    gp->cleartid = (_Atomic int *)addr;
    gp->cleartidset = true;
    return gp->tid;
}

/* prctl(PR_GET_TID_ADDRESS) of a G: what its set_tid_address set, or
   else its TCB's tid, where glibc's clone points a new thread's (the
   kernel thread's own would be the M's, which a set_tid_address of it
   would then clear at the G's exit). */
int *gpm_shim_get_tid_address(struct gpm_g *gp)
{
    if (gp->cleartidset)
        return (int *)gp->cleartid;
    return (int *)((char *)gp->tcb + TCB_OFF_TID);
}

GPM_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
    if (!gpm_active())
        return gpm_real.tgkill(tgid, tid, sig);
    if (tgid == getpid() && tid > 0) {
        struct gpm_g *self = gpm_getg();
        struct gpm_g *gp = self != NULL && self->tid == (uint32_t)tid ? self : gpm_tid_to_g(tid);
        if (gp != NULL && gp->kind != G_KIND_FOREIGN && !gp->exiting) {
            siginfo_t si;
            gpm_siginfo_tkill(&si, sig);
            int err = sig < 0 || sig >= NSIG ? EINVAL : gpm_sigsend(gp, &si);
            if (err != 0) {
                errno = err;
                return -1;
            }
            return 0;
        }
    }
    return gpm_real.tgkill(tgid, tid, sig);
}
