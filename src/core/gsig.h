/*
 * src/core/gsig.h: signals and cancellation of Gs (signal.c).
 */
#ifndef GPM_CORE_GSIG_H
#define GPM_CORE_GSIG_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

static inline uint64_t gpm_sigbit(int sig)
{
    return sig > 0 && sig <= 64 ? 1ULL << (sig - 1) : 0;
}

uint64_t gpm_sigset_bits(const sigset_t *set);
void gpm_sigset_from(sigset_t *set, uint64_t bits);

/* Start-up: the program's dispositions so far, G1's mask (schedinit). */
void gpm_siginit(struct gpm_g *g1);
/* Routing starts with the second thread (gpm_newproc): the receiver
   thread, and M0's kernel mask becomes every M's. Idempotent. */
void gpm_sigrouting_start(void);
/* fork: signal.c's locks held across it; in the child, one thread again,
   and signals go straight to it (routing starts again with a thread). */
void gpm_sig_forklock(void);
void gpm_sig_forkunlock(void);
void gpm_sig_forkchild(void);
/* preempt.c: the program's disposition of the preemption signal when gpm
   took it over. */
void gpm_sig_initprog(int sig, const struct sigaction *a);
/* The kernel mask every M runs with while routing ("The kernel's masks"). */
extern sigset_t gpm_msigmask;
bool gpm_sigrouting(void);

/* A new G's signal state: mask from its creator (or attr), nothing
   pending; and its removal from the tally when it exits. */
void gpm_sig_newg(struct gpm_g *gp, struct gpm_g *creator, const sigset_t *attrmask);
void gpm_sig_exitg(struct gpm_g *gp);

/* The interposed calls (src/shim/signal.c). Return 0 or an error number
   unless said otherwise. */
int gpm_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int gpm_sigmask(int how, const sigset_t *set, sigset_t *old);
int gpm_sigpending(sigset_t *set);
/* sigsuspend and pause: always -1 with EINTR in errno, as POSIX. */
int gpm_sigsuspend(const sigset_t *mask);
/* sigtimedwait: the signal number, or -(error number). ts NULL: forever. */
int gpm_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts);
int gpm_sigaltstack(const stack_t *ss, stack_t *old);
/* Sends si (si_signo 0: only checks) to gp: pthread_kill, pthread_sigqueue,
   tgkill to a G's id, raise. */
int gpm_sigsend(struct gpm_g *gp, const siginfo_t *si);
/* kill and sigqueue to the calling process: routed at once, as the kernel
   makes a signal pending on a thread before kill returns (a signal every
   G blocks goes to the kernel, pending for the process). Error number. */
int gpm_sigprocess(int sig, int code, const union sigval *value);
/* siginfo as the kernel fills it for tgkill (SI_TKILL) from this process. */
void gpm_siginfo_tkill(siginfo_t *si, int sig);
/* Around exec and spawn: the calling kernel thread takes the G's mask,
   which a new program inherits; gpm_sig_execleave puts the M's back. */
void gpm_sig_execenter(void);
void gpm_sig_execleave(void);

/* Delivers the calling G's deliverable signals now: runs their handlers.
   Must be called where the G holds nothing of gpm's (see "Delivery"). */
void gpm_sigdeliver(void);
/* The same after an interrupted wait that a handler may restart: says
   whether handlers ran, and whether one lacked SA_RESTART. */
enum { GPM_SIGRAN_NONE, GPM_SIGRAN_RESTART, GPM_SIGRAN_NORESTART };
int gpm_sigdeliver_restart(struct gpm_g *gp);
static inline bool gpm_sigdeliverable(struct gpm_g *gp)
{
    return (atomic_load_explicit(&gp->sig.pending, memory_order_relaxed) &
            ~atomic_load_explicit(&gp->sig.blocked, memory_order_relaxed)) != 0;
}
/* The check at gpm's safe points: one load and a branch. */
static inline void gpm_sigcheck(struct gpm_g *gp)
{
    if (__builtin_expect(atomic_load_explicit(&gp->sig.pending, memory_order_relaxed) != 0, 0) &&
        gpm_sigdeliverable(gp))
        gpm_sigdeliver();
}

/* After a wrapped system call returns: deliver what came meanwhile, act on
   a cancellation (every wrapped blocking call is a cancellation point). */
void gpm_afterwrapped_slow(struct gpm_g *gp);
static inline void gpm_afterwrapped(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL && __builtin_expect((atomic_load_explicit(&gp->sig.pending, memory_order_relaxed) != 0) |
                                           atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed),
                                       0))
        gpm_afterwrapped_slow(gp);
}

void gpm_testcancel(void);

/* At the start of a cancellation point: acts on a pending cancellation
   (gpm_testcancel: returns unless it is enabled). */
static inline void gpm_testcancel_pending(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL && __builtin_expect(atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed), 0))
        gpm_testcancel();
}

/* gpm_afterwrapped after a libc call whose errno the caller returns. */
static inline void gpm_afterwrapped_keeperrno(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL && __builtin_expect((atomic_load_explicit(&gp->sig.pending, memory_order_relaxed) != 0) |
                                           atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed),
                                       0)) {
        int e = errno;
        gpm_afterwrapped_slow(gp);
        errno = e;
    }
}

/*
 * Interruptible waits ("Interrupting a wait" in signal.c). A waiter
 * registers in before it parks; false means it must not park (a signal or
 * a cancellation is already there). gpm_intr_end unregisters it, waiting
 * if an interrupter is using in right now.
 */
bool gpm_intr_begin(struct gpm_g *gp, struct gpm_intr *in);
void gpm_intr_end(struct gpm_g *gp, struct gpm_intr *in);
/*
 * gpm_intr_begin in two halves, for a waiter that executes a locked
 * instruction in between anyway (semawait takes its bucket lock): that
 * instruction, not a locked store, orders the publication before the
 * check ("Interruptible waits" in sema.c). false from gpm_intr_check:
 * must not park; call gpm_intr_end (after releasing any lock that an
 * interrupter's fn takes).
 */
static inline void gpm_intr_publish(struct gpm_g *gp, struct gpm_intr *in)
{
    atomic_store_explicit(&gp->sig.intr, in, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
}
bool gpm_intr_check(struct gpm_g *gp, struct gpm_intr *in);
/* Whether gp's wait should end now: a deliverable signal, a signal it
   waits for, or a cancellation it would act on. */
bool gpm_intr_wanted(struct gpm_g *gp);

/* Cancellation ("Cancellation" in signal.c). */
int gpm_cancel(struct gpm_g *gp);
/* Acts on a pending cancellation if the G's state lets it: does not
   return then. */
void gpm_testcancel(void);
/* The same from a poke's handler frame (asynchronous cancellation). */
void gpm_testcancel_async(void);
/* Whether gp would act on a cancellation at a cancellation point now. */
bool gpm_cancelpending(struct gpm_g *gp);

/* The preemption handler's part: deliver to the G the M runs, if it is at
   a point where that is safe (preempt.c). */
void gpm_sig_onpoke(struct gpm_m *mp, void *ucv, bool progpc, bool gpmpc);
/* sysmon: pokes again Ms whose G has signals it could not take, while
   gpm_sig_repoking says some may. */
void gpm_sig_sysmon(void);
bool gpm_sig_repoking(void);
/* Gives the calling kernel thread, mp's, gpm's alternate signal stack
   ("Faults and stack overflows" in signal.c), mapping it the first time.
   Runs on the M's thread, when it starts. */
void gpm_m_sigstack(struct gpm_m *mp);
/* Kernel handler for signals the program handles (installed by
   gpm_sigaction), also used by preempt.c for the program's own deliveries
   of the preemption signal. */
void gpm_sighandler(int sig, siginfo_t *si, void *ucv);

#endif
