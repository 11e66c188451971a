/*
 * src/core/glife.c: creation, exit, join and detach of Gs.
 *
 * Joining
 * -------
 * A G's joinword says who will collect it. It is one atomic word so that
 * "I am the joiner" and "here is who to wake" are published together:
 *
 *   JOIN_JOINABLE  running; nobody waits.
 *   JOIN_DETACHED  running; nobody will wait.
 *   a G pointer    running; that G is parked in pthread_join waiting.
 *   JOIN_EXITING   finished, and switching from its own stack straight to
 *                  its joiner (below); nobody may free the block yet.
 *   JOIN_EXITED    finished; the result waits for a join or a detach.
 *   JOIN_FREED     collected: the block went back to the pool (or, for G1,
 *                  nothing to free); a later join or detach gets ESRCH.
 *
 * Transitions, and who makes them:
 *
 *   JOINABLE -> joiner ptr   the joiner, in park's unlockf, i.e. after it is
 *                            off its M, so the exiting G can always ready it
 *   JOINABLE -> DETACHED     pthread_detach
 *   JOINABLE -> EXITED       the exiting G (goexit0)
 *   joiner ptr -> EXITING    the exiting G, still on its stack, which then
 *                            switches to the joiner (gpm_join_claim)
 *   EXITING -> EXITED        goexit0, on the joiner's stack, right after
 *   joiner ptr -> EXITED     the exiting G, which then readies the joiner
 *   DETACHED -> FREED        the exiting G, which frees its own block
 *   EXITED -> FREED          pthread_join (taking the result) or detach
 *
 * pthread_detach while someone waits in pthread_join leaves the word alone
 * and returns 0, as glibc does (JOIN_EXITING counts as waiting). Two
 * joiners of one G: the second sees a joiner pointer or JOIN_EXITING, or
 * loses the CAS in its unlockf, and gets EINVAL.
 *
 * Exit handoff
 * ------------
 * A joiner parked in pthread_join is the G its target readies last, and
 * the target then leaves its M for good: it is what runnext is for
 * ("Handoff" in sched.c). The target does better than readying it: it
 * claims the joiner (joiner ptr -> JOIN_EXITING, the CAS the joiner's
 * timer and interrupts race for: whoever wins readies it, so exactly one
 * does) and switches to it directly (gpm_goexit_switch), with no trip
 * through g0 and no run queue. Its block must outlive the switch: until
 * goexit0, which runs on the joiner's stack first thing (AFTER_EXIT),
 * stores JOIN_EXITED, no join, detach or collect can free it, since none
 * frees a block in JOIN_EXITING. A joiner that is wired or foreign runs
 * on a kernel thread of its own, which a switch cannot reach: it is
 * readied the ordinary way, after the switch, by goexit0.
 *
 * Exit order
 * ----------
 * On the G's own stack and TLS, as glibc's start_thread: C++ thread_local
 * destructors (__call_tls_dtors), then pthread_key destructors, then the
 * locale, the resolver state and the tls_state buffers. G1 (main calling
 * pthread_exit) runs only the key destructors, as glibc's main does; its
 * thread_local destructors run at exit. Then the thread count drops; the
 * last thread to finish calls exit(0). Then the G switches away for the
 * last time, and goexit0 marks it dead on the next context.
 */
#define _GNU_SOURCE
#include "exectrace.h"
#include "glife.h"

#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "ctx.h"
#include "futex.h"
#include "gsig.h"
#include "sync.h"
#include "sysmon.h"
#include "sys.h"
#include "timer.h"
#include "tsd.h"
#include "valgrind.h"
#include "wire.h"

#define JOIN_STATE_MAX JOIN_EXITING

/* A cleanup buffer holds only the part of a jmp_buf that _setjmp and
   longjmp use without a saved signal mask (glibc relies on the same): gcc
   cannot know that and warns about the rest. */
#pragma GCC diagnostic ignored "-Wstringop-overflow"

char gpm_initial_name[16];

static void goexit1(struct gpm_g *gp) __attribute__((noreturn));
static void forced_unwind(struct gpm_g *gp, struct glibc_unwind_buf *buf) __attribute__((noreturn));

/* ---- Creation ------------------------------------------------------------ */

/* First code of every new G (gpm_ctx_trampoline calls it). */
static void gmain(void *arg)
{
    struct gpm_g *gp = arg;
    if (gp->m != NULL) { /* NULL: started by its wired M ("Wired Gs" in sched.c) */
        gpm_finishswitch(gp->m);
        gpm_unpin(gp->m); /* into the program's code ("P ownership" in sched.c) */
    }
    /* The ctype tables' TLS pointers (isalpha & co. crash without). */
    gpm_real.__ctype_init();
    /* Signals sent to it before it first ran. */
    gpm_sigcheck(gp);
    /*
     * The bottom cleanup buffer, as glibc's start_thread has: pthread_exit
     * unwinds the stack to here (unwind_stop below), running the buffers
     * pthread_cleanup_push registered on the way (glibc's own
     * __pthread_register_cancel keeps them in this G's TCB).
     */
    struct glibc_unwind_buf ub;
    /* Slot by slot: the compiler makes a memset of these 32 bytes a
       `rep stos`, which costs more than the stores. */
    ub.priv.pad[0] = ub.priv.pad[1] = ub.priv.pad[2] = ub.priv.pad[3] = NULL;
    if (_setjmp((struct __jmp_buf_tag *)(void *)ub.cancel_jmp_buf) == 0) {
        TCB_FIELD(gp->tcb, TCB_OFF_CLEANUP_JMP_BUF, void *) = &ub;
        if (gp->c11) {
            /* thrd_create's start returns an int; glibc stores it the
               same way, and thrd_join takes it back out. */
            int (*start)(void *) = (int (*)(void *))(void *)gp->startfn;
            gp->result = (void *)(uintptr_t)start(gp->startarg);
        } else {
            gp->result = gp->startfn(gp->startarg);
        }
    } else if (!gp->exiting) {
        /* Unwound to here by glibc's own cancellation (pthread_cancel acted
           on at a cancellation point), not by pthread_exit. */
        gp->result = PTHREAD_CANCELED;
    }
    goexit1(gp);
}

int gpm_newproc(const struct gpm_gattr *a, void *(*fn)(void *), void *arg, pthread_t *th)
{
    struct gpm_g *self = gpm_getg();
    /* A thread that asks for an affinity or a policy, or inherits one,
       starts on a wired M of its own (wire.c). */
    struct gpm_m *wm;
    int err = gpm_wire_prepare(self, a, &wm);
    if (err != 0)
        return err;
    cpu_set_t *cpuset = NULL;
    if (a->cpuset != NULL) {
        cpuset = malloc(a->cpusetsize);
        if (cpuset == NULL) {
            if (wm != NULL)
                gpm_wiredm_put(wm);
            return -EAGAIN;
        }
        memcpy(cpuset, a->cpuset, a->cpusetsize);
    }
    struct gpm_g *gp;
    err = gpm_gstackalloc(&a->geo, &gp);
    if (err != 0) {
        free(cpuset);
        if (wm != NULL)
            gpm_wiredm_put(wm);
        return err;
    }
    gp->startfn = fn;
    gp->startarg = arg;
    gp->c11 = a->c11;
    gp->schedpolicy = a->schedpolicy;
    gp->schedprio = a->schedprio;
    gp->ppceiling = 0;
    gp->inheritsched = a->inheritsched;
    gp->scope = a->scope;
    gp->cpuset = cpuset;
    gp->cpusetsize = a->cpusetsize;
    if (a->sigmask != NULL) {
        gp->sigmask = *a->sigmask;
        gp->sigmask_set = true;
    }
    gpm_sig_newg(gp, self, a->sigmask);
    /* A new kernel thread inherits its creator's name; so does a G. Every
       G has a name from birth: an empty one is one the program set. */
    memcpy(gp->name, self != NULL ? self->name : gpm_initial_name, sizeof gp->name);
    if (a->detached)
        atomic_store(&gp->joinword, JOIN_DETACHED);
    void *top = a->geo.user_stack ? (char *)a->geo.user_stack + a->geo.user_stacksize : gp->stack_hi;
    if (a->geo.user_stack != NULL)
        gp->valgrind_stack_id = gpm_valgrind_stack_register(a->geo.user_stack, top);
    gp->sched_sp = gpm_ctx_init(top, gmain, gp);

    atomic_fetch_add(&gpm_sched.nthreads, 1);
    *th = (pthread_t)gp->tcb;
    /* sysmon and the M maker ("Making Ms" in sched.c) run before a second G
       exists; being kernel threads made by pthread_create, they also turn
       on glibc's locks before any G but G1 runs (DESIGN.md section 5). */
    gpm_sysmon_start();
    gpm_sigrouting_start();
    if (wm != NULL)
        gpm_wire_new(gp, wm);
    else
        gpm_runqput_new(gp);
    return 0;
}

/* ---- Exit ----------------------------------------------------------------- */

static void unwind_cleanup(_Unwind_Reason_Code reason, struct _Unwind_Exception *exc)
{
    (void)reason;
    (void)exc;
    /* A C++ catch (...) swallowed pthread_exit's unwinding: glibc aborts
       here too. */
    /* Not an error: glibc aborts here with the same words; the thread can
       neither go on (it asked to exit) nor exit (its frames are gone). */
    gpm_throw("FATAL: exception not rethrown (pthread_exit unwinding was caught)");
}

/* A frame is "left" once the unwinder is past it. Addresses are compared
   after moving the top of the G's stack to the top of the address space,
   as glibc does, so that stacks above the main stack compare right. */
static bool frame_left(uintptr_t frame, uintptr_t other, uintptr_t adj)
{
    return frame - adj >= other - adj;
}

/*
 * The stop function of pthread_exit's forced unwind, called for each frame
 * (glibc's unwind_stop, against the G's TCB). stop_parameter is the cleanup
 * buffer to reach next: when the unwinder is about to leave the frame that
 * registered it, jump into it; pthread_cleanup_pop's code then runs the
 * handler and calls __pthread_unwind_next, which unwinds on towards the
 * buffer before it (gpm_unwind_next). The last buffer is gmain's, which
 * finishes the G.
 */
static _Unwind_Reason_Code unwind_stop(int version, _Unwind_Action actions, _Unwind_Exception_Class exc_class,
                                       struct _Unwind_Exception *exc_obj, struct _Unwind_Context *context,
                                       void *stop_parameter)
{
    (void)version;
    (void)exc_class;
    (void)exc_obj;
    struct glibc_unwind_buf *buf = stop_parameter;
    struct gpm_g *gp = gpm_getg();
    char *tcb = gp->tcb;
    struct glibc_cleanup_buffer *curp = TCB_FIELD(tcb, TCB_OFF_CLEANUP, struct glibc_cleanup_buffer *);
    uintptr_t adj = (uintptr_t)TCB_FIELD(tcb, TCB_OFF_STACKBLOCK, char *) + TCB_FIELD(tcb, TCB_OFF_STACKBLOCK_SIZE, size_t);
    uintptr_t cfa = _Unwind_GetCFA(context);
    bool do_longjump = (actions & _UA_END_OF_STACK) != 0;
    if (!do_longjump && buf != NULL) {
        uintptr_t sp = glibc_ptr_demangle((uintptr_t)buf->cancel_jmp_buf[0].jmp_buf[GLIBC_JB_RSP],
                                          TCB_FIELD(tcb, TCB_OFF_POINTER_GUARD, uintptr_t));
        do_longjump = !(cfa - adj < sp - adj);
    }
    /* Old-style handlers (_pthread_cleanup_push) in the frames being left. */
    if (curp != NULL) {
        struct glibc_cleanup_buffer *oldp = buf ? buf->priv.data.cleanup : NULL;
        if (curp != oldp && (do_longjump || frame_left(cfa, (uintptr_t)curp, adj))) {
            do {
                struct glibc_cleanup_buffer *nextp = curp->prev;
                curp->routine(curp->arg);
                curp = nextp;
            } while (curp != oldp && (do_longjump || frame_left(cfa, (uintptr_t)curp, adj)));
            TCB_FIELD(tcb, TCB_OFF_CLEANUP, struct glibc_cleanup_buffer *) = curp;
        }
    }
    if (do_longjump) {
        /* G1's last buffer is glibc's, in __libc_start_call_main, which
           would end the kernel thread: G1 finishes here instead, on this
           stack (it never comes back). */
        if (gp->kind == G_KIND_MAIN && (buf == NULL || buf->priv.data.prev == NULL))
            goexit1(gp);
        if (buf == NULL)
            /* Invariant, not an error: every G starts under a buffer of
               gpm's (gstart); without it there is nowhere to exit to. */
            gpm_throw("pthread_exit: no cleanup buffer to unwind to");
        longjmp((struct __jmp_buf_tag *)(void *)buf->cancel_jmp_buf, 1);
    }
    return _URC_NO_REASON;
}

/* Unwinds the calling G's stack towards buf. Never returns. */
static void forced_unwind(struct gpm_g *gp, struct glibc_unwind_buf *buf)
{
    struct _Unwind_Exception *exc = (struct _Unwind_Exception *)(void *)gp->exc;
    memset(exc, 0, sizeof *exc);
    exc->exception_class = 0;
    exc->exception_cleanup = unwind_cleanup;
    _Unwind_ForcedUnwind(exc, unwind_stop, buf);
    /* Not an error: glibc aborts too when forced unwinding returns; the
       stack is half unwound and the caller may not resume. */
    gpm_throw("pthread_exit: the unwinder returned");
}

void gpm_gexit(void *result)
{
    struct gpm_g *gp = gpm_getg();
    gp->result = result;
    gp->exiting = true;
    forced_unwind(gp, TCB_FIELD(gp->tcb, TCB_OFF_CLEANUP_JMP_BUF, struct glibc_unwind_buf *));
}

void gpm_unwind_next(void *buf)
{
    struct gpm_g *gp = gpm_getg();
    forced_unwind(gp, ((struct glibc_unwind_buf *)buf)->priv.data.prev);
}

/* On the G, with its own TLS: tear down thread-local state, then leave. */
static void goexit1(struct gpm_g *gp)
{
    if (gp->kind != G_KIND_MAIN)
        gpm_real.__call_tls_dtors();
    gpm_tsd_runall(gp);
    gpm_mutex_robust_exit(gp);
    gpm_futex_robust_exit(gp);
    gpm_sig_exitg(gp);
    if (gp->kind != G_KIND_MAIN) {
        uselocale(LC_GLOBAL_LOCALE);
        gpm_tcb_release(gp->tcb);
        if (gp->kind == G_KIND_BLOCK)
            gpm_tls_exitg(gp); /* a foreign thread's dynamic TLS is glibc's, at its exit */
        free(gp->cpuset);
        gp->cpuset = NULL;
    }
    if (gp->cleartid != NULL) {
        /* What the kernel does with a thread's clear_child_tid at its exit
           (a shared wake: its waiters wait in the kernel). */
        atomic_store(gp->cleartid, 0);
        gpm_syscall3(SYS_futex, (long)gp->cleartid, FUTEX_WAKE, 1);
        gp->cleartid = NULL;
    }
    gp->cleartidset = false;
    if (atomic_fetch_sub(&gpm_sched.nthreads, 1) == 1)
        exit(0); /* the last thread: the process ends, as under glibc */
    gpm_goexit_switch(gp);
}

void gpm_goexit0(struct gpm_m *mp, struct gpm_g *gp)
{
    gpm_setgstatus(gp, G_RUNNING, G_DEAD);
    if (gp->kind != G_KIND_BLOCK)
        gpm_allgs_remove(gp); /* a block's G stays on allgs, pooled ("allgs" in gstack.c) */
    if (gp->valgrind_stack_id != 0 && gp->user_stack != NULL) {
        gpm_valgrind_stack_deregister(gp->valgrind_stack_id);
        gp->valgrind_stack_id = 0;
    }
    for (;;) {
        uintptr_t w = atomic_load(&gp->joinword);
        if (w == JOIN_JOINABLE) {
            if (atomic_compare_exchange_strong(&gp->joinword, &w, JOIN_EXITED))
                return;
        } else if (w == JOIN_EXITING) {
            /* Its joiner runs already ("Exit handoff"): we are on its
               stack, and gp's block is free to go. Release: the joiner's
               collect (or a detach) that sees EXITED sees gp's result. */
            atomic_store_explicit(&gp->joinword, JOIN_EXITED, memory_order_release);
            return;
        } else if (w == JOIN_DETACHED) {
            atomic_store(&gp->joinword, JOIN_FREED);
            if (gp->kind == G_KIND_BLOCK)
                gpm_gstackfree(mp->p, gp);
            return;
        } else if (w > JOIN_STATE_MAX) {
            /* A joiner is parked (it published itself after parking). */
            atomic_store(&gp->joinword, JOIN_EXITED);
            gpm_ready_on(mp, (struct gpm_g *)w);
            return;
        } else {
            /* Invariant: the join states are all above; another value is
               gpm's own corruption, and a joiner would wait for ever. */
            gpm_throwf("goexit0: G%lu exits in join state %lu", (unsigned long)gp->goid, (unsigned long)w);
        }
    }
}

/*
 * The parked joiner of gp, which has finished, claimed for a direct switch
 * ("Exit handoff"): returns it, G_WAITING, with gp's joinword now
 * JOIN_EXITING, or NULL when nobody waits, the joiner runs on a kernel
 * thread of its own, or its timer or an interrupt withdrew it first.
 * Runs on gp's stack.
 */
struct gpm_g *gpm_join_claim(struct gpm_g *gp)
{
    uintptr_t w = atomic_load(&gp->joinword);
    if (w <= JOIN_STATE_MAX)
        return NULL;
    /* The joiner published itself (seq_cst, in join_unlockf) after it
       parked, so its kind and lockedm, which only it changes and not
       while parked, are what they will be when it resumes. */
    struct gpm_g *jg = (struct gpm_g *)w;
    if (jg->kind == G_KIND_FOREIGN || jg->lockedm != NULL)
        return NULL;
    if (!atomic_compare_exchange_strong(&gp->joinword, &w, JOIN_EXITING))
        return NULL;
    return jg;
}

/* ---- Join and detach ------------------------------------------------------ */

/*
 * A timed join races its timer against the target's exit. The timer's
 * function raises JW_FIRED and then withdraws the joiner (joiner ptr ->
 * JOINABLE); the joiner's unlockf publishes itself and then looks at
 * JW_FIRED. Both are sequentially consistent, so either the timer sees the
 * joiner published, or unlockf sees the timer fired and withdraws itself;
 * whoever withdraws the joiner readies it (or, in unlockf, does not park).
 * When the exiting G took the joiner word first, its wake-up is the one
 * that counts and the join succeeds. A signal or a cancellation does the
 * same with JW_INTERRUPTED.
 *
 * The flags are kept in the joiner's G struct (joinstate), not in the
 * joinwait on its stack: once join_unlockf has published the joiner, the
 * target's exit may switch to it at once ("Exit handoff"), and it may
 * leave gpm_join, and its stack frame, while the M that parked it is
 * still in join_unlockf. So join_unlockf reads what it needs from the
 * joinwait before it publishes, and afterwards only the G struct (never
 * freed) and the target's word (never unmapped). A sequence number per
 * wait in joinstate tells it when the wait it looks at is over already.
 *
 * Interrupting a join
 * -------------------
 * The joiner publishes its gpm_intr with a plain store (gpm_intr_publish)
 * and looks for a pending signal or cancellation in join_unlockf, after
 * the CAS that publishes the joiner: that locked instruction orders the
 * store before the loads, as gpm_intr_begin's seq_cst store would (x86-64;
 * "Interruptible waits" in sema.c), one locked instruction fewer per
 * join. unlockf runs on the joiner's M right after the switch, so the
 * store comes first in that kernel thread's order. Something found there
 * ends the wait as an interrupter would (JW_INTERRUPTED, withdrawn, not
 * parked); only the G struct is read, since the joinwait may be gone once
 * the joiner is published.
 */
enum { JW_FIRED = 1, JW_INTERRUPTED = 2, JW_SEQSHIFT = 2 };

struct joinwait {
    struct gpm_intr intr; /* first: a signal or a cancellation (signal.c) */
    struct gpm_g *target;
    struct gpm_g *self;
    uint64_t seq; /* self->joinstate >> JW_SEQSHIFT during this wait */
    struct gpm_timer t;
};

static bool join_withdraw(struct gpm_g *target, struct gpm_g *self)
{
    uintptr_t w = (uintptr_t)self;
    return atomic_compare_exchange_strong(&target->joinword, &w, JOIN_JOINABLE);
}

/* park's unlockf for pthread_join: publish the joiner, unless the target
   finished meanwhile (or another joiner won). Nothing of jw's after the
   publication (see above). */
static bool join_unlockf(struct gpm_m *mp, struct gpm_g *self, void *arg)
{
    (void)mp;
    struct joinwait *jw = arg;
    struct gpm_g *target = jw->target;
    uint64_t seq = jw->seq;
    bool intr = self->kind != G_KIND_FOREIGN;
    uintptr_t w = JOIN_JOINABLE;
    if (!atomic_compare_exchange_strong(&target->joinword, &w, (uintptr_t)self))
        return false;
    uint64_t st = atomic_load(&self->joinstate);
    if (st >> JW_SEQSHIFT == seq && (st & (JW_FIRED | JW_INTERRUPTED)) != 0 && join_withdraw(target, self))
        return false;
    /* The second half of gpm_intr_begin, after the CAS ("Interrupting a
       join"). Withdrawn, the joiner is nobody else's to ready: the flag
       is for this wait. */
    if (intr && (gpm_intr_wanted(self) || gpm_cancelpending(self)) && join_withdraw(target, self)) {
        atomic_fetch_or(&self->joinstate, JW_INTERRUPTED);
        return false;
    }
    return true;
}

/* A signal or a cancellation for the joiner: as a timeout, after which
   the joiner runs the handlers and joins again (or acts on the
   cancellation). */
static bool join_interrupt(struct gpm_g *self, struct gpm_intr *in)
{
    struct joinwait *jw = (struct joinwait *)in;
    atomic_fetch_or(&self->joinstate, JW_INTERRUPTED);
    if (join_withdraw(jw->target, self)) {
        gpm_ready(self);
        return true;
    }
    return false;
}

static void join_timeout(struct gpm_m *mp, void *arg)
{
    struct joinwait *jw = arg;
    atomic_fetch_or(&jw->self->joinstate, JW_FIRED);
    if (join_withdraw(jw->target, jw->self))
        gpm_ready_on(mp, jw->self);
}

/* Takes gp's result and frees it, if gp has exited and nobody else did. */
static int collect(struct gpm_g *gp, void **result)
{
    uintptr_t w = JOIN_EXITED;
    if (!atomic_compare_exchange_strong(&gp->joinword, &w, JOIN_FREED))
        return w == JOIN_FREED ? ESRCH : EINVAL;
    if (result != NULL)
        *result = gp->result;
    if (gp->kind == G_KIND_BLOCK) {
        struct gpm_p *pp = gpm_pinp();
        gpm_gstackfree(pp, gp);
        gpm_unpinp(pp);
        gpm_gstack_trim();
    }
    return 0;
}

int gpm_join(struct gpm_g *gp, void **result, bool block, int64_t deadline)
{
    struct gpm_g *self = gpm_getg();
    if (block)
        gpm_testcancel(); /* a cancellation point */
again:;
    uintptr_t w = atomic_load(&gp->joinword);
    /* As glibc's pthread_tryjoin_np: "still running" comes first. It asks
       only whether the kernel has cleared the thread's tid, and a join
       leaves -1 there: a thread already joined is EBUSY to it too. */
    if (!block && w != JOIN_EXITED)
        return EBUSY;
    if (w == JOIN_FREED)
        return ESRCH;
    if (w == JOIN_DETACHED)
        return EINVAL;
    if (gp == self)
        return EDEADLK;
    /* gp waits to join us: joining it would wait forever. */
    if (self != NULL && atomic_load(&self->joinword) == (uintptr_t)gp)
        return EDEADLK;
    if (w > JOIN_STATE_MAX || w == JOIN_EXITING)
        return EINVAL; /* someone else is joining it */
    if (w == JOIN_JOINABLE) {
        if (!block)
            return EBUSY;
        struct joinwait jw = {.intr = {.fn = join_interrupt, .cancelpoint = true}, .target = gp, .self = self};
        /* A new wait: no flags, and a sequence number of its own. Release:
           the timer (armed under its heap's lock) and interrupts (the
           intr is published below with a release store) come after it;
           the unlockf runs on this M, after it. */
        jw.seq = (atomic_load_explicit(&self->joinstate, memory_order_relaxed) >> JW_SEQSHIFT) + 1;
        atomic_store_explicit(&self->joinstate, jw.seq << JW_SEQSHIFT, memory_order_release);
        if (deadline != 0) {
            if (deadline <= gpm_nanotime())
                return ETIMEDOUT;
            jw.t = (struct gpm_timer){.when = deadline, .f = join_timeout, .arg = &jw};
            gpm_timer_arm(self, &jw.t);
        }
        bool intr = self != NULL && self->kind != G_KIND_FOREIGN;
        if (intr)
            gpm_intr_publish(self, &jw.intr); /* checked in join_unlockf ("Interrupting a join") */
        if (GPM_TRACING() && self != NULL)
            self->waitobj = (uintptr_t)gp->tcb;
        gpm_park_timed(join_unlockf, &jw, WAIT_JOIN, deadline != 0 ? &jw.t : NULL);
        gpm_deltimer(&jw.t);
        if (intr)
            gpm_intr_end(self, &jw.intr);
        /* Woken by gp's exit; or join_unlockf failed: gp exited first, or
           another joiner or a detach got there first; or the deadline
           passed, or a signal or a cancellation came, with gp still
           running. */
        uint64_t st = atomic_load(&self->joinstate);
        if ((st & JW_INTERRUPTED) && atomic_load(&gp->joinword) == JOIN_JOINABLE) {
            gpm_sigcheck(self);
            gpm_testcancel();
            goto again;
        }
        if ((st & JW_FIRED) && atomic_load(&gp->joinword) == JOIN_JOINABLE)
            return ETIMEDOUT;
    }
    return collect(gp, result);
}

int gpm_detach(struct gpm_g *gp)
{
    for (;;) {
        uintptr_t w = atomic_load(&gp->joinword);
        switch (w) {
        case JOIN_JOINABLE:
            if (atomic_compare_exchange_strong(&gp->joinword, &w, JOIN_DETACHED))
                return 0;
            continue;
        case JOIN_DETACHED:
            return EINVAL;
        case JOIN_EXITED:
            /* Finished and never joined: detaching frees it. */
            return collect(gp, NULL) == ESRCH ? ESRCH : 0;
        case JOIN_FREED:
            return ESRCH;
        default:
            return 0; /* a joiner waits; glibc leaves it be */
        }
    }
}

void gpm_getname(struct gpm_g *gp, char *buf, size_t len)
{
    const char *name = gp->name;
    size_t n = strnlen(name, sizeof gp->name);
    if (n >= len)
        n = len - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
}
