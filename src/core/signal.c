/*
 * src/core/signal.c: signals and cancellation of Gs (DESIGN.md section 11).
 *
 * A signal is a thread's, and a thread is a G. The kernel only knows the
 * Ms, which run many Gs one after another, so gpm stands between them.
 *
 * The kernel's masks
 * ------------------
 * While routing (from the program's second thread on), every M runs with
 * one constant kernel mask, gpm_msigmask: everything blocked except the
 * preemption signal (gpm's own, never the program's business on an M),
 * the synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
 * SIGSYS: they belong to the instruction that raised them, so to the G
 * running it) and glibc's two internal signals (SIGCANCEL and SIGSETXID,
 * which glibc sends to its kernel threads, the Ms). Process-directed
 * signals therefore wait in the kernel until the receiver thread takes
 * them, and a signal every G blocks is never taken at all: it stays
 * pending in the kernel, where sigwait, signalfd and the default actions
 * find it as they would natively. The mask being constant matters: a
 * handler that parks (Boehm GC's suspend handler waits in sigsuspend) may
 * return on another M, whose mask the kernel's sigreturn then sets from
 * the frame; with one mask for all Ms that is always right.
 *
 * The receiver
 * ------------
 * A kernel thread without P that blocks everything and waits in
 * sigtimedwait for the signals some G could take: those not blocked by
 * every G (the tally below), plus those a G waits for in sigwait. It
 * routes each as POSIX says: to a G in sigwait for it; else, for a
 * handler, to one G that does not block it (G1 first, as Linux prefers
 * the main thread; then any G); else the default action, which the
 * receiver performs itself (the process ends or stops as it would have).
 * Anything that changes what it should wait for wakes it with a queued
 * SIGURG carrying a cookie. The receiver runs no program code and takes
 * gpm's locks in the ordinary way. kill and sigqueue to the own process
 * do not go through it: the caller routes the signal itself before the
 * call returns (gpm_sigprocess), as the kernel makes a signal pending on
 * some thread before kill returns; only a signal every G blocks goes to
 * the kernel.
 *
 * Per-G signal state
 * ------------------
 * gp->sig (runtime.h): the G's mask, its pending set and a queue of
 * instances (siginfo, for SA_SIGINFO handlers and sigwaitinfo), its
 * alternate stack. pthread_sigmask changes only gpm's copy: no system
 * call. Instances come from a pool of nodes under pool.lock (a leaf),
 * carved from mmap so that sending never calls malloc (pthread_kill is
 * async-signal-safe). Standard signals do not queue: a second one while
 * one is pending merges with it; real-time signals queue.
 *
 * The tally: which signals every routed G blocks. Routed Gs are counted
 * by mask class: a table of the distinct masks Gs have had, each with the
 * number of routed Gs that have it now. A create or an exit is one atomic
 * addition to its class's count, whatever the mask; a mask change is one
 * on each of two classes. Signals blocked by every G: the AND of the masks
 * of the classes whose count is not zero. Programs have few distinct
 * masks (one, or one per kind of thread: a signal thread that unblocks
 * what the others block); classes are added, never removed, and a mask
 * once seen keeps its class. When the table is full, a G whose mask has
 * no class is counted the old way, per signal: novf counts such Gs,
 * nblock[s] those of them that block s, and s is blocked by all of them
 * when the two are equal. (Per signal for every G cost k atomic additions
 * at create and exit for a mask of k signals: a program that blocks every
 * signal in its main thread, and so in every thread it creates, paid 124
 * atomics per create and exit, three times the cost of the create.)
 *
 * The receiver must hear of every change of the set blocked by all. A G
 * that changes its mask, or is created with a mask of its own, wakes it. A
 * G created with its creator's mask changes nothing (the creator, alive,
 * blocks the same). A G that exits can only add to the set: a signal it
 * blocked and all blocked stays so; one it did not block joins the set
 * exactly when every G left blocks it, so some G has blocked it and its
 * bit is in someblock. So the exit wakes the receiver only when a signal
 * of someblock that it did not block is now counted by every G left:
 * nothing, in a program whose threads share one mask, whatever that mask
 * is. (A concurrent change of the tally by another G wakes the receiver
 * on its own account; someblock gains a bit before the mask change that
 * needs it wakes anyone.)
 *
 * Delivery
 * --------
 * A program handler runs on its G, on that G's stack (or its alternate
 * stack), with its TLS and errno, and never inside gpm's own code: gpm's
 * locks are held only in gpm's code, so a handler calling sem_post or
 * pthread_kill can never find a lock held beneath it. A signal sent to a
 * G is delivered:
 *   - running G: the sender pokes its M (the preemption signal, counted as
 *     gpm's own by preemptsent); the handler runs the program's handler in
 *     that frame when the G is in program code, or inside a system call
 *     gpm wraps (libc's code around a system call holds nothing of
 *     gpm's); anywhere else the G is asked to yield and delivers when it
 *     resumes, and sysmon pokes again until it has;
 *   - runnable G: when it resumes (every resume path of a G calls
 *     gpm_sigcheck: the end of a wait, of a yield, of a preemption, of
 *     exitsyscall);
 *   - parked G: its wait is interrupted (below) and it delivers before
 *     the wait returns; what the wait then does is POSIX's: sleeps,
 *     semaphores, sigsuspend, pause return EINTR; condition variables
 *     return as a spurious wake-up; mutexes, rwlocks, barriers, once and
 *     join run the handler and wait again.
 * A system call interrupted by a handler without SA_RESTART returns
 * EINTR: the poke finds the M at the `syscall` instruction the kernel
 * rewound for a restart (gpm's own handler is SA_RESTART) and makes it
 * return -EINTR instead.
 *
 * Interrupting a wait
 * -------------------
 * A G about to park in an interruptible wait publishes a struct gpm_intr
 * in gp->sig.intr (gpm_intr_begin, seq_cst, then it checks for signals
 * and cancellation: a sender sets pending (seq_cst) before it looks at
 * intr, so one of the two sees the other; semawait gets the same order
 * from the locked instruction of its bucket lock: gpm_intr_publish). An interrupter holds
 * gp->sig.lock, claims the intr by exchanging it with NULL and calls its
 * fn, which takes the G out of its wait queue the way a timeout does and
 * readies it. The waiter's gpm_intr_end exchanges intr with NULL too; if
 * it finds NULL an interrupter has it and may be using the waiter's
 * stack, so it waits for gp->sig.lock before returning.
 *
 * Cancellation
 * ------------
 * gpm keeps its own request flag (gp->sig.cancelreq) and sets glibc's
 * CANCELING and CANCELED bits in the G's TCB as glibc's pthread_cancel
 * does, so that libc's own cancellation points (its system call wrappers,
 * pthread_testcancel) act on it too. The G acts at gpm's cancellation
 * points (the interruptible waits marked as such, wrapped system calls)
 * by exiting through gpm's pthread_exit with PTHREAD_CANCELED: cleanup
 * handlers and C++ destructors run by forced unwinding. A G blocked in
 * the kernel is poked; with asynchronous cancellation (glibc's type bit,
 * which libc itself sets around its blocking system calls) the poke acts
 * at once, as glibc's SIGCANCEL handler does. G1 never gets glibc's bits:
 * glibc's unwinding of the main thread ends its kernel thread, which here
 * is M0; G1 acts at gpm's points only.
 *
 * Lock order (lock.h): allglock, then sigs.lock, then a G's sig.lock,
 * then the timer, semtable and scheduler locks; pool.lock is a leaf.
 */
#define _GNU_SOURCE
#include "gsig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "env.h"
#include "foreign.h"
#include "glife.h"
#include "gstack.h"
#include "sys.h"
#include "sysmon.h"
#include "timer.h"

#define NSIGS 64
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#define SIGCANCEL_GLIBC 32
#define SIGSETXID_GLIBC 33

/* glibc's cancelhandling bits (nptl/descr.h, 2.36). */
enum {
    CANCELSTATE_BITMASK = 1 << 0, /* disabled */
    CANCELTYPE_BITMASK = 1 << 1,  /* asynchronous */
    CANCELING_BITMASK = 1 << 2,
    CANCELED_BITMASK = 1 << 3,
    EXITING_BITMASK = 1 << 4,
};

sigset_t gpm_msigmask;

/* The program's dispositions, as it set them (index: signal number).
   Changed by sigaction calls, which the program serialises per signal as
   it must under glibc; read by deliverers. */
static struct sigaction progact[NSIGS + 1];

/* Mask classes in the tally ("Per-G signal state"). */
#define NCLASS 64

static struct {
    struct gpm_mutex lock;     /* procq, waiters */
    struct gpm_signode *procq; /* process-directed instances no G took */
    struct gpm_g *waiters;     /* Gs in sigwait, through sig.waitnext */
    /* The tally ("Per-G signal state"): mask classes, slots [0, nclass)
       claimed, each ready once its state is 2 (its mask written). */
    struct {
        _Atomic uint64_t mask;
        _Atomic int32_t n;     /* routed Gs with this mask now */
        _Atomic int32_t state; /* 0 free, 1 being written, 2 ready */
        char pad[48];          /* one line each: creates and exits write n */
    } cls[NCLASS];
    _Atomic int32_t nclass;
    /* Routed Gs counted per signal, the table being full. */
    _Atomic int32_t novf;
    _Atomic int32_t nblock[NSIGS];
    _Atomic uint64_t someblock; /* signals some per-signal G has blocked */
    _Atomic bool routing;
    _Atomic int recvtid;
    _Atomic bool recvdirty;
    _Atomic bool repoke;
    struct gpm_g *g1;
} sigs;

static struct {
    struct gpm_mutex lock;
    struct gpm_signode *free;
} pool;

/* Instances the Ms' handler could not deliver where it caught them, for
   the receiver ("The receiver"). A slot is 0 free, 1 being written, 2
   full. */
#define RING 64
static struct {
    _Atomic int state[RING];
    siginfo_t si[RING];
} ring;

uint64_t gpm_sigset_bits(const sigset_t *set)
{
    uint64_t b;
    memcpy(&b, set, sizeof b);
    return b;
}

void gpm_sigset_from(sigset_t *set, uint64_t bits)
{
    sigemptyset(set);
    memcpy(set, &bits, sizeof bits);
}

static bool sync_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

/* Signals a thread's mask cannot block. */
static const uint64_t UNBLOCKABLE = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) |
                                    (1ULL << (SIGCANCEL_GLIBC - 1)) | (1ULL << (SIGSETXID_GLIBC - 1));

static bool ishandler(const struct sigaction *a)
{
    return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

/* Whether the default action of sig is to do nothing. */
static bool default_ignored(int sig)
{
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

bool gpm_sigrouting(void)
{
    return atomic_load_explicit(&sigs.routing, memory_order_acquire);
}

/* ---- The node pool ------------------------------------------------------- */

static struct gpm_signode *nodealloc(void)
{
    gpm_lock(&pool.lock);
    if (pool.free == NULL) {
        size_t len = 64 * 1024;
        long r = gpm_syscall6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r < 0 && r > -4096) {
            gpm_unlock(&pool.lock);
            return NULL;
        }
        struct gpm_signode *n = (struct gpm_signode *)r;
        for (size_t i = 0; i < len / sizeof *n; i++) {
            n[i].next = pool.free;
            pool.free = &n[i];
        }
    }
    struct gpm_signode *n = pool.free;
    pool.free = n->next;
    gpm_unlock(&pool.lock);
    n->next = NULL;
    return n;
}

static void nodefree(struct gpm_signode *n)
{
    gpm_lock(&pool.lock);
    n->next = pool.free;
    pool.free = n;
    gpm_unlock(&pool.lock);
}

/* ---- The tally and the receiver's wake-ups ------------------------------- */

/* The per-signal counts, for Gs without a class. */
static void tally(uint64_t add, uint64_t del)
{
    if ((add & ~atomic_load_explicit(&sigs.someblock, memory_order_relaxed)) != 0)
        atomic_fetch_or(&sigs.someblock, add);
    for (uint64_t b = add; b; b &= b - 1)
        atomic_fetch_add(&sigs.nblock[__builtin_ctzll(b)], 1);
    for (uint64_t b = del; b; b &= b - 1)
        atomic_fetch_sub(&sigs.nblock[__builtin_ctzll(b)], 1);
}

/* The class of mask, added if new; -1 when the table is full. Lock-free
   (a mask change may come from a handler that interrupted another): two
   Gs adding one new mask at once may give it two classes, which count as
   one would. */
static int32_t classof(uint64_t mask)
{
    for (int32_t i = 0;; i++) {
        int32_t n = atomic_load_explicit(&sigs.nclass, memory_order_acquire);
        for (; i < n; i++)
            if (atomic_load_explicit(&sigs.cls[i].state, memory_order_acquire) == 2 &&
                atomic_load_explicit(&sigs.cls[i].mask, memory_order_relaxed) == mask)
                return i;
        if (n == NCLASS)
            return -1;
        if (atomic_compare_exchange_strong(&sigs.nclass, &n, n + 1)) {
            atomic_store_explicit(&sigs.cls[n].state, 1, memory_order_relaxed);
            atomic_store_explicit(&sigs.cls[n].mask, mask, memory_order_relaxed);
            atomic_store_explicit(&sigs.cls[n].state, 2, memory_order_release);
            return n;
        }
        i = -1; /* another G claimed slot n: look again from the start */
    }
}

/* Counts gp, routed, with mask in the tally. The G's record of what it is
   counted as comes first: a handler that interrupts a mask change after
   it takes the new record as the one to undo, and its own changes and ours
   add up to the right counts (a count may be briefly negative, which
   blockedbyall reads as zero). */
static void countg(struct gpm_g *gp, uint64_t mask)
{
    int32_t c = classof(mask);
    gp->sig.cls = c;
    gp->sig.counted = mask;
    atomic_signal_fence(memory_order_seq_cst);
    if (c >= 0) {
        atomic_fetch_add(&sigs.cls[c].n, 1);
    } else {
        atomic_fetch_add(&sigs.novf, 1);
        tally(mask, 0);
    }
}

/* Takes a G counted with mask in class c (-1: per signal) out. */
static void uncount(int32_t c, uint64_t mask)
{
    if (c >= 0) {
        atomic_fetch_sub(&sigs.cls[c].n, 1);
    } else {
        tally(0, mask);
        atomic_fetch_sub(&sigs.novf, 1);
    }
}

/* Signals every routed G blocks; *anyg says whether there is a routed G
   at all. */
static uint64_t blockedbyall_any(bool *anyg)
{
    uint64_t all = ~0ULL;
    bool any = false;
    int32_t n = atomic_load_explicit(&sigs.nclass, memory_order_acquire);
    for (int32_t i = 0; i < n; i++) {
        if (atomic_load_explicit(&sigs.cls[i].state, memory_order_acquire) != 2 ||
            atomic_load(&sigs.cls[i].n) <= 0)
            continue;
        all &= atomic_load_explicit(&sigs.cls[i].mask, memory_order_relaxed);
        any = true;
    }
    int32_t o = atomic_load(&sigs.novf);
    if (o > 0) {
        uint64_t b = 0;
        for (uint64_t s = atomic_load(&sigs.someblock); s; s &= s - 1) {
            int i = __builtin_ctzll(s);
            if (i < NSIGS && atomic_load_explicit(&sigs.nblock[i], memory_order_relaxed) >= o)
                b |= 1ULL << i;
        }
        all &= b;
        any = true;
    }
    *anyg = any;
    return any ? all : 0;
}

static uint64_t blockedbyall(void)
{
    bool any;
    return blockedbyall_any(&any);
}

/* After a G that blocked m left the tally: whether a signal it did not
   block is now blocked by every G left ("Per-G signal state"). */
static bool exitjoinsblockedbyall(uint64_t m)
{
    bool any;
    uint64_t all = blockedbyall_any(&any);
    if (!any)
        return true; /* no routed G left: the set is empty now */
    return (all & ~(m | UNBLOCKABLE)) != 0;
}

static void wakereceiver(void)
{
    int tid = atomic_load(&sigs.recvtid);
    if (tid == 0 || atomic_exchange(&sigs.recvdirty, true))
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGURG;
    si.si_code = SI_QUEUE;
    si.si_pid = gpm_getpid();
    si.si_value.sival_ptr = &sigs;
    gpm_syscall4(SYS_rt_tgsigqueueinfo, gpm_getpid(), tid, SIGURG, (long)&si);
}

/* Recounts gp's mask after a change to newmask. */
static void setmask(struct gpm_g *gp, uint64_t newmask)
{
    newmask &= ~UNBLOCKABLE;
    atomic_store(&gp->sig.blocked, newmask);
    if (!gp->sig.routed)
        return;
    uint64_t old = gp->sig.counted;
    if (old == newmask)
        return;
    int32_t oldc = gp->sig.cls;
    /* The new class first, then the old one out. A reader that scans the
       classes meanwhile may see the G in both, or, when the new class
       comes before the old in the table, in neither, and then take a
       signal the G does not block for one every G blocks: such a signal
       is left pending in the kernel for a moment, until the receiver,
       woken below, looks again and routes it. */
    countg(gp, newmask);
    uncount(oldc, old);
    wakereceiver();
}

void gpm_sig_newg(struct gpm_g *gp, struct gpm_g *creator, const sigset_t *attrmask)
{
    /* What a sender queued on the block's last life while it exited (see
       gpm_sig_exitg) goes back to the pool, undelivered. */
    struct gpm_signode *q = gp->sig.q;
    gp->sig.q = NULL;
    while (q != NULL) {
        struct gpm_signode *n = q;
        q = n->next;
        nodefree(n);
    }
    gp->sig.waitset = 0;
    gp->sig.waitnext = NULL;
    /* Relaxed: no sender can reach the G before its creator publishes it
       (the run queue's release, or the pthread_t it returns). */
    atomic_store_explicit(&gp->sig.intr, NULL, memory_order_relaxed);
    atomic_store_explicit(&gp->sig.pending, 0, memory_order_relaxed);
    atomic_store_explicit(&gp->sig.cancelreq, false, memory_order_relaxed);
    gp->sig.handlers = 0;
    gp->sig.altstack = (stack_t){.ss_flags = SS_DISABLE};
    gp->sig.lock = (struct gpm_mutex)GPM_MUTEX_INIT;
    /* The creator's mask as it is now, inside a handler with the
       handler's additions: a native thread inherits its creator's kernel
       mask, which includes them. */
    uint64_t mask = attrmask != NULL ? gpm_sigset_bits(attrmask)
                    : creator != NULL ? atomic_load(&creator->sig.blocked)
                                      : 0;
    mask &= ~UNBLOCKABLE;
    atomic_store_explicit(&gp->sig.blocked, mask, memory_order_relaxed); /* as above */
    gp->sig.routed = gp->kind != G_KIND_FOREIGN;
    gp->sig.counted = 0;
    gp->sig.cls = -1;
    if (gp->sig.routed) {
        countg(gp, mask);
        /* A G with its creator's mask leaves the set blocked by every G
           as it was; one with a mask of its own may unblock some. */
        if (attrmask != NULL)
            wakereceiver();
    }
}

void gpm_sig_exitg(struct gpm_g *gp)
{
    /* Instances still queued for it are dropped, as the kernel drops those
       of a thread that exits. Nothing pending and nothing queued (the
       usual exit) needs no lock: a sender that queues at this very moment,
       on a G whose exit it could not see, leaves its instance to the
       block's next life, which gives it back (gpm_sig_newg). */
    if (atomic_load(&gp->sig.pending) != 0 || __atomic_load_n(&gp->sig.q, __ATOMIC_RELAXED) != NULL) {
        gpm_lock(&gp->sig.lock);
        struct gpm_signode *q = gp->sig.q;
        gp->sig.q = NULL;
        /* Under sig.lock, where senders set it: no order with anything else. */
        atomic_store_explicit(&gp->sig.pending, 0, memory_order_relaxed);
        gpm_unlock(&gp->sig.lock);
        while (q != NULL) {
            struct gpm_signode *n = q;
            q = n->next;
            nodefree(n);
        }
    }
    if (gp->sig.routed) {
        uint64_t m = gp->sig.counted;
        uncount(gp->sig.cls, m);
        gp->sig.counted = 0;
        gp->sig.routed = false;
        /* Without it, the others may all block what it did not. */
        if (exitjoinsblockedbyall(m))
            wakereceiver();
    }
}

/* ---- Sending to a G --------------------------------------------------------- */

/* Claims and fires gp's interruptible wait. gp->sig.lock held. */
static bool fireintr(struct gpm_g *gp, bool forcancel)
{
    struct gpm_intr *in = atomic_load(&gp->sig.intr);
    if (in == NULL || (forcancel && !in->cancelpoint))
        return false;
    in = atomic_exchange(&gp->sig.intr, NULL);
    if (in == NULL)
        return false;
    return in->fn(gp, in);
}

/* Asks gp's M to look at gp's signals, if gp is on one. */
static void poke(struct gpm_g *gp)
{
    uint32_t st = atomic_load(&gp->atomicstatus);
    if (st != G_RUNNING && st != G_SYSCALL)
        return;
    /* A wired G runs without a P on its own M (lockedm). */
    struct gpm_m *mp = gp->m != NULL ? gp->m : gp->lockedm;
    if (mp == NULL)
        return;
    if (gpm_config.preemptsig <= 0)
        return;
    atomic_fetch_add_explicit(&mp->preemptsent, 1, memory_order_relaxed);
    gpm_syscall3(SYS_tgkill, gpm_getpid(), mp->procid, gpm_config.preemptsig);
}

/* After an instance of a signal in bit was queued on gp (lock held). */
static void wakefor(struct gpm_g *gp, uint64_t bit)
{
    bool wanted = (gp->sig.waitset & bit) != 0 || (bit & ~atomic_load(&gp->sig.blocked)) != 0;
    if (!wanted)
        return;
    if (fireintr(gp, false))
        return;
    poke(gp);
}

/* Queues si on gp. gp->sig.lock held. */
static int enqueue(struct gpm_g *gp, const siginfo_t *si)
{
    int sig = si->si_signo;
    uint64_t bit = gpm_sigbit(sig);
    if (sig < SIGRTMIN && (atomic_load(&gp->sig.pending) & bit))
        return 0; /* standard signals do not queue */
    struct gpm_signode *n = nodealloc();
    if (n == NULL)
        return EAGAIN;
    n->si = *si;
    struct gpm_signode **pp = &gp->sig.q;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = n;
    atomic_fetch_or(&gp->sig.pending, bit); /* seq_cst: see "Interrupting a wait" */
    wakefor(gp, bit);
    return 0;
}

void gpm_siginfo_tkill(siginfo_t *si, int sig)
{
    memset(si, 0, sizeof *si);
    si->si_signo = sig;
    si->si_code = SI_TKILL;
    si->si_pid = gpm_getpid();
    si->si_uid = (uid_t)gpm_syscall0(SYS_getuid);
}

int gpm_sigsend(struct gpm_g *gp, const siginfo_t *si)
{
    int sig = si->si_signo;
    if (sig < 0 || sig > NSIGS)
        return EINVAL;
    if (sig == 0)
        return 0;
    if (gp->kind == G_KIND_FOREIGN || !gpm_sigrouting()) {
        /* A kernel thread of its own: the kernel delivers. */
        int tid = gp->kind == G_KIND_FOREIGN ? (int)gp->tid : gpm_gettid();
        if (gp->kind != G_KIND_FOREIGN && gp != gpm_getg())
            tid = gp->m != NULL ? gp->m->procid : tid;
        long r = si->si_code == SI_TKILL ? gpm_syscall3(SYS_tgkill, gpm_getpid(), tid, sig)
                                         : gpm_syscall4(SYS_rt_tgsigqueueinfo, gpm_getpid(), tid, sig, (long)si);
        return r < 0 ? (int)-r : 0;
    }
    /* A standard signal already pending merges with it: the send is
       ordered before the dequeue that will deliver it. No lock for that
       (a storm of sends to one thread would queue on it). */
    if (sig < SIGRTMIN && (atomic_load(&gp->sig.pending) & gpm_sigbit(sig)) && gp != gpm_getg())
        return 0;
    gpm_lock(&gp->sig.lock);
    int err = enqueue(gp, si);
    gpm_unlock(&gp->sig.lock);
    if (err == 0 && gp == gpm_getg())
        gpm_sigcheck(gp); /* raise: the handler runs before it returns */
    return err;
}

/* ---- Delivery -------------------------------------------------------------- */

void gpm_sigcall_onstack(void *fn, long sig, void *si, void *uc, void *stacktop);

static bool onaltstack(struct gpm_g *gp, uintptr_t sp)
{
    const stack_t *s = &gp->sig.altstack;
    return !(s->ss_flags & SS_DISABLE) && sp > (uintptr_t)s->ss_sp && sp <= (uintptr_t)s->ss_sp + s->ss_size;
}

/* The kernel's disposition for sig as gpm wants it: gpm's handler for a
   program handler (and always for SIGSEGV), the program's own SIG_DFL or
   SIG_IGN otherwise. */
static void segvhandler(int sig, siginfo_t *si, void *ucv);

static int installkernel(int sig, const struct sigaction *prog)
{
    struct sigaction k;
    memset(&k, 0, sizeof k);
    if (sig == SIGSEGV) {
        /* Whatever the program's disposition: gpm's handler, on the M's
           alternate stack, tells overflows from other faults ("Faults and
           stack overflows"). */
        k.sa_sigaction = segvhandler;
        k.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigfillset(&k.sa_mask);
    } else if (ishandler(prog) && sig != gpm_config.preemptsig) {
        k.sa_sigaction = gpm_sighandler;
        k.sa_flags = SA_SIGINFO | SA_RESTART | (prog->sa_flags & (SA_NOCLDSTOP | SA_NOCLDWAIT));
        sigfillset(&k.sa_mask);
    } else if (sig == gpm_config.preemptsig) {
        return 0; /* preempt.c's handler stays */
    } else {
        k = *prog;
    }
    return gpm_real.sigaction(sig, &k, NULL);
}

/* The default action of sig, performed on the calling kernel thread: for
   a terminating signal the process ends as it would have. */
static void defaultaction(int sig)
{
    if (default_ignored(sig))
        return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    gpm_real.sigaction(sig, &dfl, NULL);
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, sig);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&one, (long)&old, 8);
    gpm_syscall3(SYS_tgkill, gpm_getpid(), gpm_gettid(), sig);
    /* A stop signal: continued. */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
    installkernel(sig, &progact[sig]);
}

static void takeprocq(struct gpm_g *gp, uint64_t want);
static void route(const siginfo_t *si);

/* Runs the program's action for si on the calling G. */
static void deliver_one(struct gpm_g *gp, siginfo_t *si, void *uc)
{
    int sig = si->si_signo;
    struct sigaction a = progact[sig];
    if (a.sa_handler == SIG_IGN)
        return;
    if (a.sa_handler == SIG_DFL) {
        defaultaction(sig);
        return;
    }
    if (a.sa_flags & SA_RESETHAND) {
        memset(&progact[sig], 0, sizeof progact[sig]);
        progact[sig].sa_handler = SIG_DFL;
        installkernel(sig, &progact[sig]);
    }
    uint64_t old = atomic_load(&gp->sig.blocked);
    uint64_t during = old | gpm_sigset_bits(&a.sa_mask) | ((a.sa_flags & SA_NODEFER) ? 0 : gpm_sigbit(sig));
    atomic_store(&gp->sig.blocked, during & ~UNBLOCKABLE);
    gp->sig.handlers++;
    int savederrno = errno;
    ucontext_t here;
    if (uc == NULL && (a.sa_flags & SA_SIGINFO)) {
        getcontext(&here);
        uc = &here;
    }
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if ((a.sa_flags & SA_ONSTACK) && !(gp->sig.altstack.ss_flags & SS_DISABLE) && !onaltstack(gp, sp)) {
        void *top = (char *)gp->sig.altstack.ss_sp + gp->sig.altstack.ss_size;
        if (a.sa_flags & SA_SIGINFO)
            gpm_sigcall_onstack((void *)a.sa_sigaction, sig, si, uc, top);
        else
            gpm_sigcall_onstack((void *)a.sa_handler, sig, NULL, NULL, top);
    } else if (a.sa_flags & SA_SIGINFO) {
        a.sa_sigaction(sig, si, uc);
    } else {
        a.sa_handler(sig);
    }
    errno = savederrno;
    gp->sig.handlers--;
    atomic_store(&gp->sig.blocked, old);
    /* What came for the process while every G blocked it (this one in
       its handler) is this G's now. */
    takeprocq(gp, during & ~old);
}

/* Takes gp's first deliverable instance into *si (tryonly: give up if
   the lock is busy). Returns false when there is none. */
static bool takeone(struct gpm_g *gp, uint64_t want, siginfo_t *si, bool tryonly)
{
    if (tryonly) {
        uint32_t v = 0;
        if (!atomic_compare_exchange_strong(&gp->sig.lock.key, &v, 1))
            return false;
    } else {
        gpm_lock(&gp->sig.lock);
    }
    uint64_t bits = atomic_load(&gp->sig.pending) & want;
    struct gpm_signode *n = NULL;
    if (bits != 0) {
        int sig = __builtin_ctzll(bits) + 1;
        struct gpm_signode **pp = &gp->sig.q;
        while (*pp != NULL && (*pp)->si.si_signo != sig)
            pp = &(*pp)->next;
        n = *pp;
        if (n != NULL) {
            *pp = n->next;
            bool more = false;
            for (struct gpm_signode *m = gp->sig.q; m != NULL; m = m->next)
                more |= m->si.si_signo == sig;
            if (!more)
                atomic_fetch_and(&gp->sig.pending, ~gpm_sigbit(sig));
        }
    }
    gpm_unlock(&gp->sig.lock);
    if (n == NULL)
        return false;
    *si = n->si;
    nodefree(n);
    return true;
}

/* Delivers every deliverable signal of gp; uc is the interrupted context
   when called from a kernel handler frame. Returns a mask of the signals
   whose handlers lack SA_RESTART. */
static uint64_t deliverall(struct gpm_g *gp, void *uc, bool tryonly)
{
    uint64_t norestart = 0;
    siginfo_t si;
    while (takeone(gp, ~atomic_load(&gp->sig.blocked), &si, tryonly)) {
        const struct sigaction *a = &progact[si.si_signo];
        if (ishandler(a) && !(a->sa_flags & SA_RESTART))
            norestart |= gpm_sigbit(si.si_signo);
        deliver_one(gp, &si, uc);
    }
    return norestart;
}

int gpm_sigdeliver_restart(struct gpm_g *gp)
{
    uint64_t norestart = 0;
    bool any = false;
    siginfo_t si;
    while (takeone(gp, ~atomic_load(&gp->sig.blocked), &si, false)) {
        const struct sigaction *a = &progact[si.si_signo];
        if (ishandler(a)) {
            any = true;
            if (!(a->sa_flags & SA_RESTART))
                norestart |= gpm_sigbit(si.si_signo);
        }
        deliver_one(gp, &si, NULL);
    }
    return norestart != 0 ? GPM_SIGRAN_NORESTART : any ? GPM_SIGRAN_RESTART : GPM_SIGRAN_NONE;
}

void gpm_sigdeliver(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL)
        deliverall(gp, NULL, false);
}

/* ---- The kernel's handlers ------------------------------------------------- */

static void reroute(const siginfo_t *si)
{
    for (int i = 0; i < RING; i++) {
        int v = 0;
        if (atomic_compare_exchange_strong(&ring.state[i], &v, 1)) {
            ring.si[i] = *si;
            atomic_store(&ring.state[i], 2);
            atomic_store(&sigs.recvdirty, false);
            wakereceiver();
            return;
        }
    }
    /* Full: a flood of signals; standard signals merge anyway. */
}

/* A handler without SA_RESTART interrupted a system call that the kernel
   rewound to restart (gpm's own handlers are SA_RESTART): make it return
   EINTR instead, as it would have. A `syscall` instruction not yet
   executed gets the same, which is what an interruption just before the
   call looks like. */
static void interruptsyscall(ucontext_t *uc)
{
    greg_t *r = uc->uc_mcontext.gregs;
    if (*(const uint16_t *)(uintptr_t)r[REG_RIP] == 0x050f) {
        r[REG_RAX] = -EINTR;
        r[REG_RIP] += 2;
    }
}

static void unblock_m(void)
{
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_msigmask, 0, 8);
}

/*
 * The kernel handler of every signal the program handles. Reaches an M
 * (or a foreign thread) for a synchronous fault, for raise() inside libc
 * (abort), for a process-directed signal on a kernel thread that does not
 * block it (before routing, and the faults, which no M blocks), and, on
 * foreign threads, for everything the kernel sends them.
 */
void gpm_sighandler(int sig, siginfo_t *si, void *ucv)
{
    struct gpm_g *gp = gpm_tls_g;
    bool isg = gp != NULL && gp->magic == GPM_G_MAGIC && (gp->m == NULL || gp->m->curg == gp);
    bool fault = sync_signal(sig) && si->si_code > 0;
    if (!isg) {
        /* g0, or a thread with no G: nothing of the program runs here. */
        if (fault) {
            defaultaction(sig);
            return;
        }
        reroute(si);
        return;
    }
    uint64_t bit = gpm_sigbit(sig);
    /* Before routing, and on a foreign thread, the kernel's mask is the
       thread's: the kernel delivered it, so the thread takes it (a
       sigsuspend may have unblocked it for the kernel only). */
    bool direct = !gpm_sigrouting() || gp->kind == G_KIND_FOREIGN;
    if (fault || si->si_code == SI_TKILL || direct) {
        if (!direct && (atomic_load(&gp->sig.blocked) & bit)) {
            if (fault) {
                /* The kernel's rule for a blocked fault: the default. */
                defaultaction(sig);
                return;
            }
            gpm_lock(&gp->sig.lock);
            enqueue(gp, si);
            gpm_unlock(&gp->sig.lock);
            return;
        }
        unblock_m();
        const struct sigaction *a = &progact[sig];
        bool restart = !ishandler(a) || (a->sa_flags & SA_RESTART);
        deliver_one(gp, si, ucv);
        if (!restart && !fault)
            interruptsyscall(ucv);
        return;
    }
    reroute(si);
}

/*
 * Faults and stack overflows
 * --------------------------
 * A G that runs off the low end of its stack faults in its guard (or,
 * past it, below it). Natively the kernel then cannot push a signal frame
 * on the spent stack and the process dies of SIGSEGV without a word; a
 * handler can only run on an alternate stack. gpm wants to say which
 * thread overflowed, so SIGSEGV's kernel handler is always gpm's
 * (installkernel), SA_ONSTACK, and every M's kernel thread has an
 * alternate stack of gpm's (gpm_m_sigstack; the program's sigaltstack is
 * per G and emulated, so the kernel's is free). The handler:
 *
 *   - an overflow of the running G's stack (gpm_gstack_overflowed) that
 *     the program cannot handle as natively (no handler with SA_ONSTACK
 *     and an alternate stack of the G's) prints one line, "gpm: thread
 *     G<n> overflowed its <k>-byte stack", and dies as native: SIGSEGV's
 *     disposition becomes SIG_DFL and the handler returns, so that the
 *     faulting instruction faults again and the kernel kills the process
 *     there (a core dump shows the faulting thread at the fault);
 *   - any other fault with SIG_DFL or SIG_IGN dies the same way, silently
 *     (the kernel's rule for a fault: an ignored one kills too);
 *   - a fault the program handles runs its handler where the kernel would
 *     have run it natively: on the G's stack below the red zone, or on the
 *     G's alternate stack for SA_ONSTACK. The kernel's frame (ucontext,
 *     siginfo, fp state) is copied there, the handler runs through
 *     gpm_sighandler with the copy (so it reads and changes the copy, as
 *     it would the kernel's frame), and the return to the interrupted code
 *     is an rt_sigreturn from the copy (gpm_rt_sigreturn). So the M's
 *     alternate stack is free again as soon as the handler starts: the
 *     handler may park and resume on another M, siglongjmp out, or fault
 *     again (SA_NODEFER), and no frame on an M's stack is left to be
 *     overwritten or returned through. Before the return, the copy's
 *     saved alternate stack, which rt_sigreturn installs, becomes the
 *     calling thread's own (the G may have moved to another M).
 *     A frame that does not fit on the G's stack is an overflow, as it
 *     would be natively.
 *   - a SIGSEGV sent by kill or tgkill is routed as any signal.
 * Threads gpm did not create keep their own alternate stacks; their
 * handler moves off it only when the program's handler lacks SA_ONSTACK.
 * Only SIGSEGV uses the M's alternate stack: every other handler of gpm's
 * runs on the interrupted stack, where a program handler may park.
 */
#define KUC_SIZE 304 /* the kernel's struct ucontext, x86_64 */
#define KSI_SIZE 128 /* its siginfo, right above it in a frame */
#define FP_XSTATE_MAGIC1_ 0x46505853U
/* Stack room below the frame copy for gpm_sighandler's own frames, with
   the handler's frames on top (a native frame leaves it none either). */
#define HANDLER_ROOM 2048
/* The M's alternate stack holds a kernel frame (up to AT_MINSIGSTKSZ)
   and gpm's handler, which prints one line (a 1 KiB buffer). */
#define SIGSTK_ROOM (32 * 1024)

void gpm_rt_sigreturn(void *uc) __attribute__((noreturn));

/* Set once a fault is to kill the process: a handler of gpm's that a
   concurrent sigaction installs again meanwhile lets the fault through
   (the one line is gpm_overflow_first's). */
static _Atomic bool segvdying;

void gpm_m_sigstack(struct gpm_m *mp)
{
    if (mp->sigstk == NULL) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t min = (size_t)getauxval(AT_MINSIGSTKSZ);
        if (min < (size_t)MINSIGSTKSZ)
            min = (size_t)MINSIGSTKSZ;
        size_t size = (min + SIGSTK_ROOM + page - 1) & ~(page - 1);
        void *p = gpm_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (gpm_mmap_failed(p))
            return; /* overflows of this M's Gs then die without the line */
        mp->sigstk = p;
        mp->sigstksize = size;
    }
    stack_t ss = {.ss_sp = mp->sigstk, .ss_flags = 0, .ss_size = mp->sigstksize};
    gpm_syscall2(SYS_sigaltstack, (long)&ss, 0);
}

/* The fault kills the process as it would natively (see above). Returns
   to the faulting instruction when it can fault again; else the kernel's
   raise. */
static void diefault(const siginfo_t *si)
{
    atomic_store(&segvdying, true);
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } dfl = {SIG_DFL, 0, NULL, 0}; /* the kernel's struct sigaction */
    gpm_syscall4(SYS_rt_sigaction, SIGSEGV, (long)&dfl, 0, sizeof dfl.mask);
    if (si->si_code > 0 && si->si_code != SI_KERNEL)
        return; /* an instruction's fault: it faults again, now fatally */
    unsigned long one = 1UL << (SIGSEGV - 1);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&one, 0, sizeof one);
    gpm_syscall3(SYS_tgkill, gpm_getpid(), gpm_gettid(), SIGSEGV);
}

static void overflowdeath(struct gpm_g *gp, const siginfo_t *si)
{
    if (gpm_overflow_first())
        gpm_printf("gpm: thread G%lu overflowed its %zu-byte stack\n", (unsigned long)gp->goid,
                   gpm_gstack_size(gp));
    diefault(si);
}

/* Whether the calling handler runs on the kernel thread's alternate
   stack: the M's, or, on a thread gpm did not create, the program's. */
static bool onkernelaltstack(struct gpm_g *gp)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    struct gpm_m *mp = gp->kind == G_KIND_FOREIGN ? NULL : gp->m != NULL ? gp->m : gp->lockedm;
    if (mp != NULL && mp->sigstk != NULL)
        return here >= (uintptr_t)mp->sigstk && here < (uintptr_t)mp->sigstk + mp->sigstksize;
    stack_t cur;
    return gpm_syscall2(SYS_sigaltstack, 0, (long)&cur) == 0 && (cur.ss_flags & SS_ONSTACK);
}

/* The relocated handler's frame (relocate): runs the program's handler on
   the copy, then returns from the copy. Never returns. */
static void relocated(long sig, void *si, void *ucv) __attribute__((noreturn));
static void relocated(long sig, void *si, void *ucv)
{
    gpm_sighandler((int)sig, si, ucv);
    ucontext_t *uc = ucv;
    stack_t cur;
    if (gpm_syscall2(SYS_sigaltstack, 0, (long)&cur) == 0)
        uc->uc_stack = cur; /* this thread's, not the M's it faulted on */
    gpm_rt_sigreturn(uc);
}

/* The size of the kernel's fp state at fp (0: none): the extended size
   its software-reserved bytes give, else the legacy 512. */
static size_t fpsize(const char *fp)
{
    if (fp == NULL)
        return 0;
    uint32_t magic1, extended;
    memcpy(&magic1, fp + 464, sizeof magic1);
    memcpy(&extended, fp + 468, sizeof extended);
    return magic1 == FP_XSTATE_MAGIC1_ ? extended : 512;
}

/* Bytes a copy of the kernel frame (si, uc) takes below a top. */
static size_t framesize(const ucontext_t *uc)
{
    return ((fpsize((const char *)uc->uc_mcontext.fpregs) + 63) & ~(size_t)63) + 64 + 8 + KUC_SIZE + KSI_SIZE + 16;
}

/* Copies the kernel frame (si, uc) below top, as the kernel lays one out
   (return slot, ucontext, siginfo; the fp state above, 64-byte aligned
   for xrstor), and runs the program's handler on it. Never returns. */
static void relocate(int sig, const siginfo_t *si, const ucontext_t *uc, uintptr_t top) __attribute__((noreturn));
static void relocate(int sig, const siginfo_t *si, const ucontext_t *uc, uintptr_t top)
{
    const char *fp = (const char *)uc->uc_mcontext.fpregs;
    size_t fpn = fpsize(fp);
    uintptr_t p = top & ~(uintptr_t)63;
    char *newfp = NULL;
    if (fpn != 0) {
        p = (p - fpn) & ~(uintptr_t)63;
        newfp = (char *)p;
        memcpy(newfp, fp, fpn);
    }
    p = (p - (8 + KUC_SIZE + KSI_SIZE)) & ~(uintptr_t)15;
    char *newuc = (char *)p + 8;
    memcpy(newuc, uc, KUC_SIZE);
    memcpy(newuc + KUC_SIZE, si, KSI_SIZE);
    ((ucontext_t *)(void *)newuc)->uc_mcontext.fpregs = (fpregset_t)(void *)newfp;
    *(void **)p = NULL; /* the return slot: the handler never returns through it */
    gpm_sigcall_onstack((void *)relocated, sig, newuc + KUC_SIZE, newuc, (void *)p);
    __builtin_unreachable();
}

static void segvhandler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    if (atomic_load(&segvdying)) {
        diefault(si);
        return;
    }
    struct gpm_g *gp = gpm_tls_g;
    bool isg = gp != NULL && gp->magic == GPM_G_MAGIC && (gp->m == NULL || gp->m->curg == gp);
    bool fault = si->si_code > 0;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    const struct sigaction *a = &progact[SIGSEGV];
    bool handled = ishandler(a);
    bool galtstack = isg && (a->sa_flags & SA_ONSTACK) && !(gp->sig.altstack.ss_flags & SS_DISABLE) &&
                     !onaltstack(gp, sp);
    /* gpm reading the program's memory where the kernel would read it with
       a check (a robust list at the G's exit, in futex.c): the fault is
       that check failing, and the walk ends there. */
    if (isg && fault && gp->faultjmp != NULL)
        longjmp(*(jmp_buf *)gp->faultjmp, 1);
    if (isg && fault &&
        gpm_gstack_overflowed(gp, (uintptr_t)si->si_addr, sp, si->si_code == SI_KERNEL) &&
        !(handled && galtstack)) {
        overflowdeath(gp, si);
        return;
    }
    if (!handled) {
        if (fault) {
            if (gpm_config.faults && !atomic_load(&segvdying))
                gpm_traceback_fault(si, ucv);
            diefault(si);
            return;
        }
        gpm_sighandler(sig, si, ucv); /* kill -SEGV: routed */
        return;
    }
    if (!isg || !onkernelaltstack(gp)) {
        gpm_sighandler(sig, si, ucv); /* already where the handler belongs */
        return;
    }
    siginfo_t asfault;
    uint32_t sent = isg && gp->m != NULL ? atomic_load_explicit(&gp->m->preemptsent, memory_order_relaxed) : 0;
    if (isg && gp->m != NULL && sent != gp->m->preemptseen && si->si_code == SI_KERNEL && si->si_addr == NULL &&
        gpm_gstack_overflowed(gp, 0, sp, true)) {
        /* The kernel could not push a signal frame on the exhausted
           stack, and a preemption signal was on its way to this M: that
           was its frame (and it is spent). Natively that signal does not
           exist, and the overflow itself faults a moment later; the
           program's handler sees that fault, an access to the guard just
           below the stack. (A program's own signal that finds the stack
           exhausted is SI_KERNEL natively too, and stays so.) */
        gp->m->preemptseen = sent;
        uintptr_t lo = gpm_gstack_lo(gp);
        asfault = *si;
        asfault.si_code = SEGV_ACCERR;
        asfault.si_addr = (void *)((sp < lo ? sp : lo) - sizeof(void *));
        si = &asfault;
    }
    if (galtstack) {
        relocate(sig, si, uc, (uintptr_t)gp->sig.altstack.ss_sp + gp->sig.altstack.ss_size);
    } else if (gp->kind == G_KIND_FOREIGN && (a->sa_flags & SA_ONSTACK)) {
        gpm_sighandler(sig, si, ucv); /* the thread's own alternate stack */
        return;
    }
    /* Below the red zone, as the kernel would push it. */
    uintptr_t top = sp - 128;
    uintptr_t lo = gp->kind != G_KIND_BLOCK ? 0 : gpm_gstack_lo(gp);
    if (lo != 0 && fault && (top < lo || top - lo < framesize(uc) + HANDLER_ROOM)) {
        overflowdeath(gp, si); /* no room for the frame: fatal natively too */
        return;
    }
    relocate(sig, si, uc, top);
}

static void needrepoke(void);

void gpm_sig_onpoke(struct gpm_m *mp, void *ucv, bool progpc, bool gpmpc)
{
    struct gpm_g *gp = mp->curg;
    if (gp == NULL || gpm_tls_g != gp)
        return;
    bool sigs_ = gpm_sigdeliverable(gp);
    bool cancel = atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed) && gpm_cancelpending(gp);
    if (!sigs_ && !cancel)
        return;
    ucontext_t *uc = ucv;
    greg_t *r = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)r[REG_RIP];
    bool insyscall = gp->syscalldepth > 0 && !gpmpc;
    if (!(progpc || insyscall)) {
        /* Inside gpm, or libc outside a wrapped call: at its next
           preemption point (the flag makes it stop there: gpm's entry
           points hold nothing), or the next resume point; sysmon pokes
           again meanwhile. */
        atomic_store_explicit((_Atomic uint8_t *)((char *)gp->tcb + gpm_tls_preempt_off), 1, memory_order_relaxed);
        needrepoke();
        return;
    }
    unblock_m();
    bool atsyscall = *(const uint16_t *)pc == 0x050f;
    if (cancel) {
        int ch = TCB_FIELD(gp->tcb, TCB_OFF_CANCELHANDLING, int);
        bool async = (ch & CANCELTYPE_BITMASK) != 0;
        if (async || (insyscall && atsyscall)) {
            if (async)
                gpm_testcancel_async();
            else
                interruptsyscall(uc);
        }
    }
    if (sigs_) {
        uint64_t norestart = deliverall(gp, ucv, true);
        if (gpm_sigdeliverable(gp))
            needrepoke();
        if (norestart != 0 && insyscall && atsyscall && r[REG_RIP] == (greg_t)pc)
            interruptsyscall(uc);
    }
}

/* A poke found its G where it could not deliver: sysmon pokes again.
   Async-signal-safe (sysmon's wake-up is an exchange and a futex wake). */
static void needrepoke(void)
{
    atomic_store(&sigs.repoke, true);
    if (atomic_load(&gpm_sched.sysmonwait))
        gpm_sysmon_wake();
}

bool gpm_sig_repoking(void)
{
    return atomic_load_explicit(&sigs.repoke, memory_order_relaxed);
}

static void repokeone(struct gpm_m *mp)
{
    struct gpm_g *gp = mp->curg;
    if (gp != NULL && (gpm_sigdeliverable(gp) || atomic_load(&gp->sig.cancelreq)))
        poke(gp);
}

void gpm_sig_sysmon(void)
{
    if (!atomic_load_explicit(&sigs.repoke, memory_order_relaxed) || !atomic_exchange(&sigs.repoke, false))
        return;
    /* Cleared first: a poke that fails again sets it again. */
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink)
        repokeone(mp);
}

/* ---- The receiver ------------------------------------------------------------ */

struct choose {
    uint64_t bit;
    struct gpm_g *best;
    int rank;
};

static void choosef(struct gpm_g *gp, void *arg)
{
    struct choose *c = arg;
    if (!gp->sig.routed || (atomic_load(&gp->sig.blocked) & c->bit) || gp->exiting)
        return;
    uint32_t st = atomic_load(&gp->atomicstatus);
    if (st == G_DEAD || st == G_IDLE)
        return;
    int rank = st == G_RUNNING ? 3 : st == G_WAITING && atomic_load(&gp->sig.intr) != NULL ? 2 : 1;
    if (rank > c->rank) {
        c->rank = rank;
        c->best = gp;
    }
}

/* Queues si on a G in sigwait for it, if there is one. sigs.lock held. */
static bool towaiter(const siginfo_t *si)
{
    for (struct gpm_g *w = sigs.waiters; w != NULL; w = w->sig.waitnext) {
        if (w->sig.waitset & gpm_sigbit(si->si_signo)) {
            gpm_lock(&w->sig.lock);
            enqueue(w, si);
            gpm_unlock(&w->sig.lock);
            return true;
        }
    }
    return false;
}

static void route(const siginfo_t *si)
{
    int sig = si->si_signo;
    uint64_t bit = gpm_sigbit(sig);
    if (sig <= 0 || sig > NSIGS)
        return;
    /* A G in sigwait for it takes it, whatever the disposition. */
    gpm_lock(&sigs.lock);
    bool taken = towaiter(si);
    gpm_unlock(&sigs.lock);
    if (taken)
        return;
    struct sigaction a = progact[sig];
    if (a.sa_handler == SIG_IGN || (a.sa_handler == SIG_DFL && default_ignored(sig)))
        return;
    struct gpm_g *target = NULL;
    struct gpm_g *g1 = sigs.g1;
    if (g1 != NULL && g1->sig.routed && !(atomic_load(&g1->sig.blocked) & bit) && !g1->exiting)
        target = g1;
    if (target == NULL) {
        struct choose c = {.bit = bit};
        gpm_forallg(choosef, &c);
        target = c.best;
    }
    if (target == NULL) {
        /* Every G blocks it now: pending for the process. */
        struct gpm_signode *n = nodealloc();
        if (n == NULL)
            return;
        n->si = *si;
        gpm_lock(&sigs.lock);
        /* A G may have begun to sigwait for it since the look above. */
        if (towaiter(si)) {
            gpm_unlock(&sigs.lock);
            nodefree(n);
            return;
        }
        struct gpm_signode **pp = &sigs.procq;
        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = n;
        gpm_unlock(&sigs.lock);
        return;
    }
    if (a.sa_handler == SIG_DFL) {
        defaultaction(sig);
        return;
    }
    gpm_lock(&target->sig.lock);
    enqueue(target, si);
    gpm_unlock(&target->sig.lock);
}

int gpm_sigprocess(int sig, int code, const union sigval *value)
{
    uint64_t bit = gpm_sigbit(sig);
    if (blockedbyall() & bit) {
        /* Every G blocks it: pending in the kernel, as natively. */
        long r;
        if (code == SI_QUEUE) {
            siginfo_t si;
            gpm_siginfo_tkill(&si, sig);
            si.si_code = SI_QUEUE;
            si.si_value = *value;
            r = gpm_syscall3(SYS_rt_sigqueueinfo, gpm_getpid(), sig, (long)&si);
        } else {
            r = gpm_syscall2(SYS_kill, gpm_getpid(), sig);
        }
        return r < 0 ? (int)-r : 0;
    }
    siginfo_t si;
    gpm_siginfo_tkill(&si, sig);
    si.si_code = code;
    if (value != NULL)
        si.si_value = *value;
    route(&si);
    /* Routed to the caller itself: the handler runs before kill returns. */
    struct gpm_g *self = gpm_getg();
    if (self != NULL && self->kind != G_KIND_FOREIGN)
        gpm_sigcheck(self);
    return 0;
}

/* Instances pending for the process that gp now takes (after it
   unblocked them, or in sigwait). */
static void takeprocq(struct gpm_g *gp, uint64_t want)
{
    if (atomic_load_explicit((_Atomic(struct gpm_signode *) *)&sigs.procq, memory_order_relaxed) == NULL)
        return;
    gpm_lock(&sigs.lock);
    struct gpm_signode **pp = &sigs.procq;
    while (*pp != NULL) {
        struct gpm_signode *n = *pp;
        if (gpm_sigbit(n->si.si_signo) & want) {
            *pp = n->next;
            gpm_lock(&gp->sig.lock);
            enqueue(gp, &n->si);
            gpm_unlock(&gp->sig.lock);
            nodefree(n);
        } else {
            pp = &n->next;
        }
    }
    gpm_unlock(&sigs.lock);
}

/* The receiver's DTV's allocation ("Leak checkers and the DTV" in
   gstack.c). */
static void *volatile receiver_dtvmem; /* volatile: written only, for the checker to see */

static void *receiver(void *arg)
{
    (void)arg;
    receiver_dtvmem = gpm_dtvmem(gpm_rdtp());
    sigset_t all;
    sigfillset(&all);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
    atomic_store(&sigs.recvtid, gpm_gettid());
    int pid = gpm_getpid();
    for (;;) {
        atomic_store(&sigs.recvdirty, false);
        for (int i = 0; i < RING; i++) {
            if (atomic_load(&ring.state[i]) == 2) {
                siginfo_t si = ring.si[i];
                atomic_store(&ring.state[i], 0);
                route(&si);
            }
        }
        uint64_t want = ~blockedbyall();
        gpm_lock(&sigs.lock);
        for (struct gpm_g *w = sigs.waiters; w != NULL; w = w->sig.waitnext)
            want |= w->sig.waitset;
        gpm_unlock(&sigs.lock);
        want &= ~UNBLOCKABLE;
        want |= gpm_sigbit(SIGURG);
        sigset_t ws;
        gpm_sigset_from(&ws, want);
        siginfo_t si;
        long r = gpm_syscall4(SYS_rt_sigtimedwait, (long)&ws, (long)&si, 0, 8);
        if (r <= 0)
            continue;
        if (r == SIGURG && si.si_code == SI_QUEUE && si.si_pid == pid && si.si_value.sival_ptr == &sigs)
            continue;
        route(&si);
    }
    return NULL;
}

void gpm_sigrouting_start(void)
{
    if (atomic_load_explicit(&sigs.routing, memory_order_relaxed) || atomic_exchange(&sigs.routing, true))
        return;
    if (gpm_start_kthread(receiver, NULL, 64 * 1024, NULL) != 0)
        gpm_printf("gpm: cannot start the signal receiver: process-directed signals stay pending\n");
    /* The calling thread runs G1's M (or another M): from now on it takes
       the Ms' mask like every other M. */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_msigmask, 0, 8);
}

void gpm_sig_forklock(void)
{
    gpm_lock(&sigs.lock);
    gpm_lock(&pool.lock);
}

void gpm_sig_forkunlock(void)
{
    gpm_unlock(&pool.lock);
    gpm_unlock(&sigs.lock);
}

void gpm_sig_forkchild(void)
{
    atomic_store(&sigs.routing, false);
    atomic_store(&sigs.recvtid, 0);
    atomic_store(&sigs.recvdirty, false);
    atomic_store(&sigs.repoke, false);
    sigs.waiters = NULL; /* their Gs are not in the child */
    struct gpm_g *gp = gpm_getg();
    for (int i = 0; i < NSIGS; i++)
        atomic_store(&sigs.nblock[i], 0);
    atomic_store(&sigs.someblock, 0);
    atomic_store(&sigs.novf, 0);
    for (int i = 0; i < NCLASS; i++) {
        atomic_store(&sigs.cls[i].n, 0);
        atomic_store(&sigs.cls[i].state, 0);
    }
    atomic_store(&sigs.nclass, 0);
    if (gp != NULL) {
        gp->sig.lock = (struct gpm_mutex)GPM_MUTEX_INIT;
        gp->sig.counted = 0;
        gp->sig.cls = -1;
        if (gp->sig.routed)
            countg(gp, atomic_load(&gp->sig.blocked));
        sigs.g1 = gp;
        sigset_t m;
        gpm_sigset_from(&m, atomic_load(&gp->sig.blocked));
        gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, 8);
    }
}

void gpm_sig_initprog(int sig, const struct sigaction *a)
{
    progact[sig] = *a;
}

void gpm_siginit(struct gpm_g *g1)
{
    sigfillset(&gpm_msigmask);
    static const int open_[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGCANCEL_GLIBC, SIGSETXID_GLIBC};
    for (size_t i = 0; i < sizeof open_ / sizeof open_[0]; i++)
        sigdelset(&gpm_msigmask, open_[i]);
    if (gpm_config.preemptsig > 0)
        sigdelset(&gpm_msigmask, gpm_config.preemptsig);
    sigs.g1 = g1;
    gpm_sig_newg(g1, NULL, &gpm_initsigmask);
    /* The dispositions set before gpm started. */
    for (int sig = 1; sig <= NSIGS; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCANCEL_GLIBC || sig == SIGSETXID_GLIBC)
            continue;
        struct sigaction a;
        if (gpm_real.sigaction(sig, NULL, &a) != 0)
            continue;
        if (sig == gpm_config.preemptsig)
            continue; /* preempt.c records it */
        progact[sig] = a;
        if (ishandler(&a) || sig == SIGSEGV)
            installkernel(sig, &a);
    }
}

/* ---- The interposed calls ---------------------------------------------------- */

int gpm_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig > NSIGS || sig == SIGCANCEL_GLIBC || sig == SIGSETXID_GLIBC ||
        (act != NULL && (sig == SIGKILL || sig == SIGSTOP)))
        return EINVAL;
    struct sigaction prev = progact[sig];
    if (act != NULL) {
        struct sigaction a = *act;
        sigdelset(&a.sa_mask, SIGKILL);
        sigdelset(&a.sa_mask, SIGSTOP);
        int err = installkernel(sig, &a);
        if (err != 0)
            return errno;
        progact[sig].sa_flags = a.sa_flags;
        progact[sig].sa_mask = a.sa_mask;
        progact[sig].sa_restorer = a.sa_restorer;
        progact[sig].sa_sigaction = a.sa_sigaction;
    }
    if (old != NULL)
        *old = prev;
    return 0;
}

int gpm_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    struct gpm_g *gp = gpm_getg_adopt();
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return -1; /* the caller uses libc's */
    uint64_t cur = atomic_load(&gp->sig.blocked);
    if (old != NULL)
        gpm_sigset_from(old, cur);
    if (set == NULL)
        return 0;
    uint64_t s = gpm_sigset_bits(set), next;
    switch (how) {
    case SIG_BLOCK:
        next = cur | s;
        break;
    case SIG_UNBLOCK:
        next = cur & ~s;
        break;
    case SIG_SETMASK:
        next = s;
        break;
    default:
        return EINVAL;
    }
    setmask(gp, next);
    if (!gpm_sigrouting()) {
        sigset_t k;
        gpm_sigset_from(&k, atomic_load(&gp->sig.blocked));
        if (gpm_config.preemptsig > 0)
            sigdelset(&k, gpm_config.preemptsig);
        gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&k, 0, 8);
    }
    if (cur & ~next) {
        /* Unblocked: what was pending for it or the process is delivered
           before the call returns. */
        takeprocq(gp, cur & ~next);
        gpm_sigcheck(gp);
    }
    return 0;
}

int gpm_sigpending(sigset_t *set)
{
    struct gpm_g *gp = gpm_getg();
    uint64_t mine = gp != NULL ? atomic_load(&gp->sig.pending) : 0;
    sigset_t k;
    gpm_syscall2(SYS_rt_sigpending, (long)&k, 8);
    uint64_t proc = gpm_sigset_bits(&k);
    gpm_lock(&sigs.lock);
    for (struct gpm_signode *n = sigs.procq; n != NULL; n = n->next)
        proc |= gpm_sigbit(n->si.si_signo);
    gpm_unlock(&sigs.lock);
    uint64_t blocked = gp != NULL ? atomic_load(&gp->sig.blocked) : ~0ULL;
    gpm_sigset_from(set, mine | (proc & blocked));
    return 0;
}

int gpm_sigaltstack(const stack_t *ss, stack_t *old)
{
    struct gpm_g *gp = gpm_getg();
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    bool on = onaltstack(gp, sp);
    if (old != NULL) {
        *old = gp->sig.altstack;
        if (on)
            old->ss_flags = SS_ONSTACK;
        else if (!(old->ss_flags & SS_DISABLE))
            old->ss_flags = 0;
    }
    if (ss == NULL)
        return 0;
    if (on)
        return EPERM;
    if ((unsigned)ss->ss_flags & ~(unsigned)(SS_DISABLE | SS_AUTODISARM))
        return EINVAL;
    if (ss->ss_flags & SS_DISABLE) {
        gp->sig.altstack = (stack_t){.ss_flags = SS_DISABLE};
        return 0;
    }
    if (ss->ss_size < (size_t)MINSIGSTKSZ)
        return ENOMEM;
    gp->sig.altstack = *ss;
    gp->sig.altstack.ss_flags = 0;
    return 0;
}

/* ---- Waiting for signals ----------------------------------------------------- */

bool gpm_intr_wanted(struct gpm_g *gp)
{
    uint64_t p = atomic_load(&gp->sig.pending);
    return (p & (~atomic_load(&gp->sig.blocked) | gp->sig.waitset)) != 0;
}

bool gpm_intr_check(struct gpm_g *gp, struct gpm_intr *in)
{
    return !gpm_intr_wanted(gp) && !(in->cancelpoint && gpm_cancelpending(gp));
}

bool gpm_intr_begin(struct gpm_g *gp, struct gpm_intr *in)
{
    atomic_store(&gp->sig.intr, in); /* seq_cst: see "Interrupting a wait" */
    if (!gpm_intr_check(gp, in)) {
        gpm_intr_end(gp, in);
        return false;
    }
    return true;
}

void gpm_intr_end(struct gpm_g *gp, struct gpm_intr *in)
{
    (void)in;
    if (atomic_exchange(&gp->sig.intr, NULL) == NULL) {
        gpm_lock(&gp->sig.lock);
        gpm_unlock(&gp->sig.lock);
    }
}

/* A park for sigsuspend and sigwait: 0 running, 1 parked, 2 woken. As a
   sleeper's (struct sleeper in timer.c), it lives on the G's stack, so
   its unlockf's CAS to 1 is its last touch of it, and its timer goes onto
   a heap before. */
struct sigpark {
    struct gpm_intr intr;
    struct gpm_g *gp;
    _Atomic int state;
    bool timedout;
    struct gpm_timer t;
};

static bool sigpark_intr(struct gpm_g *gp, struct gpm_intr *in)
{
    struct sigpark *p = (struct sigpark *)in;
    int v = 0;
    if (atomic_compare_exchange_strong(&p->state, &v, 2))
        return true; /* not parked yet: its unlockf sees it */
    v = 1;
    if (atomic_compare_exchange_strong(&p->state, &v, 2)) {
        gpm_ready(gp);
        return true;
    }
    return false;
}

static void sigpark_timeout(struct gpm_m *mp, void *arg)
{
    struct sigpark *p = arg;
    p->timedout = true;
    int v = 0;
    if (atomic_compare_exchange_strong(&p->state, &v, 2))
        return; /* not parked yet: its unlockf sees 2 and does not park */
    v = 1;
    if (atomic_compare_exchange_strong(&p->state, &v, 2))
        gpm_ready_on(mp, p->gp);
}

static bool sigpark_unlockf(struct gpm_m *mp, struct gpm_g *gp, void *arg)
{
    (void)gp;
    struct sigpark *p = arg;
    if (p->t.when != 0 && mp != NULL)
        gpm_addtimer(mp->p != NULL ? mp->p : &gpm_sched.allp[0], &p->t);
    int v = 0;
    return atomic_compare_exchange_strong(&p->state, &v, 1);
}

/* Parks gp until its intr fires (or the deadline passes). */
static void sigpark(struct gpm_g *gp, int64_t deadline, uint16_t reason, bool *timedout)
{
    struct sigpark p = {.intr = {.fn = sigpark_intr, .cancelpoint = true}, .gp = gp};
    if (deadline != 0)
        p.t = (struct gpm_timer){.when = deadline, .f = sigpark_timeout, .arg = &p, .idx = -1};
    if (gpm_intr_begin(gp, &p.intr)) {
        gpm_park_timed(sigpark_unlockf, &p, reason, deadline != 0 && gp->m == NULL ? &p.t : NULL);
        if (deadline != 0)
            gpm_deltimer(&p.t);
        gpm_intr_end(gp, &p.intr);
    }
    if (timedout != NULL)
        *timedout = p.timedout;
}

int gpm_sigsuspend(const sigset_t *mask)
{
    struct gpm_g *gp = gpm_getg();
    gpm_testcancel();
    uint64_t old = atomic_load(&gp->sig.blocked);
    setmask(gp, gpm_sigset_bits(mask));
    takeprocq(gp, ~atomic_load(&gp->sig.blocked));
    while (!gpm_sigdeliverable(gp)) {
        sigpark(gp, 0, WAIT_SIGNAL, NULL);
        gpm_testcancel();
    }
    deliverall(gp, NULL, false);
    setmask(gp, old);
    errno = EINTR;
    return -1;
}

int gpm_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
    struct gpm_g *gp = gpm_getg();
    int64_t deadline = 0;
    if (ts != NULL && !gpm_deadline_rel(ts, &deadline))
        return -EINVAL;
    uint64_t want = gpm_sigset_bits(set) & ~UNBLOCKABLE;
    gpm_testcancel();
    /* Signals already pending for the process in the kernel. */
    sigset_t ks;
    gpm_sigset_from(&ks, want);
    struct timespec zero = {0, 0};
    siginfo_t si;
    long r = gpm_syscall4(SYS_rt_sigtimedwait, (long)&ks, (long)&si, (long)&zero, 8);
    if (r > 0) {
        if (info != NULL)
            *info = si;
        return (int)r;
    }
    gpm_lock(&sigs.lock);
    gp->sig.waitset = want;
    gp->sig.waitnext = sigs.waiters;
    sigs.waiters = gp;
    gpm_unlock(&sigs.lock);
    wakereceiver();
    takeprocq(gp, want);
    int result = -EAGAIN;
    for (;;) {
        if (takeone(gp, want, &si, false)) {
            result = si.si_signo;
            break;
        }
        if (gpm_sigdeliverable(gp)) {
            /* Another signal's handler interrupts the wait: EINTR. */
            result = -EINTR;
            break;
        }
        if (gpm_cancelpending(gp))
            break;
        if (deadline != 0 && gpm_nanotime() >= deadline)
            break;
        bool to = false;
        sigpark(gp, deadline, WAIT_SIGNAL, &to);
    }
    gpm_lock(&sigs.lock);
    for (struct gpm_g **pp = &sigs.waiters; *pp != NULL; pp = &(*pp)->sig.waitnext) {
        if (*pp == gp) {
            *pp = gp->sig.waitnext;
            break;
        }
    }
    gp->sig.waitset = 0;
    gp->sig.waitnext = NULL;
    gpm_unlock(&sigs.lock);
    wakereceiver();
    if (result == -EINTR)
        deliverall(gp, NULL, false);
    gpm_testcancel();
    if (result > 0 && info != NULL)
        *info = si;
    return result;
}

/* ---- exec and spawn -------------------------------------------------------- */

void gpm_sig_execenter(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || !gpm_sigrouting())
        return;
    sigset_t k;
    gpm_sigset_from(&k, atomic_load(&gp->sig.blocked));
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&k, 0, 8);
}

void gpm_sig_execleave(void)
{
    if (gpm_sigrouting())
        gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_msigmask, 0, 8);
}

/* ---- Cancellation ---------------------------------------------------------- */

static _Atomic int *cancelword(struct gpm_g *gp)
{
    return (_Atomic int *)((char *)gp->tcb + TCB_OFF_CANCELHANDLING);
}

bool gpm_cancelpending(struct gpm_g *gp)
{
    if (!atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed))
        return false;
    int ch = atomic_load_explicit(cancelword(gp), memory_order_relaxed);
    return !(ch & CANCELSTATE_BITMASK) && !(ch & EXITING_BITMASK);
}

int gpm_cancel(struct gpm_g *gp)
{
    if (atomic_exchange(&gp->sig.cancelreq, true))
        return 0;
    if (gp->kind != G_KIND_MAIN)
        atomic_fetch_or(cancelword(gp), CANCELING_BITMASK | CANCELED_BITMASK);
    if (gp == gpm_getg()) {
        int ch = atomic_load(cancelword(gp));
        if ((ch & CANCELTYPE_BITMASK) && !(ch & CANCELSTATE_BITMASK))
            gpm_testcancel();
        return 0;
    }
    gpm_lock(&gp->sig.lock);
    if (gpm_cancelpending(gp) && !fireintr(gp, true))
        poke(gp);
    gpm_unlock(&gp->sig.lock);
    return 0;
}

static void actoncancel(struct gpm_g *gp) __attribute__((noreturn));
static void actoncancel(struct gpm_g *gp)
{
    atomic_fetch_or(cancelword(gp), EXITING_BITMASK | CANCELSTATE_BITMASK);
    if (gp->syscalldepth != 0) {
        gp->syscalldepth = 1;
        gpm_exitsyscall();
    }
    gpm_gexit(PTHREAD_CANCELED);
}

void gpm_testcancel(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL && __builtin_expect(atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed), 0) &&
        gpm_cancelpending(gp))
        actoncancel(gp);
}

void gpm_afterwrapped_slow(struct gpm_g *gp)
{
    if (gp->syscalldepth != 0)
        return; /* a handler's call nested in another: that one's end */
    gpm_sigcheck(gp);
    gpm_testcancel();
}

void gpm_testcancel_async(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || !atomic_load_explicit(&gp->sig.cancelreq, memory_order_relaxed))
        return;
    if (atomic_load(cancelword(gp)) & CANCELTYPE_BITMASK)
        gpm_testcancel();
}
