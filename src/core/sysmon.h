/*
 * src/core/sysmon.h: the system monitor thread.
 */
#ifndef GPM_CORE_SYSMON_H
#define GPM_CORE_SYSMON_H

#include <stdbool.h>

/* Starts sysmon, once: at start-up with GPM_DEBUG=schedtrace, else when
   the program creates its first thread (before that no other G can be
   kept waiting by a system call). Cheap when it runs already. */
void gpm_sysmon_start(void);

/* fork.c: in the child, sysmon is gone; the next gpm_sysmon_start makes one. */
void gpm_sysmon_forkchild(void);

/* Prints one schedtrace line, and with detail every P, M and G. */
void gpm_schedtrace(bool detail);

#endif
