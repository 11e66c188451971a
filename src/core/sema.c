/*
 * src/core/sema.c: the semtable (see sema.h).
 *
 * 251 buckets, each a lock and a FIFO list of sudogs (one per parked G,
 * living on that G's stack), keyed by the address the G waits on.
 * Addresses that share a bucket share its list; lookups skip over other
 * addresses. FIFO order within one address is what makes wake-ups fair.
 *
 * Sudog states (under the bucket lock):
 *   SUDOG_IDLE     not queued yet (the timer may fire: -> SUDOG_TIMEDOUT)
 *   SUDOG_QUEUED   on its bucket's list; its G is parked, or is parking on
 *                  an M that holds the bucket lock until the G is off it
 *                  (the lock is released by park's unlockf)
 *   SUDOG_WOKEN    taken off by a waker, which then readies the G
 *   SUDOG_TIMEDOUT taken off (or kept from queueing) by the timer
 * Exactly one of waker and timer takes a queued sudog off; only that one
 * readies the G.
 *
 * The bucket list is doubly linked so that a timed-out waiter is removed
 * in O(1).
 *
 * nwait
 * -----
 * `nwait` counts the sudogs of a bucket (and waiters about to check), so
 * that a wake on an address nobody waits for costs one atomic load: a
 * waiter increments it (seq_cst) under the bucket lock before it checks
 * the word, a waker changes the word before it loads nwait (seq_cst), so
 * one of them sees the other:
 *
 *   waiter                          waker
 *   lock(bucket)
 *   nwait++            (seq_cst)    *word = new   (seq_cst RMW, or any
 *   *word == val?      (seq_cst)                   store then a seq_cst fence)
 *     yes: enqueue; park            nwait == 0?   (seq_cst)
 *     no: nwait--                     no: lock(bucket); wake
 *     (unlock after the switch)
 *
 * Either the waiter's check comes after the waker's change in the single
 * order of seq_cst operations, and it sees the new word and does not
 * park, or the increment comes before the waker's load, which then sees a
 * count of at least one (the queued sudog keeps the waiter's increment: it
 * is the count of that sudog) and takes the lock, which it gets only once
 * the waiter is queued. Wakers whose change of the word is not itself
 * seq_cst (a program's plain store before FUTEX_WAKE) must put a seq_cst
 * fence between it and the load (futex.c does).
 *
 * Every change of nwait is made under its bucket's lock, so only the
 * waiter's increment, which must come before its check in the seq_cst
 * order, needs to be a locked instruction; the decrements (a sudog taken
 * off, a waiter that does not park) are a relaxed load and store. A
 * waker's lock-free load that reads such a decrement reads a count that
 * the lock made later than every increment before it (the increment
 * happens-before the decrement), so it cannot hide a waiter that is still
 * queued.
 *
 * A waiter on a word that only gpm_sema_bumpwake changes (a condition
 * variable's seq: gpm_sema_waitseq) increments with a plain load and
 * store too. Its wakers take the bucket lock before they look at the
 * queue, and the one lock-free look that may follow (gpm_sema_requeue's,
 * in a broadcast, right after its gpm_sema_bumpwake on the same word)
 * comes after that lock, so the lock orders it after the increment.
 * Waiters on other words in the same bucket still increment with a
 * locked instruction; all of them hold the lock, so no update is lost.
 *
 * Interruptible waits
 * -------------------
 * A waiter publishes its gpm_intr and then looks for a pending signal or
 * cancellation, while a sender sets pending and then looks for the intr
 * (Dekker's pattern: "Interrupting a wait" in signal.c). semawait needs no
 * locked store for its half: it publishes with a plain store
 * (gpm_intr_publish) before it takes the bucket lock and looks
 * (gpm_intr_check) after, and the lock's compare-and-swap is a locked
 * instruction, which on x86-64 (gpm's one architecture) orders every
 * store before it with every load after it; the compiler fence in
 * gpm_intr_publish keeps the compiler from moving the store past the
 * loads.
 *
 * Lock order: a P's timerslock, then bucket locks (two at once only in
 * requeue, in address order), then sched.lock. See lock.h.
 */
#define _GNU_SOURCE
#include "exectrace.h"
#include "sema.h"

#include <errno.h>
#include <stddef.h>

#include "foreign.h"
#include "gsig.h"
#include "sys.h"
#include "timer.h"

enum { SUDOG_IDLE, SUDOG_QUEUED, SUDOG_WOKEN, SUDOG_TIMEDOUT, SUDOG_INTERRUPTED };

struct sudog {
    struct gpm_sema_waiter w; /* first: gpm_sema_waiter pointers lead back here */
    struct gpm_intr intr;     /* a signal or cancellation takes it off ("Interrupting a wait" in signal.c) */
    _Atomic uint32_t *addr;
    struct sudog *next, *prev;
    struct semroot *root;
    uint32_t wakeval;
    uint8_t state;
    bool requeued;
    struct gpm_timer t;
};

/* Buckets: a power of two, indexed by the top bits of the address times
   2^64/phi (Fibonacci hashing), which spreads neighbouring words over the
   table as a prime modulus does, for a multiply and a shift instead of a
   division on every wait and wake. */
#define SEMTABLE_BITS 8
#define SEMTABLE_SIZE (1 << SEMTABLE_BITS)

struct semroot {
    struct gpm_mutex lock;
    struct sudog *head, *tail;
    _Atomic uint32_t nwait;
    char pad[64 - sizeof(struct gpm_mutex) - 2 * sizeof(void *) - sizeof(uint32_t)];
};

static struct semroot semtable[SEMTABLE_SIZE];

static struct semroot *semroot(const void *addr)
{
    return &semtable[(uint64_t)(uintptr_t)addr * 0x9e3779b97f4a7c15ULL >> (64 - SEMTABLE_BITS)];
}

static void enqueue(struct semroot *r, struct sudog *s)
{
    s->next = NULL;
    s->prev = r->tail;
    if (r->tail != NULL)
        r->tail->next = s;
    else
        r->head = s;
    r->tail = s;
    /* Relaxed: lockroot's first load only picks a candidate, which it
       checks again under that bucket's lock (held here by whoever moves
       s from it). */
    __atomic_store_n(&s->root, r, __ATOMIC_RELAXED);
    s->state = SUDOG_QUEUED;
}

/* nwait++ for a waiter about to check its word (see "nwait"); its sudog
   keeps the count while queued. r's lock held. */
static void announce(struct semroot *r)
{
    atomic_fetch_add(&r->nwait, 1);
}

/* nwait++ for a waiter on a word whose every waker takes r's lock
   (gpm_sema_waitseq: "nwait"): a plain increment. r's lock held. */
static void announce_plain(struct semroot *r)
{
    atomic_store_explicit(&r->nwait, atomic_load_explicit(&r->nwait, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* nwait-- for a sudog taken off, or a waiter that did not queue: a plain
   decrement, since every change is made under r's lock ("nwait"). */
static void unannounce(struct semroot *r)
{
    atomic_store_explicit(&r->nwait, atomic_load_explicit(&r->nwait, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

static void dequeue(struct semroot *r, struct sudog *s, uint8_t state)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        r->head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        r->tail = s->prev;
    s->next = s->prev = NULL;
    s->state = state;
    unannounce(r);
}

/* The first sudog waiting on addr at or after s in its list, or NULL. */
static struct sudog *nextwaiter(struct sudog *s, _Atomic uint32_t *addr)
{
    for (; s != NULL; s = s->next)
        if (s->addr == addr)
            return s;
    return NULL;
}

static struct sudog *first(struct semroot *r, _Atomic uint32_t *addr)
{
    return nextwaiter(r->head, addr);
}

/* Locks the bucket s is queued in (which requeue may change). */
static struct semroot *lockroot(struct sudog *s)
{
    for (;;) {
        struct semroot *r = __atomic_load_n(&s->root, __ATOMIC_ACQUIRE);
        gpm_lock(&r->lock);
        if (__atomic_load_n(&s->root, __ATOMIC_ACQUIRE) == r)
            return r;
        gpm_unlock(&r->lock);
    }
}

/* The timer of a timed wait (runs with a timerslock held, on any M). */
static void sema_timeout(struct gpm_m *mp, void *arg)
{
    struct sudog *s = arg;
    struct semroot *r = lockroot(s);
    bool ready = false;
    if (s->state == SUDOG_QUEUED && !s->requeued) {
        dequeue(r, s, SUDOG_TIMEDOUT);
        ready = true;
    } else if (s->state == SUDOG_IDLE) {
        s->state = SUDOG_TIMEDOUT; /* fired before the waiter queued */
    }
    struct gpm_g *gp = s->w.g;
    gpm_unlock(&r->lock);
    if (ready)
        gpm_ready_on(mp, gp);
}

/* A signal or a cancellation for the G: as a timeout, with EINTR. Runs
   with the G's sig.lock held (lock order: that, then the bucket). */
static bool sema_interrupt(struct gpm_g *gp, struct gpm_intr *in)
{
    struct sudog *s = (struct sudog *)((char *)in - offsetof(struct sudog, intr));
    struct semroot *r = lockroot(s);
    bool ready = false;
    if (s->state == SUDOG_QUEUED && !s->requeued) {
        dequeue(r, s, SUDOG_INTERRUPTED);
        ready = true;
    } else if (s->state == SUDOG_IDLE) {
        s->state = SUDOG_INTERRUPTED; /* before it queued: it will not */
    }
    gpm_unlock(&r->lock);
    if (ready)
        gpm_ready(gp);
    return ready;
}

/* park's unlockf: the G is off its M; let wakers and the timer at it. */
static bool sema_unlockf(struct gpm_m *mp, struct gpm_g *gp, void *arg)
{
    (void)mp;
    (void)gp;
    struct semroot *r = arg;
    gpm_unlock(&r->lock);
    return true;
}

/*
 * gpm_sema_wait and gpm_sema_waitx: ws NULL means "park while *addr ==
 * val", with gpm_sema_wait's treatment of a deadline already passed
 * (ETIMEDOUT before any check).
 */
static int semawait(_Atomic uint32_t *addr, uint32_t val, const struct gpm_sema_waitspec *ws, int64_t deadline,
                    int64_t waitsince, uint32_t *wakeval, uint16_t reason, bool seqword)
{
    struct gpm_g *gp = gpm_getg_adopt();
    if (gp == NULL)
        return ws == NULL ? EAGAIN : ENOMEM; /* no memory for a G */
    /* Field by field, not with an initialiser: zeroing the whole sudog
       (its timer too, which only a timed wait uses) costs more than the
       rest of a wait's bookkeeping. next and prev are enqueue's, wakeval
       its waker's. */
    struct sudog s;
    s.w.g = gp;
    /* The start time is the caller's to give (wake1's decide reads it;
       gpm_sema_requeue stamps the waiters it moves): a clock read per wait
       is not free. */
    s.w.waitsince = ws == NULL ? waitsince : 0;
    s.w.tag = ws != NULL ? ws->tag : 0;
    s.w.kind = ws != NULL ? ws->kind : 0;
    s.w.aux = ws != NULL ? ws->aux : NULL;
    s.addr = addr;
    s.next = s.prev = NULL;
    s.wakeval = 0;
    s.state = SUDOG_IDLE;
    s.requeued = false;
    struct semroot *r = semroot(addr);
    s.root = r;
    /* Sleeps and semaphores return EINTR to the program, condition
       variables wake spuriously, the others wait again after the
       handler; waits on semaphores and condition variables are
       cancellation points. */
    s.intr.fn = sema_interrupt;
    s.intr.cancelpoint = reason == WAIT_SEM || reason == WAIT_COND;
    bool expired = false;
    if (deadline != 0) {
        if (deadline <= gpm_nanotime()) {
            if (ws == NULL)
                return ETIMEDOUT;
            expired = true;
        } else {
            s.t = (struct gpm_timer){.when = deadline, .f = sema_timeout, .arg = &s};
            gpm_timer_arm(gp, &s.t);
        }
    }
    bool intr = gp->kind != G_KIND_FOREIGN;
    if (intr)
        gpm_intr_publish(gp, &s.intr);
    gpm_lock(&r->lock); /* orders the publication before the check ("Interruptible waits") */
    if (intr && !gpm_intr_check(gp, &s.intr)) {
        gpm_unlock(&r->lock);
        if (deadline != 0 && !expired)
            gpm_deltimer(&s.t);
        gpm_intr_end(gp, &s.intr);
        gpm_sigcheck(gp);
        return EINTR;
    }
    /* Before the check ("nwait"); the queued sudog keeps it. */
    if (seqword)
        announce_plain(r);
    else
        announce(r);
    int err;
    if (ws == NULL) {
        err = s.state == SUDOG_TIMEDOUT ? ETIMEDOUT : atomic_load(addr) != val ? EAGAIN : 0;
    } else {
        err = ws->check(ws->arg);
        if (err == 0 && (expired || s.state == SUDOG_TIMEDOUT))
            err = ETIMEDOUT;
    }
    if (err == 0 && s.state == SUDOG_INTERRUPTED)
        err = EINTR;
    if (err != 0) {
        unannounce(r);
        gpm_unlock(&r->lock);
        if (deadline != 0 && !expired)
            gpm_deltimer(&s.t);
        if (intr)
            gpm_intr_end(gp, &s.intr);
        if (err == EINTR)
            gpm_sigcheck(gp);
        return err;
    }
    enqueue(r, &s);
    bool timed = deadline != 0 && !expired;
    if (GPM_TRACING())
        gp->waitobj = (uintptr_t)addr;
    gpm_park_timed(sema_unlockf, r, ws != NULL ? ws->reason : reason, timed ? &s.t : NULL);
    if (timed)
        gpm_deltimer(&s.t);
    if (intr)
        gpm_intr_end(gp, &s.intr);
    /* Whoever took s off its list wrote state before readying us. */
    if (s.state == SUDOG_TIMEDOUT)
        return ETIMEDOUT;
    if (s.state == SUDOG_INTERRUPTED) {
        /* The handlers run here, where the wait has left nothing behind
           (a handler may longjmp out). */
        gpm_sigcheck(gp);
        return EINTR;
    }
    if (s.state != SUDOG_WOKEN)
        /* Invariant: only a waker that dequeued the sudog readies it. */
        gpm_throwf("sema_wait: G%lu woken in sudog state %u", (unsigned long)gp->goid, s.state);
    if (wakeval != NULL)
        *wakeval = s.wakeval;
    return 0;
}

int gpm_sema_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, int64_t waitsince,
                  uint32_t *wakeval, uint16_t reason)
{
    return semawait(addr, val, NULL, deadline, waitsince, wakeval, reason, false);
}

int gpm_sema_waitseq(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, uint32_t *wakeval, uint16_t reason)
{
    return semawait(addr, val, NULL, deadline, 0, wakeval, reason, true);
}

int gpm_sema_waitx(_Atomic uint32_t *addr, const struct gpm_sema_waitspec *ws, int64_t deadline,
                   uint32_t *wakeval)
{
    return semawait(addr, 0, ws, deadline, 0, wakeval, ws->reason, false);
}

/* Readies a list of woken sudogs (linked through next), after the bucket
   lock is released. A sudog is not touched once its G is readied. */
static void readylist(struct sudog *list)
{
    struct gpm_g *self = gpm_getg();
    struct gpm_m *curm = self ? self->m : NULL;
    while (list != NULL) {
        struct sudog *s = list;
        list = s->next;
        gpm_ready_on(curm, s->w.g);
    }
}

/* Takes up to n sudogs waiting on addr off r's list, oldest first, each
   woken with wakeval, into *woken (linked through next). r's lock held. */
static int takewoken(struct semroot *r, _Atomic uint32_t *addr, int n, uint32_t wakeval, struct sudog **woken)
{
    struct sudog **tail = woken;
    int k = 0;
    for (struct sudog *s = first(r, addr); s != NULL && k < n; k++) {
        struct sudog *nx = nextwaiter(s->next, addr);
        dequeue(r, s, SUDOG_WOKEN);
        s->wakeval = wakeval;
        *tail = s;
        tail = &s->next;
        s = nx;
    }
    *tail = NULL;
    return k;
}

int gpm_sema_wake(_Atomic uint32_t *addr, int n, uint32_t wakeval)
{
    struct semroot *r = semroot(addr);
    if (atomic_load(&r->nwait) == 0)
        return 0;
    struct sudog *woken;
    gpm_lock(&r->lock);
    int k = takewoken(r, addr, n, wakeval, &woken);
    gpm_unlock(&r->lock);
    readylist(woken);
    return k;
}

/* *tally += k, for a count whose every writer holds r's lock. */
static void addtally(_Atomic uint32_t *tally, int k)
{
    if (tally != NULL && k > 0)
        atomic_store_explicit(tally, atomic_load_explicit(tally, memory_order_relaxed) + (uint32_t)k,
                              memory_order_release);
}

int gpm_sema_bumpwake(_Atomic uint32_t *addr, int n, uint32_t wakeval, _Atomic uint32_t *tally)
{
    struct semroot *r = semroot(addr);
    struct sudog *woken;
    gpm_lock(&r->lock);
    /* Every writer of *addr holds this lock (the caller's contract), and
       waiters check it under the lock: a plain increment is enough, and
       no seq_cst order with nwait is needed, since this always locks. */
    atomic_store_explicit(addr, atomic_load_explicit(addr, memory_order_relaxed) + 1, memory_order_relaxed);
    int k = takewoken(r, addr, n, wakeval, &woken);
    addtally(tally, k);
    gpm_unlock(&r->lock);
    readylist(woken);
    return k;
}

bool gpm_sema_wake1(_Atomic uint32_t *addr,
                    uint32_t (*decide)(void *arg, const struct gpm_sema_waiter *waiter, bool more), void *arg)
{
    struct semroot *r = semroot(addr);
    gpm_lock(&r->lock);
    struct sudog *s = first(r, addr);
    if (s == NULL) {
        decide(arg, NULL, false);
        gpm_unlock(&r->lock);
        return false;
    }
    uint32_t wakeval = decide(arg, &s->w, nextwaiter(s->next, addr) != NULL);
    dequeue(r, s, SUDOG_WOKEN);
    s->wakeval = wakeval;
    gpm_unlock(&r->lock);
    readylist(s);
    return true;
}

/* Moves s from rf's list to the tail of rt's, waiting on `to` now; both
   locks held. A requeued sudog's timer no longer takes it off (the timer
   still fires, and finds it requeued) unless keeptimeout. */
static void move(struct semroot *rf, struct semroot *rt, struct sudog *s, _Atomic uint32_t *to, bool keeptimeout)
{
    dequeue(rf, s, SUDOG_IDLE);
    s->addr = to;
    if (!keeptimeout)
        s->requeued = true;
    announce(rt);
    enqueue(rt, s);
}

/* Locks the buckets of two roots in address order (lock.h). */
static void lock2(struct semroot *ra, struct semroot *rb)
{
    if (rb == NULL || ra == rb) {
        gpm_lock(&ra->lock);
    } else if (ra < rb) {
        gpm_lock(&ra->lock);
        gpm_lock(&rb->lock);
    } else {
        gpm_lock(&rb->lock);
        gpm_lock(&ra->lock);
    }
}

int gpm_sema_requeue(_Atomic uint32_t *from, int nwake, uint32_t wakeval, _Atomic uint32_t *to, int nrequeue,
                     _Atomic uint32_t *tally)
{
    struct semroot *rf = semroot(from), *rt = semroot(to);
    if (atomic_load(&rf->nwait) == 0)
        return 0;
    lock2(rf, rt);
    struct sudog *woken = NULL, **tail = &woken;
    int k = 0, moved = 0;
    int64_t now = 0;
    struct sudog *s = first(rf, from);
    while (s != NULL && (k < nwake || moved < nrequeue)) {
        struct sudog *nx = nextwaiter(s->next, from);
        if (k < nwake) {
            dequeue(rf, s, SUDOG_WOKEN);
            s->wakeval = wakeval;
            *tail = s;
            tail = &s->next;
            k++;
        } else {
            /* It starts waiting for `to` now (wake1's decide on a mutex
               word measures from here). */
            if (now == 0)
                now = gpm_nanotime();
            s->w.waitsince = now;
            move(rf, rt, s, to, false);
            moved++;
        }
        s = nx;
    }
    addtally(tally, k + moved);
    if (rf != rt)
        gpm_unlock(&rt->lock);
    gpm_unlock(&rf->lock);
    readylist(woken);
    return moved;
}

/* ---- Building blocks (sema.h) ---------------------------------------------- */

bool gpm_sema_maybewaiters(_Atomic uint32_t *addr)
{
    return atomic_load(&semroot(addr)->nwait) != 0;
}

void gpm_sema_lock(struct gpm_sema_locked *l, _Atomic uint32_t *a, _Atomic uint32_t *b)
{
    l->r1 = semroot(a);
    l->r2 = b != NULL && semroot(b) != l->r1 ? semroot(b) : NULL;
    l->taken = NULL;
    l->tail = &l->taken;
    lock2(l->r1, l->r2);
}

void gpm_sema_unlock(struct gpm_sema_locked *l)
{
    if (l->r2 != NULL)
        gpm_unlock(&l->r2->lock);
    gpm_unlock(&l->r1->lock);
    readylist(l->taken);
}

static struct sudog *sudogof(struct gpm_sema_waiter *w)
{
    return (struct sudog *)w; /* w is the first member */
}

struct gpm_sema_waiter *gpm_sema_first(_Atomic uint32_t *addr)
{
    struct sudog *s = first(semroot(addr), addr);
    return s != NULL ? &s->w : NULL;
}

struct gpm_sema_waiter *gpm_sema_next(struct gpm_sema_waiter *w)
{
    struct sudog *s = sudogof(w);
    struct sudog *nx = nextwaiter(s->next, s->addr);
    return nx != NULL ? &nx->w : NULL;
}

void gpm_sema_take(struct gpm_sema_locked *l, struct gpm_sema_waiter *w, uint32_t wakeval)
{
    struct sudog *s = sudogof(w);
    dequeue(s->root, s, SUDOG_WOKEN);
    s->wakeval = wakeval;
    *l->tail = s;
    l->tail = &s->next;
}

void gpm_sema_move(struct gpm_sema_waiter *w, _Atomic uint32_t *to, bool keeptimeout)
{
    struct sudog *s = sudogof(w);
    move(s->root, semroot(to), s, to, keeptimeout);
}

void gpm_sema_forkchild(void)
{
    for (int i = 0; i < SEMTABLE_SIZE; i++) {
        semtable[i].lock = (struct gpm_mutex)GPM_MUTEX_INIT;
        semtable[i].head = semtable[i].tail = NULL;
        atomic_store(&semtable[i].nwait, 0);
    }
}
