/*
 * src/shim/key.c: pthread_key_create, pthread_key_delete,
 * pthread_getspecific, pthread_setspecific (core: src/core/tsd.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "../core/tsd.h"
#include "shim.h"

GPM_EXPORT int pthread_key_create(pthread_key_t *key, void (*destr)(void *))
{
    if (!gpm_active())
        return gpm_real.pthread_key_create(key, destr);
    return gpm_key_create(key, destr);
}

GPM_EXPORT int pthread_key_delete(pthread_key_t key)
{
    if (!gpm_active())
        return gpm_real.pthread_key_delete(key);
    return gpm_key_delete(key);
}

GPM_EXPORT void *pthread_getspecific(pthread_key_t key)
{
    struct gpm_g *gp = gpm_getg();
    if (__builtin_expect(gp != NULL, 1))
        return gpm_getspecific(gp, key);
    if (!gpm_active())
        return gpm_real.pthread_getspecific(key);
    gp = gpm_getg_adopt();
    return gp ? gpm_getspecific(gp, key) : NULL;
}

GPM_EXPORT int pthread_setspecific(pthread_key_t key, const void *value)
{
    struct gpm_g *gp = gpm_getg();
    if (__builtin_expect(gp != NULL, 1))
        return gpm_setspecific(gp, key, value);
    if (!gpm_active())
        return gpm_real.pthread_setspecific(key, value);
    gp = gpm_getg_adopt();
    return gp ? gpm_setspecific(gp, key, value) : ENOMEM;
}

/* The old libpthread names, which libstdc++ and old binaries still call:
   the same keys. */
GPM_EXPORT int __pthread_key_create(pthread_key_t *key, void (*destr)(void *))
{
    return pthread_key_create(key, destr);
}

GPM_EXPORT void *__pthread_getspecific(pthread_key_t key)
{
    return pthread_getspecific(key);
}

GPM_EXPORT int __pthread_setspecific(pthread_key_t key, const void *value)
{
    return pthread_setspecific(key, value);
}
