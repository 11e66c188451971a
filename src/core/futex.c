/*
 * src/core/futex.c: private futexes, emulated on the semtable.
 *
 * Programs that make the futex system call themselves (Rust's std, glib,
 * libstdc++'s atomic wait and counting_semaphore, oneTBB, libomp) would
 * block a whole kernel thread in FUTEX_WAIT, and with it the P of every
 * other G on that M until sysmon takes the P away. Here a wait on a
 * private futex parks the G on the semtable (sema.h), keyed by the word's
 * address, and a wake readies it: no system call, no kernel thread asleep,
 * and a handoff between two Gs of one P costs one context switch.
 *
 * What is emulated, and what stays the kernel's
 * ---------------------------------------------
 * Emulated, with the kernel's semantics and error numbers (and the
 * kernel's order among errors), for a word with FUTEX_PRIVATE_FLAG:
 * FUTEX_WAIT, WAIT_BITSET, WAKE, WAKE_BITSET, REQUEUE, CMP_REQUEUE,
 * WAKE_OP, LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI, WAIT_REQUEUE_PI,
 * CMP_REQUEUE_PI. A thread that is not a G (DESIGN.md section 6) gets the
 * same emulation: gpm_sema_waitx adopts it and parks its kernel thread.
 *
 * Passed to the kernel as they are (a call that may block runs between
 * entersyscall and exitsyscall, so its P is handed off while it sleeps):
 *   - futexes without FUTEX_PRIVATE_FLAG: the word may be shared with
 *     another process, whose waiters only the kernel knows. The kernel
 *     keys shared and private futexes apart even on anonymous private
 *     memory (a FUTEX_WAKE_PRIVATE does not wake a FUTEX_WAIT on the same
 *     word, nor the reverse), so a shared wake leaves the Gs parked here
 *     alone, as natively it would leave the private waiters;
 *   - unknown operations (FUTEX_FD is one), and FUTEX_CLOCK_REALTIME
 *     with an operation that does not take it (the kernel's ENOSYS, or
 *     whatever the running kernel says);
 *   - words and timeouts outside [USER_LO, USER_HI): the lowest 64 KiB
 *     (NULL and near it) and kernel addresses, where the kernel's answer
 *     (EFAULT; 0 for a wake, which never reads the word) is the one to
 *     give.
 * Inside that range the word is read with plain loads and changed with
 * CAS, as the program itself does: an unmapped or read-only page faults
 * (SIGSEGV) where the kernel would return EFAULT.
 *
 * Gs parked here are not interrupted by signals: a wait returns 0, EAGAIN
 * or ETIMEDOUT, never EINTR (as gpm's sleeps; docs/COMPAT.md).
 *
 * Kernel waiters
 * --------------
 * Not every waiter is a G parked here: a thread may wait with an inline
 * syscall instruction, which only the kernel sees. So a wake that readies
 * fewer Gs than it may wake passes the rest on: it makes the real
 * FUTEX_WAKE (FUTEX_WAKE_BITSET) for the remainder and adds what that
 * returns; REQUEUE and CMP_REQUEUE make the real FUTEX_REQUEUE with the
 * remainders of both counts, so kernel waiters are woken or moved (by the
 * kernel, to the kernel's queue of the second word, where the remainder
 * of a later wake of that word finds them); WAKE_OP wakes the remainder
 * of each word. Between Gs and kernel waiters, "oldest first" does not
 * hold. A wake that finds no G costs that one system call, as natively.
 * The reverse cannot be done: a wake made with an inline syscall
 * instruction reaches kernel waiters only, never a G parked here. PI
 * futexes are emulated entirely: kernel waiters on a PI word (or in
 * FUTEX_WAIT_REQUEUE_PI) are not reached.
 *
 * A wake's memory ordering
 * ------------------------
 * A program may change the word with a plain store and then call
 * FUTEX_WAKE. The kernel puts a full barrier between the two (and counts
 * a waiter before the waiter reads the word); so must we, before the
 * semtable's nwait fast check ("nwait" in sema.c). Without it, the store
 * can still sit in the waker's store buffer when it loads nwait:
 *
 *   waiter (G)                         waker
 *   lock(bucket)
 *   nwait++                            *word = 1   (plain store, buffered)
 *                                      nwait == 0? (load: sees 0, old)
 *                                        yes: return 0, nobody woken
 *   *word == 0? (load: sees 0, old)
 *     yes: enqueue, park               -- the waiter sleeps forever
 *
 * With atomic_thread_fence(seq_cst) between the waker's store and its
 * load of nwait (futexwake), the store is visible to every processor
 * before the load: if the load misses the waiter's increment, that
 * increment (and the waiter's read of the word, a seq_cst load after it)
 * follow the fence in the single order of seq_cst operations, so the
 * waiter reads 1 and does not park. This is the litmus test
 *
 *   X = Y = 0;  waiter: X = 1 (RMW); MB; r1 = Y    waker: Y = 1; MB; r2 = X
 *
 * where r1 == 0 && r2 == 0 is forbidden. The other operations take the
 * bucket locks before they look at waiters, and a lock serializes them
 * with every waiter's check.
 *
 * Waiters
 * -------
 * Each G parked here carries a kind (struct gpm_sema_waiter); Gs parked
 * by gpm's own objects (mutexes, condition variables...) on the same
 * semtable have kind FW_NONE, and futex operations pass them by:
 *   FW_PLAIN       FUTEX_WAIT or WAIT_BITSET. tag: its bitset.
 *   FW_PI          FUTEX_LOCK_PI or LOCK_PI2 on its word, or a
 *                  WAIT_REQUEUE_PI waiter moved there. tag: its tid.
 *                  Woken only by being made the owner.
 *   FW_REQUEUE_PI  FUTEX_WAIT_REQUEUE_PI, still on its first word. tag:
 *                  its tid; aux: the PI word it expects to be moved to.
 *                  Woken only by being made the owner of that word.
 * As the kernel's do, FUTEX_WAKE, WAKE_OP and REQUEUE stop with EINVAL at
 * a waiter that is not FW_PLAIN (those it woke before stay woken), and
 * UNLOCK_PI when the oldest waiter is not FW_PI.
 *
 * PI futexes
 * ----------
 * The word holds its owner's thread id (FUTEX_TID_MASK) and two flags:
 * FUTEX_WAITERS (someone may wait: the owner must unlock through
 * FUTEX_UNLOCK_PI, not by its own CAS tid -> 0) and FUTEX_OWNER_DIED. A
 * thread's id is the tid in its own TCB (gpm_selftid: a G's own, a
 * foreign thread's kernel tid), the one glibc's PI mutexes write. Under
 * the word's bucket lock, a locker finds the word free (tid 0) and takes
 * it, keeping OWNER_DIED, or sets FUTEX_WAITERS with a CAS and parks
 * (both in pi_trylock_locked); since an owner's user-space unlock is a
 * CAS from exactly its tid, that unlock either comes first (the locker's
 * CAS fails, it looks again and finds the word free) or fails and goes to
 * FUTEX_UNLOCK_PI, which takes the same lock and finds the waiter. Unlock
 * with waiters hands the word to the oldest (word = its tid |
 * FUTEX_WAITERS, which the kernel too always sets on a handoff) and wakes
 * it; without waiters it clears the word. A failed TRYLOCK_PI sets
 * FUTEX_WAITERS, as the kernel's does.
 * Not emulated: priority inheritance itself (Gs have no kernel priority;
 * waiters are served oldest first), the kernel's ESRCH for a word naming
 * a thread that does not exist (such a word is waited for, until the
 * deadline if there is one), and its checks of a word that user space
 * changed behind the kernel's back (EINVAL there; here a word with
 * waiters but no owner is simply taken).
 */
#define _GNU_SOURCE
#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "gsig.h"
#include "sema.h"
#include "sync.h"
#include "sys.h"
#include "timer.h"

/* Waiter kinds ("Waiters"); FW_NONE: a G parked by one of gpm's own
   objects (gpm_sema_wait), which no futex operation touches. */
enum { FW_NONE = 0, FW_PLAIN, FW_PI, FW_REQUEUE_PI };

/* The futex waiters on an address, oldest first, skipping FW_NONE. The
   address's bucket lock must be held. */
static struct gpm_sema_waiter *skipnone(struct gpm_sema_waiter *w)
{
    while (w != NULL && w->kind == FW_NONE)
        w = gpm_sema_next(w);
    return w;
}

static struct gpm_sema_waiter *firstwaiter(_Atomic uint32_t *uaddr)
{
    return skipnone(gpm_sema_first(uaddr));
}

static struct gpm_sema_waiter *nextwaiter(struct gpm_sema_waiter *w)
{
    return skipnone(gpm_sema_next(w));
}

/*
 * The addresses emulated ("What is emulated"): at or above 64 KiB, the
 * default vm.mmap_min_addr on x86-64, below which nothing is mapped (on a
 * host that lowers it, words down there simply stay the kernel's), and
 * below the top of the 47-bit user address space (TASK_SIZE_MAX with
 * 4-level page tables; with 5-level ones, words higher up likewise stay
 * the kernel's).
 */
#define USER_LO 0x10000UL
#define USER_HI 0x7ffffffff000UL

static bool inuser(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    return a >= USER_LO && a <= USER_HI - len;
}

static bool misaligned(const void *p)
{
    return ((uintptr_t)p & 3) != 0;
}

/* ---- Statistics ------------------------------------------------------------ */

/* Emulated waits, striped by M so that Ms do not share a counter's line. */
#define NSTRIPES 16
static struct {
    _Atomic uint64_t n;
    char pad[64 - sizeof(uint64_t)];
} nwaits[NSTRIPES] __attribute__((aligned(64)));

static void countwait(void)
{
    struct gpm_g *gp = gpm_getg();
    unsigned i = gp != NULL && gp->m != NULL ? (unsigned)gp->m->id % NSTRIPES : 0;
    /* relaxed: a statistic; gpm_futex_nwaits sums without ordering. */
    atomic_fetch_add_explicit(&nwaits[i].n, 1, memory_order_relaxed);
}

uint64_t gpm_futex_nwaits(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < NSTRIPES; i++)
        sum += atomic_load_explicit(&nwaits[i].n, memory_order_relaxed);
    return sum;
}

/* ---- The kernel's share ------------------------------------------------------ */

static bool mayblock(int cmd)
{
    return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2 ||
           cmd == FUTEX_WAIT_REQUEUE_PI;
}

/* The call as it is, to the kernel; one that may block hands its P off
   meanwhile ("System calls" in sched.c). */
static long kernel(uint32_t *uaddr, int op, uint32_t val, unsigned long utime, uint32_t *uaddr2, uint32_t val3)
{
    bool blocks = mayblock(op & FUTEX_CMD_MASK);
    if (blocks)
        gpm_entersyscall();
    long r = gpm_syscall6(SYS_futex, (long)uaddr, op, val, (long)utime, (long)uaddr2, val3);
    if (blocks)
        gpm_exitsyscall();
    return r;
}

/* The remainder of a wake, for waiters that are not Gs ("Kernel
   waiters"): how many the kernel woke (its errors count as none: the
   address was checked already). */
static int kernelwake(_Atomic uint32_t *uaddr, int n, uint32_t bitset)
{
    long r = bitset == FUTEX_BITSET_MATCH_ANY
                 ? gpm_syscall3(SYS_futex, (long)uaddr, FUTEX_WAKE_PRIVATE, n)
                 : gpm_syscall6(SYS_futex, (long)uaddr, FUTEX_WAKE_BITSET_PRIVATE, n, 0, 0, bitset);
    return r > 0 ? (int)r : 0;
}

/* The kernel wakes one waiter when asked for none or fewer (its loop
   counts after waking): the most a wake of n takes. */
static int wakelimit(int n)
{
    return n > 0 ? n : 1;
}

/* What to ask of the kernel after k Gs were woken of a wake of n (k is
   below wakelimit(n)): the rest, or n itself when n asked for "none". */
static int wakerest(int n, int k)
{
    return n > 0 ? n - k : n;
}

/* ---- Wait and wake ------------------------------------------------------------- */

struct valuecheck {
    _Atomic uint32_t *uaddr;
    uint32_t val;
};

/* gpm_sema_waitx's check for FUTEX_WAIT: park while the word is val. */
static int valuecheck(void *arg)
{
    struct valuecheck *c = arg;
    /* seq_cst: after the waiter's nwait increment ("A wake's memory
       ordering"). */
    return atomic_load(c->uaddr) != c->val ? EAGAIN : 0;
}

static long futexwait(_Atomic uint32_t *uaddr, uint32_t val, int64_t deadline, uint32_t bitset)
{
    if (bitset == 0 || misaligned(uaddr))
        return -EINVAL;
    countwait();
    /* The answer valuecheck would give under the lock, without it. */
    if (atomic_load_explicit(uaddr, memory_order_relaxed) != val)
        return -EAGAIN;
    struct valuecheck c = {uaddr, val};
    struct gpm_sema_waitspec ws = {
        .check = valuecheck, .arg = &c, .tag = bitset, .kind = FW_PLAIN, .reason = WAIT_FUTEX};
    return -(long)gpm_sema_waitx(uaddr, &ws, deadline, NULL);
}

/*
 * Takes up to n FW_PLAIN waiters on uaddr whose bitset meets bitset,
 * oldest first. Returns how many, or -EINVAL when it met another kind
 * first (those already taken stay taken, as in the kernel).
 * uaddr's bucket lock must be held (l).
 */
static int takeplain(struct gpm_sema_locked *l, _Atomic uint32_t *uaddr, int n, uint32_t bitset)
{
    int k = 0;
    struct gpm_sema_waiter *w, *nx;
    for (w = firstwaiter(uaddr); w != NULL && k < n; w = nx) {
        nx = nextwaiter(w);
        if (w->kind != FW_PLAIN)
            return -EINVAL;
        if ((w->tag & bitset) == 0)
            continue;
        gpm_sema_take(l, w, 0);
        k++;
    }
    return k;
}

static long futexwake(_Atomic uint32_t *uaddr, int n, uint32_t bitset)
{
    if (bitset == 0 || misaligned(uaddr))
        return -EINVAL;
    int max = wakelimit(n), k = 0;
    /* Pairs with the waiter's nwait increment ("A wake's memory
       ordering"): the program's store to the word, however plain, is
       ordered before the nwait load. */
    atomic_thread_fence(memory_order_seq_cst);
    if (gpm_sema_maybewaiters(uaddr)) {
        struct gpm_sema_locked l;
        gpm_sema_lock(&l, uaddr, NULL);
        k = takeplain(&l, uaddr, max, bitset);
        gpm_sema_unlock(&l);
        if (k < 0)
            return k;
    }
    if (k < max)
        k += kernelwake(uaddr, wakerest(n, k), bitset);
    return k;
}

/* ---- Requeue and wake-op -------------------------------------------------------- */

/*
 * FUTEX_REQUEUE (cmpval NULL) and FUTEX_CMP_REQUEUE: wakes up to nwake
 * waiters of u1 and moves up to nrequeue more to u2, keeping their
 * deadlines. Returns the number woken plus the number moved, as the
 * kernel's futex_requeue counts (then the kernel's own share).
 */
static long futexrequeue(_Atomic uint32_t *u1, int nwake, int nrequeue, _Atomic uint32_t *u2, const uint32_t *cmpval)
{
    if (nwake < 0 || nrequeue < 0 || misaligned(u1) || misaligned(u2))
        return -EINVAL;
    struct gpm_sema_locked l;
    int woken = 0, moved = 0;
    long err = 0;
    gpm_sema_lock(&l, u1, u2);
    if (cmpval != NULL && atomic_load(u1) != *cmpval) {
        err = -EAGAIN;
    } else {
        struct gpm_sema_waiter *w, *nx;
        for (w = firstwaiter(u1); w != NULL && woken + moved - nwake < nrequeue; w = nx) {
            nx = nextwaiter(w);
            if (w->kind != FW_PLAIN) {
                err = -EINVAL;
                break;
            }
            if (woken < nwake) {
                gpm_sema_take(&l, w, 0);
                woken++;
            } else {
                /* Onto itself, a waiter keeps its place (the kernel only
                   rewrites its key); moving it to the tail would meet it
                   again. */
                if (u2 != u1)
                    gpm_sema_move(w, u2, true);
                moved++;
            }
        }
    }
    gpm_sema_unlock(&l);
    if (err != 0)
        return err;
    /* Fewer Gs than asked for: every G of u1 was woken or moved; the
       kernel's waiters get the rest ("Kernel waiters"). The comparison
       was made once, above, so the kernel's share is unconditional. */
    long kernels = 0;
    if (woken < nwake || moved < nrequeue) {
        kernels = gpm_syscall6(SYS_futex, (long)u1, FUTEX_REQUEUE_PRIVATE, nwake - woken, nrequeue - moved,
                               (long)u2, 0);
        if (kernels < 0)
            kernels = 0; /* its errors count as none, as in kernelwake */
    }
    return woken + moved + kernels;
}

/* The 12-bit signed fields of FUTEX_WAKE_OP's encoded operation. */
static int sext12(uint32_t v)
{
    return (int)(v << 20) >> 20;
}

/*
 * FUTEX_WAKE_OP: under both bucket locks, applies the encoded operation
 * to *u2, wakes up to n1 waiters of u1 and, if the old value of *u2
 * compares as asked, up to n2 of u2. Returns how many it woke. An unknown
 * operation changes nothing (ENOSYS); an unknown comparison comes to
 * light once the operation is done (ENOSYS, nobody woken): both as the
 * kernel.
 */
static long futexwakeop(_Atomic uint32_t *u1, int n1, _Atomic uint32_t *u2, int n2, uint32_t encoded)
{
    if (misaligned(u1) || misaligned(u2))
        return -EINVAL;
    unsigned op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (uint32_t)sext12((encoded >> 12) & 0xfff);
    int cmparg = sext12(encoded & 0xfff);
    if (encoded & ((uint32_t)FUTEX_OP_OPARG_SHIFT << 28))
        oparg = 1u << ((int)oparg < 0 || (int)oparg > 31 ? oparg & 31 : oparg);
    if (op > FUTEX_OP_XOR)
        return -ENOSYS;
    struct gpm_sema_locked l;
    gpm_sema_lock(&l, u1, u2);
    uint32_t old = atomic_load(u2), new;
    do {
        switch (op) {
        case FUTEX_OP_SET: new = oparg; break;
        case FUTEX_OP_ADD: new = old + oparg; break;
        case FUTEX_OP_OR: new = old | oparg; break;
        case FUTEX_OP_ANDN: new = old & ~oparg; break;
        default: new = old ^ oparg; break; /* FUTEX_OP_XOR */
        }
    } while (!atomic_compare_exchange_weak(u2, &old, new));
    int o = (int)old;
    int holds;
    switch (cmp) {
    case FUTEX_OP_CMP_EQ: holds = o == cmparg; break;
    case FUTEX_OP_CMP_NE: holds = o != cmparg; break;
    case FUTEX_OP_CMP_LT: holds = o < cmparg; break;
    case FUTEX_OP_CMP_LE: holds = o <= cmparg; break;
    case FUTEX_OP_CMP_GT: holds = o > cmparg; break;
    case FUTEX_OP_CMP_GE: holds = o >= cmparg; break;
    default: holds = -1; break;
    }
    int k1 = 0, k2 = 0;
    if (holds >= 0)
        k1 = takeplain(&l, u1, wakelimit(n1), FUTEX_BITSET_MATCH_ANY);
    if (holds > 0 && k1 >= 0)
        k2 = takeplain(&l, u2, wakelimit(n2), FUTEX_BITSET_MATCH_ANY);
    gpm_sema_unlock(&l);
    if (holds < 0)
        return -ENOSYS;
    if (k1 < 0 || k2 < 0)
        return -EINVAL;
    if (k1 < wakelimit(n1))
        k1 += kernelwake(u1, wakerest(n1, k1), FUTEX_BITSET_MATCH_ANY);
    if (holds && k2 < wakelimit(n2))
        k2 += kernelwake(u2, wakerest(n2, k2), FUTEX_BITSET_MATCH_ANY);
    return k1 + k2;
}

/* ---- PI futexes --------------------------------------------------------------------- */

static uint32_t selftid(void)
{
    return (uint32_t)gpm_selftid() & FUTEX_TID_MASK;
}

/* Whether a FW_PI waiter is parked on uaddr. Its bucket lock must be held. */
static bool piwaiters(_Atomic uint32_t *uaddr)
{
    for (struct gpm_sema_waiter *w = firstwaiter(uaddr); w != NULL; w = nextwaiter(w))
        if (w->kind == FW_PI)
            return true;
    return false;
}

enum { PI_OWNED = 0, PI_ACQUIRED = 1 };

/*
 * One attempt of `tid` on a PI word (the kernel's futex_lock_pi_atomic):
 * a free word (tid 0) becomes tid's, keeping FUTEX_OWNER_DIED, with
 * FUTEX_WAITERS if others wait or setwaiters asks; a word another owns
 * gets FUTEX_WAITERS, so that its owner's unlock comes to
 * FUTEX_UNLOCK_PI. Returns PI_ACQUIRED, PI_OWNED, or -EDEADLK when tid
 * owns it already ("PI futexes").
 * uaddr's bucket lock must be held.
 */
static int pi_trylock_locked(_Atomic uint32_t *uaddr, uint32_t tid, bool setwaiters)
{
    bool others = piwaiters(uaddr);
    uint32_t uval = atomic_load(uaddr);
    for (;;) {
        uint32_t owner = uval & FUTEX_TID_MASK, newval;
        if (owner == tid)
            return -EDEADLK;
        int res;
        if (owner == 0) {
            newval = (uval & FUTEX_OWNER_DIED) | tid | (setwaiters || others ? FUTEX_WAITERS : 0);
            res = PI_ACQUIRED;
        } else {
            newval = uval | FUTEX_WAITERS;
            res = PI_OWNED;
        }
        /* seq_cst (acquire when taking): pairs with the owner's release
           of the word, by its CAS to 0 or in futexunlockpi. On failure
           uval is the word now: look again. */
        if (newval == uval || atomic_compare_exchange_weak(uaddr, &uval, newval))
            return res;
    }
}

struct picheck {
    _Atomic uint32_t *uaddr;
    uint32_t tid;
};

/* gpm_sema_waitx's answer for "taken without parking". */
enum { PI_TAKEN_NOW = -1 };

/* gpm_sema_waitx's check for FUTEX_LOCK_PI: park while another owns it. */
static int lockpicheck(void *arg)
{
    struct picheck *c = arg;
    int r = pi_trylock_locked(c->uaddr, c->tid, false);
    return r == PI_OWNED ? 0 : r == PI_ACQUIRED ? PI_TAKEN_NOW : -r;
}

/* FUTEX_LOCK_PI, LOCK_PI2 and (trylock) TRYLOCK_PI. */
static long futexlockpi(_Atomic uint32_t *uaddr, int64_t deadline, bool trylock)
{
    if (misaligned(uaddr))
        return -EINVAL;
    uint32_t tid = selftid();
    if (trylock) {
        struct gpm_sema_locked l;
        gpm_sema_lock(&l, uaddr, NULL);
        int r = pi_trylock_locked(uaddr, tid, false);
        gpm_sema_unlock(&l);
        return r == PI_ACQUIRED ? 0 : r == PI_OWNED ? -EAGAIN : r;
    }
    countwait();
    struct picheck c = {uaddr, tid};
    struct gpm_sema_waitspec ws = {
        .check = lockpicheck, .arg = &c, .tag = tid, .kind = FW_PI, .reason = WAIT_FUTEX};
    /* Woken (0): the unlocker made the word ours before it woke us. */
    int r = gpm_sema_waitx(uaddr, &ws, deadline, NULL);
    return r == 0 || r == PI_TAKEN_NOW ? 0 : -(long)r;
}

/* FUTEX_UNLOCK_PI: hands the word to the oldest waiter, or clears it. */
static long futexunlockpi(_Atomic uint32_t *uaddr)
{
    uint32_t tid = selftid();
    if (misaligned(uaddr)) {
        /* The kernel reads the word before it checks the address. */
        uint32_t v;
        memcpy(&v, (const void *)uaddr, sizeof v);
        return (v & FUTEX_TID_MASK) != tid ? -EPERM : -EINVAL;
    }
    if ((atomic_load(uaddr) & FUTEX_TID_MASK) != tid)
        return -EPERM;
    struct gpm_sema_locked l;
    gpm_sema_lock(&l, uaddr, NULL);
    struct gpm_sema_waiter *top = firstwaiter(uaddr);
    uint32_t uval = atomic_load(uaddr);
    long r = 0;
    for (;;) {
        if ((uval & FUTEX_TID_MASK) != tid) {
            r = -EPERM;
            break;
        }
        if (top == NULL) {
            /* Nobody waits: the word is free, flags and all. release (in
               seq_cst): pairs with the next locker's CAS. A word that
               changed under us is user space's to sort out (EAGAIN), as in
               the kernel. */
            if (!atomic_compare_exchange_strong(uaddr, &uval, 0))
                r = -EAGAIN;
            break;
        }
        if (top->kind != FW_PI) {
            r = -EINVAL;
            break;
        }
        /* Handoff: the word names the waiter before it runs. Only flag
           bits can change under us (nobody else owns the word). */
        if (atomic_compare_exchange_weak(uaddr, &uval, FUTEX_WAITERS | top->tag)) {
            gpm_sema_take(&l, top, 0);
            break;
        }
    }
    gpm_sema_unlock(&l);
    return r;
}

/* FUTEX_WAIT_REQUEUE_PI: FUTEX_WAIT on u1, returning as the owner of u2. */
static long futexwaitrequeuepi(_Atomic uint32_t *u1, uint32_t val, int64_t deadline, _Atomic uint32_t *u2)
{
    if (u1 == u2 || misaligned(u2) || misaligned(u1))
        return -EINVAL;
    countwait();
    struct valuecheck c = {u1, val};
    struct gpm_sema_waitspec ws = {
        .check = valuecheck, .arg = &c, .tag = selftid(), .kind = FW_REQUEUE_PI, .aux = (void *)u2,
        .reason = WAIT_FUTEX};
    /* Woken (0): we own u2 (the requeuer or an unlocker made it ours). */
    return -(long)gpm_sema_waitx(u1, &ws, deadline, NULL);
}

/*
 * FUTEX_CMP_REQUEUE_PI: tries to make the oldest waiter of u1 the owner
 * of the PI word u2 and wake it; moves up to nrequeue waiters (one more
 * if the oldest could not take u2) onto u2 as lock waiters, keeping their
 * deadlines. Returns the number woken plus moved (the kernel's count).
 */
static long futexcmprequeuepi(_Atomic uint32_t *u1, int nwake, int nrequeue, _Atomic uint32_t *u2, uint32_t cmpval)
{
    if (nwake < 0 || nrequeue < 0 || u1 == u2 || nwake != 1 || misaligned(u1) || misaligned(u2))
        return -EINVAL;
    struct gpm_sema_locked l;
    long r = 0;
    int count = 0;
    gpm_sema_lock(&l, u1, u2);
    struct gpm_sema_waiter *top = firstwaiter(u1);
    if (atomic_load(u1) != cmpval) {
        r = -EAGAIN;
    } else if (top == NULL) {
        /* nobody to requeue */
    } else if (top->kind != FW_REQUEUE_PI || top->aux != (void *)u2) {
        r = -EINVAL;
    } else {
        /* Moved waiters need FUTEX_WAITERS on u2 even if top takes it. */
        int t = pi_trylock_locked(u2, top->tag, nrequeue > 0);
        if (t < 0) {
            r = t;
        } else {
            if (t == PI_ACQUIRED) {
                gpm_sema_take(&l, top, 0);
                count = 1;
            }
            struct gpm_sema_waiter *w, *nx;
            for (w = firstwaiter(u1); w != NULL && count - nwake < nrequeue; w = nx) {
                nx = nextwaiter(w);
                if (w->kind != FW_REQUEUE_PI || w->aux != (void *)u2) {
                    r = -EINVAL;
                    break;
                }
                w->kind = FW_PI;
                gpm_sema_move(w, u2, true);
                count++;
            }
        }
    }
    gpm_sema_unlock(&l);
    return r != 0 ? r : count;
}

/* ---- The system call --------------------------------------------------------------- */

/* The deadline of a timed operation (0: none), from its timeout: relative
   for FUTEX_WAIT, absolute on CLOCK_REALTIME for LOCK_PI and with
   FUTEX_CLOCK_REALTIME, else absolute on CLOCK_MONOTONIC. */
static long deadlineof(int cmd, bool realtime, const struct timespec *ts, int64_t *deadline)
{
    *deadline = 0;
    if (ts == NULL)
        return 0;
    if (ts->tv_sec < 0 || (unsigned long)ts->tv_nsec >= 1000000000UL)
        return -EINVAL;
    bool ok = cmd == FUTEX_WAIT ? gpm_deadline_rel(ts, deadline)
                                : gpm_deadline_abs(cmd == FUTEX_LOCK_PI || realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC,
                                                   ts, deadline);
    return ok ? 0 : -EINVAL;
}

long gpm_futex(uint32_t *uaddr_, int op, uint32_t val, unsigned long utime, uint32_t *uaddr2_, uint32_t val3)
{
    _Atomic uint32_t *uaddr = (_Atomic uint32_t *)uaddr_, *uaddr2 = (_Atomic uint32_t *)uaddr2_;
    int cmd = op & FUTEX_CMD_MASK;
    bool realtime = (op & FUTEX_CLOCK_REALTIME) != 0;
    if (!(op & FUTEX_PRIVATE_FLAG) || !inuser(uaddr_, sizeof *uaddr_) ||
        (realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2))
        return kernel(uaddr_, op, val, utime, uaddr2_, val3);
    const struct timespec *ts = (const struct timespec *)utime;
    int val2 = (int)(uint32_t)utime; /* the count some operations pass there */
    int64_t deadline = 0;
    switch (cmd) {
    case FUTEX_WAIT_REQUEUE_PI:
        if (!inuser(uaddr2_, sizeof *uaddr2_))
            return kernel(uaddr_, op, val, utime, uaddr2_, val3);
        /* fallthrough */
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
        if (ts != NULL) {
            if (!inuser(ts, sizeof *ts))
                return kernel(uaddr_, op, val, utime, uaddr2_, val3);
            long err = deadlineof(cmd, realtime, ts, &deadline);
            if (err != 0)
                return err;
        }
        break;
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP:
    case FUTEX_CMP_REQUEUE_PI:
        if (!inuser(uaddr2_, sizeof *uaddr2_))
            return kernel(uaddr_, op, val, utime, uaddr2_, val3);
        break;
    }
    switch (cmd) {
    case FUTEX_WAIT:
        return futexwait(uaddr, val, deadline, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAIT_BITSET:
        return futexwait(uaddr, val, deadline, val3);
    case FUTEX_WAKE:
        return futexwake(uaddr, (int)val, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET:
        return futexwake(uaddr, (int)val, val3);
    case FUTEX_REQUEUE:
        return futexrequeue(uaddr, (int)val, val2, uaddr2, NULL);
    case FUTEX_CMP_REQUEUE:
        return futexrequeue(uaddr, (int)val, val2, uaddr2, &val3);
    case FUTEX_WAKE_OP:
        return futexwakeop(uaddr, (int)val, uaddr2, val2, val3);
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
        return futexlockpi(uaddr, deadline, false);
    case FUTEX_TRYLOCK_PI:
        return futexlockpi(uaddr, 0, true);
    case FUTEX_UNLOCK_PI:
        return futexunlockpi(uaddr);
    case FUTEX_WAIT_REQUEUE_PI:
        return futexwaitrequeuepi(uaddr, val, deadline, uaddr2);
    case FUTEX_CMP_REQUEUE_PI:
        return futexcmprequeuepi(uaddr, (int)val, val2, uaddr2, val3);
    default:
        return kernel(uaddr_, op, val, utime, uaddr2_, val3);
    }
}

/*
 * Robust futex lists (set_robust_list(2))
 * ---------------------------------------
 * The kernel keeps one robust list per kernel thread and walks it when the
 * thread exits. A G that registered its list with the kernel would leave it
 * on its M: the next G on that M would read it back from get_robust_list,
 * and the M's own exit would walk a dead G's memory. So the list is the
 * G's (gp->krobust, src/shim/syscall.c), and its exit does the kernel's
 * walk: every futex word on the list still holding the G's tid gets
 * FUTEX_OWNER_DIED, its waiters' bit kept, and one waiter is woken. A G
 * that registered nothing has glibc's list, which gpm's robust mutexes do
 * not use (mutex.c keeps its own): nothing to walk.
 *
 * The list is the program's memory, and may be anything by then: a head
 * on the stack of the function that has just returned (stress-ng's pthread
 * stressor registers one so), since overwritten by the exit path's own
 * frames. The kernel reads and writes it with accesses that fail with
 * EFAULT and end the walk; here a fault in the walk returns to it through
 * gp->faultjmp (segvhandler in signal.c), and the walk ends the same way.
 * Whatever words the list names that hold the G's tid get OWNER_DIED, as
 * the kernel's walk would do to them. Invariant that makes the jump safe:
 * no lock is held at any access that can fault (robust_death's CAS comes
 * before its wake, which touches only gpm's tables). A SIGBUS (a list in
 * a file mapping past its end) is not caught: it kills, where the
 * kernel's walk would stop (docs/COMPAT.md).
 */
#define ROBUST_LIST_LIMIT 2048 /* the kernel's bound on a list's length */

static void robust_death(uint32_t *uaddr, uint32_t tid)
{
    _Atomic uint32_t *w = (_Atomic uint32_t *)uaddr;
    uint32_t v = atomic_load(w);
    do {
        if ((v & FUTEX_TID_MASK) != tid)
            return;
    } while (!atomic_compare_exchange_weak(w, &v, (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED));
    if (v & FUTEX_WAITERS)
        gpm_futex(uaddr, FUTEX_WAKE, 1, 0, NULL, 0);
}

static void robust_walk(struct gpm_g *gp, struct robust_list_head *head)
{
    long off = head->futex_offset;
    struct robust_list *pending = (struct robust_list *)((uintptr_t)head->list_op_pending & ~(uintptr_t)1);
    struct robust_list *e = (struct robust_list *)((uintptr_t)head->list.next & ~(uintptr_t)1);
    for (int n = 0; e != &head->list && e != NULL && n < ROBUST_LIST_LIMIT; n++) {
        struct robust_list *next = (struct robust_list *)((uintptr_t)e->next & ~(uintptr_t)1);
        if (e != pending)
            robust_death((uint32_t *)((char *)e + off), gp->tid);
        e = next;
    }
    if (pending != NULL)
        robust_death((uint32_t *)((char *)pending + off), gp->tid);
}

void gpm_futex_robust_exit(struct gpm_g *gp)
{
    struct robust_list_head *head = gp->krobust;
    if (head == NULL)
        return;
    gp->krobust = NULL;
    jmp_buf jb;
    if (_setjmp(jb) != 0) {
        /* A fault: the walk ends, as the kernel's does at EFAULT. The jump
           came from segvhandler, whose mask blocks everything: the M's
           own mask again. */
        gp->faultjmp = NULL;
        gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_msigmask, 0, 8);
        return;
    }
    gp->faultjmp = &jb;
    /* The handler reads it: no access of the walk's may come before it
       is set or after it is cleared. */
    atomic_signal_fence(memory_order_seq_cst);
    robust_walk(gp, head);
    atomic_signal_fence(memory_order_seq_cst);
    gp->faultjmp = NULL;
}
