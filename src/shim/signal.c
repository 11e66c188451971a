/*
 * src/shim/signal.c: sigaction, signal, bsd_signal, sysv_signal, sigset,
 * sigprocmask, pthread_sigmask, as far as the preemption signal
 * (GPM_PREEMPT_SIGNAL, SIGURG by default) is concerned; see "The handler"
 * and "What is excluded" in src/core/preempt.c.
 *
 *   - The preemption signal's disposition stays gpm's: what the program
 *     sets is recorded, reported back, and applied to every delivery that
 *     is not a preemption request.
 *   - Every other handler the program installs gets the preemption signal
 *     added to its mask (reported back as the program set it), so that no
 *     G is preempted inside a handler that interrupted gpm's own code.
 *   - The masks the program sets never block the preemption signal.
 * With asynchronous preemption off (GPM_PREEMPT_SIGNAL=0) and in
 * pass-through mode, every call is libc's own. signal-style functions that
 * glibc implements through its own internal sigaction are called as they
 * are and the handler's mask corrected afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "../core/env.h"
#include "shim.h"

GPM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!gpm_active())
        return gpm_real.sigaction(sig, act, old);
    return gpm_sigaction(sig, act, old);
}

/* The preemption signal through a signal-style call: as sigaction with
   the flags and mask that call gives. Returns the previous handler. */
static __sighandler_t preemptsig_set(int sig, __sighandler_t h, int flags, bool masksig)
{
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    if (masksig)
        sigaddset(&a.sa_mask, sig);
    if (gpm_sigaction(sig, &a, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

static bool ispreemptsig(int sig)
{
    return gpm_config.preemptsig > 0 && sig == gpm_config.preemptsig;
}

/* signal and bsd_signal: BSD semantics, as glibc's (SA_RESTART, the
   signal blocked in its handler). */
#define SIGNAL_BSD(name)                                                 \
    GPM_EXPORT __sighandler_t name(int sig, __sighandler_t h)            \
    {                                                                    \
        if (!gpm_active())                                               \
            return gpm_real.name(sig, h);                                \
        if (ispreemptsig(sig))                                           \
            return preemptsig_set(sig, h, SA_RESTART, true);             \
        __sighandler_t r = gpm_real.name(sig, h);                        \
        if (r != SIG_ERR)                                                \
            gpm_sigaction_fixup(sig);                                    \
        return r;                                                        \
    }
SIGNAL_BSD(signal)
SIGNAL_BSD(bsd_signal)

GPM_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
    if (!gpm_active())
        return gpm_real.sysv_signal(sig, h);
    if (ispreemptsig(sig))
        return preemptsig_set(sig, h, SA_RESETHAND | SA_NODEFER, false);
    __sighandler_t r = gpm_real.sysv_signal(sig, h);
    if (r != SIG_ERR)
        gpm_sigaction_fixup(sig);
    return r;
}

/* sigset: for the preemption signal, SIG_HOLD cannot block it (the
   preemption signal is never blocked); it is reported and otherwise
   ignored (docs/COMPAT.md). */
GPM_EXPORT __sighandler_t sigset(int sig, __sighandler_t h)
{
    if (!gpm_active())
        return gpm_real.sigset(sig, h);
    if (ispreemptsig(sig)) {
        if (h == SIG_HOLD) {
            struct sigaction old;
            gpm_sigaction(sig, NULL, &old);
            return old.sa_handler;
        }
        return preemptsig_set(sig, h, 0, false);
    }
    __sighandler_t r = gpm_real.sigset(sig, h);
    if (r != SIG_ERR)
        gpm_sigaction_fixup(sig);
    return r;
}

/* sigprocmask and pthread_sigmask: the mask as the program asks, less the
   preemption signal (they differ only in how they report errors). */
#define SIGMASK(name)                                                         \
    GPM_EXPORT int name(int how, const sigset_t *set, sigset_t *old)          \
    {                                                                         \
        if (!gpm_active() || set == NULL || how == SIG_UNBLOCK)               \
            return gpm_real.name(how, set, old);                              \
        sigset_t s = *set;                                                    \
        gpm_sigmask_filter(&s);                                               \
        return gpm_real.name(how, &s, old);                                   \
    }
SIGMASK(sigprocmask)
SIGMASK(pthread_sigmask)
