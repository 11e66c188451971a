/*
 * src/core/runq.c: the per-P and global run queues (Go's runqput, runqget,
 * runqgrab, runqsteal, globrunqput, globrunqget).
 *
 * Run queues
 * ----------
 * Each P has a 256-slot circular queue of runnable Gs plus one `runnext`
 * slot. The owner P is the only producer (runqput) and one of the consumers
 * (runqget); other Ps' Ms are consumers too, stealing half the queue at once
 * (runqgrab) when they run out of work.
 *
 *   runqtail  written only by the owner; store-release after the slot is
 *             filled, so a thief that load-acquires the tail sees the slot.
 *   runqhead  advanced by any consumer with CAS-release after it has read
 *             the slots it takes; the owner load-acquires it before reusing
 *             a slot, so it never overwrites a slot a thief is still reading.
 *   slots     atomic pointers with relaxed order: the head/tail pairs above
 *             order them.
 *
 * A consumer that reads slots [h, h+n) and then loses the CAS on runqhead
 * simply retries: what it read may have been overwritten by the owner after
 * another consumer advanced the head, but it did not take it.
 *
 * When the local queue is full, runqputslow moves half of it plus the new G
 * to the global queue in one batch, which amortises sched.lock.
 *
 * The global queue is a linked list through g->schedlink under sched.lock.
 * Ps look at it every 61st schedule (fairness: without it two Gs handing a
 * time slice back and forth on one P would starve the global queue) and
 * whenever their local queue is empty.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "sys.h"

static inline uint32_t load_acq(_Atomic uint32_t *p)
{
    return atomic_load_explicit(p, memory_order_acquire);
}

/* Moves half of pp's local queue plus gp to the global queue. Executed only
   by the owner P. Returns false if a thief changed the queue meanwhile, so
   the caller retries its fast path. */
static bool runqputslow(struct gpm_p *pp, struct gpm_g *gp, uint32_t h, uint32_t t)
{
    struct gpm_g *batch[GPM_RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    if (n != GPM_RUNQ_SIZE / 2)
        /* Invariant: only the owner P puts, and it found the queue full. */
        gpm_throw("runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&pp->runq[(h + i) % GPM_RUNQ_SIZE], memory_order_relaxed);
    /* release: commits the consume; pairs with the owner's and thieves'
       load-acquire of runqhead. */
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &h, h + n, memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    gp->schedlink = NULL;
    gpm_lock(&gpm_sched.lock);
    gpm_globrunqputbatch(batch[0], batch[n], (int32_t)(n + 1));
    gpm_unlock(&gpm_sched.lock);
    return true;
}

/*
 * runqput puts gp on pp's local run queue. With next, gp goes into runnext
 * and the G it displaces goes to the tail. If the queue is full, half of it
 * moves to the global queue.
 * Executed only by the owner P.
 */
void gpm_runqput(struct gpm_p *pp, struct gpm_g *gp, bool next)
{
    if (next) {
        struct gpm_g *old = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
        if (old == NULL) {
            /* Only the owner makes runnext non-NULL, and thieves only CAS
               it from a non-NULL value to NULL: while it is NULL nobody
               else can change it, so a store-release (pairing with the
               taker's acquire CAS, as the CAS below) is enough. A thief
               still holding an older value that equals gp would find its
               CAS succeed and take gp, which is then in runnext: a steal
               like any other. */
            atomic_store_explicit(&pp->runnext, gp, memory_order_release);
            return;
        }
        while (!atomic_compare_exchange_weak_explicit(&pp->runnext, &old, gp, memory_order_release,
                                                      memory_order_relaxed))
            ;
        if (old == NULL)
            return;
        gp = old; /* kick the old runnext to the regular queue */
    }
    for (;;) {
        uint32_t h = load_acq(&pp->runqhead); /* synchronize with consumers */
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t - h < GPM_RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[t % GPM_RUNQ_SIZE], gp, memory_order_relaxed);
            /* store-release: makes the slot available to consumers. */
            atomic_store_explicit(&pp->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
        /* the queue is not full now, so the fast path will succeed */
    }
}

/*
 * runqget takes a G from pp's local queue: runnext first (then *inheritTime
 * is true: the G continues the current time slice), else the head.
 * Executed only by the owner P.
 */
struct gpm_g *gpm_runqget(struct gpm_p *pp, bool *inheritTime)
{
    /* If there's a runnext, it's the next G to run. Only the owner sets it
       non-NULL, but thieves may clear it, hence the CAS. */
    struct gpm_g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
    if (next != NULL && atomic_compare_exchange_strong_explicit(&pp->runnext, &next, NULL,
                                                                memory_order_acquire, memory_order_relaxed)) {
        if (inheritTime)
            *inheritTime = true;
        return next;
    }
    if (inheritTime)
        *inheritTime = false;
    for (;;) {
        uint32_t h = load_acq(&pp->runqhead); /* synchronize with other consumers */
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
        if (t == h)
            return NULL;
        struct gpm_g *gp = atomic_load_explicit(&pp->runq[h % GPM_RUNQ_SIZE], memory_order_relaxed);
        /* release: commits the consume. */
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + 1, memory_order_release,
                                                  memory_order_relaxed))
            return gp;
    }
}

/*
 * runqgrab copies half of pp's queue into batch[batchHead...] (a ring of
 * GPM_RUNQ_SIZE slots) and returns how many. With stealRunNextG it may take
 * pp's runnext when the queue itself is empty.
 * Can be executed by any P.
 */
static uint32_t runqgrab(struct gpm_p *pp, _Atomic(struct gpm_g *) *batch, uint32_t batchHead,
                         bool stealRunNextG)
{
    for (;;) {
        uint32_t h = load_acq(&pp->runqhead); /* synchronize with other consumers */
        uint32_t t = load_acq(&pp->runqtail); /* synchronize with the producer */
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (stealRunNextG) {
                struct gpm_g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
                if (next != NULL) {
                    uint32_t st = gpm_pstatus(atomic_load_explicit(&pp->state, memory_order_relaxed));
                    if (st == P_RUNNING || st == P_USER) {
                        /* pp's G is running and about to block so that pp
                           schedules its runnext (it just readied it): give
                           it a moment rather than bouncing the G between
                           Ps. A handoff costs ~50 ns, so 3 µs is a ~50x
                           margin, as in Go. */
                        gpm_usleep(3);
                    }
                    if (!atomic_compare_exchange_strong_explicit(&pp->runnext, &next, NULL,
                                                                 memory_order_acquire,
                                                                 memory_order_relaxed))
                        continue;
                    atomic_store_explicit(&batch[batchHead % GPM_RUNQ_SIZE], next, memory_order_relaxed);
                    return 1;
                }
            }
            return 0;
        }
        if (n > GPM_RUNQ_SIZE / 2) /* read inconsistent h and t */
            continue;
        for (uint32_t i = 0; i < n; i++) {
            struct gpm_g *g = atomic_load_explicit(&pp->runq[(h + i) % GPM_RUNQ_SIZE], memory_order_relaxed);
            atomic_store_explicit(&batch[(batchHead + i) % GPM_RUNQ_SIZE], g, memory_order_relaxed);
        }
        /* release: commits the consume. */
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &h, h + n, memory_order_release,
                                                  memory_order_relaxed))
            return n;
    }
}

/*
 * runqsteal moves half of p2's queue onto pp's and returns one of the stolen
 * Gs to run, or NULL.
 * Executed only by the owner P (pp).
 */
struct gpm_g *gpm_runqsteal(struct gpm_p *pp, struct gpm_p *p2, bool stealRunNextG)
{
    uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t n = runqgrab(p2, pp->runq, t, stealRunNextG);
    if (n == 0)
        return NULL;
    n--;
    struct gpm_g *gp = atomic_load_explicit(&pp->runq[(t + n) % GPM_RUNQ_SIZE], memory_order_relaxed);
    if (n == 0)
        return gp;
    uint32_t h = load_acq(&pp->runqhead); /* synchronize with consumers */
    if (t - h + n >= GPM_RUNQ_SIZE)
        /* Invariant: a thief takes at most half of a queue into an empty
           one of its own. */
        gpm_throw("runqsteal: runq overflow");
    /* store-release: makes the stolen Gs available to consumers. */
    atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
    return gp;
}

/*
 * runqdrain moves every G of pp (runnext first, then the queue in order) to
 * the global queue, where any M with a P finds them. For a P in transit
 * (P_IDLE, on no list) that is about to go idle with work because no M can
 * be had for it: the caller holds it, so nobody produces on its queue.
 */
void gpm_runqdrain(struct gpm_p *pp)
{
    bool inheritTime;
    struct gpm_g *gp;
    gpm_lock(&gpm_sched.lock);
    while ((gp = gpm_runqget(pp, &inheritTime)) != NULL)
        gpm_globrunqput(gp);
    gpm_unlock(&gpm_sched.lock);
}

bool gpm_runqempty(struct gpm_p *pp)
{
    /* A P is empty only if head == tail and runnext is NULL, read
       consistently: runqput(next) may move runnext to the tail between
       our reads, so re-read the tail to detect that. */
    for (;;) {
        uint32_t head = load_acq(&pp->runqhead);
        uint32_t tail = load_acq(&pp->runqtail);
        struct gpm_g *runnext = atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (tail == load_acq(&pp->runqtail))
            return head == tail && runnext == NULL;
    }
}

uint32_t gpm_runqlen(struct gpm_p *pp)
{
    uint32_t h = load_acq(&pp->runqhead);
    uint32_t t = load_acq(&pp->runqtail);
    return t - h;
}

/* Puts gp at the tail of the global queue. sched.lock must be held. */
void gpm_globrunqput(struct gpm_g *gp)
{
    gp->schedlink = NULL;
    if (gpm_sched.runqtail)
        gpm_sched.runqtail->schedlink = gp;
    else
        gpm_sched.runqhead = gp;
    gpm_sched.runqtail = gp;
    atomic_fetch_add_explicit(&gpm_sched.runqsize, 1, memory_order_relaxed);
}

/* Puts gp at the head of the global queue. sched.lock must be held. */
void gpm_globrunqputhead(struct gpm_g *gp)
{
    gp->schedlink = gpm_sched.runqhead;
    gpm_sched.runqhead = gp;
    if (gpm_sched.runqtail == NULL)
        gpm_sched.runqtail = gp;
    atomic_fetch_add_explicit(&gpm_sched.runqsize, 1, memory_order_relaxed);
}

/* Appends the list head..tail (n Gs linked by schedlink) to the global
   queue. sched.lock must be held. */
void gpm_globrunqputbatch(struct gpm_g *head, struct gpm_g *tail, int32_t n)
{
    tail->schedlink = NULL;
    if (gpm_sched.runqtail)
        gpm_sched.runqtail->schedlink = head;
    else
        gpm_sched.runqhead = head;
    gpm_sched.runqtail = tail;
    atomic_fetch_add_explicit(&gpm_sched.runqsize, n, memory_order_relaxed);
}

/*
 * globrunqget takes a batch from the global queue: one G to return and up to
 * a fair share (size/gomaxprocs + 1, at most max if max > 0, at most half a
 * local queue) onto pp's local queue.
 * sched.lock must be held. Executed only by the owner P.
 */
struct gpm_g *gpm_globrunqget(struct gpm_p *pp, int32_t max)
{
    int32_t size = atomic_load_explicit(&gpm_sched.runqsize, memory_order_relaxed);
    if (size == 0)
        return NULL;
    int32_t n = size / gpm_sched.gomaxprocs + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > GPM_RUNQ_SIZE / 2)
        n = GPM_RUNQ_SIZE / 2;
    atomic_fetch_sub_explicit(&gpm_sched.runqsize, n, memory_order_relaxed);

    struct gpm_g *gp = gpm_sched.runqhead;
    gpm_sched.runqhead = gp->schedlink;
    if (gpm_sched.runqhead == NULL)
        gpm_sched.runqtail = NULL;
    n--;
    for (; n > 0; n--) {
        struct gpm_g *g1 = gpm_sched.runqhead;
        gpm_sched.runqhead = g1->schedlink;
        if (gpm_sched.runqhead == NULL)
            gpm_sched.runqtail = NULL;
        gpm_runqput(pp, g1, false);
    }
    gp->schedlink = NULL;
    return gp;
}
