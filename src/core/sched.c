/*
 * src/core/sched.c: the G/M/P scheduler (Go's proc.go).
 *
 * The design
 * ==========
 *
 * Every thread of the program is a G: a stack, a saved register context and
 * a TCB of its own (DESIGN.md section 5). Gs run on Ms, which are kernel
 * threads. An M needs a P to run Gs: a P is a scheduling context with a
 * local run queue, and there are exactly gomaxprocs of them (GPM_MAXPROCS),
 * so at most gomaxprocs Gs execute user code at once, however many kernel
 * threads exist. Types and their states are in runtime.h.
 *
 * Each M has a g0: the scheduler's own context. For Ms that gpm created with
 * pthread_create, g0 runs on the kernel thread's native stack. The main
 * kernel thread (M0) gives its stack and TCB to G1, the program's main flow,
 * and gets a g0 stack of its own when it first needs one.
 *
 * Scheduling
 * ----------
 * A P takes work in this order (schedule, findrunnable):
 *   0. its own due timers (their functions ready Gs);
 *   1. every 61st pass, one G from the global queue (fairness, runq.c);
 *   2. runnext, then its local queue;
 *   3. the global queue;
 *   4. Gs whose files became ready: the poller, without waiting, unless
 *      an M blocks in it already (netpoll.c);
 *   5. steal half of another P's queue (4 rounds over all Ps in random
 *      order; in the last round, runnext too);
 *   6. the due timers of every P (Go's stealWork with checkTimers);
 *   7. give up the P; if Gs wait for files and no M blocks in the poller,
 *      block in it until the earliest timer; else park the M (stopm),
 *      perhaps as the one idle M that sleeps until the earliest timer
 *      ("Who runs timers" in timer.c).
 *
 * Handoff
 * -------
 * A G readied by the running G goes to the running P's runnext and inherits
 * the remaining time slice. When the running G then blocks, runnext is the
 * next G to run, on the same M, without any other M being involved: this is
 * what makes a mutex or condition variable handoff between two threads cost
 * a context switch instead of a futex wake-up and a kernel reschedule.
 *
 * The switch protocol
 * -------------------
 * A G gives up its M by switching directly to the next G when its own P
 * has one ready (runnext, local queue, global queue: nothing that can
 * block), and to g0 otherwise; g0 runs findrunnable, which may park the M.
 * Either way, the G that switched away is not done with yet: it must be
 * marked waiting and its lock released (park), or queued (yield), or freed
 * (exit), and none of that may happen while its stack is still in use, or
 * another M could pick it up and run it on the same stack. So the switching
 * context records the work in mp->after/afterg and the context switched to
 * does it first thing, in gpm_finishswitch, on its own stack. Every context
 * that resumes from gpm_ctx_switch, and every new G's first instruction,
 * calls gpm_finishswitch.
 *
 * The M's P stays pinned across a switch ("P ownership"): the context
 * that switches away pinned it, the one that resumes inherits the pin, and
 * a G unpins it before it returns to the program's code.
 *
 *   G1 (on M)                       G2 or g0 (on M, after the switch)
 *   ---------                       ---------------------------------
 *   mp->after = AFTER_PARK
 *   mp->afterg = G1
 *   gpm_ctx_switch(G1 -> G2) ------> gpm_finishswitch(mp):
 *                                        casgstatus(G1, RUNNING, WAITING)
 *                                        unlockf(G1, arg)  <- from here on a
 *                                        waker may find G1 and ready it
 *
 * Thread-local state on g0
 * ------------------------
 * Changing %fs costs a system call where the kernel does not offer
 * wrfsbase (about 1-3 µs on a VM, 200 times a bare switch). So the only %fs
 * write on the way from one G to another is the one that loads the next G's
 * TCB: g0 does not load a TCB of its own when a G switches to it, it runs
 * with the last G's %fs still loaded ("borrowed"). In exchange, nothing
 * running on g0 may touch thread-local state: no errno (sys.h has raw
 * system calls), no malloc, no stdio, no libc call that might, and no
 * gpm_tls_g. Code that runs on both G and g0 is passed the M explicitly.
 * g0 loads its M's own TCB (gpm_m_useowntls) before it calls into libc
 * (creating an M) or parks its kernel thread, so an idle M, and a signal
 * handler running on it, is a thread of its own.
 * mp->curfs tracks what %fs holds, so a G switched back in on the same M
 * after an idle period costs no write at all.
 *
 * Worker thread parking/unparking
 * -------------------------------
 * We need to balance keeping enough running Ms to use the available
 * parallelism against parking excess Ms to save CPU. Two things make it
 * hard: the scheduler state is distributed (per-P run queues), so global
 * predicates cannot be computed on fast paths; and the best decision
 * needs the future (do not park an M if a G will be readied soon).
 *
 * Rejected designs: centralising all state (kills scalability); direct
 * handoff of each readied G to an idle P (thrashes: the readying M often
 * blocks right after, so the G could have run on it); waking an M whenever
 * a G is readied and keeping it spinning (burns CPU).
 *
 * The policy, as in Go: an M spins (looks for work without holding a
 * runnable G) only if there is an idle P and no other M is spinning.
 * Spinning Ms are counted in sched.nmspinning and are at most half the busy
 * Ps. When a G is readied or created (runqput), if there is an idle P and no
 * spinning M, one more M is woken to spin (wakep). When a spinning M finds
 * work it stops spinning and, if it was the last one spinning, wakes another
 * (resetspinning): this spreads work in bursts without thundering herds.
 *
 * The subtle part is the transition from spinning to parked. A submitter
 * and a spinning M race:
 *
 *   submitter                        spinning M
 *   ---------                        ----------
 *   runqput(G)        (A: store)     nmspinning--          (C: store)
 *   wakep: nmspinning == 0 ? (B)     recheck all runqs     (D: load)
 *
 * Both pairs are sequentially consistent atomics, so either B sees the M
 * still spinning (and D then sees G), or D misses G, in which case B saw
 * nmspinning == 0 and wakep starts a new spinning M. A lost wake-up needs
 * both loads to miss both stores, which seq_cst forbids. The same argument
 * covers npidle with pidleput before the recheck.
 *
 * Idle Ms park on a futex (gpm_note); nothing busy-waits for longer than a
 * short spin.
 *
 * P ownership
 * -----------
 * A P's run queue has a single producer and its G cache a single user: at
 * any moment at most one M may use them. Which one is recorded in the P's
 * state word (runtime.h): the owner M and the status in one atomic word.
 *
 *             acquirep                 unpin
 *   P_IDLE -------------> P_RUNNING(m) -----> P_USER(m) --entersyscall--> P_SYSCALL(m)
 *    ^  ^    releasep         |               |  ^  ^ <----exitsyscall-----  | |
 *    |  +---------------------+     sysmon:   v  |  |                         | |
 *    +------------------------------ P_REVOKING(m) (m pinned: back)           | |
 *    +--------------- retake (sysmon) ----------------------------------------+ |
 *                     P_RUNNING(m2) <--- m2 back from its own call (takesyscallp)
 *
 * "Pinned" means m is inside gpm using the P: on g0, or on a G's stack
 * between gpm_pin and gpm_unpin. It is said one of two ways. P_RUNNING(m)
 * in the word, for a P m has just taken (acquirep, takesyscallp) and holds
 * until its next unpin. Or the light pin: the word stays P_USER(m) and m
 * sets m->pinned, a plain store to its own M, as Go's acquirem is an
 * increment of m.locks. gpm_pin is the light pin: it runs twice or more
 * per create, join, wake and park, where an atomic read-modify-write of
 * the word cost about 6 ns each.
 *
 * P_USER(m) without m->pinned, and P_SYSCALL(m), mean m is outside gpm:
 * running the program's code, blocked in the kernel where gpm cannot see
 * it (inside libc, an inline system call), or in a system call gpm wraps.
 * m touches nothing of the P's then, so sysmon may take the P (revoke,
 * retake) and hand it to another M (handoffp); a P in P_SYSCALL(m) may
 * also be taken by another M coming back from a system call of its own
 * (takesyscallp, Go's exitsyscallfast). m learns it at its next entry into
 * gpm: its pin finds the word changed (exitsyscall's CAS from P_SYSCALL(m)
 * fails), it clears m->p, and it gets a P the way exitsyscall does: an
 * idle one, or else its G goes on the global queue and m parks
 * (reacquirep). Until then its G runs without a P, as one more kernel
 * thread would: allowed, and bounded by the G's next call into gpm.
 *
 * The light pin and sysmon's revoke are Dekker's two flags: m stores
 * m->pinned and then loads the word; sysmon CASes the word to
 * P_REVOKING(m) and then loads m->pinned. Whoever looks second sees the
 * other. On x86 a store may pass a later load (the store buffer), so one
 * side needs a full fence between the two: sysmon takes it, with
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full fence on
 * every thread of the process that is running, so that m pays nothing
 * (the asymmetric fence of Linux's rseq users, and of JVMs' safepoints). A
 * revoke is rare (an M asleep outside gpm, a G that ignores preemption),
 * and a membarrier costs a few microseconds. Where the kernel has no
 * membarrier (or it cannot be registered), m->pinned is a seq_cst store
 * and sysmon's load a seq_cst load: the same argument with a fence on both
 * sides. So after sysmon's fence:
 *   - m->pinned set: m is pinned, or about to look at the word (and wait
 *     for sysmon's decision, below); sysmon puts P_USER(m) back.
 *   - m->pinned clear: m's next pin stores the flag after sysmon's fence,
 *     so its load sees P_REVOKING(m) or what came after; sysmon makes the
 *     P P_IDLE and hands it off.
 * An M that finds P_REVOKING(m) (in gpm_pin, entersyscall, releasep) waits
 * the microseconds until sysmon decides (waitrevoke).
 *
 * Why no two Ms ever use one P's run queue or G cache at once:
 *   - Only the owner m moves P_RUNNING(m) anywhere, and sysmon's revoke
 *     takes a P_USER(m) only when m->pinned is clear after its fence
 *     (above); every other CAS that takes a P from its owner
 *     (takesyscallp's, sysmon's retake) expects P_SYSCALL(m), which m
 *     leaves only by its own CAS.
 *   - m uses P-local state only while pinned: after a successful pin,
 *     after acquirep, on g0, or on a switch path, which inherits the pin
 *     of the context that switched (m->pinned is the M's, not the G's).
 *   - While P_REVOKING(m) only sysmon writes the word: m's own writes
 *     (entersyscall's CAS, releasep's CAS) fail on it and wait.
 *   - Only m ever stores P_USER(m) or P_SYSCALL(m), and sysmon stores
 *     P_USER(m) back only over its own P_REVOKING(m), so m cannot find its
 *     word after the P was taken and given to another M meanwhile (no
 *     ABA): the owner is part of the word.
 *   - unpin is a store-release of m->pinned (or of the word, from
 *     P_RUNNING(m)), and sysmon's loads of both acquire: what m did to the
 *     P before it unpinned is visible to sysmon, which passes it on to the
 *     next owner through handoffp (sched.lock, or the new M's note).
 * Thieves need no ownership: they consume from a run queue with a CAS on
 * its head (runq.c). Timer heaps have a lock of their own (timer.c), so
 * any M may add to or run any P's timers.
 *
 * The other half of the bargain: while pinned, an M never blocks on
 * anything a G may hold, since sysmon cannot take a pinned P from an M
 * that sleeps. Pinned sections touch run queues, the G cache and short
 * runtime locks; they never call into libc (which may wait for a lock that
 * a parked or preempted G holds), and g0 never creates kernel threads
 * itself ("Making Ms").
 *
 * Making Ms
 * ---------
 * A kernel thread comes from libc's pthread_create, which may wait for
 * libc's own locks (the stack cache, malloc's arenas, or the mutexes of a
 * malloc replacement, which are gpm's): an M with a pinned P could wait
 * there for a G queued behind that very P. So an M that needs another M
 * queues it for the M maker, a kernel thread of gpm's that holds no P (Go's
 * template thread), and the maker calls pthread_create. The maker starts
 * with sysmon, at the program's first pthread_create, before the first new
 * G exists. Before that only G1 exists (or, in a forked child, the forking
 * G), so no other M can be needed: newm then gives the P back.
 */
#define _GNU_SOURCE
#include "exectrace.h"
#include "runtime.h"
#include "gsig.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "alloc.h"
#include "cputime.h"
#include "ctx.h"
#include "env.h"
#include "glife.h"
#include "gstack.h"
#include "netpoll.h"
#include "sys.h"
#include "timer.h"
#include "valgrind.h"
#include "wire.h"

__thread struct gpm_g *gpm_tls_g __attribute__((tls_model("initial-exec")));
__thread uint8_t gpm_tls_preempt __attribute__((tls_model("initial-exec")));
intptr_t gpm_tls_preempt_off;
struct gpm_schedt gpm_sched;
sigset_t gpm_initsigmask;

/* g0 stacks that gpm maps itself (M0). g0 runs only the scheduler. */
#define G0_STACK_SIZE (256 * 1024)
/* Stack of the kernel threads gpm creates for Ms. */
#define M_STACK_SIZE (256 * 1024)

/* ---- G status ---------------------------------------------------------- */

static const char *const gstatus_names[G_NSTATUS] = {
    [G_IDLE] = "idle",       [G_RUNNABLE] = "runnable", [G_RUNNING] = "running",
    [G_SYSCALL] = "syscall", [G_WAITING] = "waiting",   [G_DEAD] = "dead",
};

const char *gpm_gstatus_name(uint32_t s)
{
    return s < G_NSTATUS ? gstatus_names[s] : "???";
}

static const char *const waitreason_names[WAIT_NREASONS] = {
    [WAIT_NONE] = "",
    [WAIT_JOIN] = "pthread_join",
    [WAIT_MAINEXIT] = "main thread exited",
    [WAIT_SLEEP] = "sleep",
    [WAIT_MUTEX] = "mutex",
    [WAIT_COND] = "condition variable",
    [WAIT_RWLOCK] = "rwlock",
    [WAIT_BARRIER] = "barrier",
    [WAIT_ONCE] = "once",
    [WAIT_SEM] = "semaphore",
    [WAIT_FUTEX] = "futex",
    [WAIT_SIGNAL] = "signal",
    [WAIT_WIRE] = "moving to its wired M",
    [WAIT_IO] = "IO wait",
    [WAIT_POLL] = "poll",
};

const char *gpm_waitreason_name(uint32_t r)
{
    return r < WAIT_NREASONS ? waitreason_names[r] : "???";
}

/* The transitions runtime.h documents, as a table: allowed[old] has bit new. */
static const uint8_t gstatus_allowed[G_NSTATUS] = {
    [G_IDLE] = 1u << G_RUNNABLE,
    [G_RUNNABLE] = 1u << G_RUNNING,
    [G_RUNNING] = (1u << G_RUNNABLE) | (1u << G_WAITING) | (1u << G_SYSCALL) | (1u << G_DEAD),
    [G_SYSCALL] = (1u << G_RUNNING) | (1u << G_RUNNABLE),
    [G_WAITING] = 1u << G_RUNNABLE,
    [G_DEAD] = 1u << G_IDLE,
};

/*
 * casgstatus moves gp from oldval to newval and throws if gp was not in
 * oldval or the transition is not one runtime.h allows.
 * acq_rel: a G's fields written before it becomes RUNNABLE are visible to
 * the M that moves it to RUNNING.
 */
void gpm_casgstatus(struct gpm_g *gp, uint32_t oldval, uint32_t newval)
{
    if (oldval >= G_NSTATUS || newval >= G_NSTATUS || !(gstatus_allowed[oldval] & (1u << newval)))
        /* Invariant (as every throw in this file, none an error a caller
           could be given): the status machine above is the only way a G
           changes hands; a transition it does not allow, or a G not in the
           status its mover expects, means two Ms think they own it, and
           going on would run it twice. */
        gpm_throwf("casgstatus: bad transition %s -> %s for G%lu", gpm_gstatus_name(oldval),
                   gpm_gstatus_name(newval), (unsigned long)gp->goid);
    uint32_t cur = oldval;
    if (!atomic_compare_exchange_strong_explicit(&gp->atomicstatus, &cur, newval, memory_order_acq_rel,
                                                 memory_order_acquire))
        gpm_throwf("casgstatus: G%lu is %s, expected %s (-> %s)", (unsigned long)gp->goid,
                   gpm_gstatus_name(cur), gpm_gstatus_name(oldval), gpm_gstatus_name(newval));
}

/*
 * setgstatus is casgstatus for the transitions that only one party can
 * make at a time, by the protocol around them, and that no other thread
 * reads for a decision that needs a fence:
 *
 *   G_IDLE -> G_RUNNABLE      the creator (gpm_runqput_new): nobody else
 *                             knows the G yet
 *   G_RUNNING -> G_WAITING    the M it left (finishswitch, park_wired):
 *                             nobody may touch it before its unlockf has
 *                             published it
 *   G_WAITING -> G_RUNNABLE   its one waker: every wait has a protocol that
 *                             lets exactly one of its wakers, timers and
 *                             interrupters ready it (a sudog's state under
 *                             its bucket lock, a join word's CAS, a note)
 *   G_RUNNING -> G_DEAD       the M it left for good (goexit0)
 *   G_DEAD -> G_IDLE          gpm_gstackalloc, holding the block alone
 *
 * So a checked store does what the CAS did: a load-acquire that must find
 * oldval (else it throws, naming the transition), then a store-release,
 * which keeps casgstatus's ordering (a G's fields written before it
 * becomes RUNNABLE are visible to whoever reads the new status with
 * acquire). What it does not give is a full fence, so G_RUNNABLE ->
 * G_RUNNING (execute) stays a CAS: a G switched in reads its pending
 * signals after it, and a sender reads the status after raising them
 * ("Delivery" in signal.c). Readers that see a status one step late, as
 * signal senders may, behave as they do when the transition races their
 * look.
 */
void gpm_setgstatus(struct gpm_g *gp, uint32_t oldval, uint32_t newval)
{
    uint32_t cur = atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
    if (cur != oldval || oldval >= G_NSTATUS || newval >= G_NSTATUS || !(gstatus_allowed[oldval] & (1u << newval)))
        gpm_throwf("setgstatus: G%lu is %s, expected %s (-> %s)", (unsigned long)gp->goid, gpm_gstatus_name(cur),
                   gpm_gstatus_name(oldval), gpm_gstatus_name(newval));
    atomic_store_explicit(&gp->atomicstatus, newval, memory_order_release);
}

/* ---- Ms and Ps --------------------------------------------------------- */

uint32_t gpm_fastrand(struct gpm_m *mp)
{
    /* wyrand: fast, good enough to pick steal victims. */
    mp->fastrand += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)mp->fastrand * (mp->fastrand ^ 0xe7037ed1a0b428dbULL);
    return (uint32_t)((uint64_t)(t >> 64) ^ (uint64_t)t);
}

/* The M of the calling kernel thread, found without thread-local state (for
   fatal errors and signal handlers). NULL if the thread is not an M. */
struct gpm_m *gpm_getm_unchecked(void)
{
    int tid = gpm_gettid();
    for (struct gpm_m *mp = atomic_load_explicit(&gpm_sched.allm, memory_order_acquire); mp; mp = mp->alllink)
        if (mp->procid == tid)
            return mp;
    return NULL;
}

/* Loads this M's own TCB into %fs if a G's is still loaded.
   Runs on g0, on the M's own kernel thread. */
void gpm_m_useowntls(struct gpm_m *mp)
{
    if (mp->curfs != mp->owntcb) {
        gpm_wrfs(mp->owntcb);
        mp->curfs = mp->owntcb;
    }
}

/* M structs that newm made but could not start (pthread_create failed),
   for the next newm. Protected by sched.lock. */
static struct gpm_m *mfreelist;

/* A new or recycled M struct, or NULL when out of memory. */
static struct gpm_m *allocm(void)
{
    gpm_lock(&gpm_sched.lock);
    struct gpm_m *mp = mfreelist;
    if (mp != NULL) {
        mfreelist = mp->schedlink;
        gpm_unlock(&gpm_sched.lock);
        mp->schedlink = NULL;
        return mp;
    }
    gpm_unlock(&gpm_sched.lock);
    /* 64-byte aligned: the P state word keeps its status in the low bits
       of the owner's address (runtime.h). */
    mp = gpm_persistentalloc(sizeof *mp, 64);
    if (mp == NULL)
        return NULL;
    gpm_lock(&gpm_sched.lock);
    mp->id = gpm_sched.mnext++;
    gpm_unlock(&gpm_sched.lock);
    mp->fastrand = (uint64_t)gpm_nanotime() ^ ((uint64_t)mp->id << 32);
    return mp;
}

/* Publishes mp on allm. Ms are never freed. */
static void publishm(struct gpm_m *mp)
{
    struct gpm_m *head = atomic_load_explicit(&gpm_sched.allm, memory_order_relaxed);
    do
        mp->alllink = head;
    while (!atomic_compare_exchange_weak_explicit(&gpm_sched.allm, &head, mp, memory_order_release,
                                                  memory_order_relaxed));
}

/* ---- P ownership (see the essay) ---------------------------------------- */

/* Whether sysmon's side of the light pin's fence is a membarrier ("P
   ownership"); set once at start-up. */
bool gpm_pinmembarrier;

bool gpm_pinfence_init(bool usemembarrier)
{
    gpm_pinmembarrier =
        usemembarrier && gpm_syscall3(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    return gpm_pinmembarrier;
}

/* The word of mp's P once sysmon has decided a revoke of it (P_REVOKING
   lasts one membarrier). Executed only by mp. */
static uintptr_t waitrevoke(struct gpm_p *pp, struct gpm_m *mp)
{
    uintptr_t w;
    for (int i = 0; (w = atomic_load_explicit(&pp->state, memory_order_acquire)) == gpm_pword(mp, P_REVOKING); i++) {
        if (i < 64)
            gpm_cpu_relax();
        else
            gpm_osyield(); /* sysmon may have lost its CPU meanwhile */
    }
    return w;
}

/* gpm_pin's way when the word was not P_USER(mp) (runtime.h has the fast
   path and the protocol's first half): w is what it read, with mp->pinned
   set. */
bool gpm_pin_slow(struct gpm_m *mp, uintptr_t w)
{
    struct gpm_p *pp = mp->p;
    if (w == gpm_pword(mp, P_REVOKING)) {
        w = waitrevoke(pp, mp);
        if (w == gpm_pword(mp, P_USER))
            return true; /* sysmon saw the flag */
    }
    atomic_store_explicit(&mp->pinned, 0, memory_order_relaxed);
    if (w == gpm_pword(mp, P_RUNNING))
        gpm_pin_nested(mp);
    /* P_SYSCALL(mp): a signal handler that runs during a wrapped system
       call (the P stays the call's, for exitsyscall). Anything else: the
       P is gone. */
    if (w != gpm_pword(mp, P_SYSCALL))
        mp->p = NULL;
    return false;
}

void gpm_pin_nested(struct gpm_m *mp)
{
    /* Invariant: pins do not nest ("P ownership"). */
    gpm_throwf("pin: M%d pins P%d twice", mp->id, mp->p != NULL ? mp->p->id : -1);
}

/* gpm_unpin's way when the word was not P_USER(mp) with the flag set: w
   is what it read. */
void gpm_unpin_slow(struct gpm_m *mp, uintptr_t w)
{
    struct gpm_p *pp = mp->p;
    if (w == gpm_pword(mp, P_RUNNING)) {
        /* release: pairs with sysmon's acquire in revoke, so everything mp
           did to the P is visible to whoever sysmon hands it to. */
        atomic_store_explicit(&pp->state, gpm_pword(mp, P_USER), memory_order_release);
        atomic_store_explicit(&mp->pinned, 0, memory_order_relaxed); /* never set with P_RUNNING; as a guard */
        return;
    }
    gpm_assert(atomic_load_explicit(&mp->pinned, memory_order_relaxed) && w == gpm_pword(mp, P_REVOKING),
               "unpin: P not pinned by this M");
    /* release: as above; sysmon reads the flag after its fence. */
    atomic_store_explicit(&mp->pinned, 0, memory_order_release);
}

/* Whether mp holds its P pinned right now. Reliable when called by mp
   itself: only mp pins and unpins. */
static bool pinned(struct gpm_m *mp)
{
    return mp->p != NULL && (atomic_load_explicit(&mp->pinned, memory_order_relaxed) ||
                             atomic_load_explicit(&mp->p->state, memory_order_relaxed) == gpm_pword(mp, P_RUNNING));
}

bool gpm_m_pinned(struct gpm_m *mp)
{
    return pinned(mp);
}

/*
 * gpm_revoke: sysmon takes pp from its M, which is outside gpm (w is
 * P_USER(m) or P_SYSCALL(m), as sysmon read it). Returns whether it did;
 * then pp is P_IDLE, on no list, for handoffp. sysmon only.
 */
bool gpm_revoke(struct gpm_p *pp, uintptr_t w)
{
    uint32_t st = gpm_pstatus(w);
    if (st == P_SYSCALL)
        /* acq_rel: acquire pairs with the owner's release CAS into
           P_SYSCALL; release passes the P on. */
        return atomic_compare_exchange_strong_explicit(&pp->state, &w, gpm_pword(NULL, P_IDLE),
                                                       memory_order_acq_rel, memory_order_relaxed);
    if (st != P_USER)
        return false;
    struct gpm_m *mp = gpm_powner(w);
    if (atomic_load_explicit(&mp->pinned, memory_order_relaxed))
        return false; /* inside gpm: not for now */
    /* Dekker's second half ("P ownership"): the word, a fence, the flag. */
    if (!atomic_compare_exchange_strong(&pp->state, &w, gpm_pword(mp, P_REVOKING)))
        return false;
    bool fenced = !gpm_pinmembarrier || gpm_syscall3(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
    /* acquire: pairs with unpin's release of the flag. Without a fence
       (the membarrier failed), the M may be pinning unseen: keep off. */
    if (!fenced || atomic_load(&mp->pinned)) {
        atomic_store_explicit(&pp->state, gpm_pword(mp, P_USER), memory_order_release);
        return false;
    }
    atomic_store_explicit(&pp->state, gpm_pword(NULL, P_IDLE), memory_order_release);
    return true;
}

/* Associates pp with mp, pinned. pp must be idle and on no list. Executed
   by mp (or by startm's M when it wakes). */
void gpm_acquirep(struct gpm_m *mp, struct gpm_p *pp)
{
    uintptr_t w = atomic_load_explicit(&pp->state, memory_order_relaxed);
    if (mp->p != NULL || w != gpm_pword(NULL, P_IDLE))
        /* Invariant: only an idle P is taken, by an M without one. */
        gpm_throwf("acquirep: M%d has P%d; P%d is in state %u", mp->id, mp->p ? mp->p->id : -1, pp->id,
                   gpm_pstatus(w));
    mp->p = pp;
    atomic_store_explicit(&mp->blockedoutside, false, memory_order_relaxed);
    /* seq_cst: sysmon sets sysmonwait and then rechecks that every P is
       idle; we make the P busy and then look at sysmonwait. One of the two
       sees the other, so sysmon never sleeps while a P is in use. */
    atomic_store(&pp->state, gpm_pword(mp, P_RUNNING));
    if (atomic_load(&gpm_sched.sysmonwait))
        gpm_sysmon_wake();
}

/* Disassociates mp's pinned P and returns it (P_IDLE, on no list).
   Executed by mp. */
struct gpm_p *gpm_releasep(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (!pinned(mp))
        /* Invariant: a P is released only pinned by its M. */
        gpm_throwf("releasep: M%d does not hold its P pinned", mp->id);
    mp->p = NULL;
    uintptr_t w = atomic_load_explicit(&pp->state, memory_order_relaxed);
    if (w == gpm_pword(mp, P_RUNNING)) {
        /* release: the next owner (through the idle list's lock or a
           handoff) sees everything done with the P. */
        atomic_store_explicit(&pp->state, gpm_pword(NULL, P_IDLE), memory_order_release);
    } else {
        /* Light-pinned: the word is P_USER(mp), which sysmon may be
           revoking (it will see the flag and give it back). */
        for (;;) {
            if (w == gpm_pword(mp, P_REVOKING))
                w = waitrevoke(pp, mp);
            if (w != gpm_pword(mp, P_USER))
                /* Invariant: sysmon gives a light-pinned P back ("P
                   ownership"); nobody else writes its word. */
                gpm_throwf("releasep: M%d's pinned P%d is in state %u", mp->id, pp->id, gpm_pstatus(w));
            if (atomic_compare_exchange_weak_explicit(&pp->state, &w, gpm_pword(NULL, P_IDLE), memory_order_release,
                                                      memory_order_relaxed))
                break;
        }
        atomic_store_explicit(&mp->pinned, 0, memory_order_relaxed);
    }
    return pp;
}

/* Puts pp (P_IDLE) on the idle list. sched.lock must be held. */
static void pidleput(struct gpm_p *pp)
{
    if (!gpm_runqempty(pp))
        /* Invariant: an idle P holds no work (its Gs would never run). */
        gpm_throw("pidleput: P has non-empty run queue");
    pp->link = gpm_sched.pidle;
    gpm_sched.pidle = pp;
    atomic_fetch_add(&gpm_sched.npidle, 1);
}

/* Takes an idle P, or NULL. sched.lock must be held. */
static struct gpm_p *pidleget(void)
{
    struct gpm_p *pp = gpm_sched.pidle;
    if (pp != NULL) {
        gpm_sched.pidle = pp->link;
        atomic_fetch_sub(&gpm_sched.npidle, 1);
    }
    return pp;
}

/* pidleget for callers that do not hold sched.lock (it takes it). */
static struct gpm_p *pidleget_nolock(void)
{
    if (atomic_load_explicit(&gpm_sched.npidle, memory_order_relaxed) == 0)
        return NULL;
    gpm_lock(&gpm_sched.lock);
    struct gpm_p *pp = pidleget();
    gpm_unlock(&gpm_sched.lock);
    return pp;
}

/* Puts mp on the idle M list. sched.lock must be held. */
static void mput(struct gpm_m *mp)
{
    mp->schedlink = gpm_sched.midle;
    gpm_sched.midle = mp;
    gpm_sched.nmidle++;
}

/* mp leaves the idle list: if it was the timer M, nobody is now.
   sched.lock must be held. */
static void mleftidle(struct gpm_m *mp)
{
    gpm_sched.nmidle--;
    if (gpm_sched.timerm == mp) {
        gpm_sched.timerm = NULL;
        atomic_store(&gpm_sched.pollUntil, 0);
    }
}

/* Takes an idle M, or NULL. sched.lock must be held. */
static struct gpm_m *mget(void)
{
    struct gpm_m *mp = gpm_sched.midle;
    if (mp != NULL) {
        gpm_sched.midle = mp->schedlink;
        mleftidle(mp);
    }
    return mp;
}

/* Takes mp off the idle M list if it is still there. sched.lock held. */
static bool mremove(struct gpm_m *mp)
{
    for (struct gpm_m **link = &gpm_sched.midle; *link != NULL; link = &(*link)->schedlink) {
        if (*link == mp) {
            *link = mp->schedlink;
            mleftidle(mp);
            return true;
        }
    }
    return false;
}

/* ---- Making Ms (see the essay) ------------------------------------------- */

static void g0loop(struct gpm_m *mp) __attribute__((noreturn));
static void wiredexit(struct gpm_g *gp, struct gpm_m *wm) __attribute__((noreturn));

/*
 * Starts a detached kernel thread of gpm's own (sysmon, the M maker, the
 * signal receiver, a wired M) with libc's pthread_create, so that glibc
 * knows it as one of its threads. Returns 0 or libc's error number, and
 * the thread in *out when out is not NULL. Runs
 * on a G's stack unpinned, or on a thread without a G: never on g0.
 */
int gpm_start_kthread(void *(*fn)(void *), void *arg, size_t stacksize, pthread_t *out)
{
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stacksize);
    int err = gpm_real.pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err == 0 && out != NULL)
        *out = th;
    return err;
}

/* Start routine of the kernel threads gpm creates for Ms. */
static void *mstart(void *arg)
{
    struct gpm_m *mp = arg;
    mp->procid = gpm_gettid();
    mp->owntcb = gpm_rdtp();
    mp->dtvmem = gpm_dtvmem(mp->owntcb);
    mp->curfs = mp->owntcb;
    mp->g0started = true; /* g0 is this native stack; saved at its first switch */
    mp->nativeg0 = true;
    /* The maker blocks every signal; an M starts with the Ms' one mask
       ("The kernel's masks" in signal.c), or, before routing starts (one
       thread only), the mask the program started with. */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)(gpm_sigrouting() ? &gpm_msigmask : &gpm_initsigmask), 0,
                 8);
    gpm_m_sigstack(mp);
    publishm(mp);
    if (mp->nextp != NULL) {
        struct gpm_p *pp = mp->nextp;
        mp->nextp = NULL;
        gpm_acquirep(mp, pp);
    }
    g0loop(mp);
}

/* Ms waiting for the maker: a list through schedlink under its lock (a
   leaf in the lock order: nothing is taken while it is held). */
static struct {
    struct gpm_mutex lock;
    struct gpm_m *head;
    struct gpm_note note;  /* the maker sleeps here while head is empty */
    struct gpm_note ready; /* the maker has its malloc arena (mmakerloop) */
    bool sleeping;         /* protected by lock */
    _Atomic int state;    /* MMAKER_* */
} mmaker;

enum { MMAKER_NONE, MMAKER_STARTING, MMAKER_RUNNING };

/* Gives back what an M that will not run was meant to take: its count in
   nmspinning, and its P with the P's Gs (to the global queue). The P goes
   to an M that is idle now, if there is one: the Ms that went idle while
   this M was being made looked at the global queue before these Gs were
   on it, and nothing else would wake them (a program whose Ms had all
   gone idle hung here with Gs runnable). With no idle M, the M blocked in
   the poller (if any) is woken to look; otherwise the first M to stop
   finds them (stopm looks at the queue under sched.lock, as this does),
   and sysmon, woken if it slept, asks for an M again each round
   (gpm_sysmon_stranded). Never makes an M: the maker calls this after a
   failed create and must not loop on failures. */
static void mnotstarted(struct gpm_p *pp, bool spinning)
{
    if (spinning && atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
        /* Invariant: nmspinning counts spinning Ms (also below). */
        gpm_throw("newm: negative nmspinning");
    if (pp == NULL)
        return;
    gpm_runqdrain(pp);
    gpm_lock(&gpm_sched.lock);
    struct gpm_m *mp = mget();
    if (mp == NULL)
        pidleput(pp);
    gpm_unlock(&gpm_sched.lock);
    if (mp == NULL) {
        gpm_netpoll_break();
        /* sysmon may sleep (every P was idle): it must come and ask again
           for these Gs. */
        if (atomic_load(&gpm_sched.runqsize) > 0)
            gpm_sysmon_wake();
        return;
    }
    mp->nextp = pp;
    mp->stats.nmwake++;
    gpm_notewakeup(&mp->park);
}

/* The thread limit: say it once, and carry on with the Ms there are. */
static void mlimit(const char *why)
{
    if (!atomic_exchange(&gpm_sched.mlimitsaid, true))
        gpm_printf("gpm: %s at %d kernel threads; threads wait for one to come back from the kernel\n", why,
                   gpm_sched.mnext);
}

/* The maker's DTV's allocation ("Leak checkers and the DTV" in gstack.c). */
static void *volatile mmaker_dtvmem; /* volatile: written only, for the checker to see */

static void *mmakerloop(void *arg)
{
    (void)arg;
    mmaker_dtvmem = gpm_dtvmem(gpm_rdtp());
    /* Like sysmon, the maker runs no program code: it must never be the
       thread the kernel picks for a signal. */
    sigset_t all;
    sigfillset(&all);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8);
    /* Every pthread_create here callocs the new thread's DTV, and the
       maker's first calloc gives it a malloc arena of its own: 64 MiB of
       address space. That happens now, before gpm_mmaker_start returns to
       the program's first pthread_create, so the arena is part of the
       process's size before anything the program does next (a limit it
       sets on its address space), not whenever a second M is first
       needed. */
    void *volatile first = malloc(1); /* volatile: not folded away with the free */
    free(first);
    gpm_notewakeup(&mmaker.ready);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, M_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        gpm_lock(&mmaker.lock);
        struct gpm_m *mp = mmaker.head;
        if (mp == NULL) {
            mmaker.sleeping = true;
            gpm_noteclear(&mmaker.note);
            gpm_unlock(&mmaker.lock);
            gpm_notesleep(&mmaker.note);
            continue;
        }
        mmaker.head = mp->schedlink;
        gpm_unlock(&mmaker.lock);
        mp->schedlink = NULL;
        pthread_t th;
        if (gpm_real.pthread_create(&th, &attr, mstart, mp) == 0)
            continue;
        /* Out of memory or threads (the kernel's limits): the work waits
           for an M that comes back; the M struct waits for the next newm. */
        mlimit("cannot create more kernel threads");
        struct gpm_p *pp = mp->nextp;
        bool spinning = mp->spinning;
        mp->nextp = NULL;
        mp->spinning = false;
        gpm_lock(&gpm_sched.lock);
        mp->schedlink = mfreelist;
        mfreelist = mp;
        gpm_unlock(&gpm_sched.lock);
        mnotstarted(pp, spinning);
    }
    return NULL;
}

/* Starts the M maker, once (a failed start is tried again next time).
   Runs on a G's stack, unpinned: it calls pthread_create itself, holding
   no runtime lock. */
void gpm_mmaker_start(void)
{
    int s = MMAKER_NONE;
    if (atomic_load_explicit(&mmaker.state, memory_order_acquire) != MMAKER_NONE ||
        !atomic_compare_exchange_strong(&mmaker.state, &s, MMAKER_STARTING))
        return;
    bool ok = gpm_start_kthread(mmakerloop, NULL, 64 * 1024, NULL) == 0;
    if (ok)
        gpm_notesleep(&mmaker.ready); /* once per process: its arena is made */
    else
        gpm_printf("gpm: cannot start the M maker: threads blocked in the kernel keep their Ps\n");
    /* release: newm's acquire load sees the maker's list ready. */
    atomic_store_explicit(&mmaker.state, ok ? MMAKER_RUNNING : MMAKER_NONE, memory_order_release);
}

/* fork.c: in the child the maker does not exist; the next gpm_newproc
   starts one. */
void gpm_mmaker_forkchild(void)
{
    mmaker.lock = (struct gpm_mutex)GPM_MUTEX_INIT;
    mmaker.head = NULL;
    mmaker.sleeping = false;
    gpm_noteclear(&mmaker.note);
    gpm_noteclear(&mmaker.ready);
    atomic_store(&mmaker.state, MMAKER_NONE);
}

/*
 * newm arranges for a new M that starts with pp (or idle, when pp is NULL)
 * and the given spinning state: the M maker creates its kernel thread.
 * Never blocks; callable pinned and on g0 (see "Making Ms").
 */
static void newm(struct gpm_p *pp, bool spinning)
{
    if (atomic_load_explicit(&mmaker.state, memory_order_acquire) != MMAKER_RUNNING) {
        /* Only G1 (or the forking G) exists: no other M can be needed. */
        mnotstarted(pp, spinning);
        return;
    }
    if (gpm_sched.mnext >= gpm_sched.maxmcount && mfreelist == NULL) {
        mlimit("GPM_MAXTHREADS reached");
        mnotstarted(pp, spinning);
        return;
    }
    struct gpm_m *mp = allocm();
    if (mp == NULL) {
        mlimit("out of memory for a new M");
        mnotstarted(pp, spinning);
        return;
    }
    mp->nextp = pp;
    mp->spinning = spinning;
    gpm_lock(&mmaker.lock);
    mp->schedlink = mmaker.head;
    mmaker.head = mp;
    bool wake = mmaker.sleeping;
    mmaker.sleeping = false;
    gpm_unlock(&mmaker.lock);
    if (wake)
        gpm_notewakeup(&mmaker.note);
}

/*
 * startm schedules some M to run pp (an idle P if pp is NULL; if there is
 * none, it does nothing). With spinning, the caller has incremented
 * nmspinning and startm passes that on to the M it starts.
 */
static void startm(struct gpm_p *pp, bool spinning)
{
    gpm_lock(&gpm_sched.lock);
    if (pp == NULL) {
        pp = pidleget();
        if (pp == NULL) {
            gpm_unlock(&gpm_sched.lock);
            if (spinning && atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
                gpm_throw("startm: negative nmspinning");
            return;
        }
    }
    struct gpm_m *nmp = mget();
    gpm_unlock(&gpm_sched.lock);
    if (nmp == NULL) {
        newm(pp, spinning);
        return;
    }
    if (nmp->spinning)
        /* Invariant: an idle M is neither spinning nor given a P. */
        gpm_throw("startm: M is spinning");
    if (nmp->nextp != NULL)
        gpm_throw("startm: M has P");
    nmp->spinning = spinning;
    nmp->nextp = pp;
    nmp->stats.nmwake++; /* nmp is the waker's alone until woken */
    gpm_notewakeup(&nmp->park);
}

/* Tries to add one more spinning M to run Gs when there is an idle P and no
   M spinning already. Called by whoever makes a G runnable. */
static void wakep(void)
{
    if (atomic_load(&gpm_sched.npidle) == 0)
        return;
    /* Be conservative about spinning threads: start one only if none is. */
    int32_t zero = 0;
    if (atomic_load(&gpm_sched.nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&gpm_sched.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

void gpm_wakep(void)
{
    wakep();
}

/*
 * gpm_wake_timerm: a timer at `when` was just added to some P's heap (the
 * store of that P's timer0when comes before this call). Makes sure some M
 * will run it in time (Go's wakeNetPoller): the timer M wakes early if it
 * sleeps past `when`; with no timer M and an idle P, an M is started to
 * look (it becomes the timer M when it finds nothing to do). When every P
 * is busy, their Ms run their timers at their next scheduler pass, and
 * sysmon preempts one that does not come ("sysmon" essay). Never blocks.
 */
void gpm_wake_timerm(int64_t when)
{
    /* The M blocked in the poller sleeps until its own deadline: an
       earlier timer breaks its wait (same seq_cst argument as below, with
       the poller's published deadline). */
    int64_t nu = gpm_netpoll_until();
    if (nu != 0 && nu > when)
        gpm_netpoll_break();
    /* seq_cst: pairs with stopm's store of pollUntil and its recheck of
       the heaps (see stopm). */
    int64_t pu = atomic_load(&gpm_sched.pollUntil);
    if (pu != 0 && pu <= when)
        return;
    if (atomic_load(&gpm_sched.npidle) == 0)
        return;
    if (pu == 0) {
        wakep();
        return;
    }
    gpm_lock(&gpm_sched.lock);
    struct gpm_m *mp = gpm_sched.timerm;
    if (mp != NULL && atomic_load(&gpm_sched.pollUntil) > when && mremove(mp)) {
        /* Woken without a P: stopm sees nextp == NULL and looks again. */
        gpm_unlock(&gpm_sched.lock);
        gpm_notewakeup(&mp->park);
        return;
    }
    gpm_unlock(&gpm_sched.lock);
}

/*
 * stopm stops mp until there is work for it, and returns with a P.
 * mp holds no P. If no other idle M does, mp becomes the timer M: it
 * sleeps no later than the earliest timer of all Ps, then takes an idle P
 * and returns, and findrunnable runs the timers ("Who runs timers" in
 * timer.c). A timer that is already due is run at once when a P is idle;
 * when every P is busy, their Ms (and sysmon) see to it, and mp sleeps
 * until it is woken: never a sleep with a deadline in the past.
 */
static void stopm(struct gpm_m *mp)
{
    if (mp->p != NULL)
        /* Invariant: an M parks with no P and not spinning. */
        gpm_throw("stopm: holding p");
    if (mp->spinning)
        gpm_throw("stopm: spinning");
    gpm_m_useowntls(mp);
    mp->stats.nmpark++;
    if (GPM_TRACING())
        gpm_trace_mpark(mp);
    for (;;) {
        gpm_lock(&gpm_sched.lock);
        /* Runnable Gs on the global queue and an idle P: run them rather
           than sleep. mnotstarted leaves exactly that behind when the M it
           was given could not be made and no M was idle at its look; this
           M may have queued its own G there (exitsyscall found no P) just
           before, and be the only M left to run anything. Both looks are
           under sched.lock, so one of them sees the other: mnotstarted
           finds this M idle, or this M finds the P idle. handoffp's last
           look at the queue is under it too, for the same reason. */
        if (atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed) > 0) {
            struct gpm_p *pp = pidleget();
            if (pp != NULL) {
                gpm_unlock(&gpm_sched.lock);
                gpm_acquirep(mp, pp);
                return;
            }
        }
        /* The earliest timer needs this M unless the timer M sleeps until
           it already. The timer M may sleep until a later one: a timer
           added while every P was busy does not wake it (gpm_wake_timerm
           leaves it to the Ps' Ms), and those Ms may then all come here.
           This M then becomes the timer M, and the old one sleeps on to
           its own deadline, then finds work or parks again. */
        int64_t when = gpm_timers_earliest();
        if (when != 0 && gpm_sched.timerm != NULL && atomic_load(&gpm_sched.pollUntil) <= when)
            when = 0;
        if (when != 0 && when <= gpm_nanotime()) {
            struct gpm_p *pp = pidleget();
            if (pp != NULL) {
                gpm_unlock(&gpm_sched.lock);
                gpm_acquirep(mp, pp);
                return;
            }
            when = 0; /* every P busy: their Ms run it at their next pass */
        }
        if (when != 0) {
            gpm_sched.timerm = mp;
            atomic_store(&gpm_sched.pollUntil, when);
        }
        mput(mp);
        gpm_unlock(&gpm_sched.lock);
        if (when != 0) {
            /* A timer added after the look above: its adder stored the
               P's timer0when and then loads pollUntil, we stored pollUntil
               and now load the heaps (seq_cst both): one of us sees the
               other, so either it wakes us or we sleep less. */
            int64_t w2 = gpm_timers_earliest();
            if (w2 != 0 && w2 < when)
                when = w2;
        }
        if (when == 0 || gpm_notesleepuntil(&mp->park, when)) {
            gpm_notesleep(&mp->park); /* at once if the wake-up came */
            gpm_noteclear(&mp->park);
            if (mp->nextp != NULL)
                break;
            continue; /* gpm_wake_timerm: an earlier timer; look again */
        }
        /* The deadline passed: unless someone took mp off the idle list
           meanwhile (its wake-up is on the way), go and run the timers. */
        gpm_lock(&gpm_sched.lock);
        if (!mremove(mp)) {
            gpm_unlock(&gpm_sched.lock);
            gpm_notesleep(&mp->park);
            gpm_noteclear(&mp->park);
            if (mp->nextp != NULL)
                break;
            continue;
        }
        struct gpm_p *pp = pidleget();
        gpm_unlock(&gpm_sched.lock);
        if (pp != NULL) {
            gpm_acquirep(mp, pp);
            return;
        }
    }
    struct gpm_p *pp = mp->nextp;
    mp->nextp = NULL;
    gpm_acquirep(mp, pp);
}

/* A spinning M found work: stop spinning, and if it was the last spinner,
   wake another to keep looking (see "Worker thread parking/unparking"). */
static void resetspinning(struct gpm_m *mp)
{
    if (!mp->spinning)
        /* Invariant: only a spinning M stops spinning. */
        gpm_throw("resetspinning: not a spinning M");
    mp->spinning = false;
    if (atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
        gpm_throw("resetspinning: negative nmspinning");
    wakep();
}

/* ---- Finding work ------------------------------------------------------ */

/* The execution trace's record of gp leaving mp for the reason in
   mp->after (switchaway). */
static void tracestop(struct gpm_m *mp, struct gpm_g *gp)
{
    uint8_t why = mp->after == AFTER_PARK ? TSTOP_PARK : mp->after == AFTER_EXIT ? TSTOP_EXIT : TSTOP_REQUEUE;
    bool park = why == TSTOP_PARK;
    gpm_traceev(mp, TEV_GSTOP, why, GPM_TRACE_P(mp->p), park ? gp->waitreason : 0, gp->goid, park ? gp->waitobj : 0);
}

/* The execution trace's record of gp made runnable by what runs on curm
   (or, without one, on the calling thread). */
static void traceready(struct gpm_m *curm, struct gpm_g *gp)
{
    struct gpm_g *by = curm != NULL ? curm->curg : gpm_getg();
    gpm_traceev(curm, TEV_READY, 0, 0, 0, gp->goid, GPM_TRACE_GOID(by));
}

/* The execution trace's record of a poll that found the n Gs of list. */
static void tracenetpoll(struct gpm_m *mp, struct gpm_g *list, int32_t n)
{
    if (!GPM_TRACING() || list == NULL)
        return;
    gpm_traceev(mp, TEV_NETPOLL, 0, 0, (uint32_t)n, 0, 0);
    for (struct gpm_g *gp = list; gp != NULL; gp = gp->schedlink)
        gpm_traceev(mp, TEV_READY, 0, 0, 0, gp->goid, 0);
}

/*
 * injectglist makes the Gs of list run (n of them, G_RUNNABLE already,
 * linked through schedlink): as many as there are idle Ps go to the global
 * queue, with an M started for each; with mp's P (pinned), the rest go to
 * its local queue, without one, to the global queue too (Go's
 * injectglist). The poller's batches come this way.
 */
static void injectglist(struct gpm_m *mp, struct gpm_g *list, int32_t n)
{
    if (list == NULL)
        return;
    struct gpm_p *pp = mp != NULL ? mp->p : NULL;
    int32_t idle = atomic_load(&gpm_sched.npidle);
    int32_t toglobal = pp == NULL ? n : idle < n ? idle : n;
    if (toglobal > 0) {
        struct gpm_g *head = list, *tail = list;
        for (int32_t i = 1; i < toglobal; i++)
            tail = tail->schedlink;
        list = tail->schedlink;
        gpm_lock(&gpm_sched.lock);
        gpm_globrunqputbatch(head, tail, toglobal);
        gpm_unlock(&gpm_sched.lock);
        for (int32_t i = 0; i < toglobal && atomic_load(&gpm_sched.npidle) > 0; i++)
            startm(NULL, false);
    }
    while (list != NULL) {
        struct gpm_g *gp = list;
        list = gp->schedlink;
        gpm_runqput(pp, gp, false);
    }
}

/* The first G of a poller's batch, to run now; the others injected. */
static struct gpm_g *netpollbatch(struct gpm_m *mp, struct gpm_g *list, int32_t n)
{
    struct gpm_g *rest = list->schedlink;
    list->schedlink = NULL;
    injectglist(mp, rest, n - 1);
    return list;
}

/* sysmon: polls when nobody has for 10 ms (every P busy computing, or
   every M asleep on its futex while a G waits for a file). */
void gpm_sysmon_netpoll(int64_t now)
{
    int64_t last = gpm_netpoll_last();
    if (!gpm_netpoll_waiting() || last == 0 || now - last < 10000000 || !gpm_netpoll_claimnb(last))
        return;
    int32_t n;
    struct gpm_g *list = gpm_netpoll(0, &n);
    tracenetpoll(NULL, list, n);
    injectglist(NULL, list, n);
}

/* One G from pp's own queues or the global queue, without blocking, or
   NULL. Executed only by the owner P, pinned. */
static struct gpm_g *runqget_nonblocking(struct gpm_p *pp, bool *inheritTime)
{
    struct gpm_g *gp;
    /* Check the global queue once in a while to ensure fairness. */
    uint32_t tick = atomic_load_explicit(&pp->schedtick, memory_order_relaxed);
    if (tick % 61 == 0 && atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed) > 0) {
        gpm_lock(&gpm_sched.lock);
        gp = gpm_globrunqget(pp, 1);
        gpm_unlock(&gpm_sched.lock);
        if (gp != NULL) {
            *inheritTime = false;
            return gp;
        }
    }
    gp = gpm_runqget(pp, inheritTime);
    if (gp != NULL)
        return gp;
    if (atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed) > 0) {
        gpm_lock(&gpm_sched.lock);
        gp = gpm_globrunqget(pp, 0);
        gpm_unlock(&gpm_sched.lock);
        *inheritTime = false;
    }
    return gp;
}

/* Steals from other Ps: 4 rounds over all Ps in random order; runnext is
   taken only in the last round. Executed only by the owner P (mp->p),
   pinned. */
static struct gpm_g *stealwork(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    int32_t n = gpm_sched.gomaxprocs;
    enum { STEAL_TRIES = 4 };
    for (int i = 0; i < STEAL_TRIES; i++) {
        bool stealRunNextG = i == STEAL_TRIES - 1;
        /* Start at a random P so that thieves spread over victims. */
        uint32_t start = gpm_fastrand(mp) % (uint32_t)n;
        for (int32_t k = 0; k < n; k++) {
            struct gpm_p *p2 = &gpm_sched.allp[(start + (uint32_t)k) % (uint32_t)n];
            if (p2 == pp)
                continue;
            struct gpm_g *gp = gpm_runqsteal(pp, p2, stealRunNextG);
            if (gp != NULL) {
                mp->stats.nsteal++;
                GPM_TRACE_EV(mp, TEV_STEAL, 0, GPM_TRACE_P(p2), 0, 0, 0);
                return gp;
            }
        }
    }
    return NULL;
}

/*
 * Lingering
 * ---------
 * Go wakes a spinning M for every G made runnable while a P is idle and no
 * M spins (wakep), and the M parks again as soon as a round of stealing
 * finds nothing. A program whose threads create or wake a thread and then
 * block at once (create+join, a request handed to a worker) makes the new
 * G run on the same P, so every such wake-up is wasted: an M woken,
 * rounds of stealing, a park, tens of thousands of times a second, each
 * costing the waker a futex call that interrupts an idle CPU and the
 * running P cache misses (measured: create+join on two Ps 340 ns against
 * 238 ns with no wake-ups at all).
 *
 * So a spinning M that found nothing does not park at once: it releases
 * its P and naps LINGER_NAP_US at a time, up to LINGER_NAPS times, still
 * counted in nmspinning, so that wakep leaves it be; after each nap it
 * looks at every queue and, finding a G, takes an idle P and goes on
 * spinning. A G made runnable meanwhile waits at most one nap for a second
 * CPU, as long as a native thread takes to be scheduled on an idle one.
 * The lost wake-up argument of "Worker thread parking/unparking" is
 * unchanged: the M still decrements nmspinning and looks again before it
 * parks. It does not linger when it has other duties that a nap would
 * delay: Gs waiting for files (it becomes the poller), a timer (stopm
 * sleeps until it), or a single CPU (nothing would run in parallel).
 * Returns true with mp holding a P when it found work.
 */
enum { LINGER_NAP_US = 50, LINGER_NAPS = 20 };

static bool linger(struct gpm_m *mp)
{
    if (gpm_config.ncpu < 2)
        return false;
    for (int i = 0; i < LINGER_NAPS; i++) {
        if (gpm_netpoll_waiting() || gpm_timers_earliest() != 0)
            return false;
        gpm_usleep(LINGER_NAP_US);
        bool work = atomic_load(&gpm_sched.runqsize) != 0;
        for (int32_t k = 0; k < gpm_sched.gomaxprocs && !work; k++)
            work = !gpm_runqempty(&gpm_sched.allp[k]);
        if (work) {
            gpm_lock(&gpm_sched.lock);
            struct gpm_p *pp = pidleget();
            gpm_unlock(&gpm_sched.lock);
            if (pp != NULL) {
                gpm_acquirep(mp, pp);
                return true;
            }
            return false; /* every P busy: park as usual */
        }
    }
    return false;
}

/*
 * findrunnable finds a G to run: local queue, global queue, stealing, the
 * due timers of every P; if there is none, it gives up the P and parks the
 * M until there is work, and returns with a P (perhaps another one).
 * Runs on g0, pinned; may block.
 */
static struct gpm_g *findrunnable(struct gpm_m *mp, bool *inheritTime)
{
top:;
    struct gpm_p *pp = mp->p;
    struct gpm_g *gp = gpm_runqget(pp, inheritTime);
    if (gp != NULL)
        return gp;
    *inheritTime = false;
    if (atomic_load(&gpm_sched.runqsize) > 0) {
        gpm_lock(&gpm_sched.lock);
        gp = gpm_globrunqget(pp, 0);
        gpm_unlock(&gpm_sched.lock);
        if (gp != NULL)
            return gp;
    }

    /* Files that became ready, without waiting, unless an M blocks in the
       poller (it will see them). Before stealing, as Go does: a G readied
       by its file is as runnable as any. */
    if (gpm_netpoll_waiting() && gpm_netpoll_last() != 0) {
        int32_t n;
        struct gpm_g *list = gpm_netpoll(0, &n);
        tracenetpoll(mp, list, n);
        if (list != NULL)
            return netpollbatch(mp, list, n);
    }

    /* Spinning Ms: steal work. Limit the number of spinning Ms to half the
       number of busy Ps: this prevents excessive CPU use when gomaxprocs is
       large but the program's parallelism is low. */
    int32_t busy = gpm_sched.gomaxprocs - atomic_load(&gpm_sched.npidle);
    if (mp->spinning || 2 * atomic_load(&gpm_sched.nmspinning) < busy) {
        if (!mp->spinning) {
            mp->spinning = true;
            atomic_fetch_add(&gpm_sched.nmspinning, 1);
        }
        gp = stealwork(mp);
        if (gp != NULL)
            return gp;
    }

    /* Timers of every P: an idle P has no M to run its own, and a busy one
       may be kept from its own by a G that computes or sleeps outside gpm. */
    if (gpm_timers_earliest() != 0) {
        int64_t now = gpm_nanotime();
        for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++)
            gpm_checktimers(mp, &gpm_sched.allp[i], now);
        gp = gpm_runqget(pp, inheritTime);
        if (gp != NULL)
            return gp;
    }

    /* Nothing to do: give up the P, unless the global queue filled up
       meanwhile (checked under the lock that guards it). Its G cache
       shrinks first, for the scavenger (gstack.c). */
    gpm_gstack_idlep(pp);
    gpm_lock(&gpm_sched.lock);
    if (atomic_load(&gpm_sched.runqsize) != 0) {
        gp = gpm_globrunqget(pp, 0);
        gpm_unlock(&gpm_sched.lock);
        return gp;
    }
    if (gpm_releasep(mp) != pp)
        /* Invariant: the M gives up the P it searched with. */
        gpm_throw("findrunnable: wrong P");
    pidleput(pp);
    gpm_unlock(&gpm_sched.lock);

    /* Spinning to non-spinning: decrement nmspinning, then recheck every
       queue (see "Worker thread parking/unparking": this is load D). */
    /* A spinning M that found nothing lingers, still counted as spinning
       and without a P, before it parks ("Lingering"). */
    if (mp->spinning && linger(mp))
        goto top;
    if (mp->spinning) {
        mp->spinning = false;
        if (atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
            gpm_throw("findrunnable: negative nmspinning");
        bool work = atomic_load(&gpm_sched.runqsize) != 0;
        for (int32_t i = 0; i < gpm_sched.gomaxprocs && !work; i++)
            work = !gpm_runqempty(&gpm_sched.allp[i]);
        if (work) {
            struct gpm_p *np = pidleget_nolock();
            if (np != NULL) {
                gpm_acquirep(mp, np);
                mp->spinning = true;
                atomic_fetch_add(&gpm_sched.nmspinning, 1);
                goto top;
            }
        }
    }

    /* Gs wait for files and no M blocks in the poller: this one does,
       until the earliest timer, instead of sleeping on its futex ("The
       scheduler's side" in netpoll.c). It publishes its deadline first
       and then looks at the heaps again, as stopm does for the timer M:
       an adder either sees the deadline and breaks the wait, or is seen. */
    if (gpm_netpoll_waiting()) {
        int64_t when = gpm_timers_earliest();
        if (gpm_netpoll_claim(when != 0 ? when : INT64_MAX)) {
            int64_t w2 = gpm_timers_earliest();
            if (w2 != 0 && (when == 0 || w2 < when))
                when = w2;
            int64_t delay = -1;
            if (when != 0) {
                delay = when - gpm_nanotime();
                if (delay < 0)
                    delay = 0;
            }
            gpm_m_useowntls(mp);
            int32_t n;
            struct gpm_g *list = gpm_netpoll(delay, &n);
            gpm_netpoll_unclaim(gpm_nanotime());
            tracenetpoll(mp, list, n);
            struct gpm_p *np_ = pidleget_nolock();
            if (np_ == NULL) {
                injectglist(NULL, list, n);
            } else {
                gpm_acquirep(mp, np_);
                if (list != NULL)
                    return netpollbatch(mp, list, n);
                goto top; /* timers, or work that came meanwhile */
            }
        }
    }
    stopm(mp);
    goto top;
}

/*
 * schedule finds the next G to run on mp. Runs on g0; may block; returns
 * with mp holding a P, pinned.
 */
static struct gpm_g *schedule(struct gpm_m *mp, bool *inheritTime)
{
    if (mp->p == NULL) {
        /* Gs wait for files and nobody polls: take an idle P and look,
           findrunnable polls (blocking) when there is nothing else. */
        struct gpm_p *pp = gpm_netpoll_unwatched() ? pidleget_nolock() : NULL;
        if (pp != NULL)
            gpm_acquirep(mp, pp);
        else
            stopm(mp);
    }
    if (atomic_load_explicit(&mp->p->timer0when, memory_order_relaxed) != 0)
        gpm_checktimers(mp, mp->p, gpm_nanotime());
    struct gpm_g *gp = runqget_nonblocking(mp->p, inheritTime);
    if (gp == NULL)
        gp = findrunnable(mp, inheritTime);
    /* This M is about to run a G: if it was spinning, it stops, and wakes
       another spinner if needed. */
    if (mp->spinning)
        resetspinning(mp);
    return gp;
}

/* The preemption flag of gp, in gp's own TLS ("Preemption"). */
static inline _Atomic uint8_t *preemptflag(struct gpm_g *gp)
{
    return (_Atomic uint8_t *)((char *)gp->tcb + gpm_tls_preempt_off);
}

/* Prepares gp to run on mp. Executed by mp, which holds a P, pinned.
   mp->curg is the G that gp replaces on the direct G-to-G path, NULL on
   g0; CPU time is credited to it and starts for gp ("CPU time of Gs" in
   cputime.c: nothing but a branch until the program asks for a thread's
   CPU clock). */
static void execute(struct gpm_m *mp, struct gpm_g *gp, bool inheritTime)
{
    gpm_casgstatus(gp, G_RUNNABLE, G_RUNNING);
    gp->m = mp;
    gpm_cputime_atswitch(mp->curg, gp);
    mp->curg = gp;
    /* A request to yield that came while gp was not running is stale. */
    atomic_store_explicit(preemptflag(gp), 0, memory_order_relaxed);
    if (!inheritTime)
        atomic_store_explicit(&mp->p->schedtick, atomic_load_explicit(&mp->p->schedtick, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    mp->stats.nswitch++;
}

/* ---- Switching --------------------------------------------------------- */

/* Puts gp on mp's P (runnext when next), or the global queue when mp is
   NULL or has no P. mp's P, if any, is pinned by mp. */
static void runqput_orglobal(struct gpm_m *mp, struct gpm_g *gp, bool next)
{
    if (mp != NULL && mp->p != NULL) {
        gpm_runqput(mp->p, gp, next);
    } else {
        gpm_lock(&gpm_sched.lock);
        gpm_globrunqput(gp);
        gpm_unlock(&gpm_sched.lock);
    }
}

/*
 * finishswitch does what the context that switched away on mp left for us
 * (see "The switch protocol"). Runs on whatever context mp switched to:
 * another G or g0, with mp's P (if any) pinned. Must not touch
 * thread-local state (it may run on g0).
 */
void gpm_finishswitch(struct gpm_m *mp)
{
    uint8_t after = mp->after;
    if (after == AFTER_NONE)
        return;
    struct gpm_g *prev = mp->afterg;
    mp->after = AFTER_NONE;
    mp->afterg = NULL;
    switch (after) {
    case AFTER_PARK: {
        gpm_unlockf unlockf = mp->unlockf;
        void *arg = mp->unlockarg;
        mp->unlockf = NULL;
        mp->unlockarg = NULL;
        prev->m = NULL;
        gpm_setgstatus(prev, G_RUNNING, G_WAITING);
        if (unlockf != NULL && !unlockf(mp, prev, arg)) {
            /* The reason to wait went away before anyone could see prev:
               it runs again next. */
            gpm_setgstatus(prev, G_WAITING, G_RUNNABLE);
            GPM_TRACE_EV(mp, TEV_READY, 0, 0, 0, prev->goid, GPM_TRACE_GOID(mp->curg));
            runqput_orglobal(mp, prev, true);
            if (mp->p == NULL)
                wakep();
        }
        break;
    }
    case AFTER_YIELD:
        prev->m = NULL;
        gpm_casgstatus(prev, G_RUNNING, G_RUNNABLE);
        gpm_runqput(mp->p, prev, false);
        break;
    case AFTER_EXIT:
        prev->m = NULL;
        gpm_goexit0(mp, prev);
        break;
    case AFTER_REQUEUE: {
        /* On g0 of an M without a P: prev (from a system call, or running
           without a P) takes an idle P, else the global queue (see
           reacquirep). */
        prev->m = NULL;
        gpm_casgstatus(prev, gpm_readgstatus(prev), G_RUNNABLE);
        gpm_lock(&gpm_sched.lock);
        struct gpm_p *pp = pidleget();
        if (pp == NULL)
            gpm_globrunqput(prev);
        gpm_unlock(&gpm_sched.lock);
        if (pp != NULL) {
            gpm_acquirep(mp, pp);
            gpm_runqput(pp, prev, true);
        }
        return;
    }
    default:
        /* Invariant: every AFTER_ action is handled above. */
        gpm_throw("finishswitch: bad action");
    }
    /* Due timers of this P, on the direct G-to-G path too (which never
       passes through schedule). After the action: a park's unlockf may have
       released a semtable lock that timer functions take. */
    if (mp->p != NULL && mp->curg != NULL) {
        int64_t w = atomic_load_explicit(&mp->p->timer0when, memory_order_relaxed);
        if (w != 0 && w <= gpm_nanotime())
            gpm_checktimers(mp, mp->p, gpm_nanotime());
    }
}

static void g0entry(void *arg)
{
    g0loop(arg);
}

/*
 * g0 stacks of gpm's own. One M at a time runs on a kernel thread whose
 * stack belongs to a G: M0, whose stack is G1's. Its g0 needs a stack of
 * gpm's, made at start-up (gpm_schedinit), so that no switch ever has to
 * allocate one. A fork child whose forking M ran on its own native stack
 * (nativeg0) loses that stack to glibc, which counts it free in the child
 * ("fork.c"), while the M that held the g0 stack of gpm's is gone there:
 * the child's M takes that stack over (gpm_adoptg0). So exactly one M in
 * allm has g0stack set, and no allocation is needed after start-up.
 */
static void setg0(struct gpm_m *mp, void *stk, size_t size)
{
    mp->g0stack = stk;
    mp->g0stacksize = size;
    mp->g0_sp = gpm_ctx_init((char *)stk + size, g0entry, mp);
    mp->g0started = true;
}

/* Maps M0's g0 stack. Returns false when out of memory (start-up). */
static bool makeg0(struct gpm_m *mp)
{
    void *stk = gpm_mmap(NULL, G0_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                         -1, 0);
    if (gpm_mmap_failed(stk))
        return false;
    gpm_valgrind_stack_register(stk, (char *)stk + G0_STACK_SIZE);
    setg0(mp, stk, G0_STACK_SIZE);
    return true;
}

void gpm_adoptg0(struct gpm_m *mp)
{
    for (struct gpm_m *donor = atomic_load(&gpm_sched.allm); donor != NULL; donor = donor->alllink) {
        if (donor != mp && donor->g0stack != NULL) {
            void *stk = donor->g0stack;
            donor->g0stack = NULL;
            donor->g0started = false;
            setg0(mp, stk, donor->g0stacksize);
            mp->nativeg0 = false;
            return;
        }
    }
    gpm_throw("fork: no g0 stack for the child's M"); /* invariant: M0 made one at start-up */
}

/*
 * switchaway gives gp's M to the next G of its P, or to g0 when the P has
 * none ready, after mp->after has been set. mp's P is pinned, or mp has
 * none. Returns when gp runs again, on whatever M, with nothing finished
 * yet (switchout finishes; a G that resumes wired has nothing to finish).
 * Runs on gp's stack.
 */
static void switchaway(struct gpm_m *mp, struct gpm_g *gp)
{
    gpm_gstack_checkcanary(gp); /* "Stacks without a guard" in gstack.c */
    if (GPM_TRACING())
        tracestop(mp, gp);
    struct gpm_g *next = NULL;
    bool inheritTime = false;
    if (mp->p != NULL)
        next = runqget_nonblocking(mp->p, &inheritTime);
    if (next != NULL) {
        execute(mp, next, inheritTime);
        GPM_TRACE_EV(mp, TEV_GSTART, 0, GPM_TRACE_P(mp->p), 0, next->goid, 0);
        mp->curfs = next->tcb;
        gpm_ctx_switch(&gp->sched_sp, next->sched_sp, next->tcb);
    } else {
        gpm_cputime_atswitch(gp, NULL);
        mp->curg = NULL;
        gpm_ctx_switch(&gp->sched_sp, mp->g0_sp, NULL);
    }
}

/* switchaway, then finish what the M that resumes gp left ("The switch
   protocol"). Returns when gp runs again, on whatever M, with that M's P
   pinned. Runs on gp's stack. */
static void switchout(struct gpm_m *mp, struct gpm_g *gp)
{
    switchaway(mp, gp);
    gpm_finishswitch(gp->m);
}

/*
 * g0loop is the scheduler's main loop on g0: finish what the last G left,
 * find the next G, switch to it; repeat when something switches back.
 * Never returns.
 */
static void g0loop(struct gpm_m *mp)
{
    for (;;) {
        gpm_finishswitch(mp);
        bool inheritTime = false;
        struct gpm_g *gp = schedule(mp, &inheritTime);
        execute(mp, gp, inheritTime);
        GPM_TRACE_EV(mp, TEV_GSTART, 0, GPM_TRACE_P(mp->p), 0, gp->goid, 0);
        void *fs = mp->curfs != gp->tcb ? gp->tcb : NULL;
        mp->curfs = gp->tcb;
        gpm_ctx_switch(&mp->g0_sp, gp->sched_sp, fs);
    }
}

/*
 * reacquirep: gp found its M without a P at a call into gpm (sysmon took
 * it, see "P ownership"). Takes an idle P, or else puts gp on the global
 * queue and gives the M to g0, which parks it (Go's exitsyscall, slow
 * path). Returns with gp running on an M whose P is pinned.
 * Runs on gp's stack; may switch.
 */
static void reacquirep(struct gpm_m *mp, struct gpm_g *gp)
{
    struct gpm_p *pp = pidleget_nolock();
    if (pp != NULL) {
        gpm_acquirep(mp, pp);
        GPM_TRACE_EV(mp, TEV_PCHANGE, 0, GPM_TRACE_P(pp), 0, gp->goid, 0);
        return;
    }
    mp->after = AFTER_REQUEUE;
    mp->afterg = gp;
    switchout(mp, gp);
}

/* When a G with a P starts to wait, for the dumps (gpm_sched.stampclock,
   which moves while some P runs): a load instead of a clock read on every
   park. */
static inline int64_t waitstamp(void)
{
    int64_t t = atomic_load_explicit(&gpm_sched.stampclock, memory_order_relaxed);
    return t != 0 ? t : gpm_nanotime();
}

/*
 * park_wired: a G without a scheduler M ("Wired Gs": foreign, or wired to
 * a wired M) parks its own kernel thread on g->wirednote, after doing what
 * finishswitch does for other Gs (status, unlockf) itself; gpm_ready wakes
 * the note instead of queueing the G. A timed park sleeps on the note with
 * the timer's deadline and, if that passes first, runs the timer's
 * function itself, which readies it (or finds that a waker did): either
 * way exactly one wake-up comes, and the final notesleep takes it.
 */
static void park_wired(struct gpm_g *gp, gpm_unlockf unlockf, void *arg, uint16_t reason,
                       struct gpm_timer *t)
{
    gp->waitreason = reason;
    /* The clock itself: sysmon's stamps stop while every P is idle, which
       does not keep a wired or foreign G from parking. */
    gp->waitsince = gpm_nanotime();
    /* A wired G records on its M's track; a foreign one on the shared one. */
    struct gpm_m *tm = gp->lockedm;
    GPM_TRACE_EV(tm, TEV_GSTOP, TSTOP_PARK, 0, reason, gp->goid, gp->waitobj);
    gp->waitobj = 0;
    gpm_setgstatus(gp, G_RUNNING, G_WAITING);
    if (unlockf != NULL && !unlockf(NULL, gp, arg)) {
        gpm_setgstatus(gp, G_WAITING, G_RUNNABLE);
    } else {
        if (t != NULL && !gpm_notesleepuntil(&gp->wirednote, t->when))
            t->f(NULL, t->arg);
        gpm_notesleep(&gp->wirednote);
        gpm_noteclear(&gp->wirednote);
    }
    gpm_casgstatus(gp, G_RUNNABLE, G_RUNNING);
    GPM_TRACE_EV(tm, TEV_GSTART, 0, 0, 0, gp->goid, 0);
}

/*
 * park puts the calling G to sleep. After it is off its M (and marked
 * waiting), unlockf(gp, arg) runs on the next context; if it returns false,
 * the G is made runnable again at once. Whoever later finds the G through
 * what unlockf published calls gpm_ready.
 * Runs on the G's stack; may park. The G must hold no runtime lock other
 * than one unlockf releases.
 */
void gpm_park(gpm_unlockf unlockf, void *arg, uint16_t reason)
{
    gpm_park_timed(unlockf, arg, reason, NULL);
}

/* Arms t for a park by gp: onto the heap of gp's P (or, when its M has
   lost its P, of P0: any heap is run by any M), where any M may run it;
   for a wired G, park_wired watches the deadline itself. Must come before
   the caller takes any lock that t's function takes ("Lock order" in
   lock.h). */
void gpm_timer_arm(struct gpm_g *gp, struct gpm_timer *t)
{
    t->idx = -1;
    t->pp = NULL;
    if (gp->m != NULL)
        gpm_addtimer(gp->m->p != NULL ? gp->m->p : &gpm_sched.allp[0], t);
}

/*
 * A G that is still marked in a system call when it calls into gpm to park
 * or yield left the call without exitsyscall: a signal handler longjmp'ed
 * out of it (POSIX does not let a handler that interrupted a system call
 * make calls that block, so this is the only way). Finish the exit now.
 * Runs on gp's stack; may switch.
 */
static void leftsyscall(struct gpm_g *gp)
{
    if (__builtin_expect(gp->syscalldepth != 0, 0)) {
        gp->syscalldepth = 1;
        gpm_exitsyscall();
    }
}

/* park with a timer armed by gpm_timer_arm (or NULL). */
void gpm_park_timed(gpm_unlockf unlockf, void *arg, uint16_t reason, struct gpm_timer *t)
{
    struct gpm_g *gp = gpm_getg();
    struct gpm_m *mp = gp->m;
    if (mp == NULL) {
        park_wired(gp, unlockf, arg, reason, t);
        gpm_wirecheck(gp);
        return;
    }
    leftsyscall(gp);
    mp = gp->m;
    gpm_pin(mp); /* or no P: then switchout goes to g0, which parks mp */
    gp->waitreason = reason;
    gp->waitsince = waitstamp();
    mp->after = AFTER_PARK;
    mp->afterg = gp;
    mp->unlockf = unlockf;
    mp->unlockarg = arg;
    switchout(mp, gp);
    if (GPM_TRACING())
        gp->waitobj = 0;
    gpm_unpin(gp->m);
    gpm_wirecheck(gp);
}

/*
 * ready makes a waiting G runnable: into runnext of curm's P, which then
 * runs it as soon as the current G blocks (see "Handoff"), or onto the
 * global queue when curm has no P. curm is the calling M or NULL; its P
 * may be pinned by the caller (g0, a timer function, a switch path) or not
 * (a G's stack): then it is pinned here for the run queue.
 */
void gpm_ready_on(struct gpm_m *curm, struct gpm_g *gp)
{
    gpm_setgstatus(gp, G_WAITING, G_RUNNABLE);
    gp->waitreason = WAIT_NONE;
    if (GPM_TRACING())
        traceready(curm, gp);
    if (gp->kind == G_KIND_FOREIGN || gp->lockedm != NULL) {
        gpm_notewakeup(&gp->wirednote); /* "Wired Gs" */
        return;
    }
    bool pinnedbefore = curm != NULL && pinned(curm);
    bool pinhere = curm != NULL && !pinnedbefore && gpm_pin(curm);
    /* Only into a P this M holds pinned: not one left in P_SYSCALL by a
       call that a signal handler interrupted (gpm_pin fails then). */
    runqput_orglobal(pinnedbefore || pinhere ? curm : NULL, gp, true);
    if (pinhere)
        gpm_unpin(curm);
    wakep();
}

/* gpm_ready from G context (or from a thread that is not a G). */
void gpm_ready(struct gpm_g *gp)
{
    struct gpm_g *self = gpm_getg();
    gpm_ready_on(self ? self->m : NULL, gp);
}

/* Makes a new G runnable (gp is G_IDLE): runnext of the caller's P, so the
   new thread runs as soon as its creator blocks. Runs on a G's stack (or a
   foreign thread's). */
void gpm_runqput_new(struct gpm_g *gp)
{
    struct gpm_g *self = gpm_getg();
    struct gpm_m *curm = self ? self->m : NULL;
    gpm_setgstatus(gp, G_IDLE, G_RUNNABLE);
    GPM_TRACE_EV(curm, TEV_CREATE, 0, 0, GPM_TRACE_GOID(self), gp->goid, (uintptr_t)gp->startfn);
    bool pinhere = curm != NULL && gpm_pin(curm);
    if (curm != NULL)
        curm->stats.ngcreated++;
    runqput_orglobal(pinhere ? curm : NULL, gp, true);
    if (pinhere)
        gpm_unpin(curm);
    wakep();
}

/*
 * yield lets another runnable G of this P (or of the global queue) run and
 * puts the caller at the tail of the local queue. Returns false, at once,
 * when there was nothing else to run: then, as with a native sched_yield on
 * an otherwise idle CPU, the caller simply continues. A G whose M lost its
 * P gets one back (reacquirep) and counts as having yielded.
 * Runs on the G's stack.
 */
static bool yield(bool preempted);

bool gpm_yield(void)
{
    return yield(false);
}

/* sched_yield for the calling thread: another G of its P first; else, or
   for a thread the kernel schedules itself (not a G, foreign, wired), its
   kernel thread yields the CPU, as a native sched_yield does (another
   process's thread may be waiting for it). */
void gpm_sched_yield(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->kind == G_KIND_FOREIGN || gp->lockedm != NULL || !gpm_yield())
        gpm_syscall0(SYS_sched_yield);
}

/*
 * A G stopped by preemption yields to the global queue first: Gs readied
 * by threads without a P (the signal receiver, a G back from a system call
 * that found no P) wait there, and behind a P whose Gs compute they would
 * otherwise wait for the once-in-61-ticks look, 61 time slices.
 */
static bool yield(bool preempted)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL && gp->syscalldepth == 0)
        gpm_wirecheck(gp);
    if (gp == NULL || gp->m == NULL)
        return false; /* foreign or wired: nothing of gpm's to yield to */
    /* Before it knows whether it switches: a yield loop on a P of its own
       (nothing else runnable) must be checked too. */
    gpm_gstack_checkcanary(gp);
    leftsyscall(gp);
    struct gpm_m *mp = gp->m;
    if (!gpm_pin(mp)) {
        reacquirep(mp, gp);
        gpm_unpin(gp->m);
        gpm_sigcheck(gp);
        return true;
    }
    bool inheritTime = false;
    struct gpm_g *next = NULL;
    if (preempted && atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed) > 0) {
        gpm_lock(&gpm_sched.lock);
        next = gpm_globrunqget(mp->p, 1);
        gpm_unlock(&gpm_sched.lock);
    }
    if (next == NULL)
        next = runqget_nonblocking(mp->p, &inheritTime);
    if (next == NULL && atomic_load_explicit(&mp->p->timer0when, memory_order_relaxed) != 0) {
        /* A G that yields in a loop must not keep this P's timers from
           firing (the G they ready then runs). */
        gpm_checktimers(mp, mp->p, gpm_nanotime());
        next = runqget_nonblocking(mp->p, &inheritTime);
    }
    if (next == NULL) {
        gpm_unpin(mp);
        return false;
    }
    mp->after = AFTER_YIELD;
    mp->afterg = gp;
    execute(mp, next, false);
    GPM_TRACE_EV(mp, TEV_GSWITCH, preempted ? TSTOP_PREEMPT : TSTOP_YIELD, GPM_TRACE_P(mp->p), 0, next->goid,
                 gp->goid);
    mp->curfs = next->tcb;
    gpm_ctx_switch(&gp->sched_sp, next->sched_sp, next->tcb);
    gpm_finishswitch(gp->m);
    gpm_unpin(gp->m);
    gpm_wirecheck(gp);
    gpm_sigcheck(gp); /* what came while it waited to run ("Delivery" in signal.c) */
    return true;
}

/* The calling G has finished (glife.c tore its thread-local state down):
   leave its stack for good; gpm_goexit0 runs on the next context.
   Never returns. */
void gpm_goexit_switch(struct gpm_g *gp)
{
    gpm_gstack_checkcanary(gp);
    if (gp->lockedm != NULL || atomic_load_explicit(&gp->wirewant, memory_order_relaxed)) {
        struct gpm_m *wm = gpm_wire_detach(gp); /* "Wired Gs" */
        if (wm != NULL)
            wiredexit(gp, wm);
    }
    leftsyscall(gp);
    struct gpm_m *mp = gp->m;
    bool pinnedp = gpm_pin(mp); /* or no P: g0 frees the G to the global pool */
    mp->after = AFTER_EXIT;
    mp->afterg = gp;
    /* A joiner waits: switch to it directly ("Exit handoff" in glife.c).
       It resumes in its park with this M's P pinned, as after any switch
       from a G, and runs gpm_goexit0 for gp first thing. */
    struct gpm_g *jg = pinnedp ? gpm_join_claim(gp) : NULL;
    if (jg != NULL) {
        gpm_setgstatus(jg, G_WAITING, G_RUNNABLE);
        jg->waitreason = WAIT_NONE;
        GPM_TRACE_EV(mp, TEV_GSTOP, TSTOP_EXIT, GPM_TRACE_P(mp->p), 0, gp->goid, 0);
        GPM_TRACE_EV(mp, TEV_READY, 0, 0, 0, jg->goid, gp->goid);
        execute(mp, jg, true);
        GPM_TRACE_EV(mp, TEV_GSTART, 0, GPM_TRACE_P(mp->p), 0, jg->goid, 0);
        mp->curfs = jg->tcb;
        gpm_ctx_switch(&gp->sched_sp, jg->sched_sp, jg->tcb);
    } else {
        switchout(mp, gp);
    }
    /* Invariant: a dead G is never put back on a run queue. */
    gpm_throw("goexit: dead G resumed");
}

/* Pins the calling G's P for a short use of its G cache (gstack.c).
   Returns it, or NULL when the caller is not a G with a P. */
struct gpm_p *gpm_pinp(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || !gpm_pin(gp->m))
        return NULL;
    return gp->m->p;
}

void gpm_unpinp(struct gpm_p *pp)
{
    if (pp != NULL)
        gpm_unpin(gpm_getg()->m);
}

/* ---- Preemption ---------------------------------------------------------- */

/*
 * Preemption
 * ----------
 * sysmon asks a G to yield ("sysmon") in two ways at once:
 *   - Cooperative: it sets the flag gpm_tls_preempt in the G's own TLS
 *     (through the G's TCB: a static TLS variable is at the same offset
 *     from every thread's TCB). Every gpm entry point that a looping
 *     program may call without blocking tests it with one load
 *     (gpm_preemptpoint: mutex and spinlock try/lock, semaphore waits and
 *     posts, condition signals, the return of every wrapped system call)
 *     and calls gpm_preempted. execute clears it.
 *   - Asynchronous: it signals the G's M (preempt.c). If the signal landed
 *     in the program's own code, the handler makes the G call
 *     gpm_preempted on return, through the trampoline in
 *     asm/x86_64/preempt.S, which saves and restores every register.
 * sysmon also sets the flag on the G of an M whose P it revoked, so that
 * the G gets a P back at its next gpm call (reacquirep) rather than run on
 * without one.
 */
static void preempted(bool async)
{
    struct gpm_g *gp = gpm_getg();
    /* A preemption point reached with a wrapped call in progress is a
       signal handler's, nested in that call (sem_post is async-signal-safe):
       the G cannot yield from there. The flag stays set, and exitsyscall's
       preemption point sees it at the call's return. The asynchronous path
       never comes here so: the preemption signal is blocked in the
       program's handlers, and a G in the program's code with a count left
       over was longjmp'ed out of a call, which gpm_yield finishes. */
    if (gp != NULL && !async && gp->syscalldepth != 0)
        return;
    atomic_store_explicit(&gpm_tls_preempt, 0, memory_order_relaxed);
    if (gp == NULL || gp->m == NULL)
        return; /* a foreign thread: nothing to yield to */
    struct gpm_m *mp = gp->m;
    if (async)
        mp->stats.nasyncyield++;
    else
        mp->stats.ncoopyield++;
    /* The flag may be a signal's ("Delivery" in signal.c). */
    gpm_sigcheck(gp);
    yield(true);
    /* Stopped at an instruction of the program's: an asynchronous
       cancellation that came meanwhile acts here. */
    if (async)
        gpm_testcancel_async();
}

/* A gpm entry point found the preemption flag set. Runs on the G's stack,
   which holds no runtime lock and has its P unpinned; may switch. */
void gpm_preempted(void)
{
    preempted(false);
}

/* Called by the asynchronous preemption trampoline (asm/x86_64/preempt.S)
   on the interrupted G's stack, every register saved. */
void gpm_asyncpreempt2(void)
{
    preempted(true);
}

/* Sets gp's preemption flag (sysmon). gp's memory stays mapped: G blocks
   are pooled, never unmapped (gstack.c). */
void gpm_setpreempt(struct gpm_g *gp)
{
    if (gp != NULL && gp->tcb != NULL)
        atomic_store_explicit(preemptflag(gp), 1, memory_order_relaxed);
}

/* ---- Blocking system calls ---------------------------------------------- */

/*
 * System calls (Go's entersyscall, exitsyscall, handoffp, retake)
 * ---------------------------------------------------------------
 * A G about to enter a call that may block in the kernel calls
 * entersyscall: it marks itself G_SYSCALL and moves its P from P_USER(m)
 * to P_SYSCALL(m) ("P ownership"). When the call returns, exitsyscall
 * moves it back with one CAS if it is still there: a call that did not
 * block costs two atomics and no lock. If sysmon took the P meanwhile
 * (retake: the call lasted at least one sysmon tick and something waits
 * behind it, or no P is idle or spinning to pick up new work, or the call
 * lasted 10 ms), the G takes an idle P, or else goes on the global queue
 * while its M parks (reacquirep).
 *
 * A G whose M has already lost its P (revoked while it ran the program's
 * code) enters the call without one and gets one back in exitsyscall:
 * this is where most such Gs return to the fold.
 *
 * Calls nest: a signal handler that runs during a wrapped call may make
 * wrapped calls of its own; g->syscalldepth counts them, and only the
 * outermost pair moves the G and its P. A handler that longjmps out of a
 * wrapped call leaves the count behind: the G's next park or yield
 * finishes the exit (leftsyscall).
 *
 * entersyscallblock is for calls known to block (a process-shared lock
 * found taken): the P is handed off at once, without waiting for sysmon.
 * A foreign G has no P: both are no-ops for it.
 */

/* handoffp gives a P that no M holds (P_IDLE, on no list) to an M if it
   has something to do, or to the idle list. */
static void handoffp(struct gpm_p *pp)
{
    atomic_fetch_add_explicit(&gpm_sched.nhandoff, 1, memory_order_relaxed);
    if (!gpm_runqempty(pp) || atomic_load(&gpm_sched.runqsize) > 0 || atomic_load(&pp->timer0when) != 0) {
        startm(pp, false);
        return;
    }
    /* No local work: still, if nobody spins or idles, someone must be
       ready for work that arrives while the caller is in the kernel. */
    int32_t zero = 0;
    if (atomic_load(&gpm_sched.nmspinning) + atomic_load(&gpm_sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&gpm_sched.nmspinning, &zero, 1)) {
        startm(pp, true);
        return;
    }
    /* The last P going idle while Gs wait for files and no M blocks in
       the poller: an M takes it to poll (Go's handoffp does the same), or
       nobody would see those files become ready. */
    if (gpm_netpoll_waiting() && gpm_netpoll_last() != 0 &&
        atomic_load(&gpm_sched.npidle) == gpm_sched.gomaxprocs - 1) {
        startm(pp, false);
        return;
    }
    /* The look at the global queue again, under the lock that stopm's
       look takes (as Go's handoffp): an M that queued its G there since
       the look above, found no idle P and went to stopm is idle now, and
       startm gives it this P. */
    gpm_lock(&gpm_sched.lock);
    if (atomic_load(&gpm_sched.runqsize) != 0) {
        gpm_unlock(&gpm_sched.lock);
        startm(pp, false);
        return;
    }
    pidleput(pp);
    gpm_unlock(&gpm_sched.lock);
}

/* Whether sysmon must keep watching although every P is idle: Gs wait for
   files and no M blocks in the poller. */
bool gpm_netpoll_unwatched(void)
{
    return gpm_netpoll_waiting() && gpm_netpoll_last() != 0;
}

/* mp's P goes from P_USER(mp) to P_SYSCALL(mp). Returns false, with
   mp->p cleared, when mp has no P any more. Executed only by mp. */
bool gpm_p_tosyscall(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (pp == NULL)
        return false;
    atomic_store_explicit(&pp->syscalltick, atomic_load_explicit(&pp->syscalltick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (atomic_load_explicit(&mp->pinned, memory_order_relaxed))
        /* Invariant: a G is unpinned whenever it runs program code. */
        gpm_throwf("entersyscall: M%d enters a system call with its P pinned", mp->id);
    uintptr_t w = gpm_pword(mp, P_USER);
    /* release: as gpm_unpin (sysmon's retake acquires). */
    while (!atomic_compare_exchange_strong_explicit(&pp->state, &w, gpm_pword(mp, P_SYSCALL), memory_order_release,
                                                    memory_order_relaxed)) {
        if (w == gpm_pword(mp, P_RUNNING))
            gpm_throwf("entersyscall: M%d enters a system call with its P pinned", mp->id);
        if (w != gpm_pword(mp, P_REVOKING) || waitrevoke(pp, mp) != gpm_pword(mp, P_USER)) {
            mp->p = NULL; /* revoked */
            return false;
        }
        w = gpm_pword(mp, P_USER); /* sysmon gave it back: again */
    }
    return true;
}

/* mp's P goes from P_SYSCALL(mp) back to P_USER(mp). Returns false, with
   mp->p cleared, when sysmon took it meanwhile. Executed only by mp. */
bool gpm_p_fromsyscall(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (pp == NULL)
        return false;
    uintptr_t w = gpm_pword(mp, P_SYSCALL);
    /* acquire: as gpm_pin. */
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(&pp->state, &w, gpm_pword(mp, P_USER),
                                                                 memory_order_acquire, memory_order_relaxed),
                         1))
        return true;
    mp->p = NULL;
    return false;
}

/*
 * mp, back from a system call without its P, takes pp if pp's M is in a
 * system call now (Go's exitsyscallfast): P_SYSCALL(m2) -> P_RUNNING(mp).
 * m2 touches nothing of the P's while there, and finds it gone when it
 * returns, exactly as after sysmon's retake; without this, a P passes
 * between two threads that wait for each other in the kernel (a
 * thread-per-connection echo with one P) only at sysmon's pace.
 * Returns whether it did; then mp holds pp pinned. Executed only by mp.
 */
bool gpm_takesyscallp(struct gpm_m *mp, struct gpm_p *pp)
{
    uintptr_t w = atomic_load_explicit(&pp->state, memory_order_relaxed);
    if (gpm_pstatus(w) != P_SYSCALL || gpm_powner(w) == mp || mp->p != NULL)
        return false;
    /* acq_rel: as gpm_revoke. */
    if (!atomic_compare_exchange_strong_explicit(&pp->state, &w, gpm_pword(mp, P_RUNNING), memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    mp->p = pp;
    atomic_store_explicit(&mp->blockedoutside, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&gpm_sched.nretake, 1, memory_order_relaxed);
    GPM_TRACE_EV(mp, TEV_RETAKE, 0, GPM_TRACE_P(pp), 0, 0, gpm_powner(w)->id);
    return true;
}

void gpm_entersyscall(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->syscalldepth++ != 0)
        return;
    GPM_TRACE_EV(gp->m, TEV_SYSCALL, 0, 0, 0, gp->goid, 0);
    gpm_casgstatus(gp, G_RUNNING, G_SYSCALL);
    gpm_p_tosyscall(gp->m); /* without a P, exitsyscall gets one back */
}

void gpm_entersyscallblock(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->syscalldepth++ != 0)
        return;
    struct gpm_m *mp = gp->m;
    GPM_TRACE_EV(mp, TEV_SYSCALL, 0, 0, 0, gp->goid, 0);
    gpm_casgstatus(gp, G_RUNNING, G_SYSCALL);
    if (gpm_pin(mp)) {
        GPM_TRACE_EV(mp, TEV_HANDOFF, 0, GPM_TRACE_P(mp->p), 0, 0, 0);
        handoffp(gpm_releasep(mp));
    }
}

void gpm_exitsyscall(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->syscalldepth == 0 || --gp->syscalldepth != 0)
        return;
    struct gpm_m *mp = gp->m;
    struct gpm_p *oldp = mp->p;
    GPM_TRACE_EV(mp, TEV_SYSRET, 0, 0, 0, gp->goid, 0);
    if (gpm_p_fromsyscall(mp)) {
        gpm_casgstatus(gp, G_SYSCALL, G_RUNNING);
        gpm_preemptpoint();
        return;
    }
    if (oldp != NULL && gpm_takesyscallp(mp, oldp)) {
        GPM_TRACE_EV(mp, TEV_PCHANGE, 0, GPM_TRACE_P(oldp), 0, gp->goid, 0);
        gpm_casgstatus(gp, G_SYSCALL, G_RUNNING);
        gpm_unpin(mp);
        return;
    }
    struct gpm_p *pp = pidleget_nolock();
    if (pp != NULL) {
        gpm_acquirep(mp, pp);
        GPM_TRACE_EV(mp, TEV_PCHANGE, 0, GPM_TRACE_P(pp), 0, gp->goid, 0);
        gpm_casgstatus(gp, G_SYSCALL, G_RUNNING);
        gpm_unpin(mp);
        return;
    }
    mp->after = AFTER_REQUEUE;
    mp->afterg = gp;
    switchout(mp, gp);
    gpm_unpin(gp->m);
}

/* ---- sysmon's part --------------------------------------------------------- */

/*
 * sysmon: retake, revoke, preempt
 * -------------------------------
 * sysmon (sysmon.c) looks at every P each period (20 µs, backing off to
 * 10 ms while it finds nothing to do) and remembers, per P, when its
 * schedtick last moved. Something waits behind a P when its run queue is
 * not empty, one of its timers is due, or the global queue holds Gs and no
 * P is idle to take them (pwork). Then:
 *   - P_SYSCALL: retake, as Go: after one period when something waits or
 *     no P idles or spins to take new work; after 10 ms regardless.
 *   - P_USER, schedtick still since the last look, something waiting: how
 *     much CPU did the M use since sysmon's previous look (its thread CPU
 *     clock, one system call)? Almost none (under an eighth of the time),
 *     and the kernel says it sleeps (state S or D in /proc, read only
 *     then: a runnable thread waiting for a CPU uses none either): it
 *     sleeps where gpm cannot see (fgets's read, a libc lock, an inline
 *     futex): revoke its P and hand the P off. Otherwise it computes: once
 *     the G has run GPM_PREEMPT_MS (10 ms) without a scheduler pass, ask it
 *     to yield ("Preemption"), and signal it again every millisecond (a
 *     signal that finds it in libc or gpm only sets the flag); if it still
 *     has not yielded GPM_PREEMPT_MS after the first request (the signal is
 *     blocked on that thread, or it never reaches a safe point), revoke its
 *     P anyway: the G runs on without one until its next gpm call.
 *   - Timers or queued Gs nobody runs: gpm_sysmon_stranded.
 * So nothing waits behind a P for more than about two sysmon periods when
 * its M sleeps, or GPM_PREEMPT_MS and a period when its G computes.
 */

/* Whether something waits behind pp (see above). sysmon only. */
static bool pwork(struct gpm_p *pp, int64_t now)
{
    if (!gpm_runqempty(pp))
        return true;
    int64_t t = atomic_load_explicit(&pp->timer0when, memory_order_relaxed);
    if (t != 0 && t <= now)
        return true;
    return atomic_load(&gpm_sched.runqsize) > 0 && atomic_load(&gpm_sched.npidle) == 0;
}

/* CPU time used by mp's kernel thread, in ns (its thread CPU clock, which
   any thread of the process may read), or -1. */
static int64_t mcputime(struct gpm_m *mp)
{
    struct timespec ts;
    if (gpm_syscall2(SYS_clock_gettime, GPM_THREAD_CPUCLOCK(mp->procid), (long)&ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Whether mp's kernel thread is asleep in the kernel (state S or D in
   /proc/self/task/TID/stat), rather than runnable and waiting for a CPU,
   which its CPU clock alone cannot tell apart. sysmon only. */
static bool msleeping(struct gpm_m *mp)
{
    char path[48], buf[512];
    gpm_snprintf(path, sizeof path, "/proc/self/task/%d/stat", mp->procid);
    long n = gpm_readfile(path, buf, sizeof buf);
    if (n <= 0)
        return false;
    char *paren = NULL;
    for (char *c = buf; *c; c++)
        if (*c == ')')
            paren = c;
    return paren != NULL && paren[1] == ' ' && (paren[2] == 'S' || paren[2] == 'D');
}

/* Asks the G running on mp (pp's owner, outside gpm) to yield: the flag,
   and, with signal, the signal. sysmon signals only a G that runs the
   program's code and made no wrapped system call since its last look: a
   G that makes them comes back through exitsyscall's preemption point
   soon enough, and a signal that lands in a call SA_RESTART does not
   restart (poll, epoll_wait) would be EINTR for the program. sysmon
   only. */
static void preemptone(struct gpm_m *mp, bool signal)
{
    struct gpm_g *gp = mp->curg;
    if (gp == NULL)
        return;
    atomic_fetch_add_explicit(&gpm_sched.npreemptreq, 1, memory_order_relaxed);
    GPM_TRACE_EV(NULL, TEV_PREEMPT, 0, 0, 0, gp->goid, mp->id);
    gpm_setpreempt(gp);
    /* Not a G that entered a wrapped call since sysmon looked at its P: a
       system call that SA_RESTART does not restart (poll, epoll_wait)
       would return EINTR to the program. (What remains is the time between
       this load and the signal's arrival: docs/COMPAT.md.) */
    if (signal && gpm_readgstatus(gp) == G_RUNNING && gpm_preempt_signal(mp))
        atomic_fetch_add_explicit(&gpm_sched.npreemptsig, 1, memory_order_relaxed);
}

/* Takes pp from its M (outside gpm, state w) and hands it off. sysmon
   only. Returns whether it did. */
static bool takep(struct gpm_p *pp, uintptr_t w, bool blocked)
{
    struct gpm_m *mp = gpm_powner(w);
    if (!gpm_revoke(pp, w))
        return false;
    GPM_TRACE_EV(NULL, TEV_RETAKE, 0, GPM_TRACE_P(pp), 0, 0, mp->id);
    if (gpm_pstatus(w) == P_SYSCALL) {
        atomic_fetch_add_explicit(&gpm_sched.nretake, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&gpm_sched.nrevoke, 1, memory_order_relaxed);
        atomic_store_explicit(&mp->blockedoutside, blocked, memory_order_relaxed);
        /* The G gets a P back at its next gpm call (reacquirep). */
        gpm_setpreempt(mp->curg);
    }
    handoffp(pp);
    return true;
}

/* How often sysmon signals a G it asked to yield, until it does. */
#define RESIGNAL_NS 1000000

int gpm_retake(int64_t now, int64_t *wakeby)
{
    int n = 0;
    int64_t preemptns = (int64_t)gpm_config.preemptms * 1000000;
    *wakeby = INT64_MAX;
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        uintptr_t w = atomic_load(&pp->state);
        uint32_t st = gpm_pstatus(w);
        uint32_t sched = atomic_load_explicit(&pp->schedtick, memory_order_relaxed);
        uint32_t sys = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
        /* A light pin looks like P_USER from here ("P ownership"). */
        if (st == P_USER && atomic_load_explicit(&gpm_powner(w)->pinned, memory_order_relaxed))
            st = P_RUNNING;
        if (st == P_IDLE || st == P_RUNNING || pp->sysmon.schedtick != sched) {
            /* Idle, inside gpm, or a scheduler pass since the last look:
               nothing waits behind it for now. */
            pp->sysmon.schedtick = sched;
            pp->sysmon.schedwhen = now;
            pp->sysmon.cpum = NULL;
            pp->sysmon.preemptwhen = 0;
            if (st == P_IDLE || st == P_RUNNING)
                continue;
        }
        bool work = pwork(pp, now);
        struct gpm_m *mp = gpm_powner(w);
        /* No wrapped system call since the last look: only then is the G
           worth a signal (see preemptone). */
        bool quiet = pp->sysmon.lastsyscalltick == sys;
        pp->sysmon.lastsyscalltick = sys;
        if (st == P_SYSCALL) {
            if (pp->sysmon.syscalltick != sys) {
                /* A new call since the last look: give it one period. */
                pp->sysmon.syscalltick = sys;
                pp->sysmon.syscallwhen = now;
            } else if (work || atomic_load(&gpm_sched.nmspinning) + atomic_load(&gpm_sched.npidle) == 0 ||
                       now - pp->sysmon.syscallwhen >= 10000000) {
                n += takep(pp, w, false);
                continue;
            }
        }
        if (!work) {
            pp->sysmon.cpum = NULL;
            continue;
        }
        /* Something waits behind a G that has not given way since
           schedwhen: it sleeps outside gpm, or it computes (quick system
           calls in a loop count as computing). */
        if (st == P_USER) {
            int64_t cpu = mcputime(mp);
            if (pp->sysmon.cpum == mp && cpu >= 0) {
                int64_t used = cpu - pp->sysmon.cpu, elapsed = now - pp->sysmon.cpuwhen;
                if (used < elapsed / 8 && msleeping(mp)) {
                    n += takep(pp, w, true);
                    continue;
                }
            }
            pp->sysmon.cpum = cpu >= 0 ? mp : NULL;
            pp->sysmon.cpu = cpu;
            pp->sysmon.cpuwhen = now;
        }
        if (pp->sysmon.preemptwhen == 0) {
            int64_t due = pp->sysmon.schedwhen + preemptns;
            if (now < due) {
                if (due < *wakeby)
                    *wakeby = due;
                continue;
            }
            pp->sysmon.preemptwhen = pp->sysmon.signalwhen = now;
            preemptone(mp, st == P_USER && quiet);
            n++;
        } else if (st == P_USER && now - pp->sysmon.preemptwhen >= preemptns) {
            /* Asked GPM_PREEMPT_MS ago and still there (the signal is
               blocked on that thread, or it never found the G at a safe
               point): take the P; the G runs on without it. */
            n += takep(pp, w, false);
            continue;
        } else if (st == P_USER && now - pp->sysmon.signalwhen >= RESIGNAL_NS) {
            /* The last signal found the G in libc or gpm (a loop that
               calls clock_gettime, say): try again. */
            pp->sysmon.signalwhen = now;
            preemptone(mp, quiet);
        }
        int64_t next = pp->sysmon.signalwhen + RESIGNAL_NS;
        if (next > pp->sysmon.preemptwhen + preemptns)
            next = pp->sysmon.preemptwhen + preemptns;
        if (next < *wakeby)
            *wakeby = next;
    }
    return n;
}

/* Work nobody runs, while a P is idle and no M spins: a timer over 1 ms
   late (the timer M would have run it), or Gs on the global queue (left
   there by an M that could not be made, mnotstarted, while the Ms there
   are sit in the kernel). Start an M with an idle P: findrunnable runs
   every P's due timers and takes the queued Gs. For the second, that asks
   the kernel for a thread again each round: its limit (RLIMIT_NPROC,
   RLIMIT_AS, memory) may have lifted since. sysmon only. */
void gpm_sysmon_stranded(int64_t now)
{
    int64_t next = gpm_timers_earliest();
    bool late = next != 0 && now - next >= 1000000;
    if (!late && atomic_load(&gpm_sched.runqsize) == 0)
        return;
    if (atomic_load(&gpm_sched.npidle) == 0 || atomic_load(&gpm_sched.nmspinning) != 0)
        return;
    startm(NULL, false);
}

/* Whether no P is in use and no G waits for one (sysmon may then sleep;
   queued Gs with every P idle are stranded: gpm_sysmon_stranded). */
bool gpm_allpidle(void)
{
    if (atomic_load(&gpm_sched.runqsize) != 0)
        return false;
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++)
        if (gpm_pstatus(atomic_load(&gpm_sched.allp[i].state)) != P_IDLE)
            return false;
    return true;
}

/* ---- Wired Gs ------------------------------------------------------------ */

/*
 * Wired Gs
 * --------
 * Some of what a program asks of "a thread" is the kernel's business and
 * is meant for one kernel thread: a CPU affinity (pthread_setaffinity_np,
 * pthread_attr_setaffinity_np, sched_setaffinity) and a scheduling policy
 * (SCHED_FIFO and SCHED_RR, also SCHED_BATCH and SCHED_IDLE: through
 * attributes, pthread_setschedparam, pthread_setschedprio,
 * sched_setscheduler, sched_setparam). Applied to an M, it would hold for
 * every G that M runs after. So a G that asks for one is *wired*: it gets
 * a kernel thread of its own, a wired M, with the affinity or policy
 * applied to that thread, and runs only there until it asks for the
 * ordinary again (SCHED_OTHER on every CPU of the process) or exits. A
 * foreign G (DESIGN.md section 6) is wired from birth, to the kernel
 * thread it came with.
 *
 * How a wired G runs. Go's locked Gs (LockOSThread) keep their place in
 * the scheduler: a locked G holds a P while it runs, and when it is
 * readied, whichever M picks it hands its P to the G's own M and sleeps
 * (startlockedm, stoplockedm). We do not copy that. A wired G runs like a
 * foreign one: without a P and without a scheduler M (gp->m is NULL), on
 * its wired M's kernel thread (gp->lockedm), and it parks that thread on
 * gp->wirednote (park_wired); gpm_ready wakes the note instead of queueing
 * the G. Why:
 *   - Real time. A SCHED_FIFO thread that wakes must run at once, before
 *     every SCHED_OTHER thread: the kernel does that for a kernel thread
 *     of that policy. If the G had to get a P first, it would wait behind
 *     whatever ordinary G holds one, up to a preemption period (10 ms),
 *     and the policy would mean nothing; the same for a G pinned to a CPU
 *     whose Ps are all held elsewhere.
 *   - Cost. A wake-up is one futex wake of the G's own thread, as for a
 *     native thread; Go's way costs two kernel context switches (the M
 *     that finds the G sleeps, the locked M wakes) and a P passed between
 *     threads.
 *   - Less to get wrong. The foreign G path exists already; wiring adds
 *     only the moves between a scheduler M and a wired M.
 * The price: wired Gs do not count against GPM_MAXPROCS. They are
 * scheduled by the kernel, each on its own kernel thread, as foreign
 * threads and Gs blocked in system calls are; GPM_MAXPROCS bounds the Gs
 * that gpm schedules. A program that wires a hundred threads that compute
 * has a hundred kernel threads computing, as it would natively; it asked
 * for that by placing them itself.
 *
 * Wired Ms. A wired M (mp->wired) is a kernel thread of gpm's, made with
 * libc's pthread_create by the G that needs it (gpm_newwiredm: on a G's
 * stack, unpinned, like gpm_mmaker_start), counted in allm like every M.
 * Its g0 is its native stack; it never holds a P, and it runs one G, its
 * lockedg, and nothing else: wiredmloop sleeps on mp->park until it is
 * given a G, switches to it, and gets control back only when that G
 * unwires or exits. Then it restores the ordinary policy and the
 * process's affinity on its thread and goes back to a pool (wire.c) for
 * the next G that asks. Wired Ms are never freed, as no M is.
 *
 * The moves. Each is a switch of the G's own context between a scheduler
 * M and its wired M, with the switch protocol's after-work:
 *
 *   wiring (gpm_wire_self): the G, on scheduler M m, switches away as for
 *   a park (AFTER_PARK, WAIT_WIRE); its unlockf, on m's next context,
 *   makes it G_RUNNABLE and wakes the wired M, which makes it G_RUNNING
 *   and switches to it. The P stays with m, which runs on.
 *
 *   a new G that asks at creation (gpm_wire_start): made runnable and
 *   given to its wired M directly, never queued.
 *
 *   unwiring (gpm_unwire_self): the G switches to its wired M's g0
 *   (AFTER_UNWIRE), which makes it G_RUNNABLE on the global queue; a
 *   scheduler M runs it again from there, and the G finishes that M's
 *   switch on return, as after any switch.
 *
 *   exit (wiredexit): the G switches to its wired M's g0 with AFTER_EXIT,
 *   which runs gpm_goexit0 there instead of on a scheduler M.
 *
 * A G is asked to change by another thread (pthread_setaffinity_np on it)
 * while it runs, waits or sits in a run queue: wire.c applies the request
 * to the target's wired M, or to a fresh one set aside in gp->wiringm, at
 * once (so the kernel's verdict is returned, and getters see it), and the
 * target moves at its next switch point (gpm_wirecheck: when a park ends,
 * at a yield, at a preemption point; the setter asks it to yield). Until
 * then a G that computes in a loop without calling gpm runs on the CPU it
 * was on (docs/COMPAT.md).
 */

/* Start routine of a wired M's kernel thread ("Wired Gs"). Never returns. */
static void *wiredmloop(void *arg)
{
    struct gpm_m *mp = arg;
    mp->procid = gpm_gettid();
    mp->owntcb = gpm_rdtp();
    mp->dtvmem = gpm_dtvmem(mp->owntcb);
    mp->curfs = mp->owntcb;
    mp->g0started = true;
    mp->nativeg0 = true;
    /* As mstart: the Ms' mask ("The kernel's masks" in signal.c). */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)(gpm_sigrouting() ? &gpm_msigmask : &gpm_initsigmask), 0,
                 8);
    gpm_m_sigstack(mp);
    for (;;) {
        gpm_notesleep(&mp->park);
        gpm_noteclear(&mp->park);
        struct gpm_g *gp = mp->lockedg;
        if (gp == NULL)
            /* Invariant: a wired M is woken only to run its G. */
            gpm_throwf("wiredm: M%d woken without a G", mp->id);
        gpm_casgstatus(gp, G_RUNNABLE, G_RUNNING);
        mp->curg = gp;
        mp->curfs = gp->tcb;
        mp->stats.nswitch++;
        GPM_TRACE_EV(mp, TEV_GSTART, 0, 0, 0, gp->goid, 0);
        gpm_ctx_switch(&mp->g0_sp, gp->sched_sp, gp->tcb);
        /* gp left for good: it unwired or exited, with gp->lockedm
           cleared (gpm_wire_detach). Its TCB is still loaded. */
        mp->curg = NULL;
        gpm_m_useowntls(mp);
        uint8_t after = mp->after;
        struct gpm_g *prev = mp->afterg;
        mp->after = AFTER_NONE;
        mp->afterg = NULL;
        GPM_TRACE_EV(mp, TEV_GSTOP, after == AFTER_EXIT ? TSTOP_EXIT : TSTOP_REQUEUE, 0, 0, gp->goid, 0);
        if (prev != gp)
            /* Invariant: only its own G runs on a wired M. */
            gpm_throwf("wiredm: M%d left by G%lu, not its own", mp->id, prev ? (unsigned long)prev->goid : 0UL);
        if (after == AFTER_EXIT) {
            gpm_goexit0(mp, prev);
        } else if (after == AFTER_UNWIRE) {
            gpm_casgstatus(prev, G_RUNNING, G_RUNNABLE);
            gpm_lock(&gpm_sched.lock);
            gpm_globrunqput(prev);
            gpm_unlock(&gpm_sched.lock);
            wakep();
        } else {
            /* Invariant: every action a wired M is given is above. */
            gpm_throw("wiredm: bad action");
        }
        gpm_wiredm_put(mp);
    }
}

/*
 * newwiredm makes a wired M, waiting for a G, with its kernel thread's id
 * known. Returns NULL when the kernel gives no more threads or memory. Runs on a G's
 * stack, unpinned (it calls pthread_create), or on a foreign thread.
 */
struct gpm_m *gpm_newwiredm(void)
{
    struct gpm_m *mp = allocm();
    if (mp == NULL)
        return NULL;
    mp->wired = true;
    pthread_t th;
    int err = gpm_start_kthread(wiredmloop, mp, M_STACK_SIZE, &th);
    if (err != 0) {
        gpm_lock(&gpm_sched.lock);
        mp->wired = false;
        mp->schedlink = mfreelist;
        mfreelist = mp;
        gpm_unlock(&gpm_sched.lock);
        return NULL;
    }
    /* clone stored the new thread's id in its TCB (CLONE_PARENT_SETTID)
       before pthread_create returned: the caller may apply attributes to
       it at once. The thread stores the same value again. */
    mp->procid = TCB_FIELD((void *)th, TCB_OFF_TID, int);
    publishm(mp);
    return mp;
}

/* unlockf of gpm_wire_self: on the M the G left, give it to its wired M. */
static bool wire_unlockf(struct gpm_m *mp, struct gpm_g *gp, void *arg)
{
    (void)mp;
    struct gpm_m *wm = arg;
    gpm_casgstatus(gp, G_WAITING, G_RUNNABLE);
    gp->waitreason = WAIT_NONE;
    gpm_notewakeup(&wm->park);
    return true;
}

/*
 * wire_self moves the calling G, which runs on a scheduler M, onto wm,
 * whose lockedg it is and which is its gp->lockedm (wire.c set both).
 * Returns on wm's kernel thread, without a P. Runs on the G's stack,
 * unpinned, in no wrapped system call; switches.
 */
void gpm_wire_self(struct gpm_m *wm)
{
    struct gpm_g *gp = gpm_getg();
    leftsyscall(gp);
    struct gpm_m *mp = gp->m;
    gpm_pin(mp); /* or no P: then switchaway goes to g0, which parks mp */
    gp->waitreason = WAIT_WIRE;
    gp->waitsince = waitstamp();
    mp->after = AFTER_PARK;
    mp->afterg = gp;
    mp->unlockf = wire_unlockf;
    mp->unlockarg = wm;
    switchaway(mp, gp);
    /* On wm now: its loop finished nothing of ours (there is nothing). */
}

/*
 * unwire_self moves the calling wired G back to the scheduler: it leaves
 * wm (its gp->lockedm, already cleared by wire.c) to wm's g0, which queues
 * it. Returns on a scheduler M, with that M's P unpinned.
 * Runs on the G's stack, on wm's kernel thread; switches.
 */
void gpm_unwire_self(struct gpm_m *wm)
{
    struct gpm_g *gp = gpm_getg();
    wm->after = AFTER_UNWIRE;
    wm->afterg = gp;
    gpm_ctx_switch(&gp->sched_sp, wm->g0_sp, NULL);
    gpm_finishswitch(gp->m);
    gpm_unpin(gp->m);
}

/* wire_start gives a new G (G_IDLE, wired to wm by wire.c) to wm, which
   starts it. Runs on the creating thread's stack. */
void gpm_wire_start(struct gpm_g *gp, struct gpm_m *wm)
{
    gpm_casgstatus(gp, G_IDLE, G_RUNNABLE);
    gpm_notewakeup(&wm->park);
}

/* The calling wired G has finished (as gpm_goexit_switch) and left wm
   (gpm_wire_detach): switch to wm's g0, which runs gpm_goexit0. Never
   returns. */
static void wiredexit(struct gpm_g *gp, struct gpm_m *wm)
{
    wm->after = AFTER_EXIT;
    wm->afterg = gp;
    gpm_ctx_switch(&gp->sched_sp, wm->g0_sp, NULL);
    /* Invariant: a dead G is never resumed. */
    gpm_throw("goexit: dead wired G resumed");
}

/* ---- Start-up ---------------------------------------------------------- */

/*
 * schedinit builds the Ps and M0, and turns the calling flow into G1
 * running on M0 with P0. Runs once, on the thread that first enters gpm
 * (normally the main thread, from the constructor).
 */
bool gpm_schedinit(struct gpm_g *g1, void *m0tcb)
{
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, 0, (long)&gpm_initsigmask, 8);
    int32_t procs = gpm_config.maxprocs;
    gpm_sched.gomaxprocs = procs;
    gpm_sched.maxmcount = gpm_config.maxthreads;
    gpm_sched.allp = gpm_persistentalloc(sizeof(struct gpm_p) * (size_t)procs, 64);
    struct gpm_m *m0 = allocm();
    if (gpm_sched.allp == NULL || m0 == NULL || !makeg0(m0))
        return false;
    for (int32_t i = 0; i < procs; i++)
        gpm_sched.allp[i].id = i;
    gpm_tls_preempt_off = (char *)&gpm_tls_preempt - (char *)g1->tcb;

    m0->procid = gpm_gettid();
    m0->owntcb = m0tcb;
    gpm_m_sigstack(m0);
    m0->curfs = g1->tcb;
    publishm(m0);

    gpm_pinfence_init(true);
    /* P0 goes to M0; the rest are idle. */
    for (int32_t i = procs - 1; i >= 1; i--) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        pp->link = gpm_sched.pidle;
        gpm_sched.pidle = pp;
        atomic_fetch_add(&gpm_sched.npidle, 1);
    }
    gpm_acquirep(m0, &gpm_sched.allp[0]);

    atomic_store(&g1->atomicstatus, G_RUNNING);
    g1->m = m0;
    m0->curg = g1;
    gpm_tls_g = g1;
    atomic_store(&gpm_sched.nthreads, 1);
    gpm_sched.started = true;
    gpm_unpin(m0); /* G1 goes back to the program */
    return true;
}
