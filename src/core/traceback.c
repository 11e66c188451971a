/*
 * src/core/traceback.c: SIGQUIT prints every G with its stack, then the
 * process dies of SIGQUIT as it would have (Go's behaviour, and the first
 * thing to reach for when a program under gpm hangs).
 *
 * The handler is installed at start-up only if the program's SIGQUIT
 * disposition is still the default, so a program that handles SIGQUIT
 * itself (or ignores it) sees no difference. It prints the scheduler's
 * state (gpm_dumpstate), then a traceback of each G: of the G that took
 * the signal from the signal context, of parked and runnable Gs from the
 * registers their last switch saved (asm/x86_64/switch.S), and of Gs
 * running on other kernel threads only their M (their stacks are in use).
 * Frames are named with libunwind. This runs in a signal handler and walks
 * other threads' stacks without locks: good enough for a dying process.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "gstack.h"
#include "runtime.h"
#include "sys.h"

enum { MAX_FRAMES = 64 };

static void walk(unw_cursor_t *cur)
{
    for (int i = 0; i < MAX_FRAMES; i++) {
        unw_word_t ip = 0, off = 0;
        char name[128];
        unw_get_reg(cur, UNW_REG_IP, &ip);
        if (unw_get_proc_name(cur, name, sizeof name, &off) == 0)
            gpm_printf("    %s+0x%lx (%p)\n", name, (unsigned long)off, (void *)ip);
        else
            gpm_printf("    ?? (%p)\n", (void *)ip);
        if (unw_step(cur) <= 0)
            return;
    }
    gpm_printf("    ...\n");
}

/* A stopped G's stack, from the frame gpm_ctx_switch saved at sched_sp. */
static void walksaved(struct gpm_g *gp)
{
    uint64_t *f = gp->sched_sp;
    if (f == NULL)
        return;
    unw_context_t uc;
    memset(&uc, 0, sizeof uc);
    greg_t *r = uc.uc_mcontext.gregs;
    r[REG_R15] = (greg_t)f[1];
    r[REG_R14] = (greg_t)f[2];
    r[REG_R13] = (greg_t)f[3];
    r[REG_R12] = (greg_t)f[4];
    r[REG_RBX] = (greg_t)f[5];
    r[REG_RBP] = (greg_t)f[6];
    r[REG_RIP] = (greg_t)f[7];
    r[REG_RSP] = (greg_t)(f + 8);
    unw_cursor_t cur;
    if (unw_init_local(&cur, &uc) == 0)
        walk(&cur);
}

struct dumpctx {
    struct gpm_g *self;
    ucontext_t *uc;
};

static void dumpg(struct gpm_g *gp, void *arg)
{
    struct dumpctx *d = arg;
    uint32_t st = gpm_readgstatus(gp);
    gpm_printf("\nG%lu [%s%s%s]%s:\n", (unsigned long)gp->goid, gpm_gstatus_name(st),
               st == G_WAITING ? ", " : "", st == G_WAITING ? gpm_waitreason_name(gp->waitreason) : "",
               gp == d->self ? " (received SIGQUIT)" : "");
    if (gp == d->self) {
        unw_cursor_t cur;
        if (unw_init_local2(&cur, (unw_context_t *)d->uc, UNW_INIT_SIGNAL_FRAME) == 0)
            walk(&cur);
    } else if (gp->kind != G_KIND_FOREIGN && (st == G_WAITING || st == G_RUNNABLE)) {
        walksaved(gp);
    } else if (gp->m != NULL) {
        gpm_printf("    (running on M%d, tid %d)\n", gp->m->id, gp->m->procid);
    } else {
        gpm_printf("    (a thread gpm did not create)\n");
    }
}

static void sigquit(int sig, siginfo_t *info, void *ucv)
{
    (void)info;
    gpm_printf("SIGQUIT: quit\n");
    gpm_dumpstate();
    gpm_printstats();
    /* Which G this is: only meaningful when a G's TLS is loaded and it is
       the running G of this kernel thread (not g0 borrowing its %fs). */
    struct gpm_g *self = gpm_getg();
    if (self != NULL && (self->m == NULL || self->m->curg != self))
        self = NULL;
    struct dumpctx d = {self, ucv};
    gpm_forallg_unlocked(dumpg, &d);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
    gpm_syscall2(SYS_kill, gpm_getpid(), sig);
}

/* GPM_DEBUG=faults=1: a fault that kills the process (no handler of the
   program's) first says which thread took it, where, and its stack, from
   the signal context. Natively such a death is silent; this is for
   finding the cause. */
void gpm_traceback_fault(const siginfo_t *si, void *ucv)
{
    struct gpm_g *gp = gpm_getg();
    ucontext_t *uc = ucv;
    gpm_printf("gpm: G%lu (tid %d) dies of signal %d: address %p, pc %p, code %d\n",
               gp != NULL ? (unsigned long)gp->goid : 0UL, gpm_gettid(), si->si_signo, si->si_addr,
               (void *)uc->uc_mcontext.gregs[REG_RIP], si->si_code);
    unw_cursor_t cur;
    if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) == 0)
        walk(&cur);
}

void gpm_traceback_init(void)
{
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigquit;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGQUIT, &sa, NULL);
}
