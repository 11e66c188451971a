/*
 * src/core/wire.c: CPU affinity and scheduling policy of Gs, by wiring
 * ("Wired Gs" in sched.c).
 *
 * gpm keeps no copy of a thread's affinity or policy: the kernel keeps
 * them, per kernel thread, and every question about a G goes to the
 * kernel thread that answers for it:
 *   - a wired G: its wired M's (gp->lockedm), or the wired M it is about
 *     to move to (gp->wiringm);
 *   - any other G: a scheduler M's. Those are never changed: they all have
 *     the affinity the process started with and the ordinary policy.
 * Every change is made by the kernel on a wired M's thread first, the G's
 * own or a fresh one from the pool, so its verdict is the native one:
 * EINVAL for a set with no usable CPU, a bad policy or priority, EPERM
 * without the privilege, and then the G stays as it was. Only after that
 * does the G move: at once when it changed itself, at its next switch
 * point when another thread changed it (gpm_wirecheck). A G whose thread
 * ends up ordinary (SCHED_OTHER on the process's CPUs) unwires; a spare
 * that ends up ordinary goes back to the pool unused.
 *
 * A new G is set up as the kernel and glibc set up a new thread: it
 * inherits its creator's affinity, and its policy too unless the
 * attributes say PTHREAD_EXPLICIT_SCHED; the attributes' affinity and
 * explicit policy are applied on top. A creator that is not wired and
 * attributes that ask for nothing cost one test (gpm_wire_prepare).
 *
 * wired.lock protects the pool and every G's lockedm, wiringm and
 * unwirewanted as far as other threads are concerned (the G reads its own
 * lockedm without it). It is a leaf (lock.h): held across raw sched_*
 * system calls on wired Ms' threads, so that a wired M is not reset and
 * reused under a caller that is still applying something to it.
 */
#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <string.h>

#include "glife.h"
#include "gstack.h"
#include "sys.h"

static struct {
    struct gpm_mutex lock;
    struct gpm_m *idle; /* wired Ms without a G, through schedlink */
} wired;

/* ---- The kernel's calls, on one thread ----------------------------------- */

/* A scheduler M's kernel thread: the process's affinity and policy. */
static pid_t schedtid(void)
{
    for (struct gpm_m *mp = atomic_load_explicit(&gpm_sched.allm, memory_order_acquire); mp; mp = mp->alllink)
        if (!mp->wired)
            return mp->procid;
    return gpm_getpid();
}

/* sched_getaffinity as glibc's wrapper: 0 with the bytes the kernel did not
   fill zeroed, or -errno. */
static long k_getaffinity(pid_t tid, size_t size, cpu_set_t *set)
{
    long r = gpm_syscall3(SYS_sched_getaffinity, tid, (long)(size > 0x7fffffff ? 0x7fffffff : size), (long)set);
    if (r < 0)
        return r;
    memset((char *)set + r, 0, size - (size_t)r);
    return 0;
}

static long k_setaffinity(pid_t tid, size_t size, const cpu_set_t *set)
{
    return gpm_syscall3(SYS_sched_setaffinity, tid, (long)size, (long)set);
}

static long k_setscheduler(pid_t tid, int policy, const struct sched_param *param)
{
    return gpm_syscall3(SYS_sched_setscheduler, tid, policy, (long)param);
}

/* Whether tid runs as a thread gpm need not wire: SCHED_OTHER on the CPUs
   of the scheduler's Ms. (Machines with more than CPU_SETSIZE CPUs: the
   kernel refuses the size, and every G that asked stays wired.) */
static bool ordinary(pid_t tid)
{
    long pol = gpm_syscall1(SYS_sched_getscheduler, tid);
    if (pol < 0 || (pol & ~(long)SCHED_RESET_ON_FORK) != SCHED_OTHER)
        return false;
    cpu_set_t a, b;
    if (k_getaffinity(tid, sizeof a, &a) != 0 || k_getaffinity(schedtid(), sizeof b, &b) != 0)
        return false;
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Gives wm's thread the ordinary policy and the process's CPUs. */
static void resetm(struct gpm_m *wm)
{
    struct sched_param sp = {0};
    k_setscheduler(wm->procid, SCHED_OTHER, &sp);
    cpu_set_t set;
    if (k_getaffinity(schedtid(), sizeof set, &set) == 0)
        k_setaffinity(wm->procid, sizeof set, &set);
}

/* ---- The pool of wired Ms ------------------------------------------------ */

/* A wired M without a G, reset; NULL when no kernel thread can be made.
   Runs on a G's stack, unpinned, or a foreign thread; takes wired.lock. */
static struct gpm_m *wiredm_get(void)
{
    gpm_lock(&wired.lock);
    struct gpm_m *wm = wired.idle;
    if (wm != NULL)
        wired.idle = wm->schedlink;
    gpm_unlock(&wired.lock);
    if (wm != NULL) {
        wm->schedlink = NULL;
        return wm;
    }
    wm = gpm_newwiredm();
    /* It inherited the affinity and policy of the kernel thread that made
       it, which may be a wired G's. */
    if (wm != NULL)
        resetm(wm);
    return wm;
}

/* Resets wm and puts it in the pool. wired.lock must not be held. */
void gpm_wiredm_put(struct gpm_m *wm)
{
    resetm(wm);
    gpm_lock(&wired.lock);
    wm->lockedg = NULL;
    wm->schedlink = wired.idle;
    wired.idle = wm;
    gpm_unlock(&wired.lock);
}

/* ---- Changes ------------------------------------------------------------- */

enum { OP_AFFINITY, OP_SCHEDULER, OP_PARAM };

struct wirereq {
    int op;
    size_t size;
    const cpu_set_t *set;
    int policy;
    const struct sched_param *param;
};

static long apply(pid_t tid, const struct wirereq *req)
{
    switch (req->op) {
    case OP_AFFINITY:
        return k_setaffinity(tid, req->size, req->set);
    case OP_SCHEDULER:
        return k_setscheduler(tid, req->policy, req->param);
    default:
        return gpm_syscall2(SYS_sched_setparam, tid, (long)req->param);
    }
}

/*
 * wireset applies req to the thread that answers for gp, wiring gp to a
 * fresh wired M first if it has none. Returns 0 or -errno, the kernel's.
 * gp is the caller's own G or another G of gpm's (not foreign). Runs on a
 * G's stack, unpinned, or on a foreign thread; the caller may move to its
 * wired M (or back) before it returns.
 */
static int wireset(struct gpm_g *gp, const struct wirereq *req)
{
    struct gpm_g *self = gpm_getg();
    struct gpm_m *spare = NULL, *drop = NULL;
    long r;
    for (;;) {
        gpm_lock(&wired.lock);
        struct gpm_m *wm = gp->lockedm != NULL ? gp->lockedm : gp->wiringm;
        if (wm == NULL && spare == NULL) {
            gpm_unlock(&wired.lock);
            spare = wiredm_get();
            if (spare == NULL)
                return -EAGAIN;
            continue;
        }
        if (wm != NULL) {
            r = apply(wm->procid, req);
            if (r == 0 && gp->lockedm != NULL) {
                gp->unwirewanted = ordinary(wm->procid);
            } else if (r == 0 && ordinary(wm->procid)) {
                /* Back to ordinary before it even moved. */
                gp->wiringm = NULL;
                drop = wm;
            }
        } else {
            r = apply(spare->procid, req);
            if (r == 0 && !ordinary(spare->procid)) {
                gp->wiringm = spare;
                spare->lockedg = gp;
                spare = NULL;
            }
        }
        atomic_store_explicit(&gp->wirewant, gp->wiringm != NULL || gp->unwirewanted, memory_order_relaxed);
        gpm_unlock(&wired.lock);
        break;
    }
    if (spare != NULL)
        gpm_wiredm_put(spare);
    if (drop != NULL)
        gpm_wiredm_put(drop);
    if (gp == self) {
        if (self->syscalldepth == 0)
            gpm_wirecheck(self);
    } else if (atomic_load_explicit(&gp->wirewant, memory_order_relaxed)) {
        gpm_setpreempt(gp); /* come to a switch point soon */
    }
    return (int)r;
}

int gpm_g_setaffinity(struct gpm_g *gp, size_t size, const cpu_set_t *set)
{
    struct wirereq req = {.op = OP_AFFINITY, .size = size, .set = set};
    return wireset(gp, &req);
}

int gpm_g_setscheduler(struct gpm_g *gp, int policy, const struct sched_param *param)
{
    struct wirereq req = {.op = OP_SCHEDULER, .policy = policy, .param = param};
    return wireset(gp, &req);
}

int gpm_g_setparam(struct gpm_g *gp, const struct sched_param *param)
{
    struct wirereq req = {.op = OP_PARAM, .param = param};
    return wireset(gp, &req);
}

/* The calling G's switch point found a change asked for (gpm_wirecheck). */
void gpm_wirechange(void)
{
    struct gpm_g *gp = gpm_getg();
    struct gpm_m *wm = NULL;
    bool wire = false;
    gpm_lock(&wired.lock);
    if (gp->wiringm != NULL && gp->lockedm == NULL && gp->m != NULL) {
        wm = gp->wiringm;
        gp->wiringm = NULL;
        gp->lockedm = wm;
        wire = true;
    } else if (gp->lockedm != NULL && gp->unwirewanted) {
        wm = gp->lockedm;
        gp->lockedm = NULL;
    }
    gp->unwirewanted = false;
    atomic_store_explicit(&gp->wirewant, gp->wiringm != NULL, memory_order_relaxed);
    gpm_unlock(&wired.lock);
    if (wm == NULL)
        return;
    if (wire)
        gpm_wire_self(wm);
    else
        gpm_unwire_self(wm);
}

/* The exiting G gp leaves its wired M, or the one it was about to move to
   (which goes back to the pool). Returns the wired M it runs on, or NULL. */
struct gpm_m *gpm_wire_detach(struct gpm_g *gp)
{
    gpm_lock(&wired.lock);
    struct gpm_m *wm = gp->lockedm, *pending = gp->wiringm;
    gp->lockedm = NULL;
    gp->wiringm = NULL;
    gp->unwirewanted = false;
    atomic_store_explicit(&gp->wirewant, 0, memory_order_relaxed);
    gpm_unlock(&wired.lock);
    if (pending != NULL)
        gpm_wiredm_put(pending);
    return wm;
}

/* ---- New Gs -------------------------------------------------------------- */

int gpm_wire_prepare(struct gpm_g *self, const struct gpm_gattr *a, struct gpm_m **wmp)
{
    *wmp = NULL;
    bool explicitsched = a->inheritsched == PTHREAD_EXPLICIT_SCHED;
    /* The creator's own kernel thread, when it may not be ordinary. */
    pid_t ctid = 0;
    if (self != NULL && self->kind == G_KIND_FOREIGN) {
        ctid = gpm_gettid();
    } else if (self != NULL && (self->lockedm != NULL || atomic_load_explicit(&self->wirewant, memory_order_relaxed))) {
        gpm_lock(&wired.lock);
        struct gpm_m *cm = self->lockedm != NULL ? self->lockedm : self->wiringm;
        ctid = cm != NULL ? cm->procid : 0;
        gpm_unlock(&wired.lock);
    }
    if (ctid == 0 && a->cpuset == NULL && !(explicitsched && a->schedpolicy != SCHED_OTHER))
        return 0;
    struct gpm_m *wm = wiredm_get();
    if (wm == NULL)
        return -EAGAIN;
    long r = 0;
    if (ctid != 0) {
        /* What clone gives a new thread: the creator's CPUs, and (unless
           explicit, or the creator asked SCHED_RESET_ON_FORK) its policy. */
        cpu_set_t set;
        r = k_getaffinity(ctid, sizeof set, &set);
        if (r == 0)
            r = k_setaffinity(wm->procid, sizeof set, &set);
        long pol = gpm_syscall1(SYS_sched_getscheduler, ctid);
        struct sched_param sp;
        if (r == 0 && !explicitsched && pol >= 0 && !(pol & SCHED_RESET_ON_FORK) &&
            gpm_syscall2(SYS_sched_getparam, ctid, (long)&sp) == 0)
            r = k_setscheduler(wm->procid, (int)pol, &sp);
    }
    if (r == 0 && a->cpuset != NULL)
        r = k_setaffinity(wm->procid, a->cpusetsize, a->cpuset);
    if (r == 0 && explicitsched) {
        struct sched_param sp = {.sched_priority = a->schedprio};
        r = k_setscheduler(wm->procid, a->schedpolicy, &sp);
    }
    if (r != 0 || ordinary(wm->procid)) {
        gpm_wiredm_put(wm);
        return (int)r;
    }
    *wmp = wm;
    return 0;
}

void gpm_wire_new(struct gpm_g *gp, struct gpm_m *wm)
{
    gpm_lock(&wired.lock);
    gp->lockedm = wm;
    wm->lockedg = gp;
    gpm_unlock(&wired.lock);
    gpm_wire_start(gp, wm);
}

/* ---- Questions ----------------------------------------------------------- */

/* The kernel thread that answers for gp. wired.lock must be held. */
static pid_t answertid(struct gpm_g *gp)
{
    struct gpm_m *wm = gp->lockedm != NULL ? gp->lockedm : gp->wiringm;
    return wm != NULL ? wm->procid : schedtid();
}

int gpm_g_getaffinity(struct gpm_g *gp, size_t size, cpu_set_t *set)
{
    gpm_lock(&wired.lock);
    long r = k_getaffinity(answertid(gp), size, set);
    gpm_unlock(&wired.lock);
    return (int)r;
}

int gpm_g_getscheduler(struct gpm_g *gp)
{
    gpm_lock(&wired.lock);
    long r = gpm_syscall1(SYS_sched_getscheduler, answertid(gp));
    gpm_unlock(&wired.lock);
    return (int)r;
}

int gpm_g_getparam(struct gpm_g *gp, struct sched_param *param)
{
    gpm_lock(&wired.lock);
    long r = gpm_syscall2(SYS_sched_getparam, answertid(gp), (long)param);
    gpm_unlock(&wired.lock);
    return (int)r;
}

/* ---- Thread ids ---------------------------------------------------------- */

struct gpm_g *gpm_findg_tid(pid_t tid)
{
    return tid > 0 ? gpm_tid_to_g(tid) : NULL;
}

/* ---- fork ---------------------------------------------------------------- */

void gpm_wire_forkchild(void)
{
    wired.lock = (struct gpm_mutex)GPM_MUTEX_INIT;
    wired.idle = NULL; /* their kernel threads are not in the child */
}
