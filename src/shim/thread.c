/*
 * src/shim/thread.c: pthread_create, pthread_join, pthread_tryjoin_np,
 * pthread_detach, pthread_exit, pthread_self, pthread_equal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../core/sys.h"
#include "shim.h"
#include "../core/timer.h"

/* pthread_attr_getstackaddr is the only getter that tells "no stack was
   given" (NULL) apart from a stack: getstack computes garbage then. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/*
 * Decodes attr with libc's own getters (pthread_attr_t is glibc's data; its
 * setters validated it). Scheduling attributes are checked as glibc's
 * pthread_create does when they are explicit: a priority outside the
 * policy's range is EINVAL; a policy the caller may not use is EPERM, from
 * the kernel (an affinity or a policy makes a wired G, src/core/wire.c).
 */
static int decode_attr(const pthread_attr_t *attr, struct gpm_gattr *a, cpu_set_t *cpuset, sigset_t *sigmask)
{
    memset(a, 0, sizeof *a);
    gpm_default_geometry(&a->geo);
    a->schedpolicy = SCHED_OTHER;
    a->inheritsched = PTHREAD_INHERIT_SCHED;
    a->scope = PTHREAD_SCOPE_SYSTEM;
    if (attr == NULL)
        return 0;

    int detach;
    if (pthread_attr_getdetachstate(attr, &detach) != 0)
        return EINVAL;
    a->detached = detach == PTHREAD_CREATE_DETACHED;

    void *stackaddr = NULL;
    size_t stacksize = 0, guardsize = 0;
    pthread_attr_getstackaddr(attr, &stackaddr);
    pthread_attr_getstacksize(attr, &stacksize);
    pthread_attr_getguardsize(attr, &guardsize);
    if (stackaddr != NULL) {
        /* glibc keeps the top of the stack; setstack gave [addr, addr+size). */
        a->geo.user_stack = (char *)stackaddr - stacksize;
        a->geo.user_stacksize = stacksize;
        a->geo.stacksize = stacksize;
        a->geo.guardsize = 0;
    } else {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        a->geo.stacksize = stacksize & ~(size_t)63;
        a->geo.guardsize = (guardsize + page - 1) & ~(page - 1);
        /* As glibc's allocate_stack: sizes whose sum wraps are invalid. */
        size_t rounded = (a->geo.stacksize + page - 1) & ~(page - 1);
        if (a->geo.guardsize < guardsize || rounded < a->geo.stacksize || rounded + a->geo.guardsize < rounded)
            return EINVAL;
    }

    struct sched_param param;
    pthread_attr_getschedpolicy(attr, &a->schedpolicy);
    pthread_attr_getschedparam(attr, &param);
    pthread_attr_getinheritsched(attr, &a->inheritsched);
    pthread_attr_getscope(attr, &a->scope);
    a->schedprio = param.sched_priority;
    if (a->inheritsched == PTHREAD_EXPLICIT_SCHED) {
        /* glibc uses the attribute's policy and priority only if a setter
           stored them (its flags say so; the getters report the words
           either way); the creator's stand in for the others. So a policy
           written into the attribute's bytes, or an attribute never
           initialised, creates a thread with the creator's scheduling. */
        int flags = TCB_FIELD(attr, GLIBC_ATTR_OFF_FLAGS, int);
        struct gpm_g *self = gpm_getg();
        int policy = self != NULL ? self->schedpolicy : sched_getscheduler(0), prio = 0;
        if (self != NULL)
            prio = self->schedprio;
        else if (sched_getparam(0, &param) == 0)
            prio = param.sched_priority;
        if (flags & GLIBC_ATTR_FLAG_POLICY_SET)
            policy = a->schedpolicy;
        if (flags & GLIBC_ATTR_FLAG_SCHED_SET)
            prio = a->schedprio;
        a->schedpolicy = policy;
        a->schedprio = prio;
        /* glibc checks nothing more: the kernel refuses a policy it does
           not know, or a priority outside the policy's range, with
           EINVAL, when glibc applies them to the new thread. */
        int min = sched_get_priority_min(a->schedpolicy), max = sched_get_priority_max(a->schedpolicy);
        if (min == -1 || a->schedprio < min || a->schedprio > max)
            return EINVAL;
        /* Whether the caller may use the policy is the kernel's to say,
           when gpm_newproc applies it to the thread's wired M (wire.c). */
    } else {
        /* Inherited from the creator. */
        struct gpm_g *self = gpm_getg();
        if (self != NULL) {
            a->schedpolicy = self->schedpolicy;
            a->schedprio = self->schedprio;
        }
    }

    /* An affinity mask with every bit set is what glibc reports when none
       was given. */
    if (pthread_attr_getaffinity_np(attr, sizeof *cpuset, cpuset) == 0) {
        cpu_set_t all;
        memset(&all, 0xff, sizeof all);
        if (memcmp(cpuset, &all, sizeof all) != 0) {
            a->cpuset = cpuset;
            a->cpusetsize = sizeof *cpuset;
        }
    }
    if (pthread_attr_getsigmask_np(attr, sigmask) == 0)
        a->sigmask = sigmask;
    return 0;
}

GPM_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!gpm_active())
        return gpm_real.pthread_create(th, attr, fn, arg);
    struct gpm_gattr a;
    cpu_set_t cpuset;
    sigset_t sigmask;
    int err = decode_attr(attr, &a, &cpuset, &sigmask);
    if (err != 0)
        return err;
    return -gpm_newproc(&a, fn, arg, th);
}

GPM_EXPORT int pthread_join(pthread_t th, void **result)
{
    if (!gpm_active())
        return gpm_real.pthread_join(th, result);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_join(th, result);
    if (gpm_getg_adopt() == NULL)
        return EAGAIN;
    return gpm_join(gp, result, true, 0);
}

/* pthread_clockjoin_np and pthread_timedjoin_np: join with a deadline on
   CLOCK_REALTIME or CLOCK_MONOTONIC (glibc's futex clocks; others EINVAL,
   as a timespec with tv_nsec out of range is). */
static int clockjoin(pthread_t th, void **result, clockid_t clock, const struct timespec *abstime)
{
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_clockjoin_np(th, result, clock, abstime);
    int64_t deadline = 0;
    if (abstime != NULL && !gpm_deadline_abs(clock, abstime, &deadline))
        return EINVAL;
    if (gpm_getg_adopt() == NULL)
        return EAGAIN;
    return gpm_join(gp, result, true, deadline);
}

GPM_EXPORT int pthread_clockjoin_np(pthread_t th, void **result, clockid_t clock, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_clockjoin_np(th, result, clock, abstime);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    return clockjoin(th, result, clock, abstime);
}

GPM_EXPORT int pthread_timedjoin_np(pthread_t th, void **result, const struct timespec *abstime)
{
    if (!gpm_active())
        return gpm_real.pthread_timedjoin_np(th, result, abstime);
    return clockjoin(th, result, CLOCK_REALTIME, abstime);
}

GPM_EXPORT int pthread_tryjoin_np(pthread_t th, void **result)
{
    if (!gpm_active())
        return gpm_real.pthread_tryjoin_np(th, result);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_tryjoin_np(th, result);
    return gpm_join(gp, result, false, 0);
}

GPM_EXPORT int pthread_detach(pthread_t th)
{
    if (!gpm_active())
        return gpm_real.pthread_detach(th);
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_detach(th);
    return gpm_detach(gp);
}

GPM_EXPORT void pthread_exit(void *result)
{
    struct gpm_g *gp = gpm_active() ? gpm_getg() : NULL;
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        gpm_real.pthread_exit(result);
    gpm_gexit(result);
}

/* THREAD_SELF: the TCB, which is the pthread_t of every thread, G or not. */
GPM_EXPORT pthread_t pthread_self(void)
{
    pthread_t self;
    __asm__("mov %%fs:0x10, %0" : "=r"(self));
    return self;
}

GPM_EXPORT int pthread_equal(pthread_t a, pthread_t b)
{
    return a == b;
}
