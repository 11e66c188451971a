/*
 * malloc from many threads, blocks freed by a thread other than the one
 * that allocated them. 200 threads stand in a ring: thread i allocates
 * blocks of many sizes (a few bytes to past the mmap threshold), fills them
 * with a pattern of its own and puts each in a slot of its mailbox; thread
 * i+1 takes them out in order (yielding while a slot is still empty),
 * checks size, owner and pattern, and frees them. Every thread also uses
 * calloc (zeroed), realloc (growing and shrinking across the mmap
 * threshold, contents kept), posix_memalign and aligned_alloc (aligned,
 * writable), malloc_usable_size, free(NULL) and (a few) malloc_trim,
 * yielding between steps so that the threads interleave on every allocator
 * path and, with GPM_MAXPROCS=2, move between kernel threads while holding
 * blocks (malloc's arena and tcache pointers are thread-local: they must
 * follow the thread, not the kernel thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define NT 200
#define NB 32 /* blocks each thread passes on */

struct hdr {
    size_t size;
    int owner, seq;
};

static _Atomic(struct hdr *) mailbox[NT][NB];
static atomic_long freed_by_other;

static size_t block_size(int id, int k)
{
    static const size_t sizes[] = {sizeof(struct hdr), 17, 24, 64, 100, 1000, 4096, 5000, 40000, 131072};
    if (k % 16 == 7)
        return 300000 + (size_t)id * 64; /* past the (initial) mmap threshold */
    if (id < 4 && k == 20)
        return 4u << 20; /* a few large mmapped ones */
    return sizes[(id * 3 + k) % (sizeof sizes / sizeof sizes[0])] + (size_t)(id % 5);
}

static unsigned char pattern(int id, int seq, size_t off)
{
    return (unsigned char)(id * 31 + seq * 7 + off * 13 + (off >> 8));
}

static void fill(unsigned char *p, size_t n, int id, int seq)
{
    for (size_t off = 0; off < n; off++)
        p[off] = pattern(id, seq, off);
}

static int intact(const unsigned char *p, size_t n, int id, int seq)
{
    for (size_t off = 0; off < n; off++)
        if (p[off] != pattern(id, seq, off))
            return 0;
    return 1;
}

/* calloc, realloc, posix_memalign, aligned_alloc, on this thread only. */
static void own_allocations(int id)
{
    /* calloc: zeroed, also when it reuses memory this thread dirtied (the
       second small and large ones). */
    for (int r = 0; r < 4; r++) {
        size_t n = 3 + (size_t)id % 4, m = r % 2 ? 70000 : 13;
        unsigned char *c = calloc(n, m);
        CHECK(c != NULL, "thread %d: calloc(%zu, %zu)", id, n, m);
        for (size_t i = 0; i < n * m; i++)
            CHECK(c[i] == 0, "thread %d: calloc'ed byte %zu is %d", id, i, c[i]);
        memset(c, 0xa5, n * m);
        sched_yield();
        free(c);
    }
    volatile size_t huge = (size_t)-1 / 2;
    errno = 0;
    CHECK(calloc(huge, 4) == NULL && errno == ENOMEM, "thread %d: calloc overflow did not fail", id);

    /* realloc: grow through the mmap threshold and shrink back. */
    static const size_t steps[] = {1, 30, 200, 5000, 150000, 600000, 2000000, 300000, 700, 10};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        size_t n = steps[s] + (size_t)id;
        if (n > 200000 && id % 16 != 0)
            n = 140000 + (size_t)id * 256 + s; /* the largest for a few threads only */
        unsigned char *q = realloc(p, n);
        CHECK(q != NULL, "thread %d: realloc to %zu", id, n);
        size_t keep = have < n ? have : n;
        CHECK(intact(q, keep, id, 1000), "thread %d: realloc from %zu to %zu lost contents", id, have, n);
        CHECK(malloc_usable_size(q) >= n, "thread %d: usable size %zu < %zu", id, malloc_usable_size(q), n);
        fill(q, n, id, 1000);
        p = q;
        have = n;
        sched_yield();
    }
    free(p);
    free(NULL);

    /* Aligned allocations. */
    for (size_t align = sizeof(void *); align <= 65536; align *= 4) {
        void *a = NULL;
        size_t n = align * 3 + (size_t)id;
        CHECK(posix_memalign(&a, align, n) == 0 && a != NULL, "thread %d: posix_memalign(%zu, %zu)", id, align,
              n);
        CHECK((uintptr_t)a % align == 0, "thread %d: %p not aligned to %zu", id, a, align);
        fill(a, n, id, 2000);
        void *b = aligned_alloc(align, align * 2);
        CHECK(b != NULL && (uintptr_t)b % align == 0, "thread %d: aligned_alloc(%zu) gave %p", id, align, b);
        memset(b, 0x5a, align * 2);
        sched_yield();
        CHECK(intact(a, n, id, 2000), "thread %d: posix_memalign'ed block changed", id);
        free(a);
        free(b);
    }
    void *a = (void *)1;
    CHECK(posix_memalign(&a, 3, 16) == EINVAL && a == (void *)1, "thread %d: posix_memalign(3) did not fail", id);
    /* Walks every arena, taking each one's lock, while the others allocate. */
    if (id % 50 == 0)
        malloc_trim(0);
}

static void *ring(void *arg)
{
    int id = (int)(intptr_t)arg, from = (id + NT - 1) % NT;
    long other = 0;
    for (int k = 0; k < NB; k++) {
        /* Pass a block on to the next thread. */
        size_t n = block_size(id, k);
        struct hdr *h = malloc(n);
        CHECK(h != NULL, "thread %d: malloc(%zu)", id, n);
        h->size = n;
        h->owner = id;
        h->seq = k;
        fill((unsigned char *)(h + 1), n - sizeof *h, id, k);
        atomic_store(&mailbox[id][k], h);
        sched_yield();

        /* Take the previous thread's k-th block: it comes, since that
           thread puts its k-th block before waiting for its own k-th. */
        struct hdr *g;
        while ((g = atomic_exchange(&mailbox[from][k], NULL)) == NULL)
            sched_yield();
        CHECK(g->owner == from && g->seq == k && g->size == block_size(from, k),
              "thread %d: block %d from %d has header %d/%d/%zu", id, k, from, g->owner, g->seq, g->size);
        CHECK(intact((unsigned char *)(g + 1), g->size - sizeof *g, from, k),
              "thread %d: block %d of %zu bytes from thread %d is corrupt", id, k, g->size, from);
        free(g);
        other++;
        if (k == NB / 2)
            own_allocations(id);
    }
    atomic_fetch_add(&freed_by_other, other);
    return NULL;
}

int main(void)
{
    static pthread_t t[NT];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&t[i], &attr, ring, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    pthread_attr_destroy(&attr);
    for (int i = 0; i < NT; i++)
        for (int k = 0; k < NB; k++)
            CHECK(atomic_load(&mailbox[i][k]) == NULL, "block %d of thread %d never taken", k, i);
    CHECK_EQ(atomic_load(&freed_by_other), (long)NT * NB);
    /* The main thread's heap still works. */
    void *p = malloc(1 << 20);
    CHECK(p != NULL, "malloc in main after the threads");
    free(p);
    printf("%d threads passed %d blocks each to the next thread, which freed them; calloc, realloc, aligned "
           "allocations in every thread\n",
           NT, NB);
    return 0;
}
