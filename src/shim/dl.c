/*
 * src/shim/dl.c: dlopen, dlmopen.
 *
 * After a library is loaded, the initial-exec TLS of any new module is
 * copied into every G made before it (gpm_tls_dlopen_fixup). Every library
 * is opened with RTLD_NODELETE, so dlclose (libc's own) keeps its reference
 * counting and errors but never unmaps: glibc cannot see a G inside a symbol
 * lookup, so unmapping could pull code from under one (DESIGN.md section 5).
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "../core/gstack.h"
#include "shim.h"

GPM_EXPORT void *dlopen(const char *file, int mode)
{
    if (!gpm_active())
        return gpm_real.dlopen(file, mode);
    uint64_t before = gpm_tls_dlopen_begin();
    void *h = gpm_real.dlopen(file, mode | RTLD_NODELETE);
    if (h != NULL)
        gpm_tls_dlopen_fixup(before);
    return h;
}

GPM_EXPORT void *dlmopen(Lmid_t nsid, const char *file, int mode)
{
    if (!gpm_active())
        return gpm_real.dlmopen(nsid, file, mode);
    uint64_t before = gpm_tls_dlopen_begin();
    void *h = gpm_real.dlmopen(nsid, file, mode | RTLD_NODELETE);
    if (h != NULL)
        gpm_tls_dlopen_fixup(before);
    return h;
}
