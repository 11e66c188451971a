/*
 * compat/libc_real.c: looking up the host libc's implementations.
 */
#define _GNU_SOURCE
#include "libc_real.h"

#include <dlfcn.h>
#include <errno.h>

#include "../src/core/sys.h"

static int clock_gettime_first(clockid_t clk, struct timespec *ts);

struct gpm_real_libc gpm_real = {.clock_gettime = clock_gettime_first};

static void *lookup(const char *name, const char *version)
{
    if (version == NULL)
        return dlsym(RTLD_NEXT, name);
    void *p = dlvsym(RTLD_NEXT, name, version);
    /* GLIBC_PRIVATE entry points live in ld.so or libc, both after us in
       the search order; RTLD_DEFAULT finds them if RTLD_NEXT did not. */
    if (p == NULL)
        p = dlvsym(RTLD_DEFAULT, name, version);
    return p;
}

const char *gpm_real_resolve(void)
{
    const char *missing = NULL;
#define RESOLVE(ret, name, version, params)                         \
    gpm_real.name = (ret(*) params)lookup(#name, version);          \
    if (gpm_real.name == NULL && missing == NULL)                   \
        missing = #name;
    GPM_REAL_INTERPOSED(RESOLVE)
    GPM_REAL_VARIADIC(RESOLVE)
    GPM_REAL_PRIVATE(RESOLVE)
#define RESOLVE_BLOCKING(ret, name, params, args) RESOLVE(ret, name, NULL, params)
    GPM_BLOCKING_CALLS(RESOLVE_BLOCKING)
    GPM_NETIO_CALLS(RESOLVE_BLOCKING)
#undef RESOLVE_BLOCKING
#undef RESOLVE
    return missing;
}

/* The system call itself, should libc have no clock_gettime (it always
   has). Not syscall(): that name is gpm's. */
static int clock_gettime_syscall(clockid_t clk, struct timespec *ts)
{
    long r = gpm_syscall2(SYS_clock_gettime, clk, (long)ts);
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return 0;
}

/* gpm_real.clock_gettime until it is resolved (see gpm_real_clock_gettime):
   looks libc's up, keeps it, calls it. Two threads doing this at once store
   the same value. */
static int clock_gettime_first(clockid_t clk, struct timespec *ts)
{
    int (*real)(clockid_t, struct timespec *) = (int (*)(clockid_t, struct timespec *))lookup("clock_gettime", NULL);
    if (real == NULL)
        real = clock_gettime_syscall;
    __atomic_store_n(&gpm_real.clock_gettime, real, __ATOMIC_RELAXED);
    return real(clk, ts);
}
