/*
 * src/core/trace.c: the scheduler's state for people: printed on fatal
 * errors (gpm_throw). Reads without locks: it runs when something is
 * already broken, perhaps with a lock held, and prints what it sees.
 */
#define _GNU_SOURCE
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

void gpm_dumpstate(void)
{
    if (!gpm_sched.started)
        return;
    gpm_printf("gpm: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d\n",
               gpm_sched.gomaxprocs, atomic_load(&gpm_sched.npidle), gpm_sched.mnext,
               atomic_load(&gpm_sched.nmspinning), gpm_sched.nmidle, atomic_load(&gpm_sched.runqsize));
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        struct gpm_m *mp = pp->m;
        gpm_printf("  P%d: status=%u schedtick=%u m=%d runqsize=%u\n", pp->id, atomic_load(&pp->status),
                   pp->schedtick, mp ? mp->id : -1, gpm_runqlen(pp));
    }
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink) {
        struct gpm_g *gp = mp->curg;
        gpm_printf("  M%d: tid=%d p=%d curg=%ld spinning=%d\n", mp->id, mp->procid, mp->p ? mp->p->id : -1,
                   gp ? (long)gp->goid : -1L, mp->spinning);
    }
    gpm_forallg_unlocked(dumpg, NULL);
}
