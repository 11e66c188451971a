/*
 * src/core/sync.h: the program's synchronisation objects, on the semtable
 * (sema.h). Each is an overlay of glibc's type: the same size, and the
 * fields glibc's static initialisers set keep their offsets and meaning
 * (checked by _Static_assert in the .c files). Process-shared objects are
 * not here: the shim hands them to libc's own code (DESIGN.md section 8).
 *
 * Functions return 0 or an error number, as pthread_* do.
 */
#ifndef GPM_CORE_SYNC_H
#define GPM_CORE_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../../compat/glibc_abi.h"
#include "runtime.h"

/* ---- Mutex (mutex.c): pthread_mutex_t, 40 bytes ---------------------------- */

/* glibc's kind bits (offset 16), which the static initialisers set. */
enum {
    GPM_MUTEX_TYPE_MASK = 3,      /* NORMAL 0, RECURSIVE 1, ERRORCHECK 2, ADAPTIVE 3 */
    GPM_MUTEX_ROBUST = 16,
    GPM_MUTEX_PRIO_INHERIT = 32,
    GPM_MUTEX_PRIO_PROTECT = 64,
    GPM_MUTEX_PSHARED = 128,
    GPM_MUTEX_DESTROYED = -1,
};

struct gpm_pmutex {
    _Atomic uint32_t word;   /*  0: 0 unlocked, 1 locked, 2 locked, maybe waiters */
    uint32_t count;          /*  4: recursion depth (RECURSIVE) */
    _Atomic int32_t owner;   /*  8: tid of the holder, 0 when unlocked */
    uint32_t nusers;         /* 12: glibc's __nusers; kept 0 */
    int32_t kind;            /* 16: glibc's kind bits; DESTROYED after destroy */
    int16_t ceiling;         /* 20: priority ceiling (PRIO_PROTECT) */
    _Atomic int16_t robust;  /* 22: enum gpm_robust_state */
    void *rprev, *rnext;     /* 24: the holder's list of robust mutexes */
};

enum gpm_robust_state { ROBUST_CONSISTENT = 0, ROBUST_OWNERDEAD, ROBUST_NOTRECOVERABLE };

/*
 * The uncontended lock and unlock of a plain mutex (NORMAL or ADAPTIVE:
 * not robust, no priority protocol, no owner checks; what
 * PTHREAD_MUTEX_INITIALIZER makes), inlined into the shim: the same steps
 * as gpm_mutex_lock and gpm_mutex_unlock take for it, without their calls.
 * false: nothing was done, take the full path (any other kind, a destroyed
 * mutex, a locked one, waiters to wake).
 */
static inline bool gpm_mutex_plain(int kind)
{
    return kind == 0 || kind == 3; /* NORMAL, ADAPTIVE */
}

static inline bool gpm_mutex_trylock_plain(struct gpm_pmutex *m, int selftid)
{
    uint32_t zero = 0;
    if (!gpm_mutex_plain(m->kind) ||
        !atomic_compare_exchange_strong_explicit(&m->word, &zero, 1, memory_order_acquire, memory_order_relaxed))
        return false;
    atomic_store_explicit(&m->owner, selftid, memory_order_relaxed);
    m->count = 1;
    return true;
}

static inline bool gpm_mutex_unlock_plain(struct gpm_pmutex *m)
{
    if (!gpm_mutex_plain(m->kind) || atomic_load_explicit(&m->word, memory_order_relaxed) != 1)
        return false;
    atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
    m->count = 0;
    uint32_t one = 1;
    /* Failing, it leaves owner and count as gpm_mutex_unlock sets them. */
    return atomic_compare_exchange_strong_explicit(&m->word, &one, 0, memory_order_release, memory_order_relaxed);
}

void gpm_mutex_init(struct gpm_pmutex *m, int kind, int ceiling);
/* abstime: NULL to wait forever; else a deadline on clock, validated only
   when the call would block (as glibc). trylock: EBUSY instead of waiting. */
int gpm_mutex_lock(struct gpm_pmutex *m, bool trylock, clockid_t clock, const struct timespec *abstime);
/* Locks m as glibc's pthread_mutex_setprioceiling does: as a lock, but
   without the ceiling's priority change (mutex.c, "Priority ceilings"). */
int gpm_mutex_lock_noraise(struct gpm_pmutex *m);
int gpm_mutex_unlock(struct gpm_pmutex *m);
int gpm_mutex_destroy(struct gpm_pmutex *m);
int gpm_mutex_consistent(struct gpm_pmutex *m);
/* A G exits: its robust mutexes become EOWNERDEAD for their next owner. */
void gpm_mutex_robust_exit(struct gpm_g *gp);
/* For cond.c: relock after a wait (woken: the wait returned 0 with the
   waker's wakeval; see "Relocking after a condition variable" in mutex.c);
   and making a mutex's unlock wake the waiters a broadcast moved onto it. */
int gpm_mutex_relock(struct gpm_pmutex *m, bool woken, uint32_t wakeval);
void gpm_mutex_requeued(struct gpm_pmutex *m);

/* ---- Condition variable (cond.c): pthread_cond_t, 48 bytes ---------------- */

enum { GPM_COND_SHARED = 1, GPM_COND_MONOTONIC = 2 }; /* glibc's __wrefs bits */

struct gpm_pcond {
    _Atomic uint32_t seq;      /*  0: bumped by every signal and broadcast */
    _Atomic uint32_t nwait;    /*  4: waits begun, less those not woken */
    struct gpm_pmutex *mutex;  /*  8: the mutex of the last wait */
    _Atomic uint32_t nwoken;   /* 16: waiters woken or moved, by wakers */
    char pad[16];
    uint32_t flags;            /* 36: glibc's __wrefs flag bits */
    char pad2[8];
};

void gpm_cond_init(struct gpm_pcond *c, bool monotonic);
/* clock: -1 for the condition variable's own clock. */
int gpm_cond_wait(struct gpm_pcond *c, struct gpm_pmutex *m, clockid_t clock, const struct timespec *abstime);
int gpm_cond_signal(struct gpm_pcond *c);
/* Waits until no waiter refers to c any more ("Destroying" in cond.c). */
int gpm_cond_destroy(struct gpm_pcond *c);
int gpm_cond_broadcast(struct gpm_pcond *c);

/* ---- rwlock (rwlock.c): pthread_rwlock_t, 56 bytes ------------------------- */

struct gpm_prwlock {
    _Atomic uint32_t state;    /*  0: readers, WRITER and WAITERS bits */
    _Atomic uint32_t wwaiters; /*  4: writers waiting (writer preference) */
    char pad[16];
    _Atomic int32_t writer;    /* 24: glibc's __cur_writer: tid of the writer */
    int32_t shared;            /* 28: glibc's __shared */
    char pad2[16];
    uint32_t flags;            /* 48: glibc's __flags: the kind */
    char pad3[4];
};

void gpm_rwlock_init(struct gpm_prwlock *l, int kind);
int gpm_rwlock_rdlock(struct gpm_prwlock *l, bool trylock, clockid_t clock, const struct timespec *abstime);
int gpm_rwlock_wrlock(struct gpm_prwlock *l, bool trylock, clockid_t clock, const struct timespec *abstime);
int gpm_rwlock_unlock(struct gpm_prwlock *l);
int gpm_rwlock_destroy(struct gpm_prwlock *l);

/* ---- Barrier and spinlock (barrier.c) ---------------------------------------- */

struct gpm_pbarrier {
    _Atomic uint32_t lock;  /*  0: a mutex word (see mutex.c) */
    uint32_t count;         /*  4: threads per round */
    uint32_t arrived;       /*  8: threads waiting in this round */
    int32_t shared;         /* 12: glibc's `shared` (0: process-private) */
    _Atomic uint32_t round; /* 16: bumped when a round completes */
    char pad[12];
};

int gpm_barrier_init(struct gpm_pbarrier *b, unsigned count);
int gpm_barrier_wait(struct gpm_pbarrier *b);
int gpm_barrier_destroy(struct gpm_pbarrier *b);

void gpm_spin_init(_Atomic int *l);
int gpm_spin_lock(_Atomic int *l, bool trylock);
int gpm_spin_unlock(_Atomic int *l);

/* ---- Once (once.c): pthread_once_t ------------------------------------------- */

int gpm_once(_Atomic int *once, void (*init)(void));

/* ---- Unnamed semaphores (sem.c): sem_t, 32 bytes ------------------------------ */

struct gpm_psem {
    _Atomic uint32_t value;   /* 0: as glibc's: the low half of `data` */
    _Atomic uint32_t waiters; /* 4: and the high half */
    int32_t private_;         /* 8: glibc's `private`: 0 process-private */
    char pad[20];
};

int gpm_sem_init(struct gpm_psem *s, unsigned value);
int gpm_sem_wait(struct gpm_psem *s, bool trywait, clockid_t clock, const struct timespec *abstime);
int gpm_sem_post(struct gpm_psem *s);
int gpm_sem_getvalue(struct gpm_psem *s, int *value);

/* The calling thread's tid as glibc's locks record it (its TCB's). */
int gpm_selftid(void);

/* gpm_selftid, inline: the tid in the caller's TCB. */
static inline int gpm_selftid_inline(void)
{
    int tid;
    __asm__("movl %%fs:%c1, %0" : "=r"(tid) : "i"(TCB_OFF_TID));
    return tid;
}

#endif
