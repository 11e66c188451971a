/*
 * src/core/init.h: bringing gpm up, or deciding not to.
 */
#ifndef GPM_CORE_INIT_H
#define GPM_CORE_INIT_H

#include <stdatomic.h>
#include <stdbool.h>

/*
 * States of the runtime:
 *
 * GPM_UNINIT       nothing done yet; the first interposed call or the
 *                  constructor runs gpm_init.
 * GPM_INITIALIZING gpm_init is running on some thread; others wait.
 * GPM_ACTIVE       threads are Gs.
 * GPM_PASSTHROUGH  GPM_DISABLE=1 or an unknown glibc: every interposed
 *                  call goes to libc's own function.
 */
enum { GPM_UNINIT = 0, GPM_INITIALIZING, GPM_ACTIVE, GPM_PASSTHROUGH };

extern _Atomic int gpm_state;

void gpm_init_slow(void);

/* fork.c: registers the fork handlers. */
int gpm_fork_init(void);

/* Brings gpm up if needed. Returns true when gpm schedules threads, false
   in pass-through mode. */
static inline bool gpm_active(void)
{
    int s = atomic_load_explicit(&gpm_state, memory_order_acquire);
    if (__builtin_expect(s == GPM_ACTIVE, 1))
        return true;
    if (s != GPM_PASSTHROUGH) {
        gpm_init_slow();
        s = atomic_load_explicit(&gpm_state, memory_order_acquire);
    }
    return s == GPM_ACTIVE;
}

#endif
