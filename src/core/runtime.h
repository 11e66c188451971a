/*
 * src/core/runtime.h: G, M, P and sched (Go's runtime2.go).
 *
 * The design essay, with the parking/unparking protocol these fields serve,
 * opens src/core/sched.c; fields refer back to its sections by name.
 */
#ifndef GPM_CORE_RUNTIME_H
#define GPM_CORE_RUNTIME_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"

struct gpm_g;
struct gpm_m;
struct gpm_p;

/*
 * G states. A G's status is changed only by gpm_casgstatus, or by
 * gpm_setgstatus for the transitions that it lists, and both throw on any
 * transition not listed here.
 *
 * G_IDLE      Just allocated (or taken from the pool) and being set up by
 *             gpm_newproc. Not on any queue. Owned by the creating thread.
 *             -> G_RUNNABLE.
 * G_RUNNABLE  On a run queue (a P's runq or runnext, or the global queue) or
 *             in the hands of an M that just took it off one. Not running:
 *             its registers are saved on its own stack, sched_sp is valid.
 *             -> G_RUNNING (execute).
 * G_RUNNING   Executing user code on M `m`, which holds a P (or is a wired M
 *             for a foreign thread). Owns its stack. sched_sp is stale.
 *             -> G_RUNNABLE (yield), G_WAITING (park), G_SYSCALL, G_DEAD.
 * G_SYSCALL   In a blocking system call on M `m`; not executing user code.
 *             -> G_RUNNING (exitsyscall got a P back), G_RUNNABLE (it did not).
 * G_WAITING   Parked: on no run queue, blocked on a wait queue, a join or a
 *             timer; waitreason says which. Whoever readies it (gpm_ready)
 *             moves it to G_RUNNABLE and puts it on a run queue.
 *             -> G_RUNNABLE.
 * G_DEAD      Finished. Its TLS has been torn down; the block waits for a
 *             join (joinable) or is back in the pool (detached).
 *             -> G_IDLE (reused by gpm_newproc).
 */
enum gpm_gstatus {
    G_IDLE = 0,
    G_RUNNABLE,
    G_RUNNING,
    G_SYSCALL,
    G_WAITING,
    G_DEAD,
    G_NSTATUS
};

/* Why a G is waiting; shown by the SIGQUIT dump and schedtrace. */
enum gpm_waitreason {
    WAIT_NONE = 0,
    WAIT_JOIN,         /* pthread_join */
    WAIT_MAINEXIT,     /* main returned through pthread_exit; others run */
    WAIT_SLEEP,        /* nanosleep and friends */
    WAIT_MUTEX,        /* pthread_mutex_lock, mtx_lock */
    WAIT_COND,         /* pthread_cond_wait, cnd_wait */
    WAIT_RWLOCK,       /* pthread_rwlock_*lock */
    WAIT_BARRIER,      /* pthread_barrier_wait */
    WAIT_ONCE,         /* pthread_once, call_once: another thread runs init */
    WAIT_SEM,          /* sem_wait */
    WAIT_FUTEX,        /* syscall(SYS_futex), emulated (futex.c) */
    WAIT_SIGNAL,       /* sigsuspend, pause, sigwait and friends */
    WAIT_WIRE,         /* moving onto its wired M ("Wired Gs" in sched.c) */
    WAIT_IO,           /* read, write, accept... on a file not ready (netpoll.c) */
    WAIT_POLL,         /* poll, select, epoll_wait (netpoll.c) */
    WAIT_NREASONS
};

/*
 * Kinds of G, by where their memory comes from.
 *
 * G_KIND_BLOCK    Created by gpm_newproc: the G struct sits right above its
 *                 TCB inside a block from gstack.c, so a pthread_t leads to
 *                 its G with one addition.
 * G_KIND_MAIN     G1: the program's main flow, which keeps the TCB and stack
 *                 glibc made for the main thread.
 * G_KIND_FOREIGN  A kernel thread gpm did not create, given a G on its first
 *                 call into gpm (DESIGN.md section 6); wired to its own
 *                 kernel thread, which has no M struct.
 *
 * A G of the first two kinds may be wired too, to a wired M of gpm's
 * (lockedm), when it asks for a CPU affinity or a scheduling policy of its
 * own ("Wired Gs" in sched.c). A G runs without a scheduler M (m is NULL
 * while it runs) exactly when it is foreign or wired.
 */
enum gpm_gkind { G_KIND_BLOCK = 1, G_KIND_MAIN, G_KIND_FOREIGN };

/* park's unlockf: runs once the parking G is off its M (mp: the M it
   left, NULL for a wired foreign G). Returns false to cancel the park. */
typedef bool (*gpm_unlockf)(struct gpm_m *mp, struct gpm_g *gp, void *arg);

/* Values of g->joinword besides a joiner's G pointer ("Joining" in
   glife.c). */
enum {
    JOIN_JOINABLE = 0, /* running; nobody waits for it */
    JOIN_DETACHED = 1, /* running; nobody will ever join it */
    JOIN_EXITED = 2,   /* dead; result kept until a join or detach */
    JOIN_FREED = 3,    /* joined (or detached and dead): block may be reused */
    JOIN_EXITING = 4,  /* finished, leaving its stack for its joiner, which
                          it switches to directly; exited once off it */
};

#define GPM_G_MAGIC 0x4750475f4c495645ULL /* "GPG_LIVE" */

/* One thread-specific-data slot (tsd.c): the key's sequence number when the
   value was set, and the value. A stale sequence means the key was deleted. */
struct gpm_tsdslot {
    uintptr_t seq;
    void *data;
};

/* How to take a parked G out of the wait it is in, for a signal or a
   cancellation ("Interrupting a wait" in signal.c). fn runs with the G's
   sig.lock held and returns whether it readied the G. */
struct gpm_intr {
    bool (*fn)(struct gpm_g *gp, struct gpm_intr *in);
    bool cancelpoint; /* a cancellation ends this wait too */
};

/* A queued instance of a signal sent to one G (signal.c). */
struct gpm_signode {
    struct gpm_signode *next;
    siginfo_t si;
};

/*
 * A G's signal state ("Per-G signal state" in signal.c). blocked and
 * pending are read without the lock by the G's own fast checks and by
 * senders; everything else is under lock.
 */
struct gpm_gsig {
    _Atomic uint64_t blocked;  /* its mask: bit sig-1 */
    _Atomic uint64_t pending;  /* signals with an instance in q */
    struct gpm_mutex lock;
    struct gpm_signode *q;     /* queued instances, oldest first */
    uint64_t counted;          /* the mask counted in the process tally */
    int32_t cls;               /* its class in the tally, or -1: counted per signal */
    uint64_t waitset;          /* in sigwait: the signals it takes; else 0 */
    struct gpm_g *waitnext;    /* list of Gs in sigwait (signal.c) */
    _Atomic(struct gpm_intr *) intr; /* its interruptible wait, or NULL */
    stack_t altstack;          /* sigaltstack: ss_flags SS_DISABLE when none */
    uint32_t handlers;         /* program handlers running on it */
    bool routed;               /* counted in the tally (not foreign) */
    _Atomic bool cancelreq;    /* pthread_cancel was called for it */
};

#define GPM_TSD_1STBLOCK 32
#define GPM_TSD_2NDLEVEL 32 /* 32 blocks of 32 slots: PTHREAD_KEYS_MAX 1024 */

struct gpm_g {
    /* Saved stack pointer while not running; the callee-saved registers are
       on the stack below it. Offset 0: known to asm/x86_64/switch.S. */
    void *sched_sp;
    uint64_t magic; /* GPM_G_MAGIC while this memory holds a G */
    _Atomic uint32_t atomicstatus; /* enum gpm_gstatus; gpm_casgstatus/gpm_setgstatus only */
    uint16_t waitreason;           /* valid in G_WAITING */
    uint8_t kind;                  /* enum gpm_gkind */
    bool c11;                      /* made by thrd_create: result is an int */
    uint64_t goid;                 /* unique per life, for people */
    void *tcb;                     /* its TCB == its pthread_t; %fs while running */
    struct gpm_g *schedlink;       /* run queue and free list link */
    struct gpm_m *m;               /* M running it; valid in G_RUNNING/G_SYSCALL */
    /* The wired M it runs on ("Wired Gs" in sched.c), or NULL. Written by
       the G itself (wiring, unwiring, exit) under wired.lock (wire.c); read
       by readiers after their G_WAITING -> G_RUNNABLE CAS, which orders it
       after the G's own write (the G wrote it before it parked). */
    struct gpm_m *lockedm;
    /* A wiring change asked by another thread, which the G makes itself
       at its next switch point (gpm_wirecheck): wiringm, the wired M it is
       to move to (already given the affinity or policy asked for), or
       unwirewanted. Protected by wired.lock; wirewant says that one of them
       is set, read without the lock by the G (relaxed: a late look only
       delays the change to the next switch point). */
    struct gpm_m *wiringm;
    bool unwirewanted;
    _Atomic uint8_t wirewant;
    int64_t waitsince;             /* when it parked (gpm_sched.stampclock) */
    /* What it waits on, for the execution trace: the address (a lock, a
       condition variable, the G it joins) or, for I/O, the file
       descriptor; 0 when nothing in particular. Set by the G before it
       parks, cleared by the park. */
    uintptr_t waitobj;
    /* Wrapped system calls in progress: more than one when a signal
       handler that runs during one makes another ("System calls" in
       sched.c). Touched only by the G itself. */
    uint32_t syscalldepth;

    /* allgs list: protected by allglock (gstack.c). allgsepoch is the
       list's epoch when the G was put on it ("allgs" in gstack.c). */
    struct gpm_g *allnext, *allprev;
    uint64_t allgsepoch;

    /* Start routine and result. Written by the creator before the G is
       runnable, by the G itself afterwards. */
    void *(*startfn)(void *);
    void *startarg;
    void *result;

    /* Joining: a JOIN_* value, or the G parked in pthread_join waiting
       for this one ("Joining" in glife.c). */
    _Atomic uintptr_t joinword;
    /* The pthread_join wait this G is in, as the wait's timer and
       interrupts leave it for the park's unlockf, which may still be
       running when the G has been woken and gone on ("Joining" in
       glife.c): the wait's sequence number << 2 | JW_FIRED |
       JW_INTERRUPTED. */
    _Atomic uint64_t joinstate;

    /* Memory (gstack.c). Constant while the block holds a G. */
    void *block;          /* the mapping */
    size_t blocksize;     /* its length */
    size_t stacksize;     /* requested stack size (attr or default) */
    size_t guardsize;     /* guard pages at the low end of the mapping */
    void *stack_lo;       /* usable stack: [stack_lo, stack_hi) */
    void *stack_hi;
    void *user_stack;     /* pthread_attr_setstack memory, or NULL */
    size_t user_stacksize;
    uint32_t tid;         /* fake kernel tid in the TCB, constant per block */
    uint64_t tlsgen;      /* when its TLS was set up (gstack.c, dlopen fix-up) */
    void *dtvmem;         /* its DTV's allocation ("Leak checkers and the DTV" in gstack.c) */
    uint32_t valgrind_stack_id;
    bool guardpage;       /* its guard is a PROT_NONE page (gstack.c "Guarding a stack") */
    /* Its stack's canary word ("Stacks without a guard" in gstack.c), or
       NULL when a guard catches overflows (or the stack is not gpm's):
       checked at switch-out, exit and by sysmon. */
    uint64_t *canary;
    /* The robust futex list the thread registered with set_robust_list(2)
       (src/shim/syscall.c), NULL for glibc's own in its TCB. */
    void *krobust;
    size_t krobustlen;
    /* While its exit walks that list: where a fault in the walk resumes
       (a jmp_buf on its stack; gpm_futex_robust_exit, segvhandler). */
    void *faultjmp;

    /* A G without an M of the scheduler's (G_KIND_FOREIGN) parks its own
       kernel thread here; gpm_ready wakes it ("Wired Gs" in sched.c). */
    struct gpm_note wirednote;

    /* set_tid_address(2) of the G (src/shim/tid.c): at its exit 0 is
       stored there and a waiter woken, as the kernel does at a thread's. */
    _Atomic int *cleartid;
    bool cleartidset; /* it called set_tid_address (else: its TCB's tid, as glibc's clone sets) */

    /* Robust mutexes it holds (mutex.c): a list through the mutexes' own
       __list fields, released with EOWNERDEAD when it exits. */
    void *robust_head;

    /* Thread-specific data (tsd.c). Touched only by the G itself, and by
       pthread_key_delete, which changes only the keys' sequence numbers. */
    struct gpm_tsdslot tsd1[GPM_TSD_1STBLOCK];
    struct gpm_tsdslot *tsd2[GPM_TSD_2NDLEVEL];
    bool tsd_used;

    /* Exit (glife.c). exc is the _Unwind_Exception of pthread_exit's forced
       unwind (32 bytes, 16-aligned, as in glibc's struct pthread). */
    bool exiting;
    _Alignas(16) unsigned char exc[32];

    /* Attributes recorded at creation, reported by pthread_getattr_np. */
    char name[16];
    int schedpolicy;
    int schedprio;
    /* The highest ceiling of a PRIO_PROTECT mutex this G has tried to lock
       while its policy had no such priority (mutex.c, "Priority
       ceilings"); 0 for none. Touched only by the G itself. */
    int ppceiling;
    int inheritsched;
    int scope;
    cpu_set_t *cpuset; /* malloc'ed when the attribute carried one */
    size_t cpusetsize;
    sigset_t sigmask;
    bool sigmask_set;

    /* Signals and cancellation of this thread (signal.c). */
    struct gpm_gsig sig;

    /* CPU time ("CPU time of Gs" in cputime.c), kept only once the program
       has asked for a thread's CPU clock. Written by the M running the G
       at its switches and by the G itself, inside cpuseq (odd while being
       written); read by any thread. */
    _Atomic uint32_t cpuseq;
    _Atomic int64_t cputime;  /* ns run up to its last switch-out */
    _Atomic int64_t cpustart; /* its M's CPU clock when it was switched in; 0: not timed */
};

/*
 * P states. A P's state is one word (p->state): the status in the low bits
 * and, for every status but P_IDLE, the M that owns the P in the rest (Ms
 * are 64-byte aligned). The transitions and who makes each are in "P
 * ownership" in sched.c, with the argument that no two Ms ever use one P.
 *
 * P_IDLE     Owned by no M: on sched.pidle, or in transit to an M
 *            (handoffp, startm's nextp). -> P_RUNNING (acquirep).
 * P_RUNNING  Its M is inside gpm with it ("pinned"), since acquirep or
 *            takesyscallp, until its next unpin. Only that M changes the
 *            state. -> P_USER (unpin), P_IDLE (releasep).
 * P_USER     Its M runs the program's code (or is blocked in the kernel
 *            where gpm cannot see it, inside libc or an inline system
 *            call), and touches nothing of the P's; or, with its own
 *            m->pinned set, it is inside gpm with it (gpm_pin: a store to
 *            the M, no atomic RMW on the P). sysmon may revoke it, unless
 *            pinned. -> P_SYSCALL (entersyscall), P_IDLE (releasep while
 *            pinned), P_REVOKING (sysmon).
 * P_REVOKING sysmon is deciding whether to take it from its M: for the
 *            length of one membarrier (gpm_revoke). -> P_IDLE (taken),
 *            P_USER (the M was pinned).
 * P_SYSCALL  Its M is in a system call gpm wraps. sysmon may retake it, and
 *            another M back from a call of its own may take it.
 *            -> P_USER (exitsyscall), P_IDLE (retake), P_RUNNING of another
 *            M (takesyscallp).
 */
enum gpm_pstatus { P_IDLE = 0, P_RUNNING, P_USER, P_SYSCALL, P_REVOKING, P_NSTATUS };
#define P_STATUS_MASK ((uintptr_t)63)

static inline uintptr_t gpm_pword(struct gpm_m *mp, uint32_t status)
{
    return (uintptr_t)mp | status;
}

static inline uint32_t gpm_pstatus(uintptr_t w)
{
    return (uint32_t)(w & P_STATUS_MASK);
}

static inline struct gpm_m *gpm_powner(uintptr_t w)
{
    return (struct gpm_m *)(w & ~P_STATUS_MASK);
}

#define GPM_RUNQ_SIZE 256

struct gpm_p {
    int32_t id;
    /* gpm_pword(owner M, enum gpm_pstatus): see "P ownership" in sched.c. */
    _Atomic uintptr_t state;
    struct gpm_p *link; /* sched.pidle list; protected by sched.lock */
    /* Incremented by the owner on every scheduler pass and every
       entersyscall; read by sysmon to see whether the P makes progress. */
    _Atomic uint32_t schedtick;
    _Atomic uint32_t syscalltick;
    /* sysmon's last look at this P ("sysmon" in sched.c); sysmon only. */
    struct {
        uint32_t schedtick;   /* schedtick + syscalltick seen */
        int64_t schedwhen;    /* when they last changed */
        uint32_t syscalltick; /* syscalltick seen while in P_SYSCALL */
        uint32_t lastsyscalltick; /* syscalltick seen at the last look, in any state */
        int64_t syscallwhen;
        struct gpm_m *cpum;   /* M whose CPU time was sampled, or NULL */
        int64_t cpu, cpuwhen; /* its CPU time, and when it was read */
        int64_t preemptwhen;  /* when sysmon first asked the G to yield (0: not yet) */
        int64_t signalwhen;   /* when it last signalled it */
    } sysmon;

    /* Local run queue: lock-free, single producer (the owner), many
       consumers (the owner and thieves). See "Run queues" in runq.c. */
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(struct gpm_g *) runq[GPM_RUNQ_SIZE];
    /* The G to run next, ahead of runq: it inherits the current time slice.
       A G readied by the running G goes here (see "Handoff" in sched.c). */
    _Atomic(struct gpm_g *) runnext;

    /* Timers (timer.c): a 4-ary heap under timerslock; timer0when is the
       earliest `when`, 0 when there is none, readable without the lock. */
    struct gpm_mutex timerslock;
    struct gpm_timer **timers;
    int32_t ntimers;
    int32_t timerscap;
    struct gpm_timer *spill; /* timers the heap had no room for ("Out of memory") */
    _Atomic int64_t timer0when;

    /* Cache of free G blocks of the default geometry; owner only. */
    struct gpm_g *gfree;
    int32_t ngfree;
    /* Ids for new Gs, taken from the global counters a batch at a time
       (Go's goidcache): goids goidnext..goidend-1, and idleft fake tids
       from tidnext ("Fake tids" in gstack.c); owner only. */
    uint64_t goidnext, goidend;
    uint32_t tidnext, tidleft;

    char pad[64];
};

/* What the next context to run on an M must finish for the G that just
   switched out ("The switch protocol" in sched.c). */
enum gpm_after {
    AFTER_NONE = 0,
    AFTER_PARK,  /* prev -> G_WAITING; then unlockf(prev, arg) */
    AFTER_YIELD, /* prev -> G_RUNNABLE; onto the local run queue's tail */
    AFTER_EXIT,  /* prev -> G_DEAD; wake its joiner or free its block */
    AFTER_REQUEUE, /* prev (G_SYSCALL, or G_RUNNING without a P) needs a
                      P: an idle P, else the global queue (reacquirep) */
    AFTER_UNWIRE,  /* on a wired M's g0: prev -> G_RUNNABLE, onto the
                      global queue ("Wired Gs" in sched.c) */
};

struct gpm_m {
    /* g0's saved stack pointer while a G runs. Offset 0. Every M is 64-byte
       aligned: a P's state word keeps its status in the low bits of the
       owner's address. */
    _Alignas(64) void *g0_sp;
    int32_t id;
    int32_t procid;      /* kernel tid */
    struct gpm_g *curg;  /* the G running on this M; NULL while on g0 */
    /* The P it holds (P_RUNNING), or lent to itself (P_USER, P_SYSCALL:
       the M may have lost it to sysmon since; see "P ownership" in
       sched.c); NULL when it knows it has none. Written only by the M. */
    struct gpm_p *p;
    struct gpm_p *nextp; /* P to take when woken (startm hands it over) */
    /* Inside gpm with its P, which stays P_USER(m) ("P ownership" in
       sched.c: the light pin). Written only by the M; read by sysmon. */
    _Atomic uint32_t pinned;
    bool spinning;       /* looking for work; counted in sched.nmspinning */
    struct gpm_note park; /* sleeps here when idle (stopm) */
    struct gpm_m *schedlink; /* sched.midle; protected by sched.lock */
    struct gpm_m *alllink;   /* sched.allm; immutable once published */

    /* Thread-local state ("Thread-local state on g0" in sched.c). */
    void *owntcb; /* the TCB this kernel thread owns */
    void *dtvmem; /* owntcb's DTV's allocation ("Leak checkers and the DTV" in gstack.c) */
    void *curfs;  /* the %fs base currently loaded on this kernel thread */

    uint64_t fastrand;

    /* Asynchronous preemption (preempt.c): sysmon increments preemptsent
       before it signals the M; the handler knows the signal is gpm's when
       preemptseen lags behind, and catches up. */
    _Atomic uint32_t preemptsent;
    uint32_t preemptseen;
    /* sysmon's opinion of the M at its last look, for people (schedtrace,
       the SIGQUIT dump): set when it revoked the M's P because the M slept
       in the kernel outside gpm; cleared by the M when it next gets a P. */
    _Atomic bool blockedoutside;

    /* The switch protocol: set by the context switching away, consumed by
       the context switched to (gpm_finishswitch). */
    uint8_t after;
    struct gpm_g *afterg;
    gpm_unlockf unlockf;
    void *unlockarg;

    /* The kernel thread's alternate signal stack, for gpm's SIGSEGV handler
       ("Faults and stack overflows" in signal.c); NULL when it could not be
       mapped. Set by the M's own thread when it starts, never freed. */
    void *sigstk;
    size_t sigstksize;

    void *g0stack;         /* g0's stack mapping, when gpm made it (M0) */
    size_t g0stacksize;
    bool g0started;        /* g0 has a saved context to switch to */
    bool nativeg0;         /* g0 is the native stack (and TCB) of a thread gpm made */

    /* Wired Ms ("Wired Gs" in sched.c). wired is set for good when the M
       is made; such an M never holds a P and runs only lockedg, the G
       wired to it (NULL while it waits in the pool, wire.c). lockedg is
       written under wired.lock before the M is woken for it. */
    bool wired;
    struct gpm_g *lockedg;

    /* The execution trace's chunk this M records into (exectrace.c);
       written by the M under trace.lock, read by renders under it. */
    struct gpm_tracechunk *tracechunk;

    /* Statistics (GPM_DEBUG=stats), written by this M only; read without
       synchronisation when printed. */
    struct gpm_mstats {
        uint64_t nswitch;     /* Gs started or resumed */
        uint64_t ngcreated;   /* Gs created by Gs running on this M */
        uint64_t nsteal;      /* Gs taken from another P's queue */
        uint64_t ncoopyield;  /* cooperative preemptions (a flag seen at a gpm call) */
        uint64_t nasyncyield; /* asynchronous preemptions (signal) */
        uint64_t nothertimer; /* timers run that belonged to another P */
        uint64_t nmwake;      /* times startm woke this M (written by the waker,
                                 which alone has the M then) */
        uint64_t nmpark;      /* times this M parked for lack of work (stopm) */
    } stats;
};

/*
 * The scheduler's global state. See "Worker thread parking/unparking" in
 * sched.c for nmspinning and npidle.
 */
struct gpm_schedt {
    struct gpm_mutex lock;

    struct gpm_m *midle; /* idle Ms waiting for work; protected by lock */
    int32_t nmidle;
    int32_t mnext;       /* number of Ms made (they are never freed), and the next M id */
    int32_t maxmcount;   /* GPM_MAXTHREADS: the most Ms gpm makes */
    _Atomic bool mlimitsaid; /* the limit was reached and said so on stderr */

    /* The idle M that sleeps until the earliest timer of all Ps ("Who runs
       timers" in timer.c), and when it will wake; NULL and 0 when no idle M
       sleeps with a timeout. timerm is protected by lock; pollUntil is
       written under lock and read without it. */
    struct gpm_m *timerm;
    _Atomic int64_t pollUntil;

    struct gpm_p *pidle; /* idle Ps; protected by lock */
    _Atomic int32_t npidle;
    _Atomic int32_t nmspinning;

    /* Global run queue; protected by lock. runqsize is also read without
       the lock as a hint. */
    struct gpm_g *runqhead, *runqtail;
    _Atomic int32_t runqsize;

    int32_t gomaxprocs;
    /* gomaxprocs Ps, contiguous; immutable after init. */
    struct gpm_p *allp;
    _Atomic(struct gpm_m *) allm;

    _Atomic uint64_t goidgen;
    /* Gs that count for "the process exits when its last thread ends":
       every G made by pthread_create plus G1, until it finishes. */
    _Atomic int64_t nthreads;

    bool started; /* gpm_schedinit ran */

    /* sysmon sleeps on sysmonnote while every P is idle, with sysmonwait
       set; acquirep wakes it (sysmon.c). */
    _Atomic uint32_t sysmonwait;
    struct gpm_note sysmonnote;
    /* A clock for stamps that milliseconds will do (gp->waitsince, for
       the dumps): gpm_nanotime as sysmon last read it, each round (10 ms
       apart at most while any P runs), and as the M that wakes sysmon
       reads it (the rounds stop while every P is idle). 0 until sysmon
       runs: gpm_waitstamp reads the clock then. */
    _Atomic int64_t stampclock;

    /* Statistics of events that are not any one M's (GPM_DEBUG=stats). */
    _Atomic uint64_t nhandoff;  /* Ps handed to another M (retake, revoke, blocking calls) */
    _Atomic uint64_t nretake;   /* Ps taken from Ms in wrapped system calls */
    _Atomic uint64_t nrevoke;   /* Ps taken from Ms blocked outside gpm */
    _Atomic uint64_t npreemptreq; /* preemption requests by sysmon */
    _Atomic uint64_t npreemptsig; /* of those, sent as a signal */
};

extern struct gpm_schedt gpm_sched;

/* The signal mask of the thread that started gpm, given to every new M. */
extern sigset_t gpm_initsigmask;

/* The G running on this thread, in its own TLS (initial-exec): NULL on a
   kernel thread that is not (yet) a G. Read only from G context; on g0 it
   names whichever G's TLS is loaded, which means nothing. */
extern __thread struct gpm_g *gpm_tls_g __attribute__((tls_model("initial-exec")));

static inline struct gpm_g *gpm_getg(void)
{
    return gpm_tls_g;
}

/* Set in a G's own TLS when it should yield at its next gpm call
   ("Preemption" in sched.c). sysmon sets another G's through that G's TCB:
   gpm_tls_preempt_off is the flag's offset from any thread's TCB. Zero in
   every thread that is not a G, so testing it is safe anywhere. */
extern __thread uint8_t gpm_tls_preempt __attribute__((tls_model("initial-exec")));
extern intptr_t gpm_tls_preempt_off;
void gpm_preempted(void);

/* A preemption point: one load of the caller's own flag. For the gpm
   entry points a looping program may call without ever blocking; the
   caller must hold no runtime lock and no pinned P. */
static inline void gpm_preemptpoint(void)
{
    if (__builtin_expect(__atomic_load_n(&gpm_tls_preempt, __ATOMIC_RELAXED) != 0, 0))
        gpm_preempted();
}

/* sched.c */
void gpm_casgstatus(struct gpm_g *gp, uint32_t oldval, uint32_t newval);
void gpm_setgstatus(struct gpm_g *gp, uint32_t oldval, uint32_t newval);
static inline uint32_t gpm_readgstatus(struct gpm_g *gp)
{
    return atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
}
const char *gpm_gstatus_name(uint32_t s);
const char *gpm_waitreason_name(uint32_t r);

bool gpm_schedinit(struct gpm_g *g1, void *m0tcb); /* false: out of memory */

/* fork.c, in the child: mp, whose native stack glibc counts free there,
   takes over the one g0 stack of gpm's ("g0 stacks of gpm's own"). */
void gpm_adoptg0(struct gpm_m *mp);
struct gpm_timer;
void gpm_park(gpm_unlockf unlockf, void *arg, uint16_t reason);
void gpm_park_timed(gpm_unlockf unlockf, void *arg, uint16_t reason, struct gpm_timer *t);
void gpm_timer_arm(struct gpm_g *gp, struct gpm_timer *t);
void gpm_entersyscall(void);
void gpm_entersyscallblock(void);
void gpm_exitsyscall(void);
int gpm_retake(int64_t now, int64_t *wakeby);
void gpm_sysmon_stranded(int64_t now);
void gpm_sysmon_netpoll(int64_t now);
bool gpm_netpoll_unwatched(void);
bool gpm_allpidle(void);
void gpm_sysmon_wake(void);
void gpm_ready(struct gpm_g *gp);
void gpm_ready_on(struct gpm_m *curm, struct gpm_g *gp);
void gpm_runqput_new(struct gpm_g *gp);
bool gpm_yield(void);
void gpm_sched_yield(void);
void gpm_goexit_switch(struct gpm_g *gp) __attribute__((noreturn));
void gpm_finishswitch(struct gpm_m *mp);
void gpm_wakep(void);
void gpm_wake_timerm(int64_t when);
struct gpm_m *gpm_getm_unchecked(void);
uint32_t gpm_fastrand(struct gpm_m *mp);
void gpm_m_useowntls(struct gpm_m *mp);
void gpm_mmaker_start(void);
void gpm_mmaker_forkchild(void);
/* P ownership ("P ownership" in sched.c). */
/* Chooses sysmon's side of the light pin's fence ("P ownership" in
   sched.c): a membarrier when usemembarrier and the kernel registers the
   process for it, else seq_cst on both sides. Returns which. Before any
   second thread (start-up; unit tests). */
bool gpm_pinfence_init(bool usemembarrier);
extern bool gpm_pinmembarrier; /* what it chose */
bool gpm_pin_slow(struct gpm_m *mp, uintptr_t w);
__attribute__((noreturn, cold)) void gpm_pin_nested(struct gpm_m *mp);
void gpm_unpin_slow(struct gpm_m *mp, uintptr_t w);

/*
 * gpm_pin: mp is about to use its P's local state from a G's stack: the
 * light pin (m->pinned, with the word left P_USER(mp)). Returns false,
 * with mp->p cleared, when the P is not mp's any more (sysmon took it) or
 * mp had none. Executed only by mp, from G context, with the P unpinned.
 * Inline: it runs several times per create, join, wake and park.
 */
static inline bool gpm_pin(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (pp == NULL)
        return false;
    if (__builtin_expect(atomic_load_explicit(&mp->pinned, memory_order_relaxed) != 0, 0))
        gpm_pin_nested(mp);
    /* Dekker's first half ("P ownership"): the flag, then the word. With a
       membarrier on sysmon's side, a compiler barrier is all it takes. */
    uintptr_t w;
    if (__builtin_expect(gpm_pinmembarrier, 1)) {
        atomic_store_explicit(&mp->pinned, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
        /* acquire: mp's P-local accesses come after the P is known mp's. */
        w = atomic_load_explicit(&pp->state, memory_order_acquire);
    } else {
        /* Both seq_cst: the store-buffer pattern needs both accesses in
           the single total order, as sysmon's CAS and load are. */
        atomic_store(&mp->pinned, 1);
        w = atomic_load(&pp->state);
    }
    if (__builtin_expect(w == gpm_pword(mp, P_USER), 1))
        return true;
    return gpm_pin_slow(mp, w);
}

/* gpm_unpin: mp goes back to the program's code: P_USER(mp), unpinned.
   Does nothing when mp has no P. Executed only by mp. */
static inline void gpm_unpin(struct gpm_m *mp)
{
    struct gpm_p *pp = mp->p;
    if (pp == NULL)
        return;
    uintptr_t w = atomic_load_explicit(&pp->state, memory_order_relaxed);
    if (__builtin_expect(w == gpm_pword(mp, P_USER) && atomic_load_explicit(&mp->pinned, memory_order_relaxed), 1)) {
        /* release: pairs with sysmon's acquire of the flag after its fence,
           so everything mp did to the P is visible to whoever sysmon hands
           it to. */
        atomic_store_explicit(&mp->pinned, 0, memory_order_release);
        return;
    }
    gpm_unpin_slow(mp, w);
}
bool gpm_revoke(struct gpm_p *pp, uintptr_t w);
void gpm_acquirep(struct gpm_m *mp, struct gpm_p *pp);
struct gpm_p *gpm_releasep(struct gpm_m *mp);
bool gpm_p_tosyscall(struct gpm_m *mp);
bool gpm_p_fromsyscall(struct gpm_m *mp);
bool gpm_takesyscallp(struct gpm_m *mp, struct gpm_p *pp);
struct gpm_p *gpm_pinp(void);
/* A detached kernel thread of gpm's own (sched.c). 0 or an error number;
   the thread in *out (out may be NULL). */
int gpm_start_kthread(void *(*fn)(void *), void *arg, size_t stacksize, pthread_t *out);
/* Whether mp holds its P pinned (async-signal-safe: one load). */
bool gpm_m_pinned(struct gpm_m *mp);
void gpm_unpinp(struct gpm_p *pp);
/* Preemption ("Preemption" in sched.c, preempt.c). */
void gpm_setpreempt(struct gpm_g *gp);
void gpm_asyncpreempt2(void);
bool gpm_preempt_signal(struct gpm_m *mp);
void gpm_preempt_init(void);

/* Wired Gs ("Wired Gs" in sched.c; policy in wire.c). */
struct gpm_m *gpm_newwiredm(void);
void gpm_wire_self(struct gpm_m *wm);
void gpm_unwire_self(struct gpm_m *wm);
void gpm_wire_start(struct gpm_g *gp, struct gpm_m *wm);
void gpm_wiredm_put(struct gpm_m *wm);
struct gpm_m *gpm_wire_detach(struct gpm_g *gp);
void gpm_wirechange(void);

/* A switch point of the calling G (gp): makes the wiring change another
   thread asked for, if any. gp holds no runtime lock and no pinned P, and
   is in no wrapped system call; may switch. */
static inline void gpm_wirecheck(struct gpm_g *gp)
{
    if (__builtin_expect(atomic_load_explicit(&gp->wirewant, memory_order_relaxed) != 0, 0))
        gpm_wirechange();
}

/* trace.c */
void gpm_dumpstate(void);
void gpm_printstats(void);
/* traceback.c: SIGQUIT dumps every G's stack (if SIGQUIT is still SIG_DFL). */
void gpm_traceback_init(void);
void gpm_traceback_fault(const siginfo_t *si, void *ucv);

/* runq.c: run queues. See "Run queues" in runq.c. */
void gpm_runqput(struct gpm_p *pp, struct gpm_g *gp, bool next);
struct gpm_g *gpm_runqget(struct gpm_p *pp, bool *inheritTime);
struct gpm_g *gpm_runqsteal(struct gpm_p *pp, struct gpm_p *p2, bool stealRunNextG);
bool gpm_runqempty(struct gpm_p *pp);
void gpm_runqdrain(struct gpm_p *pp);
uint32_t gpm_runqlen(struct gpm_p *pp);
void gpm_globrunqput(struct gpm_g *gp);
void gpm_globrunqputhead(struct gpm_g *gp);
void gpm_globrunqputbatch(struct gpm_g *head, struct gpm_g *tail, int32_t n);
struct gpm_g *gpm_globrunqget(struct gpm_p *pp, int32_t max);

/* A debug-build contract check: `gpm_assert(cond, "message")`. */
#ifdef GPM_DEBUG_CHECKS
#define gpm_assert(cond, msg)        \
    do {                             \
        if (__builtin_expect(!(cond), 0)) \
            gpm_throw(msg);          \
    } while (0)
#else
#define gpm_assert(cond, msg) ((void)0)
#endif

#include "print.h"

#endif
