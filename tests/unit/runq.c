/*
 * Unit tests of the run queues (src/core/runq.c): order, runnext, overflow
 * to the global queue, stealing, and every G taken exactly once while
 * thieves steal concurrently from a producing owner.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "runtime.h"

#define NPROCS 4
static struct gpm_p procs[NPROCS];
static struct gpm_m ms[NPROCS] __attribute__((aligned(64)));

static void setup(void)
{
    memset(procs, 0, sizeof procs);
    memset(&gpm_sched, 0, sizeof gpm_sched);
    gpm_sched.gomaxprocs = NPROCS;
    gpm_sched.allp = procs;
    for (int i = 0; i < NPROCS; i++) {
        procs[i].id = i;
        atomic_store(&procs[i].state, gpm_pword(&ms[i], P_RUNNING));
    }
}

static struct gpm_g *mkgs(int n)
{
    struct gpm_g *gs = calloc((size_t)n, sizeof *gs);
    for (int i = 0; i < n; i++)
        gs[i].goid = (uint64_t)i;
    return gs;
}

TestSuite(runq, .init = setup);

Test(runq, fifo_order)
{
    struct gpm_g *gs = mkgs(10);
    for (int i = 0; i < 10; i++)
        gpm_runqput(&procs[0], &gs[i], false);
    cr_assert_eq(gpm_runqlen(&procs[0]), 10);
    for (int i = 0; i < 10; i++) {
        bool inherit = true;
        struct gpm_g *gp = gpm_runqget(&procs[0], &inherit);
        cr_assert_eq(gp, &gs[i]);
        cr_assert(!inherit);
    }
    cr_assert_null(gpm_runqget(&procs[0], NULL));
    cr_assert(gpm_runqempty(&procs[0]));
}

Test(runq, runnext_first_and_kicked_to_tail)
{
    struct gpm_g *gs = mkgs(3);
    gpm_runqput(&procs[0], &gs[0], false);
    gpm_runqput(&procs[0], &gs[1], true);
    gpm_runqput(&procs[0], &gs[2], true); /* kicks gs[1] to the tail */
    bool inherit = false;
    cr_assert_eq(gpm_runqget(&procs[0], &inherit), &gs[2]);
    cr_assert(inherit, "runnext inherits the time slice");
    cr_assert_eq(gpm_runqget(&procs[0], &inherit), &gs[0]);
    cr_assert_eq(gpm_runqget(&procs[0], &inherit), &gs[1]);
    cr_assert(!gpm_runqget(&procs[0], &inherit));
}

Test(runq, overflow_moves_half_to_global)
{
    int n = 300;
    struct gpm_g *gs = mkgs(n);
    for (int i = 0; i < n; i++)
        gpm_runqput(&procs[0], &gs[i], false);
    uint32_t local = gpm_runqlen(&procs[0]);
    int32_t global = atomic_load(&gpm_sched.runqsize);
    cr_assert_lt(local, (uint32_t)GPM_RUNQ_SIZE + 1);
    cr_assert_eq((int)local + global, n, "local %u + global %d != %d", local, global, n);
    cr_assert_gt(global, 0);
    /* The oldest Gs went to the global queue, in order. */
    cr_assert_eq(gpm_sched.runqhead, &gs[0]);
}

Test(runq, steal_takes_half)
{
    struct gpm_g *gs = mkgs(100);
    for (int i = 0; i < 100; i++)
        gpm_runqput(&procs[0], &gs[i], false);
    struct gpm_g *gp = gpm_runqsteal(&procs[1], &procs[0], false);
    cr_assert_not_null(gp);
    cr_assert_eq(gpm_runqlen(&procs[1]) + 1, 50);
    cr_assert_eq(gpm_runqlen(&procs[0]), 50);
    /* The thief takes the oldest; the one returned is the newest of them. */
    cr_assert_eq(gp, &gs[49]);
    cr_assert_eq(gpm_runqget(&procs[1], NULL), &gs[0]);
}

Test(runq, steal_runnext_only_when_asked)
{
    struct gpm_g *gs = mkgs(1);
    atomic_store(&procs[0].state, gpm_pword(NULL, P_IDLE)); /* no 3 µs politeness wait */
    gpm_runqput(&procs[0], &gs[0], true);
    cr_assert_null(gpm_runqsteal(&procs[1], &procs[0], false));
    cr_assert_eq(gpm_runqsteal(&procs[1], &procs[0], true), &gs[0]);
    cr_assert(gpm_runqempty(&procs[0]));
}

Test(runq, global_queue_fair_share)
{
    struct gpm_g *gs = mkgs(40);
    gpm_lock(&gpm_sched.lock);
    for (int i = 0; i < 40; i++)
        gpm_globrunqput(&gs[i]);
    /* 40 Gs over 4 Ps: one to run plus up to 40/4 + 1 - 1 onto the P. */
    struct gpm_g *gp = gpm_globrunqget(&procs[2], 0);
    gpm_unlock(&gpm_sched.lock);
    cr_assert_eq(gp, &gs[0]);
    cr_assert_eq(gpm_runqlen(&procs[2]), 10);
    cr_assert_eq(atomic_load(&gpm_sched.runqsize), 29);
    cr_assert_eq(gpm_runqget(&procs[2], NULL), &gs[1]);
    gpm_lock(&gpm_sched.lock);
    cr_assert_eq(gpm_globrunqget(&procs[3], 1), &gs[11]);
    gpm_globrunqputhead(&gs[0]);
    cr_assert_eq(gpm_globrunqget(&procs[3], 1), &gs[0]);
    gpm_unlock(&gpm_sched.lock);
}

/* The owner of P0 produces N Gs (and consumes some itself); three thieves,
   each owning a P, steal from P0 and drain their own queues. Every G must
   be taken exactly once. */
#define NITEMS 200000
static _Atomic int seen[NITEMS];
static atomic_bool producing;
static _Atomic long taken;

/* Runs on any thread: count, and let the main thread assert. */
static void take(struct gpm_g *gp)
{
    atomic_fetch_add(&seen[gp->goid], 1);
    atomic_fetch_add(&taken, 1);
}

static void *thief(void *arg)
{
    struct gpm_p *pp = arg;
    while (atomic_load(&producing) || !gpm_runqempty(&procs[0])) {
        struct gpm_g *gp = gpm_runqsteal(pp, &procs[0], true);
        if (gp == NULL)
            continue;
        take(gp);
        while ((gp = gpm_runqget(pp, NULL)) != NULL)
            take(gp);
    }
    return NULL;
}

Test(runq, concurrent_thieves_take_each_g_once, .timeout = 60)
{
    struct gpm_g *gs = mkgs(NITEMS);
    memset(seen, 0, sizeof seen);
    atomic_store(&taken, 0);
    atomic_store(&producing, true);
    pthread_t th[NPROCS - 1];
    for (int i = 1; i < NPROCS; i++)
        pthread_create(&th[i - 1], NULL, thief, &procs[i]);
    for (int i = 0; i < NITEMS; i++) {
        gpm_runqput(&procs[0], &gs[i], i % 7 == 0);
        if (i % 3 == 0) {
            struct gpm_g *gp = gpm_runqget(&procs[0], NULL);
            if (gp)
                take(gp);
        }
    }
    atomic_store(&producing, false);
    for (int i = 1; i < NPROCS; i++)
        pthread_join(th[i - 1], NULL);
    struct gpm_g *gp;
    while ((gp = gpm_runqget(&procs[0], NULL)) != NULL)
        take(gp);
    gpm_lock(&gpm_sched.lock);
    while ((gp = gpm_globrunqget(&procs[0], 1)) != NULL)
        take(gp);
    gpm_unlock(&gpm_sched.lock);
    while ((gp = gpm_runqget(&procs[0], NULL)) != NULL)
        take(gp);
    cr_assert_eq(atomic_load(&taken), NITEMS);
    for (int i = 0; i < NITEMS; i++)
        cr_assert_eq(atomic_load(&seen[i]), 1, "G%d taken %d times", i, atomic_load(&seen[i]));
}
