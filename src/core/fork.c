/*
 * src/core/fork.c: fork from a threaded program (DESIGN.md section 11).
 *
 * fork copies one kernel thread, so the child has exactly one thread: the G
 * that called fork, on a copy of its M. Every other M is gone, and with it
 * every G that was running, runnable or parked: they never run in the
 * child, just as glibc's other threads do not exist there. Their blocks
 * stay mapped and unused (glibc likewise cannot reuse the stacks of threads
 * that were mid-malloc at the fork).
 *
 * gpm's own locks are held across the fork (prepare), so that none is
 * copied in the middle of a critical section; the parent releases them and
 * the child releases them and then rebuilds the scheduler: its P keeps
 * running, every other P is idle with empty queues, the global queue and
 * the idle-M list are empty, allm and allgs hold only what exists.
 * The first pthread_create in the child starts sysmon and the M maker
 * again, as at start-up.
 *
 * The handlers are registered with pthread_atfork at start-up, so they run
 * after the program's own prepare handlers and before its parent and child
 * handlers (POSIX order), on the forking G.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "alloc.h"
#include "cputime.h"
#include "exectrace.h"
#include "glife.h"
#include "gstack.h"
#include "init.h"
#include "runtime.h"
#include "sema.h"
#include "sys.h"
#include "sysmon.h"
#include "netpoll.h"
#include "timer.h"
#include "gsig.h"
#include "wire.h"

static void prepare(void)
{
    if (atomic_load(&gpm_state) != GPM_ACTIVE)
        return;
    gpm_netfd_sharing(); /* the child shares the file descriptions */
    /* Lock order (lock.h): signal.c's, allglock, gpool.lock, sched.lock,
       persistent. */
    gpm_sig_forklock();
    gpm_gstack_forklock();
    gpm_lock(&gpm_sched.lock);
    gpm_persistent_forklock();
}

static void parent(void)
{
    if (atomic_load(&gpm_state) != GPM_ACTIVE)
        return;
    gpm_persistent_forkunlock();
    gpm_unlock(&gpm_sched.lock);
    gpm_gstack_forkunlock();
    gpm_sig_forkunlock();
}

static void child(void)
{
    if (atomic_load(&gpm_state) != GPM_ACTIVE)
        return;
    gpm_exectrace_forkchild(); /* the parent's trace is the parent's */
    struct gpm_g *self = gpm_getg();
    struct gpm_m *mp = self ? self->m : NULL;
    gpm_persistent_forkunlock();
    gpm_unlock(&gpm_sched.lock);
    gpm_gstack_forkunlock();
    gpm_sig_forkunlock();
    gpm_sig_forkchild(); /* one thread: signals go straight to it again */
    gpm_wire_forkchild();
    if (self != NULL && self->wiringm != NULL) {
        self->wiringm = NULL; /* its kernel thread is not in the child */
        atomic_store(&self->wirewant, 0);
    }
    if (self != NULL && self->lockedm != NULL) {
        /* A wired G forked ("Wired Gs" in sched.c): its wired M is the
           child's one kernel thread, and becomes the scheduler's M. Its
           affinity and policy stay, as a native child keeps the forking
           thread's, and the threads the child makes inherit them. */
        mp = self->lockedm;
        self->lockedm = NULL;
        self->unwirewanted = false;
        atomic_store(&self->wirewant, 0);
        mp->wired = false;
        mp->lockedg = NULL;
        mp->curg = self;
        mp->p = NULL;
        self->m = mp;
    }
    if (mp == NULL)
        return; /* a foreign thread forked: it has no M; nothing of gpm's runs */

    mp->procid = gpm_gettid();
    /* In the child, glibc counts every thread but the caller as gone and
       reuses their stacks and TCBs for new threads: among them the native
       stack and TCB of the kernel thread that was this M in the parent,
       unless that was the main thread (M0's g0 stack is gpm's own, makeg0,
       and its TLS block too). Such an M's g0 takes over the g0 stack of
       gpm's, whose M is gone here (gpm_adoptg0), and its own TLS becomes
       the calling G's, the one TCB glibc knows to be alive here (as M0
       shares G1's). This holds whichever G forks: G1 too, once it has
       moved off M0. */
    if (mp->nativeg0) {
        gpm_adoptg0(mp);
        mp->owntcb = self->tcb;
    }
    mp->spinning = false;
    mp->schedlink = NULL;
    mp->alllink = NULL;
    mp->nextp = NULL;
    atomic_store(&gpm_sched.allm, mp);
    gpm_sched.midle = NULL;
    gpm_sched.nmidle = 0;
    gpm_sched.timerm = NULL;
    atomic_store(&gpm_sched.pollUntil, 0);
    gpm_sched.runqhead = gpm_sched.runqtail = NULL;
    atomic_store(&gpm_sched.runqsize, 0);
    atomic_store(&gpm_sched.nmspinning, 0);
    gpm_sched.pidle = NULL;
    atomic_store(&gpm_sched.npidle, 0);
    /* The forking G keeps its M's P; if sysmon had just taken it in the
       parent, it takes P0 (every P is free here). It is in the program's
       code: P_USER ("P ownership" in sched.c). */
    if (mp->p == NULL)
        mp->p = &gpm_sched.allp[0];
    for (int32_t i = gpm_sched.gomaxprocs - 1; i >= 0; i--) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        atomic_store(&pp->runqhead, 0);
        atomic_store(&pp->runqtail, 0);
        atomic_store(&pp->runnext, NULL);
        if (pp == mp->p) {
            atomic_store(&mp->pinned, 0);
            atomic_store(&pp->state, gpm_pword(mp, P_USER));
            continue;
        }
        atomic_store(&pp->state, gpm_pword(NULL, P_IDLE));
        pp->link = gpm_sched.pidle;
        gpm_sched.pidle = pp;
        atomic_fetch_add(&gpm_sched.npidle, 1);
    }
    atomic_store(&gpm_sched.nthreads, 1);
    gpm_timers_forkchild();
    gpm_netpoll_forkchild();
    gpm_sema_forkchild();
    gpm_gstack_forkchild(self);
    gpm_cputime_forkchild(self);
    gpm_mmaker_forkchild(); /* the parent's maker and sysmon are not in the child */
    gpm_sysmon_forkchild();
}

int gpm_fork_init(void)
{
    return pthread_atfork(prepare, parent, child);
}
