/*
 * src/core/gstack.c: G blocks and their thread-local state.
 *
 * A G block
 * ---------
 * Every G that gpm_newproc makes lives in one mapping, glibc's own layout
 * for thread stacks, with gpm's G struct on top:
 *
 *   low                                                             high
 *   +-------+--------------------------+-------------+-------+--------+
 *   | guard | stack (grows down) <-    | static TLS  |  TCB  | struct |
 *   | pages |                          | (modules)   | 2368B | gpm_g  |
 *   +-------+--------------------------+-------------+-------+--------+
 *   block   stack_lo            stack_hi             tcb     tcb+2368
 *
 * The TCB is a glibc `struct pthread` that glibc accepts as a thread
 * (fill_tcb, and docs/TLS.md for why each field matters); %fs points at it
 * while the G runs, and it is the G's pthread_t. The G struct sits right
 * after it, so pthread_t -> G is one addition.
 *
 * With pthread_attr_setstack the program's memory is only the stack; the
 * TLS, TCB and G struct then come from a stackless block of ours, so that
 * every TCB and G struct gpm hands out is gpm's memory and can be pooled.
 *
 * The pool
 * --------
 * Finished blocks are kept for reuse (DESIGN.md section 5), and unmapped
 * only by the scavenger beyond recent demand, after their malloc cache,
 * which glibc frees only in an unexported function, went back to malloc
 * (tcache.c). A reused block keeps
 * libc's own TLS block (the tcache and arena pointers), which is the point,
 * and its DTV, and gets fresh TLS images (resettls). Blocks of the default
 * geometry are cached per P (like Go's gFree), up to 64, and move to the
 * global pool 32 at a time; other geometries (a program's own stack size,
 * stackless blocks for pthread_attr_setstack) go straight to the global
 * pool, in a class of their own (struct gclass), where a create looks for
 * a block of its geometry. In both classes the scavenger returns the stack
 * pages of blocks not reused to the kernel ("The scavenger").
 *
 * allgs
 * -----
 * Every G that may run is on allgs, under allglock: the dlopen fix-up
 * reaches Gs through it (below), gpm_tid_to_g finds them, signals are
 * routed to them, dumps list them. G1 and foreign Gs come and go with
 * their thread. A block's G joins at its first life and stays, pooled
 * and reused, until the scavenger unmaps the block (unmapblocks takes it
 * off the list and out of the tid cache under allglock first): one walk of the list per create
 * and exit is saved, and a pooled block is G_DEAD, which every user of
 * the list skips (gpm_forallg does it for them; the dlopen fix-up copies
 * into it too, harmlessly, since nothing runs on it and resettls gives it
 * fresh images anyway). In a forked child the list holds only the forking
 * G; allgsepoch changes then, so a pooled block from before the fork
 * joins the child's list again when it is reused.
 *
 * Fake tids
 * ---------
 * glibc's recursive locks (ld.so's, stdio's are by TCB) record the owner's
 * tid, so every TCB needs a distinct non-zero tid; gettid() returns it too
 * (src/shim/tid.c). A block gets a new one for each life (each thread),
 * from [GPM_FAKE_TID_BASE, GPM_FAKE_TID_LIMIT), above any real tid, in
 * order (each P takes them 16 at a time: newids), wrapping around as the
 * kernel's pids do (compat/glibc_abi.h says why the range is where it
 * is). gpm_tid_to_g finds a live G by its id.
 */
#define _GNU_SOURCE
#include "gstack.h"

#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#undef p_type /* resolv.h renames the ELF field p_type for its own function */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "alloc.h"
#include "env.h"
#include "sys.h"
#include "tcache.h"
#include "valgrind.h"

_Static_assert(TCB_SIZE == 2368, "gpm_tcb_to_g hard-codes TCB_SIZE");
_Static_assert(TCB_OFF_RES_END == TCB_OFF_RES + sizeof(struct __res_state), "struct pthread's res");

struct gpm_tlsinfo gpm_tls;

/* Bytes reserved for the G struct above the TCB. */
#define GSIZE ((sizeof(struct gpm_g) + 63) & ~(size_t)63)
/* glibc refuses stacks with less usable room than this (MINIMAL_REST_STACK). */
#define MIN_REST_STACK 2048
/* Per-P cache of finished default-geometry blocks (as Go's gFree), and
   what a P that goes idle keeps of it ("The scavenger"). */
#define PCACHE_MAX 64
#define PCACHE_IDLE 8

static struct gpm_mutex allglock;
static uint64_t tlsgen; /* protected by allglock; stamped into gp->tlsgen (dlopen fix-up) */
static uint64_t allgsepoch = 1; /* protected by allglock; see "allgs" */
static void record_startup_modules(void);
static struct gpm_g *allgs;
/* Held across every munmap of blocks (unmapblocks: sysmon, and Gs under
   pressure), and by sysmon while it reads running Gs' canaries. */
static struct gpm_mutex unmaplock;

/* A module's static TLS block: where it lies below the thread pointer and
   the initial image it starts from. */
struct tls_module {
    size_t modid;
    intptr_t tpoff;
    const void *image;
    size_t filesz, memsz;
};
/* The static TLS modules of start-up other than libc (whose block the pool
   keeps), whose images resettls copies itself; n is -1 once a library with
   static TLS has been dlopen'ed, or when the list could not be made, and
   resettls leaves the copying to ld.so. Protected by allglock. */
static struct {
    struct tls_module *mods;
    int n, cap;
} startup_tls = {.n = -1};
/* G1, for gpm_tid_to_g: the one G whose id is not a fake tid (its memory
   is never freed). */
static struct gpm_g *g1;

/* A class of pooled blocks ("The pool"): blocks that still hold their
   stack pages, freed since the scavenger's last epoch (young) or before it
   (old), and blocks whose pages were given back (clean). The counts are
   written under gpool.lock and read without it (sysmon, fast paths). */
struct gclass {
    struct gpm_g *young, *old, *clean;
    _Atomic int32_t nyoung, nold, nclean;
};

static struct {
    struct gpm_mutex lock;
    struct gclass def;   /* the default geometry */
    struct gclass other; /* every other geometry, stackless blocks too */
    int64_t epoch;       /* when young last became old (scavenger) */
    /* Blocks handed out by the global pool or newly mapped, in this epoch
       and the last: the demand the scavenger keeps blocks for. */
    _Atomic int32_t demand, lastdemand;
} gpool;

static _Atomic uint32_t tidgen = GPM_FAKE_TID_BASE;

static struct gpm_geometry defgeo;

/* ---- Process-wide TLS facts ------------------------------------------- */

struct libc_tls_search {
    void *tp;
    intptr_t tpoff;
    size_t size;
};

static int find_libc_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct libc_tls_search *s = data;
    const char *name = info->dlpi_name;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "libc.so.", 8) != 0 || info->dlpi_tls_data == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            s->tpoff = (char *)s->tp - (char *)info->dlpi_tls_data;
            s->size = info->dlpi_phdr[i].p_memsz;
            return 1;
        }
    }
    return 0;
}

/* The DTV generation of start-up: the main thread's when gpm starts (slot
   0 of glibc's DTV; "The DTV" below). */
static uintptr_t startgen;

const char *gpm_tls_init(void)
{
    char *tp = gpm_rdtp();
    gpm_real._dl_get_tls_static_info(&gpm_tls.static_size, &gpm_tls.static_align);
    if (gpm_tls.static_size <= TCB_SIZE || gpm_tls.static_align == 0 ||
        (gpm_tls.static_align & (gpm_tls.static_align - 1)) != 0 || TCB_SIZE % gpm_tls.static_align != 0)
        return "static TLS size";
    gpm_tls.g_tpoff = tp - (char *)&gpm_tls_g;
    struct libc_tls_search s = {.tp = tp};
    dl_iterate_phdr(find_libc_tls, &s);
    if (s.size == 0 || s.tpoff <= 0 || s.size > GPM_LIBC_TLS_MAX)
        return "libc's TLS block";
    gpm_tls.libc_tpoff = s.tpoff;
    gpm_tls.libc_size = s.size;
    gpm_tls.errno_tpoff = tp - (char *)&errno;
    gpm_tls.h_errno_tpoff = tp - (char *)__h_errno_location();
    char *resp = dlvsym(RTLD_DEFAULT, "__resp", GLIBC_PRIVATE_VERSION);
    if (resp == NULL)
        return "__resp";
    gpm_tls.resp_tpoff = tp - resp;
    /* errno, h_errno and __resp must lie in libc's block, which the pool
       keeps across reuse and gpm_gstackalloc then partly resets. */
    intptr_t lo = gpm_tls.libc_tpoff, hi = gpm_tls.libc_tpoff - (intptr_t)gpm_tls.libc_size;
    if (gpm_tls.errno_tpoff > lo || gpm_tls.errno_tpoff <= hi || gpm_tls.h_errno_tpoff > lo ||
        gpm_tls.h_errno_tpoff <= hi || gpm_tls.resp_tpoff > lo || gpm_tls.resp_tpoff <= hi)
        return "errno, h_errno or __resp outside libc's TLS block";
    gpm_tls.pagesize = (size_t)sysconf(_SC_PAGESIZE);
    startgen = (uintptr_t)TCB_FIELD(tp, TCB_OFF_DTV, void **)[0];
    record_startup_modules();
    gpm_tcache_init();
    return NULL;
}

static size_t pageround(size_t n)
{
    return (n + gpm_tls.pagesize - 1) & ~(gpm_tls.pagesize - 1);
}

void gpm_default_geometry(struct gpm_geometry *geo)
{
    if (defgeo.stacksize == 0) {
        /* glibc's defaults for new threads: RLIMIT_STACK at start-up (2 MiB
           if unlimited), or what pthread_setattr_default_np set. */
        pthread_attr_t attr;
        size_t stacksize = 0, guardsize = gpm_tls.pagesize;
        if (pthread_getattr_default_np(&attr) == 0) {
            pthread_attr_getstacksize(&attr, &stacksize);
            pthread_attr_getguardsize(&attr, &guardsize);
            pthread_attr_destroy(&attr);
        }
        if (gpm_config.stacksize != 0)
            stacksize = gpm_config.stacksize;
        if (stacksize == 0)
            stacksize = 8 << 20;
        if (gpm_config.stackguard == 0)
            guardsize = 0;
        defgeo.stacksize = stacksize & ~(gpm_tls.static_align - 1);
        defgeo.guardsize = pageround(guardsize);
    }
    *geo = defgeo;
}

static bool isdefault(const struct gpm_geometry *geo)
{
    return geo->user_stack == NULL && geo->stacksize == defgeo.stacksize && geo->guardsize == defgeo.guardsize;
}

/* ---- TCB ----------------------------------------------------------------- */

/*
 * fill_tcb makes tcb a thread glibc accepts (docs/TLS.md has the reason for
 * each field). The TCB is zero and _dl_allocate_tls has set its DTV. The
 * process-wide values (guards, CET bits, robust futex offset) are copied
 * from the calling thread's TCB.
 */
static void fill_tcb(char *tcb, uint32_t tid, void *stackblock, size_t stackblock_size, size_t guardsize)
{
    char *self = gpm_rdtp();
    TCB_FIELD(tcb, TCB_OFF_TCB, void *) = tcb;
    TCB_FIELD(tcb, TCB_OFF_SELF, void *) = tcb;
    TCB_FIELD(tcb, TCB_OFF_MULTIPLE_THREADS, int) = 1;
    TCB_FIELD(tcb, TCB_OFF_STACK_GUARD, uintptr_t) = TCB_FIELD(self, TCB_OFF_STACK_GUARD, uintptr_t);
    TCB_FIELD(tcb, TCB_OFF_POINTER_GUARD, uintptr_t) = TCB_FIELD(self, TCB_OFF_POINTER_GUARD, uintptr_t);
    TCB_FIELD(tcb, TCB_OFF_FEATURE_1, unsigned) = TCB_FIELD(self, TCB_OFF_FEATURE_1, unsigned);
    /* list: self-linked, so fork's reclaim_stacks can unlink it. */
    TCB_FIELD(tcb, TCB_OFF_LIST, void *) = tcb + TCB_OFF_LIST;
    TCB_FIELD(tcb, TCB_OFF_LIST + 8, void *) = tcb + TCB_OFF_LIST;
    TCB_FIELD(tcb, TCB_OFF_TID, int) = (int)tid;
    /* Empty robust list, as start_thread leaves it. */
    TCB_FIELD(tcb, TCB_OFF_ROBUST_PREV, void *) = tcb + TCB_OFF_ROBUST_LIST;
    TCB_FIELD(tcb, TCB_OFF_ROBUST_LIST, void *) = tcb + TCB_OFF_ROBUST_LIST;
    TCB_FIELD(tcb, TCB_OFF_ROBUST_FUTEX_OFFSET, long) = TCB_FIELD(self, TCB_OFF_ROBUST_FUTEX_OFFSET, long);
    TCB_FIELD(tcb, TCB_OFF_SPECIFIC, void *) = tcb + TCB_OFF_SPECIFIC_1STBLOCK;
    TCB_FIELD(tcb, TCB_OFF_USER_STACK, unsigned char) = 1;
    TCB_FIELD(tcb, TCB_OFF_STACKBLOCK, void *) = stackblock;
    TCB_FIELD(tcb, TCB_OFF_STACKBLOCK_SIZE, size_t) = stackblock_size;
    TCB_FIELD(tcb, TCB_OFF_GUARDSIZE, size_t) = guardsize;
    TCB_FIELD(tcb, TCB_OFF_REPORTED_GUARDSIZE, size_t) = guardsize;
    TCB_FIELD(tcb, TCB_OFF_RSEQ_CPU_ID, uint32_t) = GLIBC_RSEQ_CPU_ID_REGISTRATION_FAILED;
    /* The resolver state is per thread: __resp (in libc's TLS block) points
       into the TCB, as start_thread sets it. */
    *(void **)(tcb - gpm_tls.resp_tpoff) = tcb + TCB_OFF_RES;
}

void gpm_tcb_release(void *tcb)
{
    /* As glibc's __res_thread_freeres: close what res_ninit opened, and
       clear the options so that the block's next life initialises again
       (resettls keeps the rest of the state, as glibc's cached stacks do).
       Only an initialised state may be closed: a zeroed one says fd 0. */
    struct __res_state *res = (struct __res_state *)((char *)tcb + TCB_OFF_RES);
    if (res->options & RES_INIT)
        res_nclose(res);
    res->options = 0;
    char **bufs[] = {&TCB_FIELD(tcb, TCB_OFF_TLS_STATE_STRSIGNAL, char *),
                     &TCB_FIELD(tcb, TCB_OFF_TLS_STATE_STRERROR, char *)};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

/* ---- The DTV -------------------------------------------------------------- */

/* glibc's dtv_t as gpm reads it: the TCB points at slot 0; slot -1, the
   first of the allocation, holds the number of module slots, slot 0 the
   generation, slot i = {val, to_free} module i's block and what to free of
   it (NULL for a module in static TLS). */
struct dtv_slot {
    void *val;
    void *to_free;
};

static struct dtv_slot *dtvof(const char *tcb)
{
    return TCB_FIELD(tcb, TCB_OFF_DTV, struct dtv_slot *);
}

/*
 * Leak checkers and the DTV
 * -------------------------
 * Since the TCB points one slot into its DTV's allocation, a leak checker
 * that scans memory for pointers (memcheck) finds only an interior
 * pointer to it and calls the DTV "possibly lost", and with it every block
 * of dynamic TLS it holds. A native thread still running at exit shows the
 * same; glibc frees the DTVs of finished ones at exit under valgrind
 * (__libc_freeres), which it cannot do for the blocks gpm keeps, pooled
 * or running. So whoever owns a TCB whose DTV glibc allocated keeps the
 * allocation's own address too (gp->dtvmem for a block, mp->dtvmem for a
 * kernel thread of gpm's, a static for sysmon, the maker and the signal
 * receiver): it costs a word, and makes the DTV plainly reachable. glibc
 * reallocates a DTV only on its own thread (a module id beyond its
 * slots, in __tls_get_addr), so a G's word is brought up to date at its
 * exit; a G that grew its DTV and is still running at exit leaves the
 * report behind, as a native thread does.
 */
void *gpm_dtvmem(void *tcb)
{
    struct dtv_slot *dtv = dtvof(tcb);
    return dtv != NULL ? dtv - 1 : NULL;
}

void gpm_tls_exitg(struct gpm_g *gp)
{
    struct dtv_slot *dtv = dtvof(gp->tcb);
    gp->dtvmem = dtv - 1;
    /* A DTV still at start-up's generation reaches only start-up's
       modules, all in static TLS, with nothing to free: a G that touched
       the dynamic TLS of a module loaded since went through
       __tls_get_addr, which first brings the DTV to that module's
       generation. (A block set up after such a load starts at the later
       generation, and is scanned.) */
    if ((uintptr_t)dtv[0].val == startgen)
        return;
    size_t nslots = (size_t)dtv[-1].val, i;
    /* to_free is written only by this G (__tls_get_addr) and by gpm while
       the block is pooled, so it is read here without a lock; the slots
       are changed under allglock, which the dlopen fix-up reads them
       under ("dlopen and initial-exec TLS"). */
    for (i = 1; i <= nslots && dtv[i].to_free == NULL; i++)
        ;
    if (i > nslots)
        return;
    gpm_lock(&allglock);
    for (; i <= nslots; i++) {
        if (dtv[i].to_free != NULL) {
            free(dtv[i].to_free);
            dtv[i].val = GLIBC_TLS_DTV_UNALLOCATED;
            dtv[i].to_free = NULL;
        }
    }
    gpm_unlock(&allglock);
}

/* ---- allgs --------------------------------------------------------------- */

static void allgs_add_locked(struct gpm_g *gp)
{
    gp->allgsepoch = allgsepoch;
    gp->allprev = NULL;
    gp->allnext = allgs;
    if (allgs)
        allgs->allprev = gp;
    allgs = gp;
}

void gpm_allgs_add(struct gpm_g *gp)
{
    if (gp->kind == G_KIND_MAIN)
        g1 = gp;
    gpm_lock(&allglock);
    allgs_add_locked(gp);
    gpm_unlock(&allglock);
}

static void allgs_remove_locked(struct gpm_g *gp)
{
    if (gp->allprev)
        gp->allprev->allnext = gp->allnext;
    else
        allgs = gp->allnext;
    if (gp->allnext)
        gp->allnext->allprev = gp->allprev;
    gp->allnext = gp->allprev = NULL;
    gp->allgsepoch = 0;
}

void gpm_allgs_remove(struct gpm_g *gp)
{
    gpm_lock(&allglock);
    allgs_remove_locked(gp);
    gpm_unlock(&allglock);
}

/* Foreign threads' G structs whose threads have ended, linked by allnext;
   protected by allglock. */
static struct gpm_g *foreignfree;

struct gpm_g *gpm_foreign_galloc(void)
{
    gpm_lock(&allglock);
    struct gpm_g *gp = foreignfree;
    if (gp != NULL)
        foreignfree = gp->allnext;
    gpm_unlock(&allglock);
    if (gp == NULL)
        return gpm_persistentalloc(GSIZE, 64); /* zeroed */
    memset(gp, 0, sizeof *gp);
    return gp;
}

void gpm_foreign_gfree(struct gpm_g *gp)
{
    gpm_lock(&allglock);
    allgs_remove_locked(gp);
    gp->magic = 0;
    gp->allnext = foreignfree;
    foreignfree = gp;
    gpm_unlock(&allglock);
}

/* Recent answers of gpm_tid_to_g, by tid modulo the size: Gs of gpm's
   own, an entry checked, not trusted. Read and written under allglock,
   which the scavenger holds while it clears the entries of blocks it is
   about to unmap. */
#define TIDCACHE_SIZE 64
static _Atomic(struct gpm_g *) tidcache[TIDCACHE_SIZE];

struct tidsearch {
    uint32_t tid;
    struct gpm_g *found;
};

/* A pooled block's G, on allgs but no thread's ("allgs"). */
static bool pooled(struct gpm_g *gp)
{
    return gp->kind == G_KIND_BLOCK && gpm_readgstatus(gp) == G_DEAD;
}

static bool livewithtid(struct gpm_g *gp, uint32_t tid)
{
    return gp->magic == GPM_G_MAGIC && gp->kind != G_KIND_FOREIGN && __atomic_load_n(&gp->tid, __ATOMIC_RELAXED) == tid &&
           gpm_readgstatus(gp) != G_DEAD;
}

static void findtid(struct gpm_g *gp, void *arg)
{
    struct tidsearch *s = arg;
    if (s->found == NULL && livewithtid(gp, s->tid))
        s->found = gp;
}

struct gpm_g *gpm_tid_to_g(pid_t tid)
{
    bool fake = tid >= GPM_FAKE_TID_BASE && tid < GPM_FAKE_TID_LIMIT;
    if (!fake && (g1 == NULL || (uint32_t)tid != g1->tid))
        return NULL;
    _Atomic(struct gpm_g *) *slot = &tidcache[(uint32_t)tid % TIDCACHE_SIZE];
    gpm_lock(&allglock);
    struct gpm_g *gp = atomic_load_explicit(slot, memory_order_relaxed);
    if (gp == NULL || !livewithtid(gp, (uint32_t)tid)) {
        struct tidsearch s = {(uint32_t)tid, NULL};
        for (gp = allgs; gp != NULL; gp = gp->allnext)
            if (!pooled(gp))
                findtid(gp, &s);
        gp = s.found;
        if (gp != NULL)
            atomic_store_explicit(slot, gp, memory_order_relaxed);
    }
    gpm_unlock(&allglock);
    return gp;
}

void gpm_forallg_unlocked(void (*fn)(struct gpm_g *, void *), void *arg)
{
    for (struct gpm_g *gp = allgs; gp; gp = gp->allnext)
        if (!pooled(gp))
            fn(gp, arg);
}

void gpm_forallg(void (*fn)(struct gpm_g *, void *), void *arg)
{
    gpm_lock(&allglock);
    for (struct gpm_g *gp = allgs; gp; gp = gp->allnext)
        if (!pooled(gp))
            fn(gp, arg);
    gpm_unlock(&allglock);
}

/* ---- fork (fork.c) ------------------------------------------------------- */

void gpm_gstack_forklock(void)
{
    gpm_lock(&allglock);
    gpm_lock(&gpool.lock);
}

void gpm_gstack_forkunlock(void)
{
    gpm_unlock(&gpool.lock);
    gpm_unlock(&allglock);
}

/* In the child: only self exists. The other Gs' blocks are left as they
   are, off every list. */
void gpm_gstack_forkchild(struct gpm_g *self)
{
    gpm_lock(&allglock);
    allgs = NULL;
    allgsepoch++; /* pooled blocks are off the list now ("allgs") */
    if (self != NULL)
        allgs_add_locked(self);
    gpm_unlock(&allglock);
}

/* ---- Blocks -------------------------------------------------------------- */

/*
 * Guarding a stack
 * ----------------
 * Every block but one on a program's own stack has a guard below its stack
 * (guardsize bytes, the thread attribute's). Where the kernel has guard
 * regions (madvise MADV_GUARD_INSTALL, Linux 6.13), the guard is a range of
 * page-table markers that fault on any access: it costs no mapping, so
 * neighbouring blocks merge into shared mappings and a million guarded
 * stacks fit under vm.max_map_count. MADV_DONTNEED (the scavenger's) keeps
 * the markers.
 *
 * Without guard regions the guard is a PROT_NONE page, and that costs
 * mappings: it splits its block into two mappings (VMAs), and the kernel
 * allows a process vm.max_map_count of them (65530 by default), so with a
 * guard each only about 32,000 threads could exist, which is also glibc's
 * limit. gpm gives such guards while half the allowance (less a reserve for
 * the program's own mappings) lasts; blocks made after that have the same
 * layout but no PROT_NONE page (a canary instead: "Stacks without a
 * guard"), and the first such block prints one line.
 */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif
static _Atomic int64_t guardbudget = -1;
static _Atomic int guardregions = 1; /* 0 once the kernel said it has none */
#define MAP_RESERVE 4096
/* Guards above this many bytes are a PROT_NONE mapping of their own
   (mapblock): 1 MiB of guard markers is one page table's worth. */
#define BIGGUARD ((size_t)1 << 20)

static bool takeguard(void)
{
    int64_t b = atomic_load(&guardbudget);
    if (b < 0) {
        char buf[32];
        int64_t max = 65530;
        long n = gpm_readfile("/proc/sys/vm/max_map_count", buf, sizeof buf);
        if (n > 0) {
            buf[n] = '\0';
            max = 0;
            for (char *c = buf; *c >= '0' && *c <= '9'; c++)
                max = max * 10 + (*c - '0');
        }
        int64_t init = max > 2 * MAP_RESERVE ? (max - MAP_RESERVE) / 2 : 0, unknown = -1;
        atomic_compare_exchange_strong(&guardbudget, &unknown, init);
    }
    if (atomic_fetch_sub(&guardbudget, 1) > 0)
        return true;
    atomic_fetch_add(&guardbudget, 1);
    static _Atomic bool told;
    if (!atomic_exchange(&told, true))
        gpm_printf("gpm: vm.max_map_count is nearly used up: new threads' stacks get no guard page\n");
    return false;
}

/* Makes [block, block + guard) fault on access: a guard region where the
   kernel has them, else a PROT_NONE page while the budget lasts. Returns
   whether it made a PROT_NONE page; *guarded says whether the range
   faults at all (false: the stack gets a canary instead). */
static bool installguard(char *block, size_t guard, bool *guarded)
{
    *guarded = true;
    if (atomic_load_explicit(&guardregions, memory_order_relaxed)) {
        long r = gpm_madvise(block, guard, MADV_GUARD_INSTALL);
        if (r == 0)
            return false;
        /* EINVAL: a kernel without guard regions. Anything else (ENOMEM
           for the page tables) is this block's trouble only. */
        if (r == -EINVAL)
            atomic_store(&guardregions, 0);
    }
    if (takeguard()) {
        if (gpm_mprotect(block, guard, PROT_NONE) == 0)
            return true;
        atomic_fetch_add(&guardbudget, 1);
    }
    *guarded = false;
    return false;
}

/*
 * Stacks without a guard
 * ----------------------
 * A stack whose guard could not be made (GPM_STACK_GUARD=0, or past the
 * map budget of takeguard) would overflow silently into the block below
 * it, whose top holds another thread's TLS, TCB and G struct. Such a
 * stack gets a canary instead: a known word CANARY_SLACK bytes above the
 * lowest byte an overflow may still write without harm to others (the
 * unused guard bytes when the block has them, else the stack's own
 * lowest page, which the thread then cannot use). It is written at each
 * life's start and checked when the G switches out, when it exits
 * (gpm_gstack_checkcanary) and by sysmon for the running Gs
 * (gpm_gstack_checkrunning). A broken canary is fatal: the line says so,
 * and the process aborts before the G runs again.
 *
 * What it cannot catch: a single frame larger than the slack, which skips
 * the canary and writes below it before any check runs, and a G that
 * overflows and corrupts its neighbour between two checks without ever
 * switching out (sysmon looks every GPM_PREEMPT_MS or so). A guard catches
 * both; the canary makes the common case, a recursion that goes one frame
 * too deep and then yields, blocks or exits, fail loudly.
 *
 * Invariant: gp->canary is NULL, or points into gp's own stack, below
 * stack_hi, and holds GPM_STACK_CANARY while the G lives and has not
 * overflowed.
 */
#define CANARY_SLACK 4096
/* gpm_gstack_overflowed: how far below a stack a fault still counts as
   its overflow (the guard, when larger), and how close to the low end a
   signal frame that did not fit leaves the stack pointer (the largest
   xsave frames are near 12 KiB). */
#define OVERFLOW_REACH (64 * 1024)
#define OVERFLOW_FRAME (32 * 1024)

void gpm_sigcall_onstack(void *fn, long sig, void *si, void *uc, void *stacktop);

bool gpm_overflow_first(void)
{
    static _Atomic bool said;
    return !atomic_exchange(&said, true);
}

static void canarydeath(long unused, void *gparg, void *unused2) __attribute__((noreturn));
static void canarydeath(long unused, void *gparg, void *unused2)
{
    (void)unused;
    (void)unused2;
    struct gpm_g *gp = gparg;
    if (gpm_overflow_first()) /* sysmon and the G itself may both see it */
        gpm_printf("gpm: thread G%lu overflowed its %zu-byte stack (no guard page; detected by its canary)\n",
               (unsigned long)gp->goid, gpm_gstack_size(gp));
    gpm_abort();
}

void gpm_gstack_canarydead(struct gpm_g *gp)
{
    /* gp's stack pointer is likely below its canary already: printing
       there would write further into the memory below. The M's alternate
       signal stack is free outside gpm's SIGSEGV handler, which does not
       call this. A wired G's M is its lockedm. */
    struct gpm_m *mp = gp == gpm_getg() ? (gp->m != NULL ? gp->m : gp->lockedm) : NULL;
    if (mp != NULL && mp->sigstk != NULL)
        gpm_sigcall_onstack((void *)canarydeath, 0, gp, NULL, (char *)mp->sigstk + mp->sigstksize);
    canarydeath(0, gp, NULL);
}

/* Blocks with a canary, mapped now: sysmon looks only while there are. */
static _Atomic int64_t ncanaries;

void gpm_gstack_checkrunning(void)
{
    if (atomic_load_explicit(&ncanaries, memory_order_relaxed) == 0)
        return;
    /* unmaplock: no block is unmapped while its G struct is read here. A
       G read as running may end meanwhile, and its block be reused (a new
       canary) or have its pages dropped by a trim (a zero word): the canary
       counts only if the same life of the G is still running afterwards. */
    gpm_lock(&unmaplock);
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp != NULL; mp = mp->alllink) {
        struct gpm_g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
        if (gp == NULL || gp->magic != GPM_G_MAGIC || gp->kind != G_KIND_BLOCK)
            continue;
        uint64_t goid = __atomic_load_n(&gp->goid, __ATOMIC_ACQUIRE);
        uint64_t *c = gp->canary;
        uint32_t st = gpm_readgstatus(gp);
        if (c == NULL || (st != G_RUNNING && st != G_SYSCALL))
            continue;
        uint64_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
        st = gpm_readgstatus(gp);
        if (v != GPM_STACK_CANARY && (st == G_RUNNING || st == G_SYSCALL) &&
            __atomic_load_n(&gp->goid, __ATOMIC_ACQUIRE) == goid && __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) == gp)
            gpm_gstack_canarydead(gp);
    }
    gpm_unlock(&unmaplock);
}

uintptr_t gpm_gstack_lo(const struct gpm_g *gp)
{
    return (uintptr_t)(gp->stack_lo != NULL ? gp->stack_lo : gp->user_stack);
}

bool gpm_gstack_overflowed(const struct gpm_g *gp, uintptr_t addr, uintptr_t sp, bool framefault)
{
    if (gp->kind != G_KIND_BLOCK)
        return false; /* G1's stack is the kernel's, grown on demand */
    uintptr_t lo = gpm_gstack_lo(gp);
    if (lo == 0)
        return false;
    /* Below the stack: its guard, or, past the guard (a large frame that
       skipped it) or without one, a little more. Above lo the stack is
       mapped and cannot fault. */
    uintptr_t reach = gp->guardsize > OVERFLOW_REACH ? gp->guardsize : OVERFLOW_REACH;
    if (addr < lo && addr >= lo - reach)
        return true;
    /* The kernel could not push a signal frame (si_code SI_KERNEL, no
       address): a stack pointer within a large frame of the low end. */
    return framefault && sp < lo + OVERFLOW_FRAME && sp >= lo - reach;
}

/* Where the canary of a block laid out as [block, stack_lo) guard bytes
   then the stack goes. */
static uint64_t *canaryat(char *block, char *stack_lo)
{
    size_t below = (size_t)(stack_lo - block); /* unused guard bytes */
    if (below >= CANARY_SLACK)
        return (uint64_t *)(void *)stack_lo;
    return (uint64_t *)(void *)(stack_lo + CANARY_SLACK - below - sizeof(uint64_t));
}

/* What a block's mapping leaves behind when it goes: its valgrind stack
   and its share of the map budget. */
static void forgetblock(struct gpm_g *gp)
{
    if (gp->stack_lo != NULL)
        gpm_valgrind_stack_deregister(gp->valgrind_stack_id);
    if (gp->guardpage)
        atomic_fetch_add(&guardbudget, 1);
    if (gp->canary != NULL)
        atomic_fetch_sub_explicit(&ncanaries, 1, memory_order_relaxed);
}

/* Maps a new block for geo and lays it out. Returns NULL (errno-free) when
   the kernel refuses the mapping. */
static struct gpm_g *mapblock(const struct gpm_geometry *geo)
{
    size_t tlsarea = pageround(gpm_tls.static_size + GSIZE + gpm_tls.static_align);
    size_t guard = geo->user_stack ? 0 : geo->guardsize;
    size_t size = geo->user_stack ? tlsarea : pageround(geo->stacksize) + guard;
    /* A large guard is mapped PROT_NONE from the start, as glibc maps every
       guard (allocate_stack maps the block PROT_NONE and opens the stack
       with mprotect): inaccessible memory is not charged against the
       overcommit limit, so glibc creates a thread with a 64 TiB guard,
       where a writable mapping that size is ENOMEM; and guard markers over
       it would cost page tables in proportion. Such blocks are rare: their
       second mapping is not counted in the guard budget. */
    bool bigguard = guard > BIGGUARD;
    char *block = gpm_mmap(NULL, size, bigguard ? PROT_NONE : PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (gpm_mmap_failed(block))
        return NULL;
    if (bigguard && gpm_mprotect(block + guard, size - guard, PROT_READ | PROT_WRITE) != 0) {
        gpm_munmap(block, size);
        return NULL;
    }
    /* Without a guard (see takeguard) the guard's bytes stay unused. */
    bool guarded = bigguard; /* a big guard is its PROT_NONE mapping */
    bool guardpage = guard != 0 && !bigguard && installguard(block, guard, &guarded);
    atomic_fetch_add_explicit(&gpool.demand, 1, memory_order_relaxed);
    char *top = block + size;
    char *tcb = (char *)(((uintptr_t)top - GSIZE - TCB_SIZE) & ~(uintptr_t)(gpm_tls.static_align - 1));
    struct gpm_g *gp = gpm_tcb_to_g(tcb);
    gp->tcb = tcb;
    gp->block = block;
    gp->blocksize = size;
    gp->guardsize = guard;
    gp->guardpage = guardpage;
    gp->stacksize = geo->stacksize;
    gp->magic = GPM_G_MAGIC;
    atomic_store(&gp->atomicstatus, G_DEAD);
    if (geo->user_stack == NULL) {
        gp->stack_lo = block + guard;
        gp->stack_hi = (void *)(((uintptr_t)tcb - (gpm_tls.static_size - TCB_SIZE)) & ~(uintptr_t)15);
        gp->valgrind_stack_id = gpm_valgrind_stack_register(gp->stack_lo, gp->stack_hi);
        /* ("Stacks without a guard") */
        gp->canary = guarded ? NULL : canaryat(block, gp->stack_lo);
        if (gp->canary != NULL)
            atomic_fetch_add_explicit(&ncanaries, 1, memory_order_relaxed);
    } else {
        gp->canary = NULL;
    }
    return gp;
}

static int32_t gclass_count(const struct gclass *c)
{
    return atomic_load_explicit(&c->nyoung, memory_order_relaxed) +
           atomic_load_explicit(&c->nold, memory_order_relaxed) +
           atomic_load_explicit(&c->nclean, memory_order_relaxed);
}

static void gclass_push_young(struct gclass *c, struct gpm_g *first, struct gpm_g *last, int32_t n)
{
    last->schedlink = c->young;
    c->young = first;
    atomic_store_explicit(&c->nyoung, c->nyoung + n, memory_order_relaxed);
}

/* Whether gp's block has geometry geo (the other class). */
static bool hasgeometry(const struct gpm_g *gp, const struct gpm_geometry *geo)
{
    if (geo->user_stack != NULL)
        return gp->stack_lo == NULL;
    return gp->stack_lo != NULL && gp->stacksize == geo->stacksize && gp->guardsize == geo->guardsize;
}

/* Takes from c a block of geometry geo (any block when geo is NULL), warm
   ones (their stack pages still there) first, youngest first; NULL when
   there is none. gpool.lock held. */
static struct gpm_g *gclass_pop_locked(struct gclass *c, const struct gpm_geometry *geo)
{
    struct gpm_g **lists[3] = {&c->young, &c->old, &c->clean};
    _Atomic int32_t *counts[3] = {&c->nyoung, &c->nold, &c->nclean};
    for (int i = 0; i < 3; i++) {
        for (struct gpm_g **pgp = lists[i], *gp; (gp = *pgp) != NULL; pgp = &gp->schedlink) {
            if (geo == NULL || hasgeometry(gp, geo)) {
                *pgp = gp->schedlink;
                atomic_store_explicit(counts[i], *counts[i] - 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&gpool.demand, 1, memory_order_relaxed);
                return gp;
            }
        }
    }
    return NULL;
}

/* Takes a block of the default geometry from pp's cache (refilled from
   the global pool), or from the global pool when there is no pp. pp is
   pinned by the caller. */
static struct gpm_g *poolget_default(struct gpm_p *pp)
{
    if (pp != NULL && pp->gfree == NULL && gclass_count(&gpool.def) > 0) {
        /* Refill the P's cache with a batch from the global pool. */
        gpm_lock(&gpool.lock);
        struct gpm_g *gp;
        while (pp->ngfree < PCACHE_MAX / 2 && (gp = gclass_pop_locked(&gpool.def, NULL)) != NULL) {
            gp->schedlink = pp->gfree;
            pp->gfree = gp;
            pp->ngfree++;
        }
        gpm_unlock(&gpool.lock);
    }
    if (pp != NULL && pp->gfree != NULL) {
        struct gpm_g *gp = pp->gfree;
        pp->gfree = gp->schedlink;
        pp->ngfree--;
        return gp;
    }
    if (pp == NULL && gclass_count(&gpool.def) > 0) {
        gpm_lock(&gpool.lock);
        struct gpm_g *gp = gclass_pop_locked(&gpool.def, NULL);
        gpm_unlock(&gpool.lock);
        return gp;
    }
    return NULL;
}

/* Takes a block of geometry geo from the pool, or NULL. Runs on a G's
   stack (or a foreign thread's), unpinned. */
static struct gpm_g *poolget(const struct gpm_geometry *geo)
{
    if (isdefault(geo)) {
        /* The P's cache is P-local: pinned for the few loads and stores
           ("P ownership" in sched.c). */
        struct gpm_p *pp = gpm_pinp();
        struct gpm_g *gp = poolget_default(pp);
        gpm_unpinp(pp);
        return gp;
    }
    if (gclass_count(&gpool.other) == 0)
        return NULL;
    gpm_lock(&gpool.lock);
    struct gpm_g *gp = gclass_pop_locked(&gpool.other, geo);
    gpm_unlock(&gpool.lock);
    return gp;
}

/* Returns the touched stack pages of gp's block to the kernel; the TLS,
   TCB and G struct above the stack stay. */
static void releasestack(struct gpm_g *gp)
{
    if (gp->stack_lo == NULL)
        return;
    uintptr_t lo = (uintptr_t)gp->stack_lo;
    uintptr_t hi = (uintptr_t)gp->stack_hi & ~(uintptr_t)(gpm_tls.pagesize - 1);
    if (hi > lo)
        gpm_madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Moves the blocks of pp's cache beyond keep to the global pool, as they
   are: the scavenger gives their stack pages back unless they are reused
   first. Executed only by the owner P, pinned. */
static void spillcache(struct gpm_p *pp, int32_t keep)
{
    struct gpm_g *batch = NULL, *last = NULL;
    int32_t n = 0;
    while (pp->ngfree > keep) {
        struct gpm_g *g1 = pp->gfree;
        pp->gfree = g1->schedlink;
        pp->ngfree--;
        g1->schedlink = batch;
        batch = g1;
        if (last == NULL)
            last = g1;
        n++;
    }
    if (n == 0)
        return;
    gpm_lock(&gpool.lock);
    gclass_push_young(&gpool.def, batch, last, n);
    gpm_unlock(&gpool.lock);
}

/* Memory pressure (see below): set once a block could not be had. */
static _Atomic bool mempressure;

static bool pressure(void)
{
    return __builtin_expect(atomic_load_explicit(&mempressure, memory_order_relaxed), 0);
}

void gpm_gstack_idlep(struct gpm_p *pp)
{
    int32_t keep = pressure() ? 0 : PCACHE_IDLE;
    if (pp->ngfree > keep)
        spillcache(pp, keep);
}

void gpm_gstackfree(struct gpm_p *pp, struct gpm_g *gp)
{
    gp->schedlink = NULL;
    bool def = gp->user_stack == NULL && gp->stacksize == defgeo.stacksize && gp->guardsize == defgeo.guardsize;
    if (def && pp != NULL && !pressure()) {
        gp->schedlink = pp->gfree;
        pp->gfree = gp;
        pp->ngfree++;
        if (pp->ngfree >= PCACHE_MAX)
            spillcache(pp, PCACHE_MAX / 2);
        return;
    }
    gpm_lock(&gpool.lock);
    gclass_push_young(def ? &gpool.def : &gpool.other, gp, gp, 1);
    gpm_unlock(&gpool.lock);
}

/*
 * The scavenger (sysmon's, each round)
 * ------------------------------------
 * A block that leaves a P's cache for the global pool keeps its stack
 * pages, so that a thread's exit makes no system call and a block reused
 * soon after (the next burst of a server, create+join churn) runs on warm
 * pages. What is not reused is given back in the background: every
 * SCAVENGE_EPOCH_NS the blocks freed before the last epoch (old) have their
 * stack pages returned to the kernel (madvise), at most SCAVENGE_BATCH a
 * round, and move to the clean list; then young becomes old. So a block's
 * pages go back between one and two epochs after its thread ended, and
 * sysmon does not sleep for good while any are left (gpm_gstack_dirty).
 * The P caches, which only their owners may touch, are not scavenged; a P
 * that goes idle keeps PCACHE_IDLE blocks of its cache and puts the rest
 * in the pool (gpm_gstack_idlep), so that after a burst the pages of all
 * but a few blocks per P go back.
 */
enum { SCAVENGE_BATCH = 1024, RETAIN_MIN = 16 };
#define SCAVENGE_EPOCH_NS 100000000LL /* 100 ms */

/* How many clean blocks a class keeps: the recent demand (two epochs'),
   at least RETAIN_MIN. */
static int32_t retain(void)
{
    return RETAIN_MIN + atomic_load_explicit(&gpool.demand, memory_order_relaxed) +
           atomic_load_explicit(&gpool.lastdemand, memory_order_relaxed);
}

static bool gclass_dirty(const struct gclass *c)
{
    return (atomic_load_explicit(&c->nyoung, memory_order_relaxed) |
            atomic_load_explicit(&c->nold, memory_order_relaxed)) != 0 ||
           (gpm_tcache_known() && atomic_load_explicit(&c->nclean, memory_order_relaxed) >
                                      (atomic_load_explicit(&mempressure, memory_order_relaxed) ? 0 : retain()));
}

bool gpm_gstack_dirty(void)
{
    return gclass_dirty(&gpool.def) || gclass_dirty(&gpool.other);
}

static bool gclass_backlog(const struct gclass *c)
{
    return atomic_load_explicit(&c->nold, memory_order_relaxed) != 0 ||
           (gpm_tcache_known() && atomic_load_explicit(&c->nclean, memory_order_relaxed) > retain());
}

bool gpm_gstack_backlog(void)
{
    return gclass_backlog(&gpool.def) || gclass_backlog(&gpool.other);
}

/* Unmaps the blocks of batch (linked by schedlink, off every pool list)
   for good: their malloc cache, dynamic TLS and DTV go back to malloc
   first, and nothing may reach them afterwards: they leave allgs and the
   tid cache under allglock (pooled Gs are skipped by every walker of
   allgs; gpm_tid_to_g reads its cache under the lock). Sorted by address,
   neighbours go in one munmap. Runs on sysmon. */
static struct gpm_g *unmapbuf[SCAVENGE_BATCH];

static int byaddress(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(struct gpm_g *const *)a)->block, y = (uintptr_t)(*(struct gpm_g *const *)b)->block;
    return x < y ? -1 : x > y;
}

/* Blocks unmapped since malloc was last trimmed (gpm_gstack_scavenge). */
static _Atomic int64_t unmappedsincetrim;

static void unmapblocks(struct gpm_g *batch)
{
    size_t n = 0;
    gpm_lock(&unmaplock);
    gpm_lock(&allglock);
    for (struct gpm_g *gp = batch; gp != NULL; gp = gp->schedlink) {
        if (gp->allgsepoch == allgsepoch && (gp->allprev != NULL || allgs == gp))
            allgs_remove_locked(gp);
        gp->magic = 0;
        unmapbuf[n++] = gp;
    }
    for (int i = 0; i < TIDCACHE_SIZE; i++) {
        struct gpm_g *c = atomic_load_explicit(&tidcache[i], memory_order_relaxed);
        if (c != NULL && c->magic == 0)
            atomic_store_explicit(&tidcache[i], NULL, memory_order_relaxed);
    }
    gpm_unlock(&allglock);
    for (size_t i = 0; i < n; i++) {
        struct gpm_g *gp = unmapbuf[i];
        gpm_tcache_release(gp->tcb);
        gpm_real._dl_deallocate_tls(gp->tcb, false);
        free(gp->cpuset);
        forgetblock(gp);
    }
    qsort(unmapbuf, n, sizeof unmapbuf[0], byaddress);
    for (size_t i = 0; i < n;) {
        char *lo = unmapbuf[i]->block, *hi = lo + unmapbuf[i]->blocksize;
        for (i++; i < n && (char *)unmapbuf[i]->block == hi; i++)
            hi += unmapbuf[i]->blocksize;
        gpm_munmap(lo, (size_t)(hi - lo));
    }
    gpm_unlock(&unmaplock);
    atomic_fetch_add_explicit(&unmappedsincetrim, (int64_t)n, memory_order_relaxed);
}

/* Takes up to max blocks off *list (counted by *count) into a batch. */
static int32_t takeblocks(struct gpm_g **list, _Atomic int32_t *count, int32_t max, struct gpm_g **batch)
{
    int32_t n = 0;
    while (n < max && *list != NULL) {
        struct gpm_g *gp = *list;
        *list = gp->schedlink;
        gp->schedlink = *batch;
        *batch = gp;
        n++;
    }
    atomic_store_explicit(count, *count - n, memory_order_relaxed);
    return n;
}

/* One round for class c: old blocks are given back, their stack pages if
   the class keeps fewer clean blocks than the demand, else whole; clean
   blocks beyond the demand are unmapped. At most SCAVENGE_BATCH blocks.
   Returns whether old blocks are left. */
static bool scavenge_class(struct gclass *c, bool epochdue)
{
    struct gpm_g *clean = NULL, *gone = NULL, *last = NULL;
    int32_t nclean = 0, ngone = 0;
    bool canunmap = gpm_tcache_known();
    int32_t keep = retain();
    gpm_lock(&gpool.lock);
    if (epochdue) {
        int32_t room = keep - c->nclean;
        if (!canunmap || room > SCAVENGE_BATCH)
            room = SCAVENGE_BATCH;
        if (room > 0)
            nclean = takeblocks(&c->old, &c->nold, room, &clean);
        if (canunmap)
            ngone = takeblocks(&c->old, &c->nold, SCAVENGE_BATCH - nclean, &gone);
    }
    if (canunmap && c->nclean > keep) {
        int32_t excess = c->nclean - keep;
        ngone += takeblocks(&c->clean, &c->nclean, excess < SCAVENGE_BATCH - ngone ? excess : SCAVENGE_BATCH - ngone,
                            &gone);
    }
    bool left = c->old != NULL;
    gpm_unlock(&gpool.lock);
    if (gone != NULL)
        unmapblocks(gone);
    if (clean == NULL)
        return left;
    /* Off every list while their pages go: nobody can take them. */
    for (struct gpm_g *gp = clean; gp != NULL; gp = gp->schedlink) {
        releasestack(gp);
        last = gp;
    }
    gpm_lock(&gpool.lock);
    last->schedlink = c->clean;
    c->clean = clean;
    atomic_store_explicit(&c->nclean, c->nclean + nclean, memory_order_relaxed);
    gpm_unlock(&gpool.lock);
    return left;
}

/* Young becomes old. gpool.lock held. */
static void gclass_age_locked(struct gclass *c)
{
    c->old = c->young;
    atomic_store_explicit(&c->nold, c->nyoung, memory_order_relaxed);
    c->young = NULL;
    atomic_store_explicit(&c->nyoung, 0, memory_order_relaxed);
}

/*
 * Memory pressure
 * ---------------
 * Once a block could not be had (mmap or the TLS allocation failed:
 * RLIMIT_AS, the overcommit limit, a cgroup's), the process is known to
 * live at the edge of its memory, and every block it does not use is given
 * back at once from then on, whole where it can be (unmapped, as the
 * scavenger does; else its stack pages): the program's next allocation
 * may be its own malloc, which gpm cannot retry for it, right after the
 * join that freed the memory it needs. So under pressure a joiner unmaps
 * what the pool holds before pthread_join returns (gpm_gstack_trim), a
 * failed create does it and tries once more, the P caches are bypassed
 * and emptied, and sysmon, which has no P, empties the global pool of the
 * blocks of detached threads each round. Pressure stays for the life of
 * the process: a limit once reached is there to be reached again, and a
 * pool that regrew would hold the memory the next failure needs. Without
 * it nothing changes: create+join churn makes no system call.
 */

/* Gives back every block of class c: unmapped when the malloc cache of
   each can be given back first (tcache.c), else their stack pages only,
   and kept (clean). Returns whether any was given back. */
static bool emptyclass(struct gclass *c)
{
    bool canunmap = gpm_tcache_known(), any = false;
    for (;;) {
        struct gpm_g *batch = NULL;
        int32_t n = 0;
        gpm_lock(&gpool.lock);
        n += takeblocks(&c->young, &c->nyoung, SCAVENGE_BATCH, &batch);
        n += takeblocks(&c->old, &c->nold, SCAVENGE_BATCH - n, &batch);
        if (canunmap)
            n += takeblocks(&c->clean, &c->nclean, SCAVENGE_BATCH - n, &batch);
        gpm_unlock(&gpool.lock);
        if (n == 0)
            return any;
        any = true;
        if (canunmap) {
            unmapblocks(batch);
            continue;
        }
        struct gpm_g *last = NULL;
        for (struct gpm_g *gp = batch; gp != NULL; gp = gp->schedlink) {
            releasestack(gp);
            last = gp;
        }
        gpm_lock(&gpool.lock);
        last->schedlink = c->clean;
        c->clean = batch;
        atomic_store_explicit(&c->nclean, c->nclean + n, memory_order_relaxed);
        gpm_unlock(&gpool.lock);
    }
}

/* Empties the calling G's P cache into the global pool, then the pool. */
static bool trim(void)
{
    struct gpm_p *pp = gpm_pinp();
    if (pp != NULL)
        spillcache(pp, 0);
    gpm_unpinp(pp);
    bool any = emptyclass(&gpool.def);
    return emptyclass(&gpool.other) || any;
}

void gpm_gstack_trim(void)
{
    if (pressure())
        trim();
}

/*
 * After a burst has been unmapped, malloc is trimmed once (malloc_trim: the
 * free pages inside its heaps go back to the kernel). Each thread of the
 * burst left malloc'ed memory behind in some arena, its DTV and its malloc
 * cache, now freed; the few blocks the pool keeps hold a DTV or cache each
 * high in those heaps, which stops malloc from shrinking them by itself.
 * Native threads leave the same, and glibc never trims for them: with a
 * thread per G, a burst of gpm's can be ten times a native one.
 */
enum { TRIM_AFTER = 1024 };

static void trimmalloc(void)
{
    if (atomic_load_explicit(&unmappedsincetrim, memory_order_relaxed) < TRIM_AFTER || gpm_gstack_dirty())
        return;
    atomic_store_explicit(&unmappedsincetrim, 0, memory_order_relaxed);
    gpm_tcache_trimarenas();
    malloc_trim(0);
}

void gpm_gstack_scavenge(int64_t now)
{
    trimmalloc();
    if (!gpm_gstack_dirty())
        return;
    if (pressure()) {
        emptyclass(&gpool.def);
        emptyclass(&gpool.other);
        return;
    }
    bool epochdue = now - gpool.epoch >= SCAVENGE_EPOCH_NS;
    bool left = scavenge_class(&gpool.def, epochdue);
    left |= scavenge_class(&gpool.other, epochdue);
    if (!epochdue || left)
        return;
    gpm_lock(&gpool.lock);
    if (gpool.def.old == NULL && gpool.other.old == NULL) {
        gclass_age_locked(&gpool.def);
        gclass_age_locked(&gpool.other);
        atomic_store_explicit(&gpool.lastdemand, atomic_exchange(&gpool.demand, 0), memory_order_relaxed);
        gpool.epoch = now;
    }
    gpm_unlock(&gpool.lock);
}

/*
 * Gives a reused block fresh thread-local state, as a new thread has, at
 * what it costs to reuse a block rather than to build one: glibc's own
 * reuse of a cached thread stack (get_cached_stack) is the model. What a
 * block keeps from one life to the next, and why that is safe:
 *
 *   - Its DTV (the array, and the TCB's pointer to it). A DTV belongs to
 *     its TCB, not to a life, as glibc keeps the DTV of its cached stacks.
 *     What the last life put in it went at its exit (gpm_tls_exitg): the
 *     blocks of dynamic TLS were freed and their slots marked
 *     unallocated, so the next life allocates fresh, initialised ones on
 *     first use. A DTV whose generation is older than ld.so's is
 *     brought up to date by __tls_get_addr, as in any glibc thread.
 *   - libc's own TLS block, the point of the pool ("The pool"), except
 *     errno and h_errno, which a new thread finds at 0.
 *   - The resolver state (struct pthread's res), closed at the end of the
 *     last life with its options cleared (gpm_tcb_release), exactly what
 *     glibc leaves in a cached stack.
 *   - Every other field of struct pthread that glibc may write during a
 *     life is zeroed for fill_tcb: the header before the unused vector
 *     save area, everything from the list to the resolver state, and the
 *     tail after it. The 768 bytes of glibc's own TSD array are zeroed only
 *     when the life stored into them (specific_used, glibc's own test).
 *
 * Every other module's static TLS gets its initial image again. While the
 * static TLS modules are those of start-up (startup_tls: they cannot be
 * unloaded), gpm copies their images itself; once a library with static
 * TLS has been dlopen'ed, _dl_allocate_tls_init does it, under ld.so's
 * lock, knowing every module.
 * Returns false when ld.so is out of memory for the module images.
 * Runs with allglock held (see "dlopen and initial-exec TLS").
 */
static bool resettls(struct gpm_g *gp)
{
    char *tcb = gp->tcb;
    /* The last life's dynamic TLS went at its exit (gpm_tls_exitg). */
    struct dtv_slot *dtv = dtvof(tcb);
    size_t nslots = (size_t)dtv[-1].val;

    memset(tcb, 0, TCB_OFF_HEADER_UNUSED);
    if (TCB_FIELD(tcb, TCB_OFF_SPECIFIC_USED, bool))
        memset(tcb + TCB_OFF_SPECIFIC_1STBLOCK, 0, TCB_OFF_SPECIFIC_USED - TCB_OFF_SPECIFIC_1STBLOCK);
    memset(tcb + TCB_OFF_LIST, 0, TCB_OFF_SPECIFIC_1STBLOCK - TCB_OFF_LIST);
    memset(tcb + TCB_OFF_SPECIFIC_USED, 0, TCB_OFF_RES - TCB_OFF_SPECIFIC_USED);
    memset(tcb + TCB_OFF_RES_END, 0, TCB_SIZE - TCB_OFF_RES_END);
    TCB_FIELD(tcb, TCB_OFF_DTV, void *) = dtv;

    if (startup_tls.n >= 0) {
        for (int i = 0; i < startup_tls.n; i++) {
            const struct tls_module *m = &startup_tls.mods[i];
            char *dst = tcb - m->tpoff;
            memcpy(dst, m->image, m->filesz);
            memset(dst + m->filesz, 0, m->memsz - m->filesz);
        }
    } else {
        unsigned char saved[GPM_LIBC_TLS_MAX]; /* gpm_tls_init checked libc's size */
        size_t n = gpm_tls.libc_size;
        memcpy(saved, tcb - gpm_tls.libc_tpoff, n);
        memset(dtv, 0, (nslots + 1) * sizeof *dtv);
        void *ok = gpm_real._dl_allocate_tls_init(tcb, true);
        memcpy(tcb - gpm_tls.libc_tpoff, saved, n);
        if (ok == NULL)
            return false;
    }
    *(int *)(tcb - gpm_tls.errno_tpoff) = 0;
    *(int *)(tcb - gpm_tls.h_errno_tpoff) = 0;
    return true;
}

/* Ids taken from the global counters at a time by a P (Go's goidcache
   has 16): one atomic per so many creates instead of two per create. */
#define IDBATCH 16

/* The fake tid for counter value n: wrapping around in the range as the
   kernel's pids do. */
static uint32_t faketid(uint32_t n)
{
    uint32_t span = GPM_FAKE_TID_LIMIT - GPM_FAKE_TID_BASE;
    return GPM_FAKE_TID_BASE + (n - GPM_FAKE_TID_BASE) % span;
}

/* A goid and a fake tid for a new life of gp: the next ones of the P's
   batch, or of the global counters for a caller without a P. Tids are
   handed out in order within a batch and batches in order, so that threads
   that follow each other have different ids (the program sees them through
   gettid), as the kernel's do. */
static void newids(struct gpm_g *gp)
{
    struct gpm_p *pp = gpm_pinp();
    if (pp == NULL) {
        gp->goid = atomic_fetch_add(&gpm_sched.goidgen, 1) + 1;
        gp->tid = faketid(atomic_fetch_add(&tidgen, 1));
        return;
    }
    if (pp->goidnext == pp->goidend) {
        pp->goidnext = atomic_fetch_add(&gpm_sched.goidgen, IDBATCH) + 1;
        pp->goidend = pp->goidnext + IDBATCH;
    }
    if (pp->tidleft == 0) {
        pp->tidnext = atomic_fetch_add(&tidgen, IDBATCH);
        pp->tidleft = IDBATCH;
    }
    gp->goid = pp->goidnext++;
    gp->tid = faketid(pp->tidnext++);
    pp->tidleft--;
    gpm_unpinp(pp);
}

/* A block of geometry geo, from the pool or newly mapped, with its TLS
   ready for a new life, and allglock held (it covers TLS set-up and
   publication together, so that a concurrent dlopen fix-up either sees
   the G or the G saw the module: see gpm_tls_dlopen_fixup). NULL, with
   the lock not held, when out of memory. */
static struct gpm_g *newblock(const struct gpm_geometry *geo)
{
    struct gpm_g *gp = poolget(geo);
    if (gp == NULL) {
        gp = mapblock(geo);
        if (gp == NULL)
            return NULL;
        gpm_lock(&allglock);
        if (gpm_real._dl_allocate_tls(gp->tcb) != NULL) {
            gp->dtvmem = gpm_dtvmem(gp->tcb); /* "Leak checkers and the DTV" */
            return gp;
        }
        gpm_unlock(&allglock);
        forgetblock(gp); /* never pooled: every pooled block has a DTV */
        gpm_munmap(gp->block, gp->blocksize);
        return NULL;
    }
    gpm_lock(&allglock);
    if (resettls(gp))
        return gp;
    gpm_unlock(&allglock);
    gpm_gstackfree(NULL, gp); /* back to the global pool, for the trim */
    return NULL;
}

int gpm_gstackalloc(const struct gpm_geometry *geo, struct gpm_g **out)
{
    if (geo->user_stack == NULL) {
        /* glibc's rule: the stack must hold the static TLS, the TCB and
           some room to run. */
        size_t need = gpm_tls.static_size + GSIZE + gpm_tls.static_align + MIN_REST_STACK;
        if (geo->stacksize < need)
            return -EINVAL;
    }
    struct gpm_g *gp;
    for (bool retried = false;; retried = true) {
        gp = newblock(geo);
        if (gp != NULL)
            break;
        /* Out of memory: from now on under pressure ("Memory pressure");
           what the pool holds goes back, and one more try. */
        atomic_store_explicit(&mempressure, true, memory_order_relaxed);
        if (retried || !trim())
            return -EAGAIN;
    }
    char *tcb = gp->tcb;
    newids(gp);
    void *stackblock = gp->block;
    size_t stackblock_size = gp->blocksize;
    gp->user_stack = geo->user_stack;
    gp->user_stacksize = geo->user_stacksize;
    if (geo->user_stack != NULL) {
        stackblock = geo->user_stack;
        stackblock_size = geo->user_stacksize;
        gp->stack_lo = NULL;
        gp->stack_hi = NULL;
    }
    fill_tcb(tcb, gp->tid, stackblock, stackblock_size, geo->user_stack ? 0 : gp->guardsize);
    if (gp->canary != NULL)
        *gp->canary = GPM_STACK_CANARY; /* the scavenger may have dropped the page */
    *(struct gpm_g **)(tcb - gpm_tls.g_tpoff) = gp;
    gp->tlsgen = ++tlsgen;
    gp->kind = G_KIND_BLOCK; /* before the dlopen fix-up can see it */
    if (gp->allgsepoch != allgsepoch)
        allgs_add_locked(gp); /* its first life, or the first since a fork ("allgs") */
    gpm_unlock(&allglock);

    /* Reset the G struct for its new life; keep the block's identity. */
    gp->sched_sp = NULL;
    gp->waitreason = WAIT_NONE;
    gp->c11 = false;
    gp->schedlink = NULL;
    gp->m = NULL;
    gp->lockedm = NULL;
    gp->wiringm = NULL;
    gp->unwirewanted = false;
    atomic_store_explicit(&gp->wirewant, 0, memory_order_relaxed);
    gp->result = NULL;
    /* Relaxed, as the other stores here: the G is nobody's until its
       creator publishes it (the run queue's release, or the pthread_t). */
    atomic_store_explicit(&gp->joinword, JOIN_JOINABLE, memory_order_relaxed);
    /* TSD: clean, as gpm_tsd_runall left it at the block's last exit (or
       zero from mmap); see there. */
    gp->exiting = false;
    gp->krobust = NULL;
    gp->krobustlen = 0;
    memset(gp->exc, 0, sizeof gp->exc);
    memset(gp->name, 0, sizeof gp->name);
    if (gp->cpuset != NULL) {
        free(gp->cpuset);
        gp->cpuset = NULL;
    }
    gp->cpusetsize = 0;
    gp->sigmask_set = false;
    /* cpustart is 0 since the last switch-out */
    atomic_store_explicit(&gp->cputime, 0, memory_order_relaxed);
    gpm_setgstatus(gp, G_DEAD, G_IDLE);
    *out = gp;
    return 0;
}

void *gpm_tlsblock_alloc(void)
{
    struct gpm_geometry geo = {.user_stack = (void *)1, .user_stacksize = 0};
    struct gpm_g *gp = mapblock(&geo);
    if (gp == NULL || gpm_real._dl_allocate_tls(gp->tcb) == NULL)
        return NULL;
    gp->dtvmem = gpm_dtvmem(gp->tcb); /* "Leak checkers and the DTV" */
    fill_tcb(gp->tcb, gp->tid, gp->block, gp->blocksize, 0);
    gp->kind = 0; /* not a G: its G struct is unused */
    gp->magic = 0;
    return gp->tcb;
}

struct gpm_g *gpm_pthread_to_g(uintptr_t th)
{
    if (th == 0)
        return NULL;
    /* Every TCB points to itself twice (tcbhead_t's tcb and self; glibc's
       and fill_tcb's alike). An id that does not is garbage: glibc reads
       only the fields of its struct pthread, and so far we have too, but
       the G slot below the TCB and the G above a block's may lie outside
       whatever memory the id points into. */
    if (TCB_FIELD(th, TCB_OFF_TCB, uintptr_t) != th || TCB_FIELD(th, TCB_OFF_SELF, uintptr_t) != th)
        return NULL;
    /* Only blocks of ours carry a fake tid. G1 and foreign Gs are not
       blocks; their G is found through the TCB's gpm_tls_g slot. */
    int tid = TCB_FIELD(th, TCB_OFF_TID, int);
    struct gpm_g *gp;
    if (tid >= GPM_FAKE_TID_BASE && tid < GPM_FAKE_TID_LIMIT)
        gp = gpm_tcb_to_g((void *)th);
    else
        gp = *(struct gpm_g **)(th - gpm_tls.g_tpoff);
    if (gp == NULL || gp->magic != GPM_G_MAGIC || (uintptr_t)gp->tcb != th)
        return NULL;
    return gp;
}

/* ---- dlopen and initial-exec TLS ----------------------------------------- */

/*
 * A library with initial-exec TLS loaded by dlopen gets a slot in the
 * static TLS surplus. glibc copies its initial image into the threads on
 * its own lists only (G1, foreign threads and Ms are on them; Gs are not:
 * their TCB list is self-linked), so a G would read zeros. So after every
 * dlopen, each static-TLS module not seen before gets its image copied into
 * every G block whose TLS was set up before the module existed:
 *
 *   - Gs set up before the dlopen began (tlsgen <= before): copy;
 *   - Gs set up while it ran: both TLS set-up and the module's registration
 *     hold ld.so's TLS lock, so each G either got the image from
 *     _dl_allocate_tls, and then its DTV has the module's static address,
 *     or it did not; copy in the second case (glibc's DTV: dtv[-1] holds the
 *     number of slots, dtv[modid].pointer.val the module's block);
 *   - Gs set up afterwards got the image.
 *
 * Known modules and tlsgen are protected by allglock. The library's own
 * constructors run inside dlopen, before this fix-up: one that runs on a G
 * and reads its initial-exec TLS sees zeros (docs/TLS.md).
 */
/* Known modules: a bit per module id, so that recording one needs no
   memory (the fix-up runs after dlopen has loaded the library and run its
   constructors: too late to fail the dlopen). ld.so gives ids densely from
   1, reusing those of unloaded modules. */
#define KNOWN_MODIDS 65536
static uint64_t knownmods[KNOWN_MODIDS / 64];

static bool known_locked(size_t modid)
{
    return modid < KNOWN_MODIDS && (knownmods[modid / 64] >> (modid % 64) & 1) != 0;
}

static void addknown_locked(size_t modid)
{
    /* Not an error: no call is left to fail (see above), and 65,536
       modules with TLS loaded at once is beyond any program. */
    if (modid >= KNOWN_MODIDS)
        gpm_throwf("dlopen: TLS module id %zu is beyond gpm's %d", modid, KNOWN_MODIDS);
    knownmods[modid / 64] |= (uint64_t)1 << (modid % 64);
}

/* Adds a start-up module's block to startup_tls; false when out of memory. */
static bool add_startup_tls_locked(struct dl_phdr_info *info, char *tp)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS || info->dlpi_tls_data == NULL)
            continue;
        intptr_t off = tp - (char *)info->dlpi_tls_data;
        if (off == gpm_tls.libc_tpoff)
            return true;
        if (startup_tls.n == startup_tls.cap) {
            int cap = startup_tls.cap ? 2 * startup_tls.cap : 8;
            struct tls_module *p = realloc(startup_tls.mods, (size_t)cap * sizeof *p);
            if (p == NULL)
                return false;
            startup_tls.mods = p;
            startup_tls.cap = cap;
        }
        startup_tls.mods[startup_tls.n++] = (struct tls_module){
            .modid = info->dlpi_tls_modid,
            .tpoff = off,
            .image = (const void *)(info->dlpi_addr + ph->p_vaddr),
            .filesz = ph->p_filesz,
            .memsz = ph->p_memsz,
        };
    }
    return true;
}

static int record_startup_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    bool *complete = data;
    if (info->dlpi_tls_modid == 0 || known_locked(info->dlpi_tls_modid))
        return 0;
    addknown_locked(info->dlpi_tls_modid);
    if (!add_startup_tls_locked(info, gpm_rdtp()))
        *complete = false;
    return 0;
}

/* Records the modules present at start-up: all are static TLS (they can
   never be unloaded), and every G gets their images from _dl_allocate_tls,
   then from resettls. Runs from gpm_tls_init, on the main thread, whose
   static TLS is glibc's own. */
static void record_startup_modules(void)
{
    bool complete = true;
    gpm_lock(&allglock);
    startup_tls.n = 0;
    dl_iterate_phdr(record_startup_module, &complete);
    if (!complete)
        startup_tls.n = -1;
    gpm_unlock(&allglock);
}

uint64_t gpm_tls_dlopen_begin(void)
{
    gpm_lock(&allglock);
    uint64_t v = tlsgen;
    gpm_unlock(&allglock);
    return v;
}

struct fixup_search {
    char *tp;
    uint64_t before;
    struct tls_module mods[32];
    int n;
};

static int find_new_static_modules(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct fixup_search *s = data;
    if (info->dlpi_tls_modid == 0 || s->n == (int)(sizeof s->mods / sizeof s->mods[0]))
        return 0;
    gpm_lock(&allglock);
    bool known = known_locked(info->dlpi_tls_modid);
    gpm_unlock(&allglock);
    if (known)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS)
            continue;
        /* The block's address in this thread (the public TLS ABI call); a
           static-TLS module answers inside the static area below tp. */
        struct {
            unsigned long modid, offset;
        } ti = {info->dlpi_tls_modid, 0};
        extern void *__tls_get_addr(void *);
        char *addr = __tls_get_addr(&ti);
        intptr_t off = s->tp - addr;
        if (off > 0 && (size_t)off <= gpm_tls.static_size - TCB_SIZE) {
            struct tls_module *m = &s->mods[s->n++];
            m->modid = info->dlpi_tls_modid;
            m->tpoff = off;
            m->image = (const void *)(info->dlpi_addr + ph->p_vaddr);
            m->filesz = ph->p_filesz;
            m->memsz = ph->p_memsz;
        }
    }
    return 0;
}

static bool dtv_has(char *tcb, const struct tls_module *m)
{
    struct dtv_slot *dtv = dtvof(tcb);
    if (dtv == NULL)
        return false;
    size_t nslots = (size_t)dtv[-1].val;
    return m->modid <= nslots && dtv[m->modid].val == tcb - m->tpoff;
}

void gpm_tls_dlopen_fixup(uint64_t before)
{
    struct fixup_search s = {.tp = gpm_rdtp(), .before = before};
    dl_iterate_phdr(find_new_static_modules, &s);
    if (s.n == 0)
        return;
    gpm_lock(&allglock);
    for (int i = 0; i < s.n; i++) {
        struct tls_module *m = &s.mods[i];
        if (known_locked(m->modid))
            continue; /* a concurrent dlopen did it */
        addknown_locked(m->modid);
        startup_tls.n = -1; /* resettls: ld.so knows this module, gpm's list does not */
        for (struct gpm_g *gp = allgs; gp; gp = gp->allnext) {
            if (gp->kind != G_KIND_BLOCK)
                continue; /* on glibc's lists: glibc initialised it */
            char *tcb = gp->tcb;
            if (gp->tlsgen > before && dtv_has(tcb, m))
                continue;
            char *dst = tcb - m->tpoff;
            memcpy(dst, m->image, m->filesz);
            memset(dst + m->filesz, 0, m->memsz - m->filesz);
        }
    }
    gpm_unlock(&allglock);
}
