/*
 * src/core/timer.c: per-P timer heaps.
 *
 * Each P has a 4-ary min-heap of timers ordered by `when`, guarded by the
 * P's timerslock, and publishes the earliest `when` in timer0when so that
 * the scheduler can test "anything due?" with one atomic load. A G that
 * sleeps or waits with a deadline adds its timer to its own P's heap; the
 * timer's function readies it.
 *
 * Who runs timers
 * ---------------
 * Any M may run any P's timers: the heap has its own lock, and a timer's
 * function readies its G onto the P of the M that runs it.
 *   - schedule() and the direct G-to-G switches (switchout, yield) run the
 *     due timers of their own P;
 *   - findrunnable, before giving up its P, runs the due timers of every P
 *     (an idle P's timers have no M of their own; a busy P's M may be kept
 *     from its own by a G that computes, or sleeps outside gpm);
 *   - one idle M, the timer M (sched.timerm), sleeps no later than the
 *     earliest timer of all Ps (stopm), then takes an idle P and runs them
 *     through findrunnable. A timer already due when an M would park is run
 *     at once if a P is idle; an M never sleeps with a deadline in the past;
 *   - adding a timer earlier than the timer M's wake-up wakes it, and with
 *     no timer M and an idle P starts an M (gpm_wake_timerm, Go's
 *     wakeNetPoller);
 *   - when every P is busy, each P's own M runs its timers at its next
 *     scheduler pass; sysmon preempts a G that keeps a due timer of its P
 *     waiting, or revokes the P of an M that sleeps outside gpm
 *     ("sysmon" in sched.c), and starts an M for timers over 1 ms late when
 *     a P is idle (gpm_sysmon_stranded).
 * So a due timer waits for at most one of: an idle M's wake-up, a
 * scheduler pass, or sysmon.
 *
 * Timer life
 * ----------
 * A timer function runs with its P's timerslock held, after the timer was
 * taken off the heap (idx = -1), and nothing touches the timer after the
 * function returns. gpm_deltimer takes the same lock: if the timer is
 * still on the heap it removes it; if not, the function has already run
 * to completion (the lock proves it). So once gpm_deltimer returns, the
 * timer's memory may be reused, whichever of the two won.
 *
 * Lock order: a P's timerslock comes before the semtable's locks and
 * sched.lock (timer functions ready Gs); see lock.h.
 */
#define _GNU_SOURCE
#include "exectrace.h"
#include "timer.h"

#include <errno.h>
#include <sys/mman.h>

#include "gsig.h"
#include "sys.h"

/*
 * Out of memory
 * -------------
 * The heap array of a P lives in pages of its own (grown by doubling with
 * mmap), since timers are added on g0, where malloc is off limits. A sleep
 * or a timed wait has no error to give when that mmap fails, and must not
 * lose its deadline: a timer the heap has no room for goes on the P's
 * spill list instead (through the timer itself, so that adding never
 * needs memory), idx -2. Everything that reads the heap reads the list
 * too, in linear time: a process out of memory runs slower, and correctly.
 * The next add or check that finds the heap can grow again moves the list
 * into it.
 */
static bool heapgrow(struct gpm_p *pp)
{
    size_t ncap = pp->timerscap ? (size_t)pp->timerscap * 2 : 512;
    struct gpm_timer **nt = gpm_mmap(NULL, ncap * sizeof *nt, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (gpm_mmap_failed(nt))
        return false;
    if (pp->timers != NULL) {
        for (int32_t i = 0; i < pp->ntimers; i++)
            nt[i] = pp->timers[i];
        gpm_munmap(pp->timers, (size_t)pp->timerscap * sizeof *nt);
    }
    pp->timers = nt;
    pp->timerscap = (int32_t)ncap;
    return true;
}

static void spillput(struct gpm_p *pp, struct gpm_timer *t)
{
    t->idx = -2;
    t->spillprev = NULL;
    t->spillnext = pp->spill;
    if (pp->spill != NULL)
        pp->spill->spillprev = t;
    pp->spill = t;
}

static void spillremove(struct gpm_p *pp, struct gpm_timer *t)
{
    if (t->spillprev != NULL)
        t->spillprev->spillnext = t->spillnext;
    else
        pp->spill = t->spillnext;
    if (t->spillnext != NULL)
        t->spillnext->spillprev = t->spillprev;
    t->idx = -1;
}

static void heapset(struct gpm_p *pp, int32_t i, struct gpm_timer *t)
{
    pp->timers[i] = t;
    t->idx = i;
}

static void siftup(struct gpm_p *pp, int32_t i)
{
    struct gpm_timer *t = pp->timers[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (pp->timers[parent]->when <= t->when)
            break;
        heapset(pp, i, pp->timers[parent]);
        i = parent;
    }
    heapset(pp, i, t);
}

static void siftdown(struct gpm_p *pp, int32_t i)
{
    struct gpm_timer *t = pp->timers[i];
    int32_t n = pp->ntimers;
    for (;;) {
        int32_t c = i * 4 + 1;
        if (c >= n)
            break;
        int32_t best = c;
        for (int32_t k = c + 1; k < c + 4 && k < n; k++)
            if (pp->timers[k]->when < pp->timers[best]->when)
                best = k;
        if (pp->timers[best]->when >= t->when)
            break;
        heapset(pp, i, pp->timers[best]);
        i = best;
    }
    heapset(pp, i, t);
}

/* Removes the timer at i. timerslock held. */
static void heapremove(struct gpm_p *pp, int32_t i)
{
    struct gpm_timer *t = pp->timers[i];
    int32_t last = --pp->ntimers;
    if (i != last) {
        heapset(pp, i, pp->timers[last]);
        siftdown(pp, i);
        siftup(pp, pp->timers[i]->idx);
    }
    pp->timers[last] = NULL;
    t->idx = -1;
}

/* The earliest `when` of pp's timers, or 0. timerslock held. */
static int64_t earliest(struct gpm_p *pp)
{
    int64_t w = pp->ntimers > 0 ? pp->timers[0]->when : 0;
    for (struct gpm_timer *t = pp->spill; t != NULL; t = t->spillnext)
        if (w == 0 || t->when < w)
            w = t->when;
    return w;
}

static void updatetimer0(struct gpm_p *pp)
{
    atomic_store(&pp->timer0when, earliest(pp));
}

static void heapadd(struct gpm_p *pp, struct gpm_timer *t)
{
    int32_t i = pp->ntimers++;
    heapset(pp, i, t);
    siftup(pp, i);
}

/* Moves spilled timers into the heap while it has or gets room. */
static void unspill(struct gpm_p *pp)
{
    while (pp->spill != NULL && (pp->ntimers < pp->timerscap || heapgrow(pp))) {
        struct gpm_timer *t = pp->spill;
        spillremove(pp, t);
        heapadd(pp, t);
    }
}

void gpm_addtimer(struct gpm_p *pp, struct gpm_timer *t)
{
    if (t->when <= 0)
        t->when = 1; /* 0 means "no timer" in timer0when */
    t->pp = pp;
    gpm_lock(&pp->timerslock);
    if (__builtin_expect(pp->spill != NULL, 0))
        unspill(pp);
    int64_t before = atomic_load_explicit(&pp->timer0when, memory_order_relaxed);
    if (pp->ntimers < pp->timerscap || heapgrow(pp))
        heapadd(pp, t);
    else
        spillput(pp, t);
    bool first = before == 0 || t->when < before;
    updatetimer0(pp); /* seq_cst store: see gpm_wake_timerm */
    gpm_unlock(&pp->timerslock);
    if (first)
        gpm_wake_timerm(t->when);
}

bool gpm_deltimer(struct gpm_timer *t)
{
    struct gpm_p *pp = t->pp;
    if (pp == NULL)
        return false;
    gpm_lock(&pp->timerslock);
    bool onheap = t->idx != -1;
    if (t->idx >= 0)
        heapremove(pp, t->idx);
    else if (t->idx == -2)
        spillremove(pp, t);
    if (onheap)
        updatetimer0(pp);
    gpm_unlock(&pp->timerslock);
    return onheap;
}

int64_t gpm_checktimers(struct gpm_m *mp, struct gpm_p *pp, int64_t now)
{
    int64_t next = atomic_load_explicit(&pp->timer0when, memory_order_relaxed);
    if (next == 0 || next > now)
        return next;
    gpm_lock(&pp->timerslock);
    while (pp->ntimers > 0 && pp->timers[0]->when <= now) {
        struct gpm_timer *t = pp->timers[0];
        heapremove(pp, 0);
        updatetimer0(pp);
        /* See "Timer life": t is not touched after this call. */
        if (mp != NULL && mp->p != pp)
            mp->stats.nothertimer++;
        GPM_TRACE_EV(mp, TEV_TIMER, 0, 0, 0, 0, now - t->when);
        t->f(mp, t->arg);
    }
    if (__builtin_expect(pp->spill != NULL, 0)) {
        unspill(pp);
        for (struct gpm_timer *t = pp->spill, *nx; t != NULL; t = nx) {
            nx = t->spillnext;
            if (t->when <= now) {
                spillremove(pp, t);
                updatetimer0(pp);
                GPM_TRACE_EV(mp, TEV_TIMER, 0, 0, 0, 0, now - t->when);
                t->f(mp, t->arg); /* t is not touched after this call */
            }
        }
    }
    updatetimer0(pp);
    next = earliest(pp);
    gpm_unlock(&pp->timerslock);
    return next;
}

int64_t gpm_timers_earliest(void)
{
    int64_t min = 0;
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        int64_t w = atomic_load(&gpm_sched.allp[i].timer0when);
        if (w != 0 && (min == 0 || w < min))
            min = w;
    }
    return min;
}

void gpm_timers_forkchild(void)
{
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        struct gpm_p *pp = &gpm_sched.allp[i];
        pp->timerslock = (struct gpm_mutex)GPM_MUTEX_INIT;
        pp->ntimers = 0;
        pp->spill = NULL;
        atomic_store(&pp->timer0when, 0);
    }
}

/* ---- Deadlines ------------------------------------------------------------ */

static bool validts(const struct timespec *ts)
{
    return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

bool gpm_deadline_abs(clockid_t clock, const struct timespec *ts, int64_t *deadline)
{
    if (!validts(ts))
        return false;
    int64_t when = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    if (ts->tv_sec < 0)
        when = 0;
    if (clock != CLOCK_MONOTONIC) {
        struct timespec now;
        clock_gettime(clock, &now);
        int64_t left = when - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
        when = gpm_nanotime() + left;
    }
    /* Saturate far-future deadlines (tv_sec near LONG_MAX) so that they
       stay in the future instead of overflowing. */
    if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
        when = INT64_MAX;
    *deadline = when > 0 ? when : 1;
    return true;
}

bool gpm_deadline_rel(const struct timespec *ts, int64_t *deadline)
{
    if (!validts(ts) || ts->tv_sec < 0)
        return false;
    int64_t now = gpm_nanotime();
    if (ts->tv_sec > (INT64_MAX - now) / 1000000000 - 1)
        *deadline = INT64_MAX;
    else
        *deadline = now + (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    return true;
}

/* ---- Sleeping --------------------------------------------------------------- */

/*
 * A sleeper's state: 0 running towards its park, 1 parked, 2 woken (by its
 * timer or by an interrupt, whichever moved it from 1 first; a timer or an
 * interrupt that finds 0 keeps it from parking at all).
 *
 * The sleeper and its timer live on its stack, so sleep_unlockf must not
 * touch either once its CAS to 1 has published the park: from then on a
 * waker may ready the sleeper, which may run on another M, delete its
 * timer, return and reuse that stack while this M is still in the unlockf.
 * So the timer goes onto a heap first, and the CAS is the unlockf's last
 * touch of the sleeper (a timer that fires before it finds 0).
 */
struct sleeper {
    struct gpm_intr intr; /* first: a signal or a cancellation (signal.c) */
    struct gpm_g *gp;
    _Atomic int state;
    bool interrupted;
    struct gpm_timer t;
};

static void sleepwake(struct gpm_m *mp, void *arg)
{
    struct sleeper *s = arg;
    int v = 0;
    if (atomic_compare_exchange_strong(&s->state, &v, 2))
        return; /* not parked yet: its unlockf sees 2 and does not park */
    v = 1;
    if (atomic_compare_exchange_strong(&s->state, &v, 2))
        gpm_ready_on(mp, s->gp);
}

static bool sleep_interrupt(struct gpm_g *gp, struct gpm_intr *in)
{
    struct sleeper *s = (struct sleeper *)in;
    s->interrupted = true;
    int v = 0;
    if (atomic_compare_exchange_strong(&s->state, &v, 2))
        return true;
    v = 1;
    if (atomic_compare_exchange_strong(&s->state, &v, 2)) {
        gpm_ready(gp);
        return true;
    }
    return false;
}

/* park's unlockf: the sleeper is off its M, so the timer may fire now:
   onto the heap of the M's P (or, when it has none, P0's: any M runs any
   heap), and then the park is published (see struct sleeper: nothing of
   the sleeper's may be touched after that). A wired G has no heap:
   park_wired watches t itself. */
static bool sleep_unlockf(struct gpm_m *mp, struct gpm_g *gp, void *arg)
{
    (void)gp;
    struct sleeper *s = arg;
    if (mp != NULL)
        gpm_addtimer(mp->p != NULL ? mp->p : &gpm_sched.allp[0], &s->t);
    int v = 0;
    /* false: interrupted, or its timer fired, before it parked */
    return atomic_compare_exchange_strong(&s->state, &v, 1);
}

int gpm_sleepuntil(int64_t deadline)
{
    struct gpm_g *gp = gpm_getg();
    struct sleeper s = {.intr = {.fn = sleep_interrupt, .cancelpoint = true}, .gp = gp};
    bool intr = gp->kind != G_KIND_FOREIGN;
    while (gpm_nanotime() < deadline) {
        s.t = (struct gpm_timer){.when = deadline, .f = sleepwake, .arg = &s, .idx = -1};
        atomic_store(&s.state, 0);
        if (intr && !gpm_intr_begin(gp, &s.intr))
            return EINTR;
        gpm_park_timed(sleep_unlockf, &s, WAIT_SLEEP, &s.t);
        gpm_deltimer(&s.t);
        if (intr)
            gpm_intr_end(gp, &s.intr);
        if (s.interrupted)
            return EINTR;
    }
    return 0;
}
