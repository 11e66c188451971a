/*
 * src/core/alloc.c: persistent allocation from 256 KiB chunks.
 */
#define _GNU_SOURCE
#include "alloc.h"

#include <stdint.h>
#include <sys/mman.h>

#include "lock.h"
#include "sys.h"

#define CHUNK (256 * 1024)

static struct {
    struct gpm_mutex lock;
    char *base; /* current chunk */
    size_t off; /* bytes used in it */
} persistent;

void gpm_persistent_forklock(void)
{
    gpm_lock(&persistent.lock);
}

void gpm_persistent_forkunlock(void)
{
    gpm_unlock(&persistent.lock);
}

void *gpm_persistentalloc(size_t size, size_t align)
{
    if (size >= CHUNK / 4) {
        /* Large: a mapping of its own. */
        void *p = gpm_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return gpm_mmap_failed(p) ? NULL : p;
    }
    gpm_lock(&persistent.lock);
    size_t off = (persistent.off + align - 1) & ~(align - 1);
    if (persistent.base == NULL || off + size > CHUNK) {
        void *p = gpm_mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (gpm_mmap_failed(p)) {
            gpm_unlock(&persistent.lock);
            return NULL;
        }
        persistent.base = p;
        off = 0;
    }
    void *r = persistent.base + off;
    persistent.off = off + size;
    gpm_unlock(&persistent.lock);
    return r;
}
