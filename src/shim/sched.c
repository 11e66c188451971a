/*
 * src/shim/sched.c: a thread's CPU affinity and scheduling policy:
 * pthread_setaffinity_np, pthread_getaffinity_np, pthread_setschedparam,
 * pthread_getschedparam, pthread_setschedprio, and the kernel's calls on a
 * thread id, sched_setaffinity, sched_getaffinity, sched_setscheduler,
 * sched_getscheduler, sched_setparam, sched_getparam.
 *
 * glibc's own would address the kernel thread named by the G's tid, which
 * is not a kernel thread (ESRCH), or, for G1 and pid 0, whichever M runs
 * the caller, and with it every G that M runs later. Here a G of gpm's is
 * asked for through src/core/wire.c: a change wires it to a kernel thread
 * of its own with the affinity or policy applied ("Wired Gs" in
 * src/core/sched.c), and a question is answered by that thread, or, for a
 * G that is not wired, by the process's. Errors are the kernel's.
 *
 * Who is addressed: a pthread_t names its G; a pid of 0, or the tid of a
 * live G of gpm's (gettid: G1's is the process id), names that G. A
 * foreign thread (its own kernel thread), and any id that is not a G's
 * (another process, a thread of another process), are libc's and the
 * kernel's business, untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "../core/wire.h"
#include "shim.h"

/* The G of gpm's that pid names for the sched_* calls, or NULL when the
   kernel answers. */
static struct gpm_g *pidg(pid_t pid)
{
    struct gpm_g *self = gpm_getg();
    if (pid == 0 || (self != NULL && pid == (pid_t)self->tid))
        return self != NULL && self->kind != G_KIND_FOREIGN ? self : NULL;
    return gpm_findg_tid(pid);
}

/* The syscall-style return: 0, or -1 with errno. */
static int sysret(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

GPM_EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_setaffinity(pid, size, set);
    return sysret(gpm_g_setaffinity(gp, size, set));
}

GPM_EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_getaffinity(pid, size, set);
    return sysret(gpm_g_getaffinity(gp, size, set));
}

GPM_EXPORT int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_setscheduler(pid, policy, param);
    return sysret(gpm_g_setscheduler(gp, policy, param));
}

GPM_EXPORT int sched_getscheduler(pid_t pid)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_getscheduler(pid);
    return sysret(gpm_g_getscheduler(gp));
}

GPM_EXPORT int sched_setparam(pid_t pid, const struct sched_param *param)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_setparam(pid, param);
    return sysret(gpm_g_setparam(gp, param));
}

GPM_EXPORT int sched_getparam(pid_t pid, struct sched_param *param)
{
    struct gpm_g *gp = gpm_active() ? pidg(pid) : NULL;
    if (gp == NULL)
        return gpm_real.sched_getparam(pid, param);
    return sysret(gpm_g_getparam(gp, param));
}

/* The pthread_* family returns error numbers; a foreign thread is libc's.
   A thread that has finished (not yet joined) has no kernel thread left to
   ask: ESRCH (glibc would address tid 0, the caller). */
#define THREAD_G(th, realcall)                  \
    struct gpm_g *gp = shim_g(th);              \
    if (gp == NULL)                             \
        return ESRCH;                           \
    if (gp->kind == G_KIND_FOREIGN)             \
        return realcall;                        \
    if (gpm_readgstatus(gp) == G_DEAD)          \
        return ESRCH;

GPM_EXPORT int pthread_setaffinity_np(pthread_t th, size_t size, const cpu_set_t *set)
{
    if (!gpm_active())
        return gpm_real.pthread_setaffinity_np(th, size, set);
    THREAD_G(th, gpm_real.pthread_setaffinity_np(th, size, set))
    return -gpm_g_setaffinity(gp, size, set);
}

GPM_EXPORT int pthread_getaffinity_np(pthread_t th, size_t size, cpu_set_t *set)
{
    if (!gpm_active())
        return gpm_real.pthread_getaffinity_np(th, size, set);
    THREAD_G(th, gpm_real.pthread_getaffinity_np(th, size, set))
    return -gpm_g_getaffinity(gp, size, set);
}

GPM_EXPORT int pthread_setschedparam(pthread_t th, int policy, const struct sched_param *param)
{
    if (!gpm_active())
        return gpm_real.pthread_setschedparam(th, policy, param);
    THREAD_G(th, gpm_real.pthread_setschedparam(th, policy, param))
    return -gpm_g_setscheduler(gp, policy, param);
}

GPM_EXPORT int pthread_getschedparam(pthread_t th, int *policy, struct sched_param *param)
{
    if (!gpm_active())
        return gpm_real.pthread_getschedparam(th, policy, param);
    THREAD_G(th, gpm_real.pthread_getschedparam(th, policy, param))
    int pol = gpm_g_getscheduler(gp);
    if (pol < 0)
        return -pol;
    int err = gpm_g_getparam(gp, param);
    if (err != 0)
        return -err;
    *policy = pol;
    return 0;
}

GPM_EXPORT int pthread_setschedprio(pthread_t th, int prio)
{
    if (!gpm_active())
        return gpm_real.pthread_setschedprio(th, prio);
    THREAD_G(th, gpm_real.pthread_setschedprio(th, prio))
    struct sched_param param = {.sched_priority = prio};
    return -gpm_g_setparam(gp, &param);
}
