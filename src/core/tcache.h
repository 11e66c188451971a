/* src/core/tcache.h: the malloc cache of a block's TLS (tcache.c). */
#ifndef GPM_TCACHE_H
#define GPM_TCACHE_H

#include <stdbool.h>

/* Finds where libc keeps its cache pointer in TLS. Once, at start-up, on
   the main thread, after gpm_tls_init. */
void gpm_tcache_init(void);

/* Whether gpm_tcache_init found it: only then may a block that ran
   threads be unmapped. */
bool gpm_tcache_known(void);

/* Gives the cached chunks and the cache of the TLS whose thread pointer is
   tp back to malloc, as a native thread's exit does. The TLS must be no
   running thread's. */
void gpm_tcache_release(void *tp);

/* Gives back the top of every malloc arena a released cache came from
   (glibc's malloc_trim trims only the main arena's top): see "Trimming
   the arenas" in tcache.c. Call with no runtime lock held. */
void gpm_tcache_trimarenas(void);

#endif
