/*
 * src/shim/concurrency.c: pthread_getconcurrency, pthread_setconcurrency.
 * A hint POSIX lets implementations ignore; glibc stores it and gives it
 * back, and so does gpm (GPM_MAXPROCS is the real knob).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>

#include "shim.h"

static _Atomic int concurrency;

GPM_EXPORT int pthread_getconcurrency(void)
{
    if (!gpm_active())
        return gpm_real.pthread_getconcurrency();
    return atomic_load(&concurrency);
}

GPM_EXPORT int pthread_setconcurrency(int level)
{
    if (!gpm_active())
        return gpm_real.pthread_setconcurrency(level);
    if (level < 0)
        return EINVAL;
    atomic_store(&concurrency, level);
    return 0;
}
