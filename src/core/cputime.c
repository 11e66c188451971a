/*
 * src/core/cputime.c: the CPU time of Gs.
 *
 * CPU time of Gs
 * ==============
 * A native thread's CPU clock (CLOCK_THREAD_CPUTIME_ID, the clock id
 * pthread_getcpuclockid gives, getrusage(RUSAGE_THREAD)) is the kernel's
 * account of its task. A G has no task of its own: it runs on whichever M
 * its P has, so gpm keeps the account. At a switch the M reads its own CPU
 * clock once; the G leaving the M is credited with the time since it was
 * switched in, and the G arriving starts its span at that reading. A G in
 * a system call keeps its M, so the kernel time of the call is its own.
 * What an M spends on g0 (finding work, stealing, timers) is nobody's, as
 * the kernel's own scheduling is no thread's. Exits and parks, yields,
 * preemptions and the direct G-to-G switches all pass through execute or
 * switchout in sched.c, the two places that call gpm_cputime_atswitch.
 *
 * Cost, and when accounting starts
 * --------------------------------
 * The vDSO does not serve CPU clocks: each reading is a system call
 * (about 0.5 µs on the VM the tests run on, several times a whole G
 * switch). So nothing is kept until the program first asks for a thread's
 * CPU clock: clock_gettime of CLOCK_THREAD_CPUTIME_ID or of a thread's
 * clock id, pthread_getcpuclockid, getrusage(RUSAGE_THREAD). From then on
 * gpm_cputime_on stays set; until then the switch path pays one load and a
 * branch that is never taken.
 *
 * What a G's clock reads, then: its time on Ms since accounting started,
 * counted from 0 when the G was created. Time used before that was not
 * kept and is not counted, with one exception: a process in which G1 was
 * the only G so far (nothing else ever ran) starts G1's clock at the
 * process's CPU time, which was all G1's (and gpm's start-up's). A G that
 * was running on another M when accounting started is counted from its
 * next switch-in, or from its own first reading, whichever comes first.
 *
 * Readers
 * -------
 * The G itself needs no synchronisation: only its own switches write its
 * fields, and none happens while it runs gpm's code (asynchronous
 * preemption stops a G only in the program's own code, preempt.c).
 * Another thread reads through a sequence count: the writer (the M
 * switching the G, or the G itself starting its span) makes cpuseq odd,
 * writes cputime and cpustart, and makes it even again; the reader reads
 * cpuseq, the fields and the G's M, then that M's CPU clock (any thread of
 * a process may read another's), and retries when cpuseq changed or was
 * odd. Ms are never freed, so a stale M is still safe to read.
 */
#define _GNU_SOURCE
#include "cputime.h"

#include <time.h>

#include "../../compat/glibc_abi.h"
#include "sys.h"

_Atomic bool gpm_cputime_on;

/* A kernel thread's (or the process's) CPU clock in ns, or -1 when its
   thread has gone. A raw system call: usable on g0. */
static int64_t clockns(clockid_t clk)
{
    struct timespec ts;
    if (gpm_syscall2(SYS_clock_gettime, clk, (long)&ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Writer side of gp's sequence count: only one writer at a time, the M
   running gp (at its switches) or gp itself. The release fence orders the
   odd count before the field writes, for readers that see those. */
static void writebegin(struct gpm_g *gp)
{
    uint32_t s = atomic_load_explicit(&gp->cpuseq, memory_order_relaxed);
    atomic_store_explicit(&gp->cpuseq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/* Release: pairs with the reader's acquire load of cpuseq. */
static void writeend(struct gpm_g *gp)
{
    uint32_t s = atomic_load_explicit(&gp->cpuseq, memory_order_relaxed);
    atomic_store_explicit(&gp->cpuseq, s + 1, memory_order_release);
}

/* gp's span starts now (its M's clock; -1, a failed reading: untimed). */
static void startspan(struct gpm_g *gp, int64_t now)
{
    writebegin(gp);
    atomic_store_explicit(&gp->cpustart, now > 0 ? now : 0, memory_order_relaxed);
    writeend(gp);
}

/* gp's span ends now: credit it. */
static void endspan(struct gpm_g *gp, int64_t now)
{
    int64_t start = atomic_load_explicit(&gp->cpustart, memory_order_relaxed);
    writebegin(gp);
    if (start != 0 && now > start)
        atomic_store_explicit(&gp->cputime, atomic_load_explicit(&gp->cputime, memory_order_relaxed) + (now - start),
                              memory_order_relaxed);
    atomic_store_explicit(&gp->cpustart, 0, memory_order_relaxed);
    writeend(gp);
}

void gpm_cputime_switch(struct gpm_g *prev, struct gpm_g *next)
{
    int64_t now = clockns(CLOCK_THREAD_CPUTIME_ID);
    if (prev != NULL)
        endspan(prev, now);
    if (next != NULL)
        startspan(next, now);
}

void gpm_cputime_enable(struct gpm_g *self)
{
    if (atomic_load_explicit(&gpm_cputime_on, memory_order_relaxed))
        return;
    if (atomic_exchange(&gpm_cputime_on, true))
        return; /* another thread was first */
    if (self == NULL || self->kind == G_KIND_FOREIGN)
        return;
    /* goidgen counts every G ever made, G1 first: 1 means G1 alone (see
       "Cost, and when accounting starts"). */
    if (self->kind == G_KIND_MAIN && atomic_load(&gpm_sched.goidgen) == 1) {
        int64_t process = clockns(CLOCK_PROCESS_CPUTIME_ID);
        if (process > 0)
            atomic_store_explicit(&self->cputime, process, memory_order_relaxed);
    }
    startspan(self, clockns(CLOCK_THREAD_CPUTIME_ID));
}

int64_t gpm_cputime_self(struct gpm_g *self)
{
    gpm_cputime_enable(self);
    int64_t now = clockns(CLOCK_THREAD_CPUTIME_ID);
    int64_t start = atomic_load_explicit(&self->cpustart, memory_order_relaxed);
    if (start == 0) {
        /* Running since before accounting started: counted from now. */
        startspan(self, now);
        start = now;
    }
    int64_t total = atomic_load_explicit(&self->cputime, memory_order_relaxed);
    return total + (now > start ? now - start : 0);
}

int64_t gpm_cputime_of(struct gpm_g *gp)
{
    for (;;) {
        uint32_t seq = atomic_load_explicit(&gp->cpuseq, memory_order_acquire);
        if (seq & 1) {
            __builtin_ia32_pause();
            continue;
        }
        int64_t total = atomic_load_explicit(&gp->cputime, memory_order_relaxed);
        int64_t start = atomic_load_explicit(&gp->cpustart, memory_order_relaxed);
        struct gpm_m *mp = __atomic_load_n(&gp->m, __ATOMIC_RELAXED);
        int64_t span = 0;
        if (start != 0 && mp != NULL) {
            int64_t now = clockns(GPM_THREAD_CPUCLOCK(mp->procid));
            if (now > start)
                span = now - start;
        }
        /* Acquire: the fields read above come before the second look at
           cpuseq; unchanged, nothing was written meanwhile. */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&gp->cpuseq, memory_order_relaxed) == seq)
            return total + span;
    }
}

void gpm_cputime_forkchild(struct gpm_g *self)
{
    if (self == NULL)
        return;
    atomic_store_explicit(&self->cputime, 0, memory_order_relaxed);
    bool on = atomic_load_explicit(&gpm_cputime_on, memory_order_relaxed);
    startspan(self, on ? clockns(CLOCK_THREAD_CPUTIME_ID) : 0);
}
