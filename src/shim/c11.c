/*
 * src/shim/c11.c: C11 threads: thrd_create, thrd_join, thrd_detach,
 * thrd_exit, thrd_current, thrd_equal, thrd_yield, and tss_*.
 *
 * glibc implements these inside libc on its internal pthread functions,
 * which an interposer never sees, so gpm interposes them too. The mapping
 * of error numbers is glibc's: EAGAIN (no memory, no mappings) is
 * thrd_nomem, any other failure thrd_error. A C11 thread's result is an int,
 * stored and returned as glibc does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include "../core/tsd.h"
#include "shim.h"

static int thrd_err(int err)
{
    switch (err) {
    case 0:
        return thrd_success;
    case ENOMEM:
    case EAGAIN:
        return thrd_nomem;
    case ETIMEDOUT:
        return thrd_timedout;
    case EBUSY:
        return thrd_busy;
    default:
        return thrd_error;
    }
}

GPM_EXPORT int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    if (!gpm_active())
        return gpm_real.thrd_create(thr, func, arg);
    struct gpm_gattr a = {0};
    gpm_default_geometry(&a.geo);
    a.c11 = true;
    a.schedpolicy = SCHED_OTHER;
    a.inheritsched = PTHREAD_INHERIT_SCHED;
    a.scope = PTHREAD_SCOPE_SYSTEM;
    return thrd_err(-gpm_newproc(&a, (void *(*)(void *))(void *)func, arg, thr));
}

GPM_EXPORT int thrd_join(thrd_t thr, int *res)
{
    if (!gpm_active())
        return gpm_real.thrd_join(thr, res);
    void *result;
    int err = pthread_join(thr, &result);
    if (err == 0 && res != NULL)
        *res = (int)(uintptr_t)result;
    return err == 0 ? thrd_success : thrd_error;
}

GPM_EXPORT int thrd_detach(thrd_t thr)
{
    if (!gpm_active())
        return gpm_real.thrd_detach(thr);
    return pthread_detach(thr) == 0 ? thrd_success : thrd_error;
}

GPM_EXPORT void thrd_exit(int res)
{
    if (!gpm_active())
        gpm_real.thrd_exit(res);
    pthread_exit((void *)(uintptr_t)res);
}

GPM_EXPORT thrd_t thrd_current(void)
{
    return pthread_self();
}

GPM_EXPORT int thrd_equal(thrd_t a, thrd_t b)
{
    return a == b;
}

GPM_EXPORT void thrd_yield(void)
{
    sched_yield();
}

GPM_EXPORT int tss_create(tss_t *key, tss_dtor_t dtor)
{
    if (!gpm_active())
        return gpm_real.tss_create(key, dtor);
    pthread_key_t k;
    if (gpm_key_create(&k, dtor) != 0)
        return thrd_error;
    *key = k;
    return thrd_success;
}

GPM_EXPORT void tss_delete(tss_t key)
{
    if (!gpm_active()) {
        gpm_real.tss_delete(key);
        return;
    }
    gpm_key_delete(key);
}

GPM_EXPORT void *tss_get(tss_t key)
{
    return pthread_getspecific(key);
}

GPM_EXPORT int tss_set(tss_t key, void *val)
{
    return pthread_setspecific(key, val) == 0 ? thrd_success : thrd_error;
}

/* ---- mtx_* and cnd_*: mtx_t is a pthread_mutex_t, cnd_t a pthread_cond_t,
   as in glibc; these call gpm's pthread functions (this library's, by
   -Bsymbolic-functions). */

GPM_EXPORT int mtx_init(mtx_t *m, int type)
{
    if (!gpm_active())
        return gpm_real.mtx_init(m, type);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    /* glibc: any type with mtx_recursive is recursive, anything else plain. */
    pthread_mutexattr_settype(&attr, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
    int err = pthread_mutex_init((pthread_mutex_t *)m, &attr);
    pthread_mutexattr_destroy(&attr);
    return thrd_err(err);
}

GPM_EXPORT int mtx_lock(mtx_t *m)
{
    return thrd_err(pthread_mutex_lock((pthread_mutex_t *)m));
}

GPM_EXPORT int mtx_trylock(mtx_t *m)
{
    return thrd_err(pthread_mutex_trylock((pthread_mutex_t *)m));
}

GPM_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    return thrd_err(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

GPM_EXPORT int mtx_unlock(mtx_t *m)
{
    return thrd_err(pthread_mutex_unlock((pthread_mutex_t *)m));
}

GPM_EXPORT void mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

GPM_EXPORT int cnd_init(cnd_t *c)
{
    return thrd_err(pthread_cond_init((pthread_cond_t *)c, NULL));
}

GPM_EXPORT int cnd_signal(cnd_t *c)
{
    return thrd_err(pthread_cond_signal((pthread_cond_t *)c));
}

GPM_EXPORT int cnd_broadcast(cnd_t *c)
{
    return thrd_err(pthread_cond_broadcast((pthread_cond_t *)c));
}

GPM_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    return thrd_err(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

GPM_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    return thrd_err(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

GPM_EXPORT void cnd_destroy(cnd_t *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}
