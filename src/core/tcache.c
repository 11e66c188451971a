/*
 * src/core/tcache.c: giving back the malloc cache of a block's TLS.
 *
 * Every thread that calls malloc gets a per-thread cache (glibc's tcache):
 * a 640-byte struct and up to 7 freed chunks in each of 64 size bins, all
 * taken from an arena, reached through a static TLS variable of libc's.
 * A native thread gives them back to the arena at its exit
 * (tcache_thread_shutdown, from an unexported function). A G's block keeps
 * its TLS, so its cache, from one life to the next ("The pool" in
 * gstack.c), which is the point of the pool; but a block the scavenger
 * unmaps would take its cache with it, leaked: up to a few KB per block,
 * gigabytes after a million threads.
 *
 * So before a block is unmapped, gpm does what the shutdown does: it frees
 * every cached chunk and the struct itself, from the scavenging thread
 * (free() puts a chunk back in the arena it came from). The variable is not
 * exported, so its place in libc's TLS block is found at start-up by its
 * effect: after a chunk is freed into the cache, the variable is the one
 * word of libc's block that points to a struct whose entry for that size
 * is the chunk. The search reads candidate memory with process_vm_readv on
 * the own process, which fails rather than faults on an unmapped address.
 * When the search finds nothing (tunables turned the cache off, a glibc
 * with another layout), gpm_tcache_known() is false and the scavenger
 * keeps blocks mapped, giving back only their stack pages.
 *
 * What this does not give back: the block's thread's attachment to its
 * arena (arena_thread_freeres decrements a count that only steers which
 * arena a new thread picks); nothing is leaked by that.
 *
 * Trimming the arenas. What a burst's blocks give back lands in their
 * arenas, and most of it ends up, once malloc consolidates its small free
 * chunks, in each arena's top chunk: a few MiB per arena after 100,000
 * threads (their caches). glibc's malloc_trim gives back the free chunks
 * inside the heaps and the main arena's top, but never the top of the
 * other arenas: only free() does that (heap_trim), when the chunk it frees
 * has grown to 64 KiB or more with its free neighbours. Native threads
 * leave their caches in an order that lets those frees happen; a
 * scavenger's frees, interleaved with chunks the cache holds in fastbins,
 * do not, and the tops stayed resident (test burst: 13 arenas of 4.5 MiB
 * each after the burst). So gpm keeps one chunk of each arena as its
 * handle: the first cache struct given back from an arena is kept rather
 * than freed. gpm_tcache_trimarenas grows each handle by realloc (within
 * its own arena, in place into the top or by a malloc of that arena) to
 * 96 KiB, below the mmap threshold, and shrinks it back: the shrink frees
 * a 96 KiB remainder, and that free trims the arena's top. The handles are
 * at most one small chunk per arena, reachable from the table below.
 */
#define _GNU_SOURCE
#include "tcache.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "gstack.h"
#include "sys.h"

/* Distance of `tcache` below the thread pointer; 0 while unknown. */
static intptr_t tcache_tpoff;

/* Reads n bytes at addr into out without faulting; false if unreadable. */
static bool saferead(const void *addr, void *out, size_t n)
{
    struct iovec local = {out, n}, remote = {(void *)addr, n};
    return gpm_syscall6(SYS_process_vm_readv, gpm_syscall0(SYS_getpid), (long)&local, 1, (long)&remote, 1, 0) ==
           (long)n;
}

/* The bin of a chunk of request size n: glibc's csize2tidx(request2size). */
static size_t tcache_bin(size_t n)
{
    size_t chunk = n + sizeof(size_t) + 15 < 32 ? 32 : (n + sizeof(size_t) + 15) & ~(size_t)15;
    return (chunk - 17) / 16;
}

/* Frees a chunk of size n into the caller's cache and looks for the word
   of libc's TLS block that points to a cache whose entry is that chunk. */
static intptr_t search(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        return 0;
    free(p); /* into the cache, unless its bin is full */
    size_t bin = tcache_bin(n);
    char *tp = gpm_rdtp();
    char *lo = tp - gpm_tls.libc_tpoff, *hi = lo + gpm_tls.libc_size;
    for (char *w = (char *)(((uintptr_t)lo + 7) & ~(uintptr_t)7); w + sizeof(void *) <= hi; w += sizeof(void *)) {
        char *cand = *(char **)w;
        void *entry;
        uint16_t count;
        if (cand == NULL || ((uintptr_t)cand & 15) != 0)
            continue;
        if (saferead(cand + GLIBC_TCACHE_OFF_ENTRIES + bin * sizeof(void *), &entry, sizeof entry) &&
            entry == p && saferead(cand + bin * sizeof(uint16_t), &count, sizeof count) && count >= 1)
            return tp - w;
    }
    return 0;
}

void gpm_tcache_init(void)
{
    /* Two sizes: a bin the program's constructors filled already holds
       the first one elsewhere. */
    intptr_t off = search(40);
    if (off == 0)
        off = search(1000);
    tcache_tpoff = off;
}

bool gpm_tcache_known(void)
{
    return tcache_tpoff != 0;
}

/* One handle per arena (see "Trimming the arenas"): an arena's slot is
   claimed once and never changes; its chunk is exchanged atomically, so
   that releases (sysmon's scavenger, a joiner under memory pressure) and
   trims need no lock, also in a fork child. */
enum { MAXARENAS = 256, TRIM_GROW = 96 << 10, HANDLE_SIZE = 32 };
static struct {
    void *_Atomic arena;
    void *_Atomic chunk;
} handles[MAXARENAS];

/* The arena of a malloc'ed chunk, or NULL for the main arena's. */
static void *arenaof(void *chunk)
{
    size_t size = ((size_t *)chunk)[-1];
    if ((size & GLIBC_CHUNK_NON_MAIN_ARENA) == 0)
        return NULL;
    void *arena;
    if (!saferead((void *)((uintptr_t)chunk & ~(GLIBC_HEAP_MAX_SIZE - 1)), &arena, sizeof arena))
        return NULL;
    return arena;
}

/* Keeps chunk as its arena's handle if the arena has none; false when
   the caller is to free it. */
static bool keephandle(void *chunk)
{
    void *arena = arenaof(chunk);
    if (arena == NULL)
        return false; /* the main arena: malloc_trim trims its top */
    for (int i = 0; i < MAXARENAS; i++) {
        void *a = atomic_load(&handles[i].arena);
        if (a == NULL && atomic_compare_exchange_strong(&handles[i].arena, &a, arena))
            a = arena;
        if (a == arena) {
            void *none = NULL;
            return atomic_compare_exchange_strong(&handles[i].chunk, &none, chunk);
        }
    }
    return false;
}

void gpm_tcache_release(void *tp)
{
    if (tcache_tpoff == 0)
        return;
    char **slot = (char **)((char *)tp - tcache_tpoff);
    char *tc = *slot;
    if (tc == NULL)
        return;
    *slot = NULL;
    void **entries = (void **)(tc + GLIBC_TCACHE_OFF_ENTRIES);
    for (int i = 0; i < GLIBC_TCACHE_BINS; i++) {
        void *e = entries[i];
        while (e != NULL) {
            void **ent = e;
            void *next = GLIBC_TCACHE_REVEAL(&ent[0], ent[0]);
            ent[1] = NULL; /* the key: free() must not take it for a double free */
            free(e);
            e = next;
        }
        entries[i] = NULL;
    }
    if (!keephandle(tc))
        free(tc);
}

void gpm_tcache_trimarenas(void)
{
    for (int i = 0; i < MAXARENAS && atomic_load(&handles[i].arena) != NULL; i++) {
        void *h = atomic_exchange(&handles[i].chunk, NULL);
        if (h == NULL)
            continue;
        void *big = realloc(h, TRIM_GROW);
        if (big != NULL) {
            /* Shrinking in place cannot fail, but the contract allows
               NULL: then big is still the handle. */
            void *small = realloc(big, HANDLE_SIZE);
            h = small != NULL ? small : big;
        }
        void *none = NULL;
        if (!atomic_compare_exchange_strong(&handles[i].chunk, &none, h))
            free(h); /* a release kept another meanwhile */
    }
}
