/*
 * src/core/gstack.h: G blocks (stack, static TLS, TCB, G struct), their
 * thread-local state, and the pool of finished blocks. See gstack.c.
 */
#ifndef GPM_CORE_GSTACK_H
#define GPM_CORE_GSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

/* Process-wide TLS facts, measured once by gpm_tls_init. Offsets are
   distances below the thread pointer (tp - address), identical in every
   thread because static TLS has one layout. */
struct gpm_tlsinfo {
    size_t static_size;   /* static TLS including the TCB (_dl_get_tls_static_info) */
    size_t static_align;
    intptr_t g_tpoff;     /* gpm_tls_g */
    intptr_t libc_tpoff;  /* libc.so.6's own TLS block */
    size_t libc_size;
    intptr_t errno_tpoff;
    intptr_t h_errno_tpoff;
    intptr_t resp_tpoff;  /* __resp */
    size_t pagesize;
};

extern struct gpm_tlsinfo gpm_tls;

/* The largest libc TLS block gpm works with (glibc 2.36's is 144 bytes):
   a reused block keeps it across _dl_allocate_tls_init in a buffer of
   this size (resettls); a larger one makes gpm pass through. */
#define GPM_LIBC_TLS_MAX 512

/* Measures gpm_tls on the calling (main) thread. Returns NULL, or what
   could not be found. */
const char *gpm_tls_init(void);

/* Where the G struct of a block TCB lives. */
static inline struct gpm_g *gpm_tcb_to_g(void *tcb);

/* What a new G's memory looks like. */
struct gpm_geometry {
    size_t stacksize;   /* glibc's meaning: usable stack + static TLS + TCB */
    size_t guardsize;   /* rounded up to pages; 0 for none */
    void *user_stack;   /* pthread_attr_setstack, or NULL */
    size_t user_stacksize;
};

/* The default geometry for new threads: GPM_STACK_SIZE, else glibc's
   default thread attributes (RLIMIT_STACK, pthread_setattr_default_np). */
void gpm_default_geometry(struct gpm_geometry *geo);

/*
 * gstackalloc returns a G block of geometry geo, from the pool of finished
 * blocks or newly mapped, with fresh static TLS and a filled TCB, in state
 * G_IDLE, linked on allgs. -EAGAIN when memory or mappings run out, -EINVAL
 * when the stack cannot hold the TLS.
 * Runs on the creating thread's stack with its own TLS (calls libc).
 */
int gpm_gstackalloc(const struct gpm_geometry *geo, struct gpm_g **out);

/* The scavenger ("The scavenger" in gstack.c), from sysmon: gives back the
   stack pages of pooled blocks that were not reused. gpm_gstack_dirty:
   whether some are left to give back; gpm_gstack_backlog: whether some are
   due now (sysmon then comes back within a millisecond). */
void gpm_gstack_scavenge(int64_t now);
bool gpm_gstack_dirty(void);
bool gpm_gstack_backlog(void);
/* pp goes idle: its G cache shrinks to a few blocks ("The scavenger").
   Executed only by the owner P, pinned. */
void gpm_gstack_idlep(struct gpm_p *pp);

/* Returns gp's block to the pool (G_DEAD, joined or detached): pp's cache
   first, when the caller holds pp pinned; the global pool when pp is NULL.
   Runs on any context, including g0 (no TLS, no libc). */
void gpm_gstackfree(struct gpm_p *pp, struct gpm_g *gp);

/* Under memory pressure ("Memory pressure" in gstack.c), gives back every
   block the pool holds, the calling G's P cache first; else nothing. Runs
   on a G's stack, unpinned: pthread_join calls it after freeing a block. */
void gpm_gstack_trim(void);

/* fork (fork.c): hold allglock and the pool's lock across fork; in the
   child, forget every G but self. */
void gpm_gstack_forklock(void);
void gpm_gstack_forkunlock(void);
void gpm_gstack_forkchild(struct gpm_g *self);

/* Removes gp from allgs (it has finished). */
void gpm_allgs_remove(struct gpm_g *gp);
/* A zeroed G struct for a foreign thread (foreign.c), and back: never from
   the program's malloc, since adopting happens inside the program's own
   pthread calls, and a malloc that locks with pthread mutexes (jemalloc)
   would enter gpm again and adopt again, without end. Freed structs stay
   mapped, on a free list, so the memory is that of the most foreign threads
   alive at once. gpm_foreign_gfree also takes gp off allgs and clears its
   magic. Take allglock; galloc returns NULL when out of memory. */
struct gpm_g *gpm_foreign_galloc(void);
void gpm_foreign_gfree(struct gpm_g *gp);
/* Adds a G that has no block (G1, foreign threads) to allgs. */
void gpm_allgs_add(struct gpm_g *gp);
/* Calls fn on every live G under allglock. fn must not take allglock. */
void gpm_forallg(void (*fn)(struct gpm_g *, void *), void *arg);
/* The same without the lock, for fatal-error dumps only. */
void gpm_forallg_unlocked(void (*fn)(struct gpm_g *, void *), void *arg);

/* A stackless block that only holds static TLS and a TCB: the own TLS of
   M0's scheduler. */
void *gpm_tlsblock_alloc(void);

/* Tears down what glibc keeps per thread in a TCB before the block is
   reused or the G is gone: resolver state and tls_state buffers. Runs on the
   G itself at exit. */
void gpm_tcb_release(void *tcb);

/* The allocation of tcb's DTV (which the TCB points into), kept by the
   TCB's owner so that leak checkers see the DTV reachable ("Leak checkers
   and the DTV" in gstack.c); NULL for a TCB without a DTV. */
void *gpm_dtvmem(void *tcb);

/* Frees the dynamic TLS of a block's G at its exit, as glibc frees a
   thread's, and brings gp->dtvmem up to date. Runs on the G itself. */
void gpm_tls_exitg(struct gpm_g *gp);

/* Around the real dlopen: begin returns a stamp; fixup copies the initial
   image of every static-TLS module the dlopen added into the live Gs made
   before it existed (DESIGN.md section 5, "dlopen and initial-exec TLS" in
   gstack.c). Run on the thread that calls dlopen. */
uint64_t gpm_tls_dlopen_begin(void);
void gpm_tls_dlopen_fixup(uint64_t before);

static inline struct gpm_g *gpm_tcb_to_g(void *tcb)
{
    return (struct gpm_g *)((char *)tcb + 2368 /* TCB_SIZE */);
}

/* The canary of a stack without a guard ("Stacks without a guard" in
   gstack.c): a word no program stores by chance. */
#define GPM_STACK_CANARY 0x216b636174737a67ULL

/* Prints that gp overflowed its stack (no guard page; its canary is
   broken) and aborts the process, on the M's alternate signal stack when
   called from gp itself, whose stack is spent. Never returns. */
void gpm_gstack_canarydead(struct gpm_g *gp) __attribute__((noreturn, cold));

/* The canary check at gp's switch-out and exit: one load and a compare
   for a guarded stack. Runs on gp's stack, by gp. */
static inline void gpm_gstack_checkcanary(struct gpm_g *gp)
{
    uint64_t *c = gp->canary;
    if (__builtin_expect(c != NULL, 0) && __builtin_expect(*c != GPM_STACK_CANARY, 0))
        gpm_gstack_canarydead(gp);
}

/* True for the first caller only: the one overflow that the process dies
   of is said once, whoever notices it (canary or guard, sysmon or the G). */
bool gpm_overflow_first(void);

/* sysmon: the canary check of every running G. */
void gpm_gstack_checkrunning(void);

/* The low end of gp's stack (gpm's block, or the program's own stack), 0
   if unknown. Async-signal-safe. */
uintptr_t gpm_gstack_lo(const struct gpm_g *gp);

/* Whether a fault at addr, with the stack pointer at sp, is gp running
   off the low end of its stack (into its guard, or just below it; or,
   for a fault the kernel raised because a signal frame did not fit, with
   sp there). Async-signal-safe. */
bool gpm_gstack_overflowed(const struct gpm_g *gp, uintptr_t addr, uintptr_t sp, bool framefault);

/* The size gp's stack was asked with (the attribute's or the default),
   for messages. */
static inline size_t gpm_gstack_size(const struct gpm_g *gp)
{
    return gp->user_stack != NULL ? gp->user_stacksize : gp->stacksize;
}

/* The G a pthread_t names, or NULL if it names no G that gpm made or
   adopted (a foreign thread, garbage, a freed G). Safe for every pthread_t
   of a live thread, and for garbage that points into mapped memory (as
   glibc is): it reads beyond the TCB's own fields only after the TCB's
   self pointers say it is one, and reads our G struct only after its tid
   says the block is ours. */
struct gpm_g *gpm_pthread_to_g(uintptr_t th);

/* The live G (not yet G_DEAD) whose thread id is tid, when it is one of
   gpm's (G1 or a G of a block; foreign threads are their own kernel
   threads), else NULL. Takes allglock unless the G is in a small cache. */
struct gpm_g *gpm_tid_to_g(pid_t tid);

#endif
