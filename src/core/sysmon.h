/*
 * src/core/sysmon.h: the system monitor thread.
 */
#ifndef GPM_CORE_SYSMON_H
#define GPM_CORE_SYSMON_H

#include <stdbool.h>

/* Starts sysmon if something needs it (GPM_DEBUG=schedtrace). Runs once at
   start-up, after the scheduler exists. */
void gpm_sysmon_start(void);

/* Prints one schedtrace line, and with detail every P, M and G. */
void gpm_schedtrace(bool detail);

#endif
