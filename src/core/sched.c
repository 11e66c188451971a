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
 *   1. every 61st pass, one G from the global queue (fairness, runq.c);
 *   2. runnext, then its local queue;
 *   3. the global queue;
 *   4. steal half of another P's queue (4 rounds over all Ps in random
 *      order; in the last round, runnext too);
 *   5. give up the P and park the M.
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
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../compat/libc_real.h"
#include "alloc.h"
#include "ctx.h"
#include "env.h"
#include "glife.h"
#include "gstack.h"
#include "sys.h"
#include "timer.h"
#include "valgrind.h"

__thread struct gpm_g *gpm_tls_g __attribute__((tls_model("initial-exec")));
struct gpm_schedt gpm_sched;
sigset_t gpm_initsigmask;

/* g0 stacks that gpm maps itself (M0). g0 runs only the scheduler and the
   occasional libc call (pthread_create for a new M). */
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
        gpm_throwf("casgstatus: bad transition %s -> %s for G%lu", gpm_gstatus_name(oldval),
                   gpm_gstatus_name(newval), (unsigned long)gp->goid);
    uint32_t cur = oldval;
    if (!atomic_compare_exchange_strong_explicit(&gp->atomicstatus, &cur, newval, memory_order_acq_rel,
                                                 memory_order_acquire))
        gpm_throwf("casgstatus: G%lu is %s, expected %s (-> %s)", (unsigned long)gp->goid,
                   gpm_gstatus_name(cur), gpm_gstatus_name(oldval), gpm_gstatus_name(newval));
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

static struct gpm_m *allocm(void)
{
    struct gpm_m *mp = gpm_persistentalloc(sizeof *mp, 64);
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

/* Associates pp with mp. pp must be idle. Executed by mp. */
static void acquirep(struct gpm_m *mp, struct gpm_p *pp)
{
    if (mp->p != NULL || pp->m != NULL || atomic_load(&pp->status) != P_IDLE)
        gpm_throwf("acquirep: M%d has P %d, P %d has M%d, status %u", mp->id, mp->p ? mp->p->id : -1,
                   pp->id, pp->m ? pp->m->id : -1, atomic_load(&pp->status));
    mp->p = pp;
    pp->m = mp;
    atomic_store(&pp->status, P_RUNNING);
}

/* Disassociates mp's P and returns it. Executed by mp. */
static struct gpm_p *releasep(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (pp == NULL || pp->m != mp || atomic_load(&pp->status) != P_RUNNING)
        gpm_throw("releasep: invalid P state");
    mp->p = NULL;
    pp->m = NULL;
    atomic_store(&pp->status, P_IDLE);
    return pp;
}

/* Puts pp on the idle list. sched.lock must be held. */
static void pidleput(struct gpm_p *pp)
{
    if (!gpm_runqempty(pp))
        gpm_throw("pidleput: P has non-empty run queue");
    if (pp->spare && atomic_load(&pp->timer0when) == 0) {
        /* A lent spare with nothing left to do goes back to rest. */
        atomic_store(&pp->status, P_SPARE);
        return;
    }
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

/* Puts mp on the idle M list. sched.lock must be held. */
static void mput(struct gpm_m *mp)
{
    mp->schedlink = gpm_sched.midle;
    gpm_sched.midle = mp;
    gpm_sched.nmidle++;
}

/* Takes an idle M, or NULL. sched.lock must be held. */
static struct gpm_m *mget(void)
{
    struct gpm_m *mp = gpm_sched.midle;
    if (mp != NULL) {
        gpm_sched.midle = mp->schedlink;
        gpm_sched.nmidle--;
    }
    return mp;
}

static void g0loop(struct gpm_m *mp) __attribute__((noreturn));

/* Start routine of the kernel threads gpm creates. */
static void *mstart(void *arg)
{
    struct gpm_m *mp = arg;
    mp->procid = gpm_gettid();
    mp->owntcb = gpm_rdtp();
    mp->curfs = mp->owntcb;
    mp->g0started = true; /* g0 is this native stack; saved at its first switch */
    /* Whoever made this kernel thread (a G, or sysmon, which blocks every
       signal) gave it its own mask; an M starts with the mask the program
       started with, so that the Gs it runs see what threads normally see. */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_initsigmask, 0, 8);
    publishm(mp);
    if (mp->nextp != NULL) {
        acquirep(mp, mp->nextp);
        mp->nextp = NULL;
    }
    g0loop(mp);
}

/*
 * newm creates a kernel thread for a new M that starts with pp (or idle,
 * parking itself, when pp is NULL) and the given spinning state.
 * curm is the calling M, or NULL on a thread that is not an M. If curm is on
 * g0, its own TLS is loaded first: pthread_create is a libc call.
 */
static void newm(struct gpm_m *curm, struct gpm_p *pp, bool spinning)
{
    if (gpm_sched.mnext >= gpm_sched.maxmcount)
        gpm_throwf("program exceeds %d-thread limit (GPM_MAXTHREADS): every kernel thread is blocked in a system call",
                   gpm_sched.maxmcount);
    if (curm != NULL && curm->curg == NULL)
        gpm_m_useowntls(curm);
    struct gpm_m *mp = allocm();
    mp->nextp = pp;
    mp->spinning = spinning;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, M_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int err = gpm_real.pthread_create(&th, &attr, mstart, mp);
    pthread_attr_destroy(&attr);
    if (err == 0)
        return;
    /* Out of memory or threads: carry on with the Ms there are; the P goes
       back to the idle list and the work waits for a running M. The M
       struct is lost (Ms are never freed). */
    if (pp != NULL) {
        gpm_lock(&gpm_sched.lock);
        pidleput(pp);
        gpm_unlock(&gpm_sched.lock);
    }
    if (spinning && atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
        gpm_throw("newm: negative nmspinning");
}

/*
 * startm schedules some M to run pp (an idle P if pp is NULL; if there is
 * none, it does nothing). With spinning, the caller has incremented
 * nmspinning and startm passes that on to the M it starts.
 */
static void startm(struct gpm_m *curm, struct gpm_p *pp, bool spinning)
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
        newm(curm, pp, spinning);
        return;
    }
    if (nmp->spinning)
        gpm_throw("startm: M is spinning");
    if (nmp->nextp != NULL)
        gpm_throw("startm: M has P");
    nmp->spinning = spinning;
    nmp->nextp = pp;
    gpm_notewakeup(&nmp->park);
}

/* Tries to add one more spinning M to run Gs when there is an idle P and no
   M spinning already. curm as in newm. Called by whoever makes a G
   runnable. */
static void wakep(struct gpm_m *curm)
{
    if (atomic_load(&gpm_sched.npidle) == 0)
        return;
    /* Be conservative about spinning threads: start one only if none is. */
    int32_t zero = 0;
    if (atomic_load(&gpm_sched.nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&gpm_sched.nmspinning, &zero, 1))
        return;
    startm(curm, NULL, true);
}

void gpm_wakep(void)
{
    struct gpm_g *gp = gpm_getg();
    wakep(gp ? gp->m : NULL);
}

/* Starts one idle M at start-up, so that a kernel thread made by
   pthread_create exists before any G runs: glibc turns on the locks of
   malloc and stdio only then (DESIGN.md section 5). Runs on G1. */
void gpm_startspare(void)
{
    newm(gpm_getg()->m, NULL, false);
}

/* Takes mp off the idle M list if it is still there. sched.lock held. */
static bool mremove(struct gpm_m *mp)
{
    for (struct gpm_m **pp = &gpm_sched.midle; *pp != NULL; pp = &(*pp)->schedlink) {
        if (*pp == mp) {
            *pp = mp->schedlink;
            gpm_sched.nmidle--;
            return true;
        }
    }
    return false;
}

/*
 * stopm stops mp until there is work for it, and returns with a P.
 * While some P has timers, it sleeps no later than the earliest of them
 * (see "Who runs timers" in timer.c): then, if nobody has handed it a P
 * meanwhile, it takes an idle P itself and returns, and findrunnable runs
 * the timers. When every P is busy, their own Ms run their timers, and mp
 * sleeps until it is woken.
 */
static void stopm(struct gpm_m *mp)
{
    if (mp->p != NULL)
        gpm_throw("stopm: holding p");
    if (mp->spinning)
        gpm_throw("stopm: spinning");
    gpm_m_useowntls(mp);
    for (;;) {
        gpm_lock(&gpm_sched.lock);
        mput(mp);
        gpm_unlock(&gpm_sched.lock);
        int64_t when = gpm_timers_earliest();
        if (when == 0) {
            gpm_notesleep(&mp->park);
            break;
        }
        if (gpm_notesleepuntil(&mp->park, when))
            break;
        /* Timed out: unless startm picked mp meanwhile (its wake-up is on
           the way), leave the idle list with an idle P. */
        gpm_lock(&gpm_sched.lock);
        if (!mremove(mp)) {
            gpm_unlock(&gpm_sched.lock);
            gpm_notesleep(&mp->park);
            break;
        }
        struct gpm_p *pp = pidleget();
        gpm_unlock(&gpm_sched.lock);
        if (pp != NULL) {
            acquirep(mp, pp);
            return;
        }
        /* Every P is busy and runs its own timers: sleep until woken. */
        gpm_lock(&gpm_sched.lock);
        mput(mp);
        gpm_unlock(&gpm_sched.lock);
        gpm_notesleep(&mp->park);
        break;
    }
    gpm_noteclear(&mp->park);
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
}

/* A spinning M found work: stop spinning, and if it was the last spinner,
   wake another to keep looking (see "Worker thread parking/unparking"). */
static void resetspinning(struct gpm_m *mp)
{
    if (!mp->spinning)
        gpm_throw("resetspinning: not a spinning M");
    mp->spinning = false;
    if (atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
        gpm_throw("resetspinning: negative nmspinning");
    wakep(mp);
}

/* ---- Finding work ------------------------------------------------------ */

/* One G from pp's own queues or the global queue, without blocking, or
   NULL. Executed only by the owner P. */
static struct gpm_g *runqget_nonblocking(struct gpm_p *pp, bool *inheritTime)
{
    struct gpm_g *gp;
    /* Check the global queue once in a while to ensure fairness. */
    if (pp->schedtick % 61 == 0 && atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed) > 0) {
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
   taken only in the last round. Executed only by the owner P (mp->p). */
static struct gpm_g *stealwork(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    int32_t n = gpm_sched.nallp;
    enum { STEAL_TRIES = 4 };
    for (int i = 0; i < STEAL_TRIES; i++) {
        bool stealRunNextG = i == STEAL_TRIES - 1;
        /* Start at a random P so that thieves spread over victims. */
        uint32_t start = gpm_fastrand(mp) % (uint32_t)n;
        for (int32_t k = 0; k < n; k++) {
            struct gpm_p *p2 = &gpm_sched.allp[(start + (uint32_t)k) % (uint32_t)n];
            if (p2 == pp)
                continue;
            uint32_t st = atomic_load_explicit(&p2->status, memory_order_relaxed);
            if (st == P_IDLE || st == P_SPARE)
                continue;
            struct gpm_g *gp = gpm_runqsteal(pp, p2, stealRunNextG);
            if (gp != NULL)
                return gp;
        }
    }
    return NULL;
}

/*
 * findrunnable finds a G to run: local queue, global queue, stealing; if
 * there is none, it gives up the P and parks the M until there is work, and
 * returns with a P (perhaps another one). Runs on g0; may block.
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

    /* Timers of every P: an idle P has no M to run its own. */
    if (gpm_timers_earliest() != 0) {
        int64_t now = gpm_nanotime();
        for (int32_t i = 0; i < gpm_sched.nallp; i++)
            gpm_checktimers(mp, &gpm_sched.allp[i], now);
        gp = gpm_runqget(pp, inheritTime);
        if (gp != NULL)
            return gp;
    }

    /* Nothing to do: give up the P, unless the global queue filled up
       meanwhile (checked under the lock that guards it). */
    gpm_lock(&gpm_sched.lock);
    if (atomic_load(&gpm_sched.runqsize) != 0) {
        gp = gpm_globrunqget(pp, 0);
        gpm_unlock(&gpm_sched.lock);
        return gp;
    }
    if (releasep(mp) != pp)
        gpm_throw("findrunnable: wrong P");
    pidleput(pp);
    gpm_unlock(&gpm_sched.lock);

    /* Spinning to non-spinning: decrement nmspinning, then recheck every
       queue (see "Worker thread parking/unparking": this is load D). */
    if (mp->spinning) {
        mp->spinning = false;
        if (atomic_fetch_sub(&gpm_sched.nmspinning, 1) - 1 < 0)
            gpm_throw("findrunnable: negative nmspinning");
        for (int32_t i = 0; i < gpm_sched.nallp; i++) {
            if (!gpm_runqempty(&gpm_sched.allp[i])) {
                gpm_lock(&gpm_sched.lock);
                struct gpm_p *np = pidleget();
                gpm_unlock(&gpm_sched.lock);
                if (np != NULL) {
                    acquirep(mp, np);
                    mp->spinning = true;
                    atomic_fetch_add(&gpm_sched.nmspinning, 1);
                    goto top;
                }
                break;
            }
        }
        if (atomic_load(&gpm_sched.runqsize) != 0) {
            gpm_lock(&gpm_sched.lock);
            struct gpm_p *np = pidleget();
            gpm_unlock(&gpm_sched.lock);
            if (np != NULL) {
                acquirep(mp, np);
                mp->spinning = true;
                atomic_fetch_add(&gpm_sched.nmspinning, 1);
                goto top;
            }
        }
    }
    stopm(mp);
    goto top;
}

/*
 * schedule finds the next G to run on mp. Runs on g0; may block; returns
 * with mp holding a P.
 */
static struct gpm_g *schedule(struct gpm_m *mp, bool *inheritTime)
{
    if (mp->p == NULL)
        stopm(mp);
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

/* Prepares gp to run on mp. Executed by mp, which holds a P. */
static void execute(struct gpm_m *mp, struct gpm_g *gp, bool inheritTime)
{
    gpm_casgstatus(gp, G_RUNNABLE, G_RUNNING);
    gp->m = mp;
    mp->curg = gp;
    if (!inheritTime)
        mp->p->schedtick++;
    mp->nswitch++;
}

/* ---- Switching --------------------------------------------------------- */

/*
 * finishswitch does what the context that switched away on mp left for us
 * (see "The switch protocol"). Runs on whatever context mp switched to:
 * another G or g0. Must not touch thread-local state (it may run on g0).
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
        gpm_casgstatus(prev, G_RUNNING, G_WAITING);
        if (unlockf != NULL && !unlockf(mp, prev, arg)) {
            /* The reason to wait went away before anyone could see prev:
               it runs again next. */
            gpm_casgstatus(prev, G_WAITING, G_RUNNABLE);
            gpm_runqput(mp->p, prev, true);
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
    case AFTER_EXITSYSCALL: {
        /* On g0 of an M without a P (see gpm_exitsyscall). */
        prev->m = NULL;
        gpm_casgstatus(prev, G_SYSCALL, G_RUNNABLE);
        gpm_lock(&gpm_sched.lock);
        struct gpm_p *pp = pidleget();
        if (pp == NULL)
            gpm_globrunqput(prev);
        gpm_unlock(&gpm_sched.lock);
        if (pp != NULL) {
            acquirep(mp, pp);
            gpm_runqput(pp, prev, true);
        }
        return;
    }
    default:
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

/* Makes a g0 context for an M whose kernel thread's stack belongs to a G
   (M0, whose stack is G1's). */
static void makeg0(struct gpm_m *mp)
{
    void *stk = gpm_mmap(NULL, G0_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                         -1, 0);
    if (gpm_mmap_failed(stk))
        gpm_throw("makeg0: out of memory for a g0 stack");
    mp->g0stack = stk;
    mp->g0stacksize = G0_STACK_SIZE;
    gpm_valgrind_stack_register(stk, (char *)stk + G0_STACK_SIZE);
    mp->g0_sp = gpm_ctx_init((char *)stk + G0_STACK_SIZE, g0entry, mp);
    mp->g0started = true;
}

/*
 * switchout gives gp's M to the next G of its P, or to g0 when the P has
 * none ready, after mp->after has been set. Returns when gp runs again, on
 * whatever M. Runs on gp's stack.
 */
static void switchout(struct gpm_m *mp, struct gpm_g *gp)
{
    struct gpm_g *next = NULL;
    bool inheritTime = false;
    if (mp->p != NULL && mp->lockedg == NULL)
        next = runqget_nonblocking(mp->p, &inheritTime);
    if (next != NULL) {
        execute(mp, next, inheritTime);
        mp->curfs = next->tcb;
        gpm_ctx_switch(&gp->sched_sp, next->sched_sp, next->tcb);
    } else {
        if (!mp->g0started)
            makeg0(mp);
        mp->curg = NULL;
        gpm_ctx_switch(&gp->sched_sp, mp->g0_sp, NULL);
    }
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
        void *fs = mp->curfs != gp->tcb ? gp->tcb : NULL;
        mp->curfs = gp->tcb;
        gpm_ctx_switch(&mp->g0_sp, gp->sched_sp, fs);
    }
}

/*
 * park puts the calling G to sleep. After it is off its M (and marked
 * waiting), unlockf(gp, arg) runs on the next context; if it returns false,
 * the G is made runnable again at once. Whoever later finds the G through
 * what unlockf published calls gpm_ready.
 * Runs on the G's stack; may park. The G must hold no runtime lock.
 */
/*
 * Wired Gs
 * --------
 * A G of a foreign thread (G_KIND_FOREIGN) has no M of the scheduler's and
 * no P: it parks its own kernel thread on g->wirednote, after doing what
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
    gp->waitsince = gpm_nanotime();
    gpm_casgstatus(gp, G_RUNNING, G_WAITING);
    if (unlockf != NULL && !unlockf(NULL, gp, arg)) {
        gpm_casgstatus(gp, G_WAITING, G_RUNNABLE);
    } else {
        if (t != NULL && !gpm_notesleepuntil(&gp->wirednote, t->when))
            t->f(NULL, t->arg);
        gpm_notesleep(&gp->wirednote);
        gpm_noteclear(&gp->wirednote);
    }
    gpm_casgstatus(gp, G_RUNNABLE, G_RUNNING);
}

void gpm_park(gpm_unlockf unlockf, void *arg, uint16_t reason)
{
    gpm_park_timed(unlockf, arg, reason, NULL);
}

/* Arms t for a park by gp: onto the heap of gp's P, where any M may run
   it; for a wired G, park_wired watches the deadline itself. Must come
   before the caller takes any lock that t's function takes ("Lock order"
   in lock.h). */
void gpm_timer_arm(struct gpm_g *gp, struct gpm_timer *t)
{
    t->idx = -1;
    t->pp = NULL;
    if (gp->m != NULL && gp->m->p != NULL)
        gpm_addtimer(gp->m->p, t);
}

/* park with a timer armed by gpm_timer_arm (or NULL). */
void gpm_park_timed(gpm_unlockf unlockf, void *arg, uint16_t reason, struct gpm_timer *t)
{
    struct gpm_g *gp = gpm_getg();
    struct gpm_m *mp = gp->m;
    if (mp == NULL) {
        park_wired(gp, unlockf, arg, reason, t);
        return;
    }
    gp->waitreason = reason;
    gp->waitsince = gpm_nanotime();
    mp->after = AFTER_PARK;
    mp->afterg = gp;
    mp->unlockf = unlockf;
    mp->unlockarg = arg;
    switchout(mp, gp);
}

/*
 * ready makes a waiting G runnable: into runnext of curm's P, which then
 * runs it as soon as the current G blocks (see "Handoff"), or onto the
 * global queue when curm has no P. curm is the calling M or NULL.
 */
void gpm_ready_on(struct gpm_m *curm, struct gpm_g *gp)
{
    gpm_casgstatus(gp, G_WAITING, G_RUNNABLE);
    gp->waitreason = WAIT_NONE;
    if (gp->kind == G_KIND_FOREIGN) {
        gpm_notewakeup(&gp->wirednote); /* "Wired Gs" */
        return;
    }
    if (curm != NULL && curm->p != NULL) {
        gpm_runqput(curm->p, gp, true);
    } else {
        gpm_lock(&gpm_sched.lock);
        gpm_globrunqput(gp);
        gpm_unlock(&gpm_sched.lock);
    }
    wakep(curm);
}

/* gpm_ready from G context (or from a thread that is not a G). */
void gpm_ready(struct gpm_g *gp)
{
    struct gpm_g *self = gpm_getg();
    gpm_ready_on(self ? self->m : NULL, gp);
}

/* Makes a new G runnable (gp is G_IDLE): runnext of the caller's P, so the
   new thread runs as soon as its creator blocks. */
void gpm_runqput_new(struct gpm_g *gp)
{
    struct gpm_g *self = gpm_getg();
    struct gpm_m *curm = self ? self->m : NULL;
    gpm_casgstatus(gp, G_IDLE, G_RUNNABLE);
    if (curm != NULL && curm->p != NULL) {
        gpm_runqput(curm->p, gp, true);
    } else {
        gpm_lock(&gpm_sched.lock);
        gpm_globrunqput(gp);
        gpm_unlock(&gpm_sched.lock);
    }
    wakep(curm);
}

/*
 * yield lets another runnable G of this P (or of the global queue) run and
 * puts the caller at the tail of the local queue. Returns false, at once,
 * when there was nothing else to run: then, as with a native sched_yield on
 * an otherwise idle CPU, the caller simply continues.
 * Runs on the G's stack.
 */
bool gpm_yield(void)
{
    struct gpm_g *gp = gpm_getg();
    struct gpm_m *mp = gp->m;
    if (mp->p == NULL || mp->lockedg != NULL)
        return false;
    bool inheritTime;
    struct gpm_g *next = runqget_nonblocking(mp->p, &inheritTime);
    if (next == NULL && atomic_load_explicit(&mp->p->timer0when, memory_order_relaxed) != 0) {
        /* A G that yields in a loop must not keep this P's timers from
           firing (the G they ready then runs). */
        gpm_checktimers(mp, mp->p, gpm_nanotime());
        next = runqget_nonblocking(mp->p, &inheritTime);
    }
    if (next == NULL)
        return false;
    mp->after = AFTER_YIELD;
    mp->afterg = gp;
    execute(mp, next, false);
    mp->curfs = next->tcb;
    gpm_ctx_switch(&gp->sched_sp, next->sched_sp, next->tcb);
    gpm_finishswitch(gp->m);
    return true;
}

/* The calling G has finished (glife.c tore its thread-local state down):
   leave its stack for good; gpm_goexit0 runs on the next context.
   Never returns. */
void gpm_goexit_switch(struct gpm_g *gp)
{
    struct gpm_m *mp = gp->m;
    mp->after = AFTER_EXIT;
    mp->afterg = gp;
    switchout(mp, gp);
    gpm_throw("goexit: dead G resumed");
}

/* ---- Blocking system calls ---------------------------------------------- */

/*
 * System calls (Go's entersyscall, exitsyscall, handoffp, retake)
 * ---------------------------------------------------------------
 * A G about to enter a call that may block in the kernel calls
 * entersyscall: it marks itself G_SYSCALL and leaves its P in P_SYSCALL,
 * still remembered by its M (mp->oldp) but owned by nobody. When the call
 * returns, exitsyscall takes the P back with one CAS (P_SYSCALL ->
 * P_RUNNING) if it is still there: a call that did not block costs two
 * atomics and no lock. If sysmon took the P meanwhile (retake: the call
 * lasted at least one sysmon tick and the P has work, or no P is idle or
 * spinning to pick up new work, or the call lasted 10 ms), the G takes an
 * idle P, or else goes on the global queue while its M parks.
 *
 *   P_SYSCALL --exitsyscall CAS--> P_RUNNING (same M)
 *   P_SYSCALL --retake CAS-------> P_IDLE --handoffp--> another M, or idle
 *
 * entersyscallblock is for calls known to block (a process-shared lock
 * found taken): the P is handed off at once, without waiting for sysmon.
 * A foreign G has no P: both are no-ops for it.
 */

/* handoffp gives a P that no M holds (status P_IDLE, not on the idle list)
   to an M if it has something to do, or to the idle list. curm: the calling
   M or NULL (sysmon). */
static void handoffp(struct gpm_m *curm, struct gpm_p *pp)
{
    if (!gpm_runqempty(pp) || atomic_load(&gpm_sched.runqsize) > 0 || atomic_load(&pp->timer0when) != 0) {
        startm(curm, pp, false);
        return;
    }
    /* No local work: still, if nobody spins or idles, someone must be
       ready for work that arrives while the caller is in the kernel. */
    int32_t zero = 0;
    if (atomic_load(&gpm_sched.nmspinning) + atomic_load(&gpm_sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&gpm_sched.nmspinning, &zero, 1)) {
        startm(curm, pp, true);
        return;
    }
    gpm_lock(&gpm_sched.lock);
    pidleput(pp);
    gpm_unlock(&gpm_sched.lock);
}

void gpm_entersyscall(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->m->p == NULL)
        return;
    struct gpm_m *mp = gp->m;
    struct gpm_p *pp = mp->p;
    gpm_casgstatus(gp, G_RUNNING, G_SYSCALL);
    atomic_fetch_add_explicit(&pp->syscalltick, 1, memory_order_relaxed);
    mp->oldp = pp;
    mp->p = NULL;
    pp->m = NULL;
    atomic_store(&pp->status, P_SYSCALL);
    if (atomic_load_explicit(&gpm_sched.sysmonwait, memory_order_relaxed))
        gpm_sysmon_wake();
}

void gpm_entersyscallblock(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->m->p == NULL)
        return;
    struct gpm_m *mp = gp->m;
    gpm_casgstatus(gp, G_RUNNING, G_SYSCALL);
    handoffp(mp, releasep(mp));
}

void gpm_exitsyscall(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gpm_readgstatus(gp) != G_SYSCALL)
        return;
    struct gpm_m *mp = gp->m;
    struct gpm_p *pp = mp->oldp;
    mp->oldp = NULL;
    uint32_t st = P_SYSCALL;
    if (pp != NULL && atomic_compare_exchange_strong(&pp->status, &st, P_RUNNING)) {
        mp->p = pp;
        pp->m = mp;
        gpm_casgstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    gpm_lock(&gpm_sched.lock);
    pp = pidleget();
    gpm_unlock(&gpm_sched.lock);
    if (pp != NULL) {
        acquirep(mp, pp);
        gpm_casgstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    mp->after = AFTER_EXITSYSCALL;
    mp->afterg = gp;
    switchout(mp, gp);
}

/*
 * retake, from sysmon: takes Ps from Gs in long system calls and hands
 * them off (see "System calls"). Returns how many it took.
 */
int gpm_retake(int64_t now)
{
    int n = 0;
    for (int32_t i = 0; i < gpm_sched.nallp; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        if (atomic_load(&pp->status) != P_SYSCALL)
            continue;
        uint32_t t = atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
        if (pp->sysmon_syscalltick != t) {
            /* A new call since the last look: give it one tick. */
            pp->sysmon_syscalltick = t;
            pp->sysmon_syscallwhen = now;
            continue;
        }
        if (gpm_runqempty(pp) && atomic_load(&pp->timer0when) == 0 &&
            atomic_load(&gpm_sched.nmspinning) + atomic_load(&gpm_sched.npidle) > 0 &&
            now - pp->sysmon_syscallwhen < 10000000)
            continue;
        uint32_t st = P_SYSCALL;
        if (atomic_compare_exchange_strong(&pp->status, &st, P_IDLE)) {
            handoffp(NULL, pp);
            n++;
        }
    }
    return n;
}

/*
 * Spare Ps
 * --------
 * A G can block in the kernel where gpm cannot see it: inside libc (the
 * read under fgets, a futex of a glibc-internal lock) or in an inline
 * system call. Its M keeps its P, and the Gs queued on that P would wait
 * for the call to end. Taking the P from an M that may wake at any moment
 * and use it would put two Ms on one P; so instead sysmon lends a spare P.
 * There are as many spare Ps as Ps, at rest in P_SPARE. When a P's
 * schedtick and syscalltick have not moved for 10 ms, it has Gs waiting
 * (on its own queue, or on the global queue with no idle P), and its M
 * sleeps in the kernel (/proc/self/task/TID/stat says S or D; a G that
 * computes is left to preemption), sysmon wakes a spare: it moves the stuck
 * P's queued Gs onto the spare's queue (stealing, as any thief may) and
 * starts an M for it. The stuck M and its G are not touched. A spare that
 * runs out of work (and timers) goes back to rest when it would go idle
 * (pidleput). So while Ms are stuck in the kernel, up to gomaxprocs more
 * Gs run, which is what the stuck Ms are not doing.
 */

/* Whether mp's kernel thread is asleep in the kernel. */
static bool msleeping(struct gpm_m *mp)
{
    char path[48], buf[512];
    gpm_snprintf(path, sizeof path, "/proc/self/task/%d/stat", mp->procid);
    long n = gpm_readfile(path, buf, sizeof buf);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *paren = NULL;
    for (char *c = buf; *c; c++)
        if (*c == ')')
            paren = c;
    return paren != NULL && paren[1] == ' ' && (paren[2] == 'S' || paren[2] == 'D');
}

/* Lends a spare P carrying stuck's queued Gs. sysmon only. */
static bool lendspare(struct gpm_p *stuck)
{
    struct gpm_p *sp = NULL;
    gpm_lock(&gpm_sched.lock);
    for (int32_t i = gpm_sched.gomaxprocs; i < gpm_sched.nallp && sp == NULL; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        if (atomic_load(&pp->status) == P_SPARE) {
            atomic_store(&pp->status, P_IDLE);
            sp = pp;
        }
    }
    gpm_unlock(&gpm_sched.lock);
    if (sp == NULL)
        return false;
    /* The spare is owned by nobody: sysmon is the only producer of its
       queue until startm hands it over. */
    for (int i = 0; i < 8 && !gpm_runqempty(stuck); i++) {
        struct gpm_g *gp = gpm_runqsteal(sp, stuck, true);
        if (gp == NULL)
            break;
        gpm_runqput(sp, gp, false);
    }
    startm(NULL, sp, false);
    return true;
}

int gpm_unstick(int64_t now)
{
    int n = 0;
    for (int32_t i = 0; i < gpm_sched.nallp; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        uint32_t st = atomic_load(&pp->status);
        uint32_t tick = pp->schedtick + atomic_load_explicit(&pp->syscalltick, memory_order_relaxed);
        if (st != P_RUNNING || pp->sysmon_schedtick != tick) {
            pp->sysmon_schedtick = tick;
            pp->sysmon_schedwhen = now;
            continue;
        }
        if (now - pp->sysmon_schedwhen < 10000000)
            continue;
        bool waiting = !gpm_runqempty(pp) ||
                       (atomic_load(&gpm_sched.runqsize) > 0 && atomic_load(&gpm_sched.npidle) == 0);
        struct gpm_m *mp = pp->m;
        if (!waiting || mp == NULL || !msleeping(mp))
            continue;
        pp->sysmon_schedwhen = now; /* look again in 10 ms at the earliest */
        if (lendspare(pp))
            n++;
    }
    return n;
}

/* Whether no P runs anything (sysmon may then sleep). */
bool gpm_allpidle(void)
{
    for (int32_t i = 0; i < gpm_sched.nallp; i++) {
        uint32_t st = atomic_load(&gpm_sched.allp[i].status);
        if (st != P_IDLE && st != P_SPARE)
            return false;
    }
    return true;
}

/* ---- Start-up ---------------------------------------------------------- */

/*
 * schedinit builds the Ps and M0, and turns the calling flow into G1
 * running on M0 with P0. Runs once, on the thread that first enters gpm
 * (normally the main thread, from the constructor).
 */
void gpm_schedinit(struct gpm_g *g1, void *m0tcb)
{
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, 0, (long)&gpm_initsigmask, 8);
    int32_t procs = gpm_config.maxprocs;
    gpm_sched.gomaxprocs = procs;
    gpm_sched.maxmcount = gpm_config.maxthreads;
    gpm_sched.nallp = 2 * procs;
    gpm_sched.allp = gpm_persistentalloc(sizeof(struct gpm_p) * (size_t)gpm_sched.nallp, 64);
    for (int32_t i = 0; i < gpm_sched.nallp; i++) {
        gpm_sched.allp[i].id = i;
        if (i >= procs) {
            gpm_sched.allp[i].spare = true;
            atomic_store(&gpm_sched.allp[i].status, P_SPARE);
        }
    }

    struct gpm_m *m0 = allocm();
    m0->procid = gpm_gettid();
    m0->owntcb = m0tcb;
    m0->curfs = g1->tcb;
    publishm(m0);

    /* P0 goes to M0; the rest are idle. */
    for (int32_t i = procs - 1; i >= 1; i--) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        pp->link = gpm_sched.pidle;
        gpm_sched.pidle = pp;
        atomic_fetch_add(&gpm_sched.npidle, 1);
    }
    acquirep(m0, &gpm_sched.allp[0]);

    atomic_store(&g1->atomicstatus, G_RUNNING);
    g1->m = m0;
    m0->curg = g1;
    gpm_tls_g = g1;
    atomic_store(&gpm_sched.nthreads, 1);
    gpm_sched.started = true;
}
