/*
 * Unit test of P ownership ("P ownership" in src/core/sched.c) under
 * concurrent revocation: a revoker thread (sysmon's part) hammers the Ps
 * with gpm_revoke while M threads take Ps (gpm_acquirep), use them, go out
 * to "the program's code" (gpm_unpin), come back (gpm_pin), make "system
 * calls" (gpm_p_tosyscall / gpm_p_fromsyscall), take the P of an M that is
 * in a system call when they come back from one without a P
 * (gpm_takesyscallp), and give Ps back (gpm_releasep), in random order. Every use of a P's local state is
 * bracketed by a claim on that P (a CAS of its slot in `user` from -1 to
 * the M's id): the claim fails, and the test with it, if two Ms ever hold
 * one P at once. Revoked and released Ps go to a free list, as handoffp
 * and pidleput would; at the end every P is accounted for exactly once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

#define NPROCS 3
#define NMS 6
/* The run lasts until this many revocations and failed pins happened (or
   60 s), so that a fast or slow machine tests the same interleavings. A
   revoke that fences with a membarrier costs microseconds (an interrupt
   to every CPU running one of the test's threads), and a pin that comes
   during it waits and then wins: fewer of both then. */
struct want {
    long revoked, pinfail, taken;
};
static const struct want want_fence = {20000, 2000, 200};
static const struct want want_membarrier = {2000, 100, 200};

static struct gpm_p procs[NPROCS];
static struct gpm_m ms[NMS] __attribute__((aligned(64)));
static _Atomic int user[NPROCS];  /* the M using each P's local state, or -1 */
static _Atomic long localwork[NPROCS]; /* "P-local state": only its owner writes it */

/* The free list: Ps in P_IDLE that nobody holds (sched.pidle's role). */
static pthread_mutex_t freelock = PTHREAD_MUTEX_INITIALIZER;
static struct gpm_p *freelist[NPROCS];
static int nfree;
static atomic_bool stop, mstop;
static _Atomic long nrevoked, npinfail, nsysfail, ntaken;

static void putfree(struct gpm_p *pp)
{
    pthread_mutex_lock(&freelock);
    cr_assert_lt(nfree, NPROCS, "more free Ps than Ps");
    freelist[nfree++] = pp;
    pthread_mutex_unlock(&freelock);
}

static struct gpm_p *getfree(void)
{
    pthread_mutex_lock(&freelock);
    struct gpm_p *pp = nfree > 0 ? freelist[--nfree] : NULL;
    pthread_mutex_unlock(&freelock);
    return pp;
}

/* Uses pp's local state as its owner: claims it, writes, checks nobody
   else wrote, releases the claim. */
static void uselocal(struct gpm_m *mp, struct gpm_p *pp)
{
    int expect = -1;
    cr_assert(atomic_compare_exchange_strong(&user[pp->id], &expect, mp->id),
              "M%d and M%d both use P%d", mp->id, expect, pp->id);
    cr_assert_eq(gpm_powner(atomic_load(&pp->state)), mp, "P%d used by M%d in state %lx", pp->id, mp->id,
                 (unsigned long)atomic_load(&pp->state));
    long v = atomic_load_explicit(&localwork[pp->id], memory_order_relaxed);
    for (int i = 0; i < 10; i++)
        atomic_store_explicit(&localwork[pp->id], v + i + 1, memory_order_relaxed);
    cr_assert_eq(atomic_load_explicit(&localwork[pp->id], memory_order_relaxed), v + 10);
    atomic_store(&user[pp->id], -1);
}

static void *mthread(void *arg)
{
    struct gpm_m *mp = arg;
    unsigned seed = (unsigned)mp->id * 7919u + 1;
    while (!atomic_load(&mstop)) {
        if (mp->p == NULL) {
            /* Without a P: take one whose M is in a system call (as
               exitsyscall's takesyscallp does), or an idle one. */
            for (int i = 0; i < NPROCS && mp->p == NULL; i++)
                if (gpm_takesyscallp(mp, &procs[i]))
                    atomic_fetch_add(&ntaken, 1);
            if (mp->p == NULL) {
                struct gpm_p *pp = getfree();
                if (pp == NULL)
                    continue;
                gpm_acquirep(mp, pp);
            }
            uselocal(mp, mp->p); /* pinned */
            gpm_unpin(mp);
        }
        /* The program's code: the P may be revoked any time now. */
        for (volatile int i = 0; i < (int)(rand_r(&seed) % 50); i++)
            ;
        switch (rand_r(&seed) % 4) {
        case 0: /* a gpm call that needs the P */
        case 1:
            if (!gpm_pin(mp)) {
                cr_assert_null(mp->p);
                atomic_fetch_add(&npinfail, 1);
                break;
            }
            uselocal(mp, mp->p);
            if (rand_r(&seed) % 8 == 0)
                putfree(gpm_releasep(mp)); /* findrunnable gives it up */
            else
                gpm_unpin(mp);
            break;
        case 2: /* a wrapped system call */
            if (!gpm_p_tosyscall(mp)) {
                cr_assert_null(mp->p);
                break;
            }
            for (volatile int i = 0; i < (int)(rand_r(&seed) % 500); i++)
                ;
            if (!gpm_p_fromsyscall(mp))
                atomic_fetch_add(&nsysfail, 1);
            break;
        default:
            break;
        }
    }
    /* Done: give back what is still ours. */
    if (mp->p != NULL && gpm_pin(mp))
        putfree(gpm_releasep(mp));
    return NULL;
}

static void *revoker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < NPROCS; i++) {
            struct gpm_p *pp = &procs[i];
            uintptr_t w = atomic_load(&pp->state);
            if (gpm_revoke(pp, w)) {
                cr_assert_eq(gpm_pstatus(atomic_load(&pp->state)), P_IDLE);
                atomic_fetch_add(&nrevoked, 1);
                putfree(pp); /* handoffp: to the idle list */
            }
        }
    }
    return NULL;
}

static void no_two_ms_hold_one_p(const struct want *want)
{
    memset(&gpm_sched, 0, sizeof gpm_sched);
    memset(ms, 0, sizeof ms);
    nfree = 0;
    atomic_store(&stop, false);
    atomic_store(&mstop, false);
    atomic_store(&nrevoked, 0);
    atomic_store(&npinfail, 0);
    atomic_store(&ntaken, 0);
    gpm_sched.gomaxprocs = NPROCS;
    gpm_sched.allp = procs;
    for (int i = 0; i < NPROCS; i++) {
        procs[i].id = i;
        atomic_store(&procs[i].state, gpm_pword(NULL, P_IDLE));
        atomic_store(&user[i], -1);
        putfree(&procs[i]);
    }
    pthread_t rv, th[NMS];
    cr_assert_eq(pthread_create(&rv, NULL, revoker, NULL), 0);
    for (int i = 0; i < NMS; i++) {
        ms[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, mthread, &ms[i]), 0);
    }
    for (int i = 0; i < 6000; i++) {
        if (atomic_load(&nrevoked) >= want->revoked && atomic_load(&npinfail) >= want->pinfail &&
            atomic_load(&ntaken) >= want->taken)
            break;
        usleep(10000);
    }
    atomic_store(&mstop, true);
    for (int i = 0; i < NMS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, true);
    pthread_join(rv, NULL);
    /* Every P is free again, each exactly once, and idle. */
    cr_assert_eq(nfree, NPROCS, "%d of %d Ps came back", nfree, NPROCS);
    for (int i = 0; i < NPROCS; i++) {
        cr_assert_eq(atomic_load(&procs[i].state), gpm_pword(NULL, P_IDLE));
        for (int j = i + 1; j < NPROCS; j++)
            cr_assert_neq(freelist[i], freelist[j]);
    }
    /* The interleavings the test is about did happen. */
    cr_assert_geq(atomic_load(&nrevoked), want->revoked, "only %ld revocations", atomic_load(&nrevoked));
    cr_assert_geq(atomic_load(&npinfail), want->pinfail, "only %ld pins found the P revoked",
                  atomic_load(&npinfail));
    cr_assert_geq(atomic_load(&ntaken), want->taken, "only %ld Ps taken from Ms in system calls",
                  atomic_load(&ntaken));
}

/* The light pin against sysmon's revoke, with sysmon's fence a membarrier
   (as gpm runs where the kernel has one)... */
Test(pstate, no_two_ms_hold_one_p, .timeout = 120)
{
    cr_assert(gpm_pinfence_init(true), "membarrier(REGISTER_PRIVATE_EXPEDITED) failed on this kernel");
    no_two_ms_hold_one_p(&want_membarrier);
}

/* ... and with seq_cst on both sides, where it has none. */
Test(pstate, no_two_ms_hold_one_p_nomembarrier, .timeout = 120)
{
    cr_assert(!gpm_pinfence_init(false));
    no_two_ms_hold_one_p(&want_fence);
}

/* A pinned P cannot be revoked, and a P in P_SYSCALL can; the owner's CAS
   then fails and it knows. Single-threaded, step by step. */
Test(pstate, transitions)
{
    memset(&gpm_sched, 0, sizeof gpm_sched);
    gpm_sched.gomaxprocs = 1;
    gpm_sched.allp = procs;
    struct gpm_p *pp = &procs[0];
    struct gpm_m *mp = &ms[0], *other = &ms[1];
    memset(mp, 0, sizeof *mp);
    memset(other, 0, sizeof *other);
    atomic_store(&pp->state, gpm_pword(NULL, P_IDLE));
    gpm_acquirep(mp, pp);
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(mp, P_RUNNING));
    cr_assert(!gpm_revoke(pp, atomic_load(&pp->state)), "a pinned P was revoked");
    gpm_unpin(mp);
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(mp, P_USER));
    cr_assert(gpm_pin(mp));
    /* The light pin: the word stays P_USER, the M says it is inside. */
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(mp, P_USER));
    cr_assert(gpm_m_pinned(mp));
    cr_assert(!gpm_revoke(pp, atomic_load(&pp->state)), "a light-pinned P was revoked");
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(mp, P_USER));
    gpm_unpin(mp);
    cr_assert(!gpm_m_pinned(mp));
    /* Unpinned in P_USER: revoked, and the next pin finds out. */
    cr_assert(gpm_revoke(pp, atomic_load(&pp->state)));
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(NULL, P_IDLE));
    cr_assert(!gpm_pin(mp));
    cr_assert_null(mp->p);
    cr_assert(!gpm_m_pinned(mp));
    gpm_acquirep(mp, pp);
    gpm_unpin(mp);
    cr_assert(gpm_p_tosyscall(mp));
    cr_assert_eq(atomic_load(&pp->state), gpm_pword(mp, P_SYSCALL));
    cr_assert(gpm_revoke(pp, atomic_load(&pp->state)), "retake failed");
    cr_assert(!gpm_p_fromsyscall(mp), "exitsyscall took a retaken P");
    cr_assert_null(mp->p);
    /* Given to another M, which goes out to the program's code: the old
       owner's stale CAS cannot take it (the owner is in the word). */
    gpm_acquirep(other, pp);
    gpm_unpin(other);
    mp->p = pp;
    cr_assert(!gpm_pin(mp), "an M pinned another M's P");
    cr_assert_null(mp->p);
    cr_assert(gpm_revoke(pp, atomic_load(&pp->state)));
    cr_assert(!gpm_pin(other));
}
