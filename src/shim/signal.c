/*
 * src/shim/signal.c: the signal family: dispositions, masks, waiting,
 * sending, alternate stacks (src/core/signal.c does the work).
 *
 * gpm owns the kernel's dispositions: sigaction and the signal-style
 * calls record the program's action and install gpm's handler (or the
 * program's SIG_DFL or SIG_IGN); masks are per G and cost no system call;
 * pthread_kill, pthread_sigqueue and raise queue the signal on the target
 * G. In pass-through mode, and for threads gpm did not create (foreign),
 * every call is libc's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../core/env.h"
#include "../core/gsig.h"
#include "shim.h"

/* The calling thread is a G of gpm's (routed signals). */
static bool gthread(void)
{
    if (!gpm_active())
        return false;
    struct gpm_g *gp = gpm_getg_adopt();
    return gp != NULL && gp->kind != G_KIND_FOREIGN;
}

/* Waiting for signals needs routing: while the program has one thread,
   its kernel thread is its G's and the kernel waits (as a wrapped call). */
static bool routedwait(void)
{
    return gthread() && gpm_sigrouting();
}

#define KERNELWAIT(call)          \
    do {                          \
        gpm_entersyscall();       \
        __typeof__(call) r_ = call; \
        gpm_exitsyscall();        \
        gpm_afterwrapped();       \
        return r_;                \
    } while (0)

static int seterr(int err)
{
    if (err == 0)
        return 0;
    errno = err;
    return -1;
}

GPM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!gpm_active())
        return gpm_real.sigaction(sig, act, old);
    return seterr(gpm_sigaction(sig, act, old));
}

/* The signal-style calls, as glibc makes them from sigaction. Returns the
   previous handler, or SIG_ERR. */
static __sighandler_t setsig(int sig, __sighandler_t h, int flags, bool masksig)
{
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    if (masksig && sig > 0 && sig < NSIG)
        sigaddset(&a.sa_mask, sig);
    if (seterr(gpm_sigaction(sig, &a, &old)) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* signal and bsd_signal: BSD semantics (SA_RESTART, the signal blocked in
   its handler). */
#define SIGNAL_BSD(name)                                                 \
    GPM_EXPORT __sighandler_t name(int sig, __sighandler_t h)            \
    {                                                                    \
        if (!gpm_active())                                               \
            return gpm_real.name(sig, h);                                \
        return setsig(sig, h, SA_RESTART, true);                         \
    }
SIGNAL_BSD(signal)
SIGNAL_BSD(bsd_signal)

GPM_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
    if (!gpm_active())
        return gpm_real.sysv_signal(sig, h);
    return setsig(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

/* sigset: SIG_HOLD blocks the signal in the caller; any other action
   unblocks it, as glibc's. */
GPM_EXPORT __sighandler_t sigset(int sig, __sighandler_t h)
{
    if (!gthread())
        return gpm_real.sigset(sig, h);
    sigset_t one, oldmask;
    sigemptyset(&one);
    if (sig <= 0 || sig >= NSIG || sigaddset(&one, sig) != 0) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction old;
    if (seterr(gpm_sigaction(sig, NULL, &old)) != 0)
        return SIG_ERR;
    if (h == SIG_HOLD) {
        gpm_sigmask(SIG_BLOCK, &one, &oldmask);
        return sigismember(&oldmask, sig) ? SIG_HOLD : old.sa_handler;
    }
    __sighandler_t prev = setsig(sig, h, 0, false);
    if (prev == SIG_ERR)
        return SIG_ERR;
    gpm_sigmask(SIG_UNBLOCK, &one, &oldmask);
    return sigismember(&oldmask, sig) ? SIG_HOLD : prev;
}

GPM_EXPORT int siginterrupt(int sig, int flag)
{
    if (!gpm_active())
        return gpm_real.siginterrupt(sig, flag);
    struct sigaction a;
    if (seterr(gpm_sigaction(sig, NULL, &a)) != 0)
        return -1;
    if (flag)
        a.sa_flags &= ~SA_RESTART;
    else
        a.sa_flags |= SA_RESTART;
    return seterr(gpm_sigaction(sig, &a, NULL));
}

/* sighold, sigrelse, sigignore (System V). */
static int onemask(int how, int sig)
{
    sigset_t one;
    sigemptyset(&one);
    if (sig <= 0 || sig >= NSIG || sigaddset(&one, sig) != 0)
        return seterr(EINVAL);
    return seterr(gpm_sigmask(how, &one, NULL));
}

GPM_EXPORT int sighold(int sig)
{
    if (!gthread())
        return gpm_real.sighold(sig);
    return onemask(SIG_BLOCK, sig);
}

GPM_EXPORT int sigrelse(int sig)
{
    if (!gthread())
        return gpm_real.sigrelse(sig);
    return onemask(SIG_UNBLOCK, sig);
}

GPM_EXPORT int sigignore(int sig)
{
    if (!gpm_active())
        return gpm_real.sigignore(sig);
    return setsig(sig, SIG_IGN, 0, false) == SIG_ERR ? -1 : 0;
}

/* sigprocmask and pthread_sigmask: the calling G's own mask (they differ
   only in how they report errors). */
GPM_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!gthread())
        return gpm_real.sigprocmask(how, set, old);
    return seterr(gpm_sigmask(how, set, old));
}

GPM_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!gthread())
        return gpm_real.pthread_sigmask(how, set, old);
    return gpm_sigmask(how, set, old);
}

GPM_EXPORT int sigpending(sigset_t *set)
{
    if (!gthread())
        return gpm_real.sigpending(set);
    return gpm_sigpending(set);
}

GPM_EXPORT int sigsuspend(const sigset_t *mask)
{
    if (!gpm_active())
        return gpm_real.sigsuspend(mask);
    if (!routedwait())
        KERNELWAIT(gpm_real.sigsuspend(mask));
    return gpm_sigsuspend(mask);
}

GPM_EXPORT int pause(void)
{
    if (!gpm_active())
        return gpm_real.pause();
    if (!routedwait())
        KERNELWAIT(gpm_real.pause());
    sigset_t cur;
    gpm_sigmask(SIG_BLOCK, NULL, &cur);
    return gpm_sigsuspend(&cur);
}

GPM_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
    if (!gpm_active())
        return gpm_real.sigtimedwait(set, info, ts);
    if (!routedwait())
        KERNELWAIT(gpm_real.sigtimedwait(set, info, ts));
    int r = gpm_sigtimedwait(set, info, ts);
    return r > 0 ? r : seterr(-r);
}

GPM_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    if (!gpm_active())
        return gpm_real.sigwaitinfo(set, info);
    if (!routedwait())
        KERNELWAIT(gpm_real.sigwaitinfo(set, info));
    int r = gpm_sigtimedwait(set, info, NULL);
    return r > 0 ? r : seterr(-r);
}

/* sigwait never fails with EINTR (POSIX): it waits again. */
GPM_EXPORT int sigwait(const sigset_t *set, int *sig)
{
    if (!gpm_active())
        return gpm_real.sigwait(set, sig);
    if (!routedwait())
        KERNELWAIT(gpm_real.sigwait(set, sig));
    int r;
    do
        r = gpm_sigtimedwait(set, NULL, NULL);
    while (r == -EINTR);
    if (r < 0)
        return -r;
    *sig = r;
    return 0;
}

GPM_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
    if (!gthread())
        return gpm_real.sigaltstack(ss, old);
    return seterr(gpm_sigaltstack(ss, old));
}

/* The G a pthread_t names for sending: NULL when it is not one of gpm's
   Gs (the kernel thread gets libc's call). */
static int sendtog(pthread_t th, const siginfo_t *si)
{
    int sig = si->si_signo;
    if (sig < 0 || sig >= NSIG || sig == 32 || sig == 33)
        return EINVAL;
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return -1;
    uintptr_t w = atomic_load(&gp->joinword);
    /* glibc: a thread that has exited (joined or not) is not signalled,
       and the call succeeds. */
    if (gp->exiting || w == JOIN_EXITING || w == JOIN_EXITED || w == JOIN_FREED)
        return 0;
    return gpm_sigsend(gp, si);
}

GPM_EXPORT int pthread_kill(pthread_t th, int sig)
{
    if (!gpm_active())
        return gpm_real.pthread_kill(th, sig);
    siginfo_t si;
    gpm_siginfo_tkill(&si, sig);
    int r = sendtog(th, &si);
    return r >= 0 ? r : gpm_real.pthread_kill(th, sig);
}

GPM_EXPORT int pthread_sigqueue(pthread_t th, int sig, const union sigval value)
{
    if (!gpm_active())
        return gpm_real.pthread_sigqueue(th, sig, value);
    siginfo_t si;
    gpm_siginfo_tkill(&si, sig);
    si.si_code = SI_QUEUE;
    si.si_value = value;
    int r = sendtog(th, &si);
    return r >= 0 ? r : gpm_real.pthread_sigqueue(th, sig, value);
}

GPM_EXPORT int raise(int sig)
{
    if (!gthread())
        return gpm_real.raise(sig);
    return seterr(pthread_kill(pthread_self(), sig));
}

/* kill and sigqueue to this process: routed by the caller before it
   returns, as the kernel does (src/core/signal.c, gpm_sigprocess); any
   other target is the kernel's. */
GPM_EXPORT int kill(pid_t pid, int sig)
{
    if (!gpm_active() || !gpm_sigrouting() || pid != getpid() || sig <= 0 || sig >= NSIG || sig == 32 ||
        sig == 33 || sig == SIGKILL || sig == SIGSTOP)
        return gpm_real.kill(pid, sig);
    return seterr(gpm_sigprocess(sig, SI_USER, NULL));
}

GPM_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value)
{
    if (!gpm_active() || !gpm_sigrouting() || pid != getpid() || sig <= 0 || sig >= NSIG || sig == 32 ||
        sig == 33 || sig == SIGKILL || sig == SIGSTOP)
        return gpm_real.sigqueue(pid, sig, value);
    return seterr(gpm_sigprocess(sig, SI_QUEUE, &value));
}
