/*
 * src/core/futex.h: the futex system call for Gs (futex.c).
 */
#ifndef GPM_CORE_FUTEX_H
#define GPM_CORE_FUTEX_H

#include <stdint.h>

/*
 * futex(2) as syscall(SYS_futex, ...) passes it: private futexes are
 * emulated on the semtable, everything else is the kernel's (futex.c).
 * utime is the timeout pointer, or val2 for the operations that take a
 * count in that slot. Returns what the kernel would: a count or 0, or
 * -errno. Never touches errno.
 * Runs on the calling G's stack (or a foreign thread's, which is adopted
 * when it waits); may park.
 */
long gpm_futex(uint32_t *uaddr, int op, uint32_t val, unsigned long utime, uint32_t *uaddr2, uint32_t val3);

/* How many futex waits were emulated (taken to the semtable instead of
   the kernel) since the process started. */
uint64_t gpm_futex_nwaits(void);

/* At gp's exit: the kernel's walk of the robust list gp registered with
   set_robust_list(2) ("Robust futex lists" in futex.c). */
struct gpm_g;
void gpm_futex_robust_exit(struct gpm_g *gp);

#endif
