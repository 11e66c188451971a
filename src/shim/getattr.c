/*
 * src/shim/getattr.c: pthread_getattr_np.
 *
 * Runtimes read a thread's real stack from here (Rust, HotSpot, Boehm GC,
 * oneTBB: notes/real-programs.md), so the answer is the G's stack, reported
 * exactly as glibc reports its own threads: the block above the guard
 * pages, with the guard size; or the memory given to pthread_attr_setstack.
 * Foreign threads are glibc's threads and glibc answers for them; for G1,
 * glibc answers for the stack. The policy, priority and affinity are the
 * G's (src/core/wire.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "../../compat/glibc_abi.h"
#include "../core/wire.h"
#include "shim.h"

/* The G's policy, priority and affinity, as the kernel thread that
   answers for it has them (src/core/wire.c), as glibc asks the kernel. */
static int schedattrs(struct gpm_g *gp, pthread_attr_t *attr)
{
    int policy = gpm_g_getscheduler(gp);
    struct sched_param param;
    if (policy >= 0 && gpm_g_getparam(gp, &param) == 0) {
        pthread_attr_setschedpolicy(attr, policy & ~SCHED_RESET_ON_FORK);
        pthread_attr_setschedparam(attr, &param);
    }
    cpu_set_t set;
    if (gpm_g_getaffinity(gp, sizeof set, &set) == 0)
        return pthread_attr_setaffinity_np(attr, sizeof set, &set);
    return 0;
}

GPM_EXPORT int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    if (!gpm_active())
        return gpm_real.pthread_getattr_np(th, attr);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_getattr_np(th, attr);
    /* glibc asks the kernel for the thread's affinity by its tid, which a
       join leaves at -1: ESRCH. (An exited thread not yet joined has tid
       0, the caller to the kernel, and succeeds.) */
    if (atomic_load(&gp->joinword) == JOIN_FREED)
        return ESRCH;
    if (gp->kind == G_KIND_MAIN) {
        /* glibc knows G1's stack; the kernel thread it would ask for the
           rest may not be G1's any more. */
        int err = gpm_real.pthread_getattr_np(th, attr);
        if (err == 0 && (err = schedattrs(gp, attr)) != 0)
            pthread_attr_destroy(attr);
        return err;
    }

    int err = pthread_attr_init(attr);
    if (err != 0)
        return err;
    void *stackblock = TCB_FIELD(gp->tcb, TCB_OFF_STACKBLOCK, void *);
    size_t stackblock_size = TCB_FIELD(gp->tcb, TCB_OFF_STACKBLOCK_SIZE, size_t);
    size_t guard = TCB_FIELD(gp->tcb, TCB_OFF_GUARDSIZE, size_t);
    pthread_attr_setstack(attr, (char *)stackblock + guard, stackblock_size - guard);
    pthread_attr_setguardsize(attr, guard);
    uintptr_t w = atomic_load(&gp->joinword);
    pthread_attr_setdetachstate(attr, w == JOIN_DETACHED ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
    pthread_attr_setinheritsched(attr, gp->inheritsched);
    pthread_attr_setscope(attr, gp->scope);
    err = schedattrs(gp, attr);
    if (err != 0) {
        pthread_attr_destroy(attr);
        return err;
    }
    return 0;
}
