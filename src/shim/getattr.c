/*
 * src/shim/getattr.c: pthread_getattr_np.
 *
 * Runtimes read a thread's real stack from here (Rust, HotSpot, Boehm GC,
 * oneTBB: notes/real-programs.md), so the answer is the G's stack, reported
 * exactly as glibc reports its own threads: the block above the guard
 * pages, with the guard size; or the memory given to pthread_attr_setstack. G1 and foreign threads are glibc's threads and
 * glibc answers for them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "../../compat/glibc_abi.h"
#include "shim.h"

GPM_EXPORT int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    if (!gpm_active())
        return gpm_real.pthread_getattr_np(th, attr);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind != G_KIND_BLOCK)
        return gpm_real.pthread_getattr_np(th, attr);

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
    pthread_attr_setschedpolicy(attr, gp->schedpolicy);
    struct sched_param param = {.sched_priority = gp->schedprio};
    pthread_attr_setschedparam(attr, &param);
    pthread_attr_setinheritsched(attr, gp->inheritsched);
    pthread_attr_setscope(attr, gp->scope);
    if (gp->cpuset != NULL) {
        err = pthread_attr_setaffinity_np(attr, gp->cpusetsize, gp->cpuset);
    } else {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0)
            err = pthread_attr_setaffinity_np(attr, sizeof set, &set);
    }
    if (err != 0) {
        pthread_attr_destroy(attr);
        return err;
    }
    return 0;
}
