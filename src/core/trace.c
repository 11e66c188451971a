/*
 * src/core/trace.c: the scheduler's state for people: printed on fatal
 * errors (gpm_throw). Reads without locks: it runs when something is
 * already broken, perhaps with a lock held, and prints what it sees.
 */
#define _GNU_SOURCE
#include "env.h"
#include "futex.h"
#include "gstack.h"
#include "runtime.h"
#include "sys.h"

static void dumpg(struct gpm_g *gp, void *arg)
{
    (void)arg;
    uint32_t st = gpm_readgstatus(gp);
    struct gpm_m *mp = gp->m;
    if (st == G_WAITING)
        gpm_printf("  G%lu: %s (%s, %ld ms)\n", (unsigned long)gp->goid, gpm_gstatus_name(st),
                   gpm_waitreason_name(gp->waitreason), (long)((gpm_nanotime() - gp->waitsince) / 1000000));
    else if (mp != NULL)
        gpm_printf("  G%lu: %s on M%d\n", (unsigned long)gp->goid, gpm_gstatus_name(st), mp->id);
    else
        gpm_printf("  G%lu: %s\n", (unsigned long)gp->goid, gpm_gstatus_name(st));
}

static const char *const pstatus_names[P_NSTATUS] = {
    [P_IDLE] = "idle", [P_RUNNING] = "running", [P_USER] = "user", [P_SYSCALL] = "syscall", [P_REVOKING] = "revoking"};

void gpm_dumpstate(void)
{
    if (!gpm_sched.started)
        return;
    gpm_printf("gpm: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d\n",
               gpm_sched.gomaxprocs, atomic_load(&gpm_sched.npidle), gpm_sched.mnext,
               atomic_load(&gpm_sched.nmspinning), gpm_sched.nmidle, atomic_load(&gpm_sched.runqsize));
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        uintptr_t w = atomic_load(&pp->state);
        struct gpm_m *mp = gpm_powner(w);
        uint32_t st = gpm_pstatus(w);
        if (st == P_USER && atomic_load_explicit(&mp->pinned, memory_order_relaxed))
            st = P_RUNNING; /* the light pin ("P ownership" in sched.c) */
        gpm_printf("  P%d: status=%s schedtick=%u m=%d runqsize=%u timers=%d\n", pp->id,
                   st < P_NSTATUS ? pstatus_names[st] : "???", atomic_load(&pp->schedtick), mp ? mp->id : -1,
                   gpm_runqlen(pp), pp->ntimers);
    }
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink) {
        struct gpm_g *gp = mp->curg;
        /* mp->p is the P the M last held: it may have lost it to sysmon. */
        struct gpm_p *pp = mp->p;
        bool owns = pp != NULL && gpm_powner(atomic_load(&pp->state)) == mp;
        gpm_printf("  M%d: tid=%d p=%d curg=%ld spinning=%d%s%s\n", mp->id, mp->procid, owns ? pp->id : -1,
                   gp ? (long)gp->goid : -1L, mp->spinning,
                   atomic_load(&mp->blockedoutside) ? " blocked outside gpm (P revoked)" : "",
                   pp != NULL && !owns ? " (running without a P)" : "");
    }
    gpm_forallg_unlocked(dumpg, NULL);
}

/* GPM_DEBUG=stats: counters since start-up, summed over Ms. Printed at
   exit (atexit) and by the SIGQUIT dump. Reads without synchronisation. */
void gpm_printstats(void)
{
    if (!gpm_sched.started)
        return;
    struct gpm_mstats t = {0};
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink) {
        t.nswitch += mp->stats.nswitch;
        t.ngcreated += mp->stats.ngcreated;
        t.nsteal += mp->stats.nsteal;
        t.ncoopyield += mp->stats.ncoopyield;
        t.nasyncyield += mp->stats.nasyncyield;
        t.nothertimer += mp->stats.nothertimer;
        t.nmwake += mp->stats.nmwake;
        t.nmpark += mp->stats.nmpark;
    }
    gpm_printf("gpm stats: Gs created %lu, switches %lu, steals %lu, handoffs %lu, retakes %lu, revocations %lu, "
               "preemption requests %lu (%lu signalled), preemptions %lu cooperative / %lu asynchronous, "
               "timers run by other Ps %lu, futex waits emulated %lu, peak Ms %d, M wake-ups %lu, M parks %lu\n",
               (unsigned long)t.ngcreated, (unsigned long)t.nswitch, (unsigned long)t.nsteal,
               (unsigned long)atomic_load(&gpm_sched.nhandoff), (unsigned long)atomic_load(&gpm_sched.nretake),
               (unsigned long)atomic_load(&gpm_sched.nrevoke), (unsigned long)atomic_load(&gpm_sched.npreemptreq),
               (unsigned long)atomic_load(&gpm_sched.npreemptsig), (unsigned long)t.ncoopyield,
               (unsigned long)t.nasyncyield, (unsigned long)t.nothertimer, (unsigned long)gpm_futex_nwaits(),
               gpm_sched.mnext, (unsigned long)t.nmwake, (unsigned long)t.nmpark);
}
