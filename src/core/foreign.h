/*
 * src/core/foreign.h: Gs for kernel threads that gpm did not create
 * (DESIGN.md section 6).
 */
#ifndef GPM_CORE_FOREIGN_H
#define GPM_CORE_FOREIGN_H

#include "runtime.h"

/* The calling thread's G, adopting the thread if it has none: a kernel
   thread made by libc itself (SIGEV_THREAD timers), or before gpm started,
   or by a raw clone. NULL only when out of memory. Runs on that thread. */
struct gpm_g *gpm_getg_adopt(void);

/* Sets up what adoption needs (a native TSD key whose destructor ends the
   G when its thread exits). Runs once from gpm_init. */
int gpm_foreign_init(void);

#endif
