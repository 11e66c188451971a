/*
 * src/core/alloc.h: memory for runtime structures that live forever (Ms,
 * Ps, G structs of foreign threads): Go's persistentalloc. Never freed.
 * Usable on g0: no malloc, no thread-local state.
 */
#ifndef GPM_CORE_ALLOC_H
#define GPM_CORE_ALLOC_H

#include <stddef.h>

/* Returns zeroed memory of size bytes aligned to align (a power of two
   up to the page size), or NULL when the kernel gives no more memory
   (the caller fails the call that needed it, or, at start-up, gpm passes
   through). */
void *gpm_persistentalloc(size_t size, size_t align);

/* Held across fork (fork.c). */
void gpm_persistent_forklock(void);
void gpm_persistent_forkunlock(void);

#endif
