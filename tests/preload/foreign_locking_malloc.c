/*
 * A foreign thread adopted while the program's malloc locks a busy
 * pthread mutex.
 *
 * redis-server links jemalloc, whose locks are pthread mutexes, and starts
 * jemalloc's background threads with the pthread_create it finds with
 * dlsym(RTLD_NEXT), glibc's: threads gpm did not create. Such a thread is
 * adopted on its first call into gpm (a G of its own); if adopting took the
 * G's memory from the program's malloc, and that malloc's lock was busy, the
 * lock's slow path would adopt again, and so on until the stack overflowed
 * (a SIGSEGV at redis' start-up, one run in six under GPM_MAXPROCS=1).
 *
 * Here the program's malloc is its own: a bump allocator behind a recursive
 * pthread mutex, heap_lock. Main holds heap_lock and a second mutex, gate,
 * and starts a thread with glibc's own pthread_create (looked up in
 * libc.so.6, past gpm). The thread's first call into gpm is
 * pthread_mutex_lock(&gate), which waits: under gpm that adopts the thread
 * while heap_lock is busy. Main lets both go after 50 ms; the thread then
 * mallocs (under heap_lock) and sets a flag; main joins it with glibc's
 * pthread_join. Bounded: main gives the thread 10 s.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- the program's malloc: a bump allocator behind a pthread mutex ----- */

#define ARENA (64u << 20)
static _Alignas(4096) char arena[ARENA];
static size_t arena_used; /* protected by heap_lock */
static pthread_mutex_t heap_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* Each block is preceded by its size, 16 bytes before it. */
static void *heap_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    pthread_mutex_lock(&heap_lock);
    uintptr_t start = (uintptr_t)arena + arena_used + 16;
    start = (start + align - 1) & ~(uintptr_t)(align - 1);
    void *p = NULL;
    if (start + size <= (uintptr_t)arena + ARENA) {
        arena_used = start + size - (uintptr_t)arena;
        ((size_t *)start)[-2] = size;
        p = (void *)start;
    }
    pthread_mutex_unlock(&heap_lock);
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

void *malloc(size_t size) { return heap_alloc(size, 16); }
void free(void *p) { (void)p; }
void *calloc(size_t n, size_t size)
{
    void *p = heap_alloc(n * size, 16); /* the arena is zero and never reused */
    return p;
}
void *realloc(void *old, size_t size)
{
    void *p = heap_alloc(size, 16);
    if (p != NULL && old != NULL) {
        size_t oldsize = ((size_t *)old)[-2];
        memcpy(p, old, oldsize < size ? oldsize : size);
    }
    return p;
}
int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = heap_alloc(size, align);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t size) { return heap_alloc(size, align); }
void *memalign(size_t align, size_t size) { return heap_alloc(size, align); }
void *valloc(size_t size) { return heap_alloc(size, 4096); }
void *pvalloc(size_t size) { return heap_alloc((size + 4095) & ~(size_t)4095, 4096); }
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-2] : 0; }

/* ---- the test ---------------------------------------------------------- */

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static atomic_int done;

static void *foreign(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate); /* busy: waits, and under gpm adopts */
    pthread_mutex_unlock(&gate);
    char *p = malloc(100);
    if (p != NULL)
        strcpy(p, "ok");
    atomic_store(&done, p != NULL ? 1 : -1);
    return NULL;
}

int main(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    CHECK(libc != NULL, "libc.so.6 is not loaded: %s", dlerror());
    int (*libc_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(libc, "pthread_create");
    int (*libc_join)(pthread_t, void **) = (int (*)(pthread_t, void **))dlsym(libc, "pthread_join");
    CHECK(libc_create != NULL && libc_join != NULL, "no pthread_create/pthread_join in libc.so.6");

    CHECK_EQ(pthread_mutex_lock(&heap_lock), 0);
    CHECK_EQ(pthread_mutex_lock(&gate), 0);
    pthread_t t;
    CHECK_EQ(libc_create(&t, NULL, foreign, NULL), 0);
    struct timespec ms50 = {0, 50 * 1000000L};
    nanosleep(&ms50, NULL); /* the thread is waiting for gate by now */
    CHECK_EQ(pthread_mutex_unlock(&gate), 0);
    CHECK_EQ(pthread_mutex_unlock(&heap_lock), 0);
    for (int i = 0; i < 1000 && atomic_load(&done) == 0; i++) {
        struct timespec ms10 = {0, 10 * 1000000L};
        nanosleep(&ms10, NULL);
    }
    CHECK(atomic_load(&done) == 1, "the foreign thread did not finish in 10 s (done=%d)", atomic_load(&done));
    CHECK_EQ(libc_join(t, NULL), 0);
    printf("foreign thread adopted while the program's malloc lock was busy: ok (%s)\n", test_mode());
    return 0;
}
