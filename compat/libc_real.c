/*
 * compat/libc_real.c: looking up the host libc's implementations.
 */
#define _GNU_SOURCE
#include "libc_real.h"

#include <dlfcn.h>

struct gpm_real_libc gpm_real;

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
#undef RESOLVE_BLOCKING
#undef RESOLVE
    return missing;
}
